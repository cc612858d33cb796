"""Ce que coûte une connexion (ticket 11 : 15 par seconde et par cœur), et ce que les économies
ne doivent pas casser : le verrouillage d'axes, la remise à zéro après un succès, une session
fermée qui ne revient pas, une clé de session jamais partagée."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from habilitations.tasks import taches_quotidiennes
from portail.socle.sessions import SessionStore
from tests import factories

URL = reverse("habilitations:connexion")

pytestmark = pytest.mark.django_db


def se_connecter(client, identifiant, mot_de_passe):
    return client.post(URL, {"username": identifiant, "password": mot_de_passe})


@pytest.mark.django_db(transaction=True)  # hors transaction de test : comme en production
def test_une_connexion_coute_deux_requetes_sous_postgresql(client):
    """Avant : 21 (axes : nettoyage, journal d'accès, remise à zéro, chacun dans sa transaction ;
    session : clé vérifiée d'avance, INSERT et UPDATE dans leurs transactions ; double
    authentification en deux questions), puis 8 (la session écrite à la nouvelle clé puis
    réécrite en fin de requête), puis 7, puis 3. Maintenant 2 sous PostgreSQL : une lecture
    (échecs d'axes, compte, double authentification), une écriture combinée (la session, la
    session suivie, la dernière connexion, le journal) ; ailleurs l'écriture combinée reste
    trois instructions et la session une de plus. Le détail est vérifié : plus une seule
    transaction, la session écrite une fois, par un INSERT qui porte déjà l'utilisateur
    connecté."""
    user = factories.creer_utilisateur()
    with CaptureQueriesContext(connection) as requetes:
        assert se_connecter(client, user.identifiant, factories.MOT_DE_PASSE).status_code == 302
    # Une instruction préparée (valeurs liées côté serveur) est journalisée « QUERY = '…' ».
    sql = [q["sql"].removeprefix("QUERY = '") for q in requetes.captured_queries]
    assert len(sql) == (2 if connection.vendor == "postgresql" else 5), "\n".join(sql)
    sessions = [s for s in sql if '"django_session"' in s]
    assert len(sessions) == 1 and 'INSERT INTO "django_session"' in sessions[0], sessions
    assert sessions[0].startswith("WITH" if connection.vendor == "postgresql" else "INSERT"), sessions
    assert not [s for s in sql if s.startswith(("BEGIN", "SAVEPOINT", "COMMIT"))]
    assert len([s for s in sql if "axes_" in s]) == 1  # le contrôle du verrou, avant le mot de passe
    assert client.session["_auth_user_id"] == str(user.pk)


def test_un_succes_remet_les_echecs_a_zero(client):
    """Trois échecs, un succès, puis quatre échecs : pas de verrou (sans remise à zéro, le
    septième échec aurait verrouillé l'identifiant)."""
    user = factories.creer_utilisateur()
    for _ in range(3):
        se_connecter(client, user.identifiant, "mauvais mot de passe")
    assert se_connecter(client, user.identifiant, factories.MOT_DE_PASSE).status_code == 302
    assert not AccessAttempt.objects.filter(username=user.identifiant).exists()
    client.logout()
    for _ in range(4):
        se_connecter(client, user.identifiant, "mauvais mot de passe")
    assert se_connecter(client, user.identifiant, factories.MOT_DE_PASSE).status_code == 302


def test_les_taches_de_nuit_effacent_tentatives_et_sessions_expirees(client):
    """Axes ne nettoie plus à chaque connexion : la nuit s'en charge, sans toucher à ce qui compte
    encore (une tentative de moins de quinze minutes, une session en cours)."""
    ancien = factories.creer_utilisateur(nom="Ancien")
    recent = factories.creer_utilisateur(nom="Recent")
    for user in (ancien, recent):
        se_connecter(client, user.identifiant, "mauvais mot de passe")
    assert se_connecter(client, recent.identifiant, "encore faux").status_code == 200
    AccessAttempt.objects.filter(username=ancien.identifiant).update(
        attempt_time=timezone.now() - datetime.timedelta(minutes=16)
    )
    ouverte = SessionStore()
    ouverte["donnee"] = 1
    ouverte.create()
    expiree = SessionStore()
    expiree.create()
    Session.objects.filter(session_key=expiree.session_key).update(expire_date=timezone.now() - datetime.timedelta(1))

    assert taches_quotidiennes.delay().get()["tentatives_expirees_effacees"] == 1
    assert not AccessAttempt.objects.filter(username=ancien.identifiant).exists()
    assert AccessAttempt.objects.get(username=recent.identifiant).failures_since_start == 2
    assert set(Session.objects.values_list("session_key", flat=True)) == {ouverte.session_key}


class TestSessionStore:
    def test_une_session_fermee_n_est_pas_recreee_par_une_requete_en_vol(self):
        """La clôture d'un compte efface ses sessions ; une requête encore en cours qui enregistre
        la sienne ensuite ne doit pas la faire revivre."""
        session = SessionStore()
        session["_auth_user_id"] = "1"
        session.create()
        Session.objects.filter(session_key=session.session_key).delete()
        session["derniere_activite"] = 2
        with pytest.raises(UpdateError):
            session.save()
        assert not Session.objects.exists()

    def test_une_cle_deja_prise_n_est_jamais_partagee(self, monkeypatch):
        """La clé n'est plus vérifiée d'avance : c'est la clé primaire qui refuse un doublon, et
        une autre clé est tirée. La session existante garde ses données."""
        premiere = SessionStore()
        premiere["a_qui"] = "premiere"
        premiere.create()
        tirages = iter([premiere.session_key, "k" * 32])
        seconde = SessionStore()
        monkeypatch.setattr(seconde, "_get_new_session_key", lambda: next(tirages))
        seconde["a_qui"] = "seconde"
        seconde.create()
        seconde.save()
        assert seconde.session_key == "k" * 32
        assert SessionStore(premiere.session_key).load() == {"a_qui": "premiere"}
        assert SessionStore("k" * 32).load() == {"a_qui": "seconde"}
