"""La connexion en deux requêtes sous PostgreSQL (ticket 11, 15 connexions par seconde et par
cœur) : une lecture compilée d'avance et préparée (échecs d'axes, compte, double
authentification), une écriture combinée (la session, la session suivie, la dernière connexion,
le journal). Ce qui est vérifié ici : les mêmes réponses et les mêmes lignes que le chemin de
l'ORM qu'elles remplacent."""

import datetime

import pytest
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from habilitations import perms, receivers
from habilitations.models import SessionUtilisateur, Utilisateur
from portail.models import EvenementAudit
from portail.socle.dates import aujourdhui
from portail.socle.sessions import SessionStore, cle_aleatoire
from tests import factories

URL = reverse("habilitations:connexion")

pytestmark = pytest.mark.django_db


def se_connecter(client, identifiant, mot_de_passe):
    return client.post(URL, {"username": identifiant, "password": mot_de_passe})


def _tentative(identifiant: str, echecs: int, il_y_a: datetime.timedelta, adresse: str = "10.0.0.1"):
    tentative = AccessAttempt.objects.create(
        username=identifiant,
        ip_address=adresse,
        user_agent="essai",
        failures_since_start=echecs,
        get_data="",
        post_data="",
        http_accept="",
        path_info=URL,
    )
    # ``attempt_time`` est posé à la création (auto_now_add) : on le recule ensuite.
    AccessAttempt.objects.filter(pk=tentative.pk).update(attempt_time=timezone.now() - il_y_a)


def _echecs_selon_axes(identifiant: str) -> int:
    requete = RequestFactory().post(URL, {"username": identifiant})
    requete.axes_ip_address, requete.axes_user_agent = "10.9.9.9", "essai"
    requete.axes_attempt_time = timezone.now()
    return AxesDatabaseHandler().get_failures(requete, {"username": identifiant})


def test_le_compte_lu_a_la_connexion_est_celui_de_l_orm(administrateur, declarant, convention):
    simple = factories.creer_utilisateur(nom="Rey", prenom="Léa", organisme=convention.organisme)
    TOTPDevice.objects.create(user=simple, name="application", confirmed=True)
    # Échecs : deux tentatives récentes (deux adresses), une trop ancienne, une d'un autre compte.
    _tentative(simple.identifiant, 2, datetime.timedelta(minutes=3))
    _tentative(simple.identifiant, 1, datetime.timedelta(minutes=1), adresse="10.0.0.2")
    _tentative(simple.identifiant, 4, datetime.timedelta(minutes=40), adresse="10.0.0.3")
    _tentative(declarant.identifiant, 3, datetime.timedelta(minutes=2))
    seuil = timezone.now() - datetime.timedelta(minutes=15)
    for user, echecs in ((administrateur, 0), (declarant, 3), (simple, 3)):
        compte = perms.compte_a_la_connexion(user.identifiant, seuil)
        attendu = Utilisateur.objects.get_by_natural_key(user.identifiant)
        assert compte.utilisateur == attendu
        for champ in Utilisateur._meta.concrete_fields:
            assert getattr(compte.utilisateur, champ.attname) == getattr(attendu, champ.attname), champ.name
        assert compte.echecs == echecs == _echecs_selon_axes(user.identifiant)
        # La double authentification est déjà lue : pas de requête de plus, même réponse.
        etat = perms._etat_double_authentification(user.pk, aujourdhui()).get()
        assert perms.double_authentification_etat(compte.utilisateur) == etat
    assert perms.compte_a_la_connexion(simple.identifiant, seuil).utilisateur._etat_double_authentification_lu == (
        True,
        False,
    )
    # Le seuil est bien substitué : sur une heure, la tentative ancienne compte.
    une_heure = timezone.now() - datetime.timedelta(hours=1)
    assert perms.compte_a_la_connexion(simple.identifiant, une_heure).echecs == 7
    inconnu = perms.compte_a_la_connexion("XYZ9999999", seuil)
    assert inconnu.utilisateur is None and inconnu.echecs == 0


def test_la_double_authentification_deja_lue_ne_coute_pas_de_requete(administrateur, django_assert_num_queries):
    compte = perms.compte_a_la_connexion(administrateur.identifiant, timezone.now())
    with django_assert_num_queries(0):
        assert perms.double_authentification_etat(compte.utilisateur) == (False, True)


def test_un_identifiant_inconnu_se_verrouille_aussi(client):
    """Sans compte, les échecs sont comptés par la requête d'axes (compilée) : cinq échecs sur
    un identifiant qui n'existe pas le verrouillent comme un autre."""
    connu = factories.creer_utilisateur()
    for identifiant in ("inc0000001", connu.identifiant):
        statuts = [se_connecter(client, identifiant, "mauvais mot de passe").status_code for _ in range(6)]
        assert statuts == [200, 200, 200, 200, 429, 429], identifiant
    assert se_connecter(client, "INC0000001", "mauvais mot de passe").status_code == 429


