"""Politique de mot de passe, Argon2id, « Mot de passe oublié ? », changement de mot de passe."""

import pytest
from argon2 import extract_parameters
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from habilitations.hashers import MINIMUMS_OWASP, Argon2idPortailHasher
from habilitations.models import Utilisateur
from portail.models import Courriel
from portail.settings.test import HACHEURS_PRODUCTION
from tests import factories
from tests.utils import texte

CHOISIR = reverse("habilitations:changer_mot_de_passe")
OUBLIE = reverse("habilitations:mot_de_passe_oublie")
CONNEXION = reverse("habilitations:connexion")


def changer(client, user, nouveau, confirmation=None):
    return client.post(
        CHOISIR,
        {"old_password": factories.MOT_DE_PASSE, "new_password1": nouveau, "new_password2": confirmation or nouveau},
    )


@pytest.mark.django_db
class TestPolitique:
    @pytest.mark.parametrize(
        ("mot_de_passe", "message"),
        [
            ("court123", "trop court"),
            ("password1234", "trop courant"),
            ("camille-au-bord-de-l-eau", "votre prénom"),
            ("monsieur durand en vacances", "votre nom"),
        ],
        ids=["trop-court", "courant", "contient-le-prenom", "contient-le-nom"],
    )
    def test_refus_avec_message_francais(self, client, mot_de_passe, message):
        user = factories.creer_utilisateur(nom="Durand", prenom="Camille")
        client.force_login(user)
        reponse = changer(client, user, mot_de_passe)
        assert reponse.status_code == 200
        assert message in texte(reponse)
        user.refresh_from_db()
        assert user.check_password(factories.MOT_DE_PASSE)

    def test_refus_si_contient_l_identifiant(self, client):
        user = factories.creer_utilisateur()
        client.force_login(user)
        reponse = changer(client, user, f"mon code {user.identifiant.lower()} ok")
        assert "votre identifiant" in texte(reponse)

    def test_confirmation_differente(self, client):
        user = factories.creer_utilisateur()
        client.force_login(user)
        reponse = changer(client, user, "une phrase assez longue", "une autre phrase longue")
        assert "ne correspondent pas" in texte(reponse)

    def test_aucune_regle_de_composition_et_64_caracteres_acceptes(self, client, django_capture_on_commit_callbacks):
        user = factories.creer_utilisateur()
        client.force_login(user)
        long = "la rivière coule doucement sous le vieux pont de pierre au matin"
        assert len(long) >= 64
        with django_capture_on_commit_callbacks(execute=True):
            reponse = changer(client, user, long)
        assert reponse.status_code == 302
        user.refresh_from_db()
        assert user.check_password(long)
        assert mail.outbox[-1].subject == "Portail Partenaires : votre mot de passe a été modifié"

    def test_changer_son_mot_de_passe_ferme_les_autres_sessions(self, client):
        from django.contrib.sessions.models import Session
        from django.test import Client

        user = factories.creer_utilisateur()
        autre = Client()
        for c in (client, autre):
            c.post(
                reverse("habilitations:connexion"), {"username": user.identifiant, "password": factories.MOT_DE_PASSE}
            )
        assert Session.objects.count() == 2
        changer(client, user, "une toute nouvelle phrase de passe")
        assert Session.objects.count() == 1
        assert client.get(reverse("portail:accueil")).status_code == 200
        assert autre.get(reverse("portail:accueil")).status_code == 302