@pytest.mark.django_db(transaction=True)  # hors transaction de test : comme en production
def test_une_connexion_complete_ecrit_les_memes_lignes_que_l_orm(client, monkeypatch):
    """Sous PostgreSQL, une instruction (``WITH … INSERT / UPDATE``) ; ailleurs, ou si l'on force
    le chemin de l'ORM, trois. Les lignes écrites sont les mêmes."""
    avant = timezone.now() - datetime.timedelta(days=3)
    combinee = factories.creer_utilisateur(nom="Combe")
    orm = factories.creer_utilisateur(nom="Orme")
    Utilisateur.objects.filter(pk__in=[combinee.pk, orm.pk]).update(last_login=avant)

    def lignes(user, cle):
        user.refresh_from_db()
        assert user.connexion_precedente == avant
        assert timezone.now() - user.last_login < datetime.timedelta(seconds=30)
        assert SessionUtilisateur.objects.filter(session_key=cle, utilisateur=user).count() == 1
        journal = EvenementAudit.objects.filter(acteur=user).order_by("pk")
        return [
            (
                *(e.action, e.cible_type, e.cible_id == str(user.pk), e.cible_libelle == str(user), e.convention_id),
                *(e.adresse_ip, e.avant, e.apres, timezone.now() - e.cree_le < datetime.timedelta(seconds=30)),
            )
            for e in journal
        ]

    assert se_connecter(client, combinee.identifiant, factories.MOT_DE_PASSE).status_code == 302
    par_combinee = lignes(combinee, client.session.session_key)
    client.logout()
    monkeypatch.setattr(receivers, "_connexion_complete_ecrire", lambda request, user: False)
    assert se_connecter(client, orm.identifiant, factories.MOT_DE_PASSE).status_code == 302
    ligne = ("connexion_reussie", "habilitations.Utilisateur", True, True, combinee.convention_id, "127.0.0.1")
    attendu = [(*ligne, None, None, True)]
    assert par_combinee == attendu == lignes(orm, client.session.session_key)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="l'écriture combinée est propre à PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_l_ecriture_combinee_est_atomique(client, monkeypatch):
    """Une instruction : si une partie échoue (ici le journal), rien n'est écrit, ni la session
    suivie ni la dernière connexion ; la connexion échoue en erreur plutôt que de laisser une
    connexion sans trace."""
    user = factories.creer_utilisateur()
    vrai_preparer = receivers.audit_preparer

    def preparer_invalide(**kwargs):
        evenement = vrai_preparer(**kwargs)
        evenement.action = "x" * 500  # plus long que la colonne : PostgreSQL refuse
        return evenement

    monkeypatch.setattr(receivers, "audit_preparer", preparer_invalide)
    client.raise_request_exception = False
    assert se_connecter(client, user.identifiant, factories.MOT_DE_PASSE).status_code == 500
    user.refresh_from_db()
    assert user.last_login is None
    assert not SessionUtilisateur.objects.filter(utilisateur=user).exists()
    assert not EvenementAudit.objects.filter(acteur=user).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="l'écriture combinée est propre à PostgreSQL")
@pytest.mark.django_db(transaction=True)  # la connexion à la base est fermée et rouverte
def test_l_ecriture_combinee_est_preparee_une_fois_par_connexion(client):
    """Son texte ne change pas d'une connexion à l'autre : PostgreSQL l'analyse et la planifie une
    fois par connexion à la base, pas à chaque connexion d'un utilisateur (ticket 11)."""
    premier, second = factories.creer_utilisateur(nom="Prem"), factories.creer_utilisateur(nom="Second")
    connection.close()
    for user in (premier, second):
        assert se_connecter(client, user.identifiant, factories.MOT_DE_PASSE).status_code == 302
        client.logout()
    with connection.cursor() as curseur:
        curseur.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'WITH session AS%'")
        preparees = [ligne[0] for ligne in curseur.fetchall()]
    assert len(preparees) == 1, preparees
    assert 'INSERT INTO "portail_evenementaudit"' in preparees[0]
    assert EvenementAudit.objects.filter(acteur__in=[premier, second], action="connexion_reussie").count() == 2


def test_les_cles_de_session_sont_tirees_uniformement():
    """32 caractères de l'alphabet de Django ; sur 3 000 clés, aucune en double et chaque
    caractère à chaque position à peu près aussi souvent (un tirage biaisé ou tronqué se verrait)."""
    cles = [cle_aleatoire() for _ in range(3000)]
    assert len(set(cles)) == 3000
    assert all(len(c) == 32 and set(c) <= set(VALID_KEY_CHARS) for c in cles)
    for position in (0, 15, 31):
        frequences = dict.fromkeys(VALID_KEY_CHARS, 0)
        for c in cles:
            frequences[c[position]] += 1
        assert min(frequences.values()) > 40 and max(frequences.values()) < 140, frequences  # attendu : 83


@pytest.mark.skipif(connection.vendor != "postgresql", reason="l'écriture combinée est propre à PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_la_session_jointe_a_l_ecriture_combinee_n_est_reecrite_que_si_elle_change(django_assert_num_queries):
    """La ligne de la session part avec l'écriture combinée de la connexion : la fin de requête
    ne la réécrit pas si rien n'a changé depuis, et la réécrit (UPDATE) si quelque chose a changé,
    même une liste modifiée sur place."""
    inchangee, modifiee = SessionStore(), SessionStore()
    for session in (inchangee, modifiee):
        session["liste"] = [1]
        session.cycle_key()
        sql, valeurs = session.insertion_a_joindre(connection)
        with connection.cursor() as curseur:
            curseur.execute(sql, valeurs)
        session.inseree()
        assert session.insertion_a_joindre(connection) is None  # déjà écrite
    with django_assert_num_queries(0):
        inchangee.save()
    modifiee["liste"].append(2)
    with django_assert_num_queries(1):
        modifiee.save()
    assert SessionStore(inchangee.session_key).load() == {"liste": [1]}
    assert SessionStore(modifiee.session_key).load() == {"liste": [1, 2]}


def test_dans_une_transaction_la_session_suit_le_chemin_de_django():
    """Une transaction ouverte (ici celle du test) : rien à joindre, la fin de requête écrit la
    session comme Django, avec son point de sauvegarde."""
    session = SessionStore()
    session["a"] = 1
    session.cycle_key()
    assert session.insertion_a_joindre(connection) is None
    session.save()
    assert SessionStore(session.session_key).load() == {"a": 1}