class TestArgon2:
    def test_parametres_au_moins_le_minimum_owasp(self):
        """Au moins une ligne du minimum de l'OWASP, en mémoire comme en passes, et un coût
        d'essai hors ligne (mémoire × passes) au moins celui de la ligne (19 MiB, t=2)."""
        encode = Argon2idPortailHasher().encode("phrase de passe", Argon2idPortailHasher().salt())
        parametres = extract_parameters(encode.removeprefix("argon2"))
        assert parametres.type.name == "ID"
        assert parametres.parallelism >= 1
        assert any(
            parametres.memory_cost >= memoire and parametres.time_cost >= passes for memoire, passes in MINIMUMS_OWASP
        )
        assert parametres.memory_cost * parametres.time_cost >= 19456 * 2

    @pytest.mark.django_db
    def test_la_production_hache_en_argon2id(self):
        with override_settings(PASSWORD_HASHERS=HACHEURS_PRODUCTION):
            assert make_password("phrase de passe").startswith(EMPREINTE_DU_PORTAIL)

    @pytest.mark.django_db
    @override_settings(PASSWORD_HASHERS=HACHEURS_PRODUCTION)
    def test_empreinte_aux_anciens_parametres_recalculee_a_la_connexion(self, client):
        """Les comptes hachés avant le ticket 11 (t=3, m=64 MiB, p=2) se connectent toujours ;
        leur empreinte passe aux paramètres du jour à la première connexion réussie, pas avant."""
        user = factories.creer_utilisateur()
        ancienne = Argon2idAnciensParametres().encode(factories.MOT_DE_PASSE, Argon2idAnciensParametres().salt())
        assert ancienne.startswith("argon2$argon2id$v=19$m=65536,t=3,p=2$")
        Utilisateur.objects.filter(pk=user.pk).update(password=ancienne)

        echec = client.post(CONNEXION, {"username": user.identifiant, "password": "une phrase fausse"})
        assert echec.status_code == 200
        user.refresh_from_db()
        assert user.password == ancienne  # un mauvais mot de passe ne réécrit rien

        reponse = client.post(CONNEXION, {"username": user.identifiant, "password": factories.MOT_DE_PASSE})
        assert reponse.status_code == 302
        user.refresh_from_db()
        assert user.password.startswith(EMPREINTE_DU_PORTAIL)
        assert user.check_password(factories.MOT_DE_PASSE)
        client.logout()
        assert (
            client.post(CONNEXION, {"username": user.identifiant, "password": factories.MOT_DE_PASSE}).status_code
            == 302
        )


EMPREINTE_DU_PORTAIL = (
    f"argon2$argon2id$v=19$m={Argon2idPortailHasher.memory_cost},t={Argon2idPortailHasher.time_cost},"
    f"p={Argon2idPortailHasher.parallelism}$"
)


class Argon2idAnciensParametres(Argon2idPortailHasher):
    """Les paramètres d'avant le ticket 11, pour écrire une empreinte d'alors."""

    time_cost = 3
    memory_cost = 65536
    parallelism = 2


@pytest.mark.django_db
class TestMotDePasseOublie:
    def test_meme_reponse_que_l_identifiant_existe_ou_non(self, client, django_capture_on_commit_callbacks):
        user = factories.creer_utilisateur()
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            existe = client.post(OUBLIE, {"identifiant": user.identifiant}, follow=True)
        inconnu = client.post(OUBLIE, {"identifiant": "ZZZ9999999"}, follow=True)
        assert existe.status_code == inconnu.status_code == 200
        message = "Si cet identifiant correspond à un compte ouvert"
        assert message in texte(existe) and message in texte(inconnu)
        assert len(mail.outbox) == 1
        assert mail.outbox[0].subject == "Portail Partenaires : votre mot de passe provisoire"

    def test_le_nouveau_provisoire_ouvre_une_session_et_l_ancien_mot_de_passe_reste(self, client):
        import re

        user = factories.creer_utilisateur()
        client.post(OUBLIE, {"identifiant": user.identifiant.lower()})
        corps = Courriel.objects.filter(modele="mot_de_passe_provisoire").first().corps
        provisoire = re.search(r"provisoire : (\S+)", corps).group(1)
        reponse = client.post(
            reverse("habilitations:connexion"), {"username": user.identifiant, "password": provisoire}
        )
        assert reponse.url == reverse("habilitations:choisir_mot_de_passe")
        user.refresh_from_db()
        assert user.check_password(factories.MOT_DE_PASSE)

    def test_compte_cloture_ne_recoit_rien(self, client):
        from portail.socle.dates import aujourdhui

        user = factories.creer_utilisateur(date_cloture=aujourdhui())
        avant = Courriel.objects.count()
        client.post(OUBLIE, {"identifiant": user.identifiant})
        assert Courriel.objects.count() == avant

    def test_limite_par_identifiant(self, client):
        user = factories.creer_utilisateur()
        for _ in range(3):
            assert client.post(OUBLIE, {"identifiant": user.identifiant}).status_code == 302
        reponse = client.post(OUBLIE, {"identifiant": user.identifiant})
        assert reponse.status_code == 429
        assert "Trop de demandes" in texte(reponse)
        assert Courriel.objects.filter(modele="mot_de_passe_provisoire", destinataire=user.email).count() == 1 + 3

    def test_limite_par_adresse_meme_pour_des_identifiants_inconnus(self, client, settings):
        settings.MOT_DE_PASSE_OUBLIE_LIMITE_ADRESSE = 5
        for i in range(5):
            client.post(OUBLIE, {"identifiant": f"INC{i:07d}"})
        assert client.post(OUBLIE, {"identifiant": "INC9999999"}).status_code == 429

    def test_identifiant_vide(self, client):
        reponse = client.post(OUBLIE, {"identifiant": ""})
        assert reponse.status_code == 200
        assert "Ce champ est obligatoire" in texte(reponse)


@pytest.mark.django_db
def test_identifiants_generes_uniques_et_au_bon_format(caf):
    org = factories.OrganismeFactory(raison_sociale="Écoles d'Entraygues", caf=caf)
    a = factories.creer_utilisateur(organisme=org)
    b = factories.creer_utilisateur(organisme=org)
    agent = factories.creer_utilisateur(caf=caf)
    assert a.identifiant == "ECO0120001"
    assert b.identifiant == "ECO0120002"
    assert agent.identifiant == "CAF0120003"
    assert Utilisateur.objects.get_by_natural_key(" eco0120001 ") == a


@pytest.mark.django_db
def test_les_libelles_du_portail_sont_affiches(client):
    user = factories.creer_utilisateur()
    client.force_login(user)
    page = texte(client.get(CHOISIR))
    assert "Mot de passe actuel" in page and "Ancien mot de passe" not in page
    assert "Au moins 12 caractères" in page


@pytest.mark.django_db
def test_la_session_reste_suivie_apres_un_changement_de_mot_de_passe(client, django_capture_on_commit_callbacks):
    from django.contrib.sessions.models import Session

    from habilitations import services
    from portail.socle.dates import aujourdhui

    user = factories.creer_utilisateur()
    client.post(reverse("habilitations:connexion"), {"username": user.identifiant, "password": factories.MOT_DE_PASSE})
    changer(client, user, "une toute nouvelle phrase de passe")
    with django_capture_on_commit_callbacks(execute=True):
        services.utilisateur_cloturer(par=None, utilisateur=user, date_cloture=aujourdhui())
    assert Session.objects.count() == 0


@pytest.mark.django_db
def test_demande_livree_deux_fois_n_emet_qu_un_mot_de_passe():
    """La tâche « mot de passe oublié » livrée deux fois (acks tardifs, worker redémarré) :
    un seul mot de passe provisoire, un seul courriel. Une nouvelle demande en émet un autre."""
    from django.utils import timezone

    from habilitations import tasks

    user = factories.creer_utilisateur()
    demande_le = timezone.now().isoformat()
    tasks.mot_de_passe_oublie(user.identifiant, demande_le)
    tasks.mot_de_passe_oublie(user.identifiant, demande_le)
    assert Courriel.objects.filter(modele="mot_de_passe_provisoire", destinataire=user.email).count() == 1 + 1
    tasks.mot_de_passe_oublie(user.identifiant, timezone.now().isoformat())
    assert Courriel.objects.filter(modele="mot_de_passe_provisoire", destinataire=user.email).count() == 1 + 2
