"""Connexion : mot de passe personnel ou provisoire, comptes clôturés, verrouillage, traces."""

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from habilitations.models import Utilisateur
from portail.models import EvenementAudit
from portail.socle.dates import aujourdhui
from tests import factories
from tests.utils import texte

URL = reverse("habilitations:connexion")


def provisoire_envoye(user: Utilisateur) -> str:
    """Le mot de passe provisoire tel que l'utilisateur le lit dans son dernier courriel."""
    from portail.models import Courriel

    corps = Courriel.objects.filter(destinataire=user.email, modele="mot_de_passe_provisoire").first().corps
    return re.search(r"Votre mot de passe provisoire : (\S+)", corps).group(1)


def se_connecter(client, identifiant, mot_de_passe):
    return client.post(URL, {"username": identifiant, "password": mot_de_passe})


@pytest.mark.django_db
class TestMotDePassePersonnel:
    def test_bon_mot_de_passe_connecte_et_change_la_cle_de_session(self, client):
        user = factories.creer_utilisateur()
        client.get(URL)
        cle_avant = client.session.session_key
        reponse = se_connecter(client, user.identifiant, factories.MOT_DE_PASSE)
        assert reponse.status_code == 302
        assert client.session["_auth_user_id"] == str(user.pk)
        assert client.session.session_key != cle_avant

    def test_identifiant_saisi_en_minuscules(self, client):
        user = factories.creer_utilisateur()
        reponse = se_connecter(client, user.identifiant.lower(), factories.MOT_DE_PASSE)
        assert reponse.status_code == 302

    def test_mauvais_mot_de_passe_message_francais(self, client):
        user = factories.creer_utilisateur()
        reponse = se_connecter(client, user.identifiant, "pas le bon mot de passe")
        assert reponse.status_code == 200
        assert "Identifiant ou mot de passe incorrect." in texte(reponse)
        assert "_auth_user_id" not in client.session

    def test_le_refus_est_annonce_et_les_champs_invalides(self, client):
        user = factories.creer_utilisateur()
        page = texte(se_connecter(client, user.identifiant, "pas le bon mot de passe"))
        assert "<title>Erreur : Connexion" in page
        resume = re.search(r'<div class="[^"]*" role="alert" id="resume-erreurs"[^>]*autofocus>(.*?)</div>', page, re.S)
        assert resume and "Identifiant ou mot de passe incorrect." in resume.group(1)
        assert re.search(r'<input[^>]*name="username"[^>]*aria-invalid="true"', page)
        assert re.search(r'<input[^>]*name="password"[^>]*aria-invalid="true"', page)

    def test_identifiant_inconnu_meme_message(self, client):
        reponse = se_connecter(client, "XXX9999999", "peu importe ce mot")
        assert "Identifiant ou mot de passe incorrect." in texte(reponse)

    def test_compte_cloture_refuse(self, client):
        user = factories.creer_utilisateur(date_cloture=aujourdhui())
        reponse = se_connecter(client, user.identifiant, factories.MOT_DE_PASSE)
        assert "_auth_user_id" not in client.session
        assert "Votre compte n'est pas ouvert" in texte(reponse)

    def test_compte_pas_encore_ouvert_refuse(self, client):
        user = factories.creer_utilisateur(date_ouverture=aujourdhui() + datetime.timedelta(days=1))
        se_connecter(client, user.identifiant, factories.MOT_DE_PASSE)
        assert "_auth_user_id" not in client.session

    def test_compte_cloture_ne_dit_rien_sans_le_bon_mot_de_passe(self, client):
        user = factories.creer_utilisateur(date_cloture=aujourdhui())
        reponse = se_connecter(client, user.identifiant, "mauvais mot de passe")
        assert "n'est pas ouvert" not in texte(reponse)

    def test_chaque_connexion_est_tracee_sans_mot_de_passe(self, client, caplog):
        user = factories.creer_utilisateur()
        with caplog.at_level("INFO", logger="habilitations.connexions"):
            se_connecter(client, user.identifiant, "mot de passe faux 123")
            se_connecter(client, user.identifiant, factories.MOT_DE_PASSE)
        assert "connexion échouée" in caplog.text
        assert "connexion réussie" in caplog.text
        assert "mot de passe faux 123" not in caplog.text
        assert factories.MOT_DE_PASSE not in caplog.text
        actions = list(EvenementAudit.objects.values_list("action", flat=True))
        assert "connexion_echouee" in actions and "connexion_reussie" in actions
        assert factories.MOT_DE_PASSE not in str(list(EvenementAudit.objects.values_list("apres", flat=True)))


@pytest.mark.django_db
class TestMotDePasseProvisoire:
    def test_creation_envoie_identifiant_et_mot_de_passe_provisoire(self, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            user = factories.creer_utilisateur(mot_de_passe=None)
        sujets = [m.subject for m in mail.outbox]
        assert sujets == [
            "Portail Partenaires : votre identifiant",
            "Portail Partenaires : votre mot de passe provisoire",
        ]
        assert user.identifiant in mail.outbox[0].body
        assert mail.outbox[0].to == [user.email]
        provisoire = provisoire_envoye(user)
        assert provisoire in mail.outbox[1].body
        assert provisoire not in mail.outbox[0].body
        # Seule l'empreinte est stockée.
        user.refresh_from_db()
        assert provisoire not in user.mot_de_passe_provisoire
        assert not user.has_usable_password()

    def test_premiere_connexion_impose_le_choix_du_mot_de_passe(self, client):
        user = factories.creer_utilisateur(mot_de_passe=None)
        reponse = se_connecter(client, user.identifiant, provisoire_envoye(user))
        assert reponse.url == reverse("habilitations:choisir_mot_de_passe")
        # Aucune autre page avant le choix.
        assert client.get(reverse("portail:accueil")).url == reverse("habilitations:choisir_mot_de_passe")
        assert client.get(reverse("habilitations:profil")).url == reverse("habilitations:choisir_mot_de_passe")

    def test_choix_du_mot_de_passe_puis_accueil(self, client):
        user = factories.creer_utilisateur(nom="Rivière", prenom="Léa", mot_de_passe=None)
        se_connecter(client, user.identifiant, provisoire_envoye(user))
        url = reverse("habilitations:choisir_mot_de_passe")
        nouveau = "le vent se lève sur le causse"
        reponse = client.post(url, {"new_password1": nouveau, "new_password2": nouveau})
        assert reponse.url == reverse("portail:accueil")
        assert client.get(reverse("portail:accueil")).status_code == 200
        user.refresh_from_db()
        assert user.check_password(nouveau)

    def test_le_provisoire_ne_peut_pas_devenir_le_mot_de_passe(self, client):
        user = factories.creer_utilisateur(mot_de_passe=None)
        provisoire = provisoire_envoye(user)
        se_connecter(client, user.identifiant, provisoire)
        reponse = client.post(
            reverse("habilitations:choisir_mot_de_passe"), {"new_password1": provisoire, "new_password2": provisoire}
        )
        assert reponse.status_code == 200
        assert "différent du mot de passe provisoire" in texte(reponse)
        user.refresh_from_db()
        assert not user.has_usable_password()

    def test_provisoire_a_usage_unique(self, client):
        user = factories.creer_utilisateur(mot_de_passe=None)
        provisoire = provisoire_envoye(user)
        se_connecter(client, user.identifiant, provisoire)
        client.logout()
        reponse = se_connecter(client, user.identifiant, provisoire)
        assert "_auth_user_id" not in client.session
        assert "déjà servi" in texte(reponse)

    def test_provisoire_expire_apres_24_heures(self, client):
        with time_machine.travel(timezone.now(), tick=False) as voyage:
            user = factories.creer_utilisateur(mot_de_passe=None)
            provisoire = provisoire_envoye(user)
            voyage.shift(datetime.timedelta(hours=24, seconds=1))
            reponse = se_connecter(client, user.identifiant, provisoire)
        assert "_auth_user_id" not in client.session
        contenu = texte(reponse)
        assert "expiré" in contenu and "Mot de passe oublié ?" in contenu

    def test_provisoire_valable_juste_avant_24_heures(self, client):
        with time_machine.travel(timezone.now(), tick=False) as voyage:
            user = factories.creer_utilisateur(mot_de_passe=None)
            provisoire = provisoire_envoye(user)
            voyage.shift(datetime.timedelta(hours=23, minutes=59))
            se_connecter(client, user.identifiant, provisoire)
            assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
class TestVerrouillage:
    def test_cinq_echecs_verrouillent_l_identifiant_quinze_minutes(self, client):
        user = factories.creer_utilisateur()
        for _ in range(5):
            se_connecter(client, user.identifiant, "mauvais mot de passe")
        reponse = se_connecter(client, user.identifiant, factories.MOT_DE_PASSE)
        assert reponse.status_code == 429
        assert "verrouillé pendant 15 minutes" in texte(reponse)
        assert "_auth_user_id" not in client.session

    def test_verrou_par_identifiant_pas_par_adresse(self, client):
        """Un proxy partagé : les échecs d'un identifiant ne bloquent pas les autres."""
        victime = factories.creer_utilisateur(nom="Un")
        collegue = factories.creer_utilisateur(nom="Deux")
        for _ in range(5):
            se_connecter(client, victime.identifiant, "mauvais mot de passe")
        se_connecter(client, collegue.identifiant, factories.MOT_DE_PASSE)
        assert client.session["_auth_user_id"] == str(collegue.pk)

    def test_verrou_insensible_a_la_casse(self, client):
        user = factories.creer_utilisateur()
        for _ in range(5):
            se_connecter(client, user.identifiant.lower(), "mauvais mot de passe")
        assert se_connecter(client, user.identifiant, factories.MOT_DE_PASSE).status_code == 429

    def test_verrou_leve_apres_quinze_minutes(self, client):
        with time_machine.travel(timezone.now(), tick=False) as voyage:
            user = factories.creer_utilisateur()
            for _ in range(5):
                se_connecter(client, user.identifiant, "mauvais mot de passe")
            voyage.shift(datetime.timedelta(minutes=15, seconds=1))
            se_connecter(client, user.identifiant, factories.MOT_DE_PASSE)
            assert client.session["_auth_user_id"] == str(user.pk)

    def test_tentative_verrouillee_n_atteint_pas_le_hacheur(self, client, monkeypatch):
        user = factories.creer_utilisateur()
        for _ in range(5):
            se_connecter(client, user.identifiant, "mauvais mot de passe")
        appels = []
        original = Utilisateur.check_password
        monkeypatch.setattr(Utilisateur, "check_password", lambda self, raw: appels.append(1) or original(self, raw))
        se_connecter(client, user.identifiant, factories.MOT_DE_PASSE)
        assert appels == []


@pytest.mark.django_db
def test_la_deconnexion_est_confirmee(client):
    user = factories.creer_utilisateur()
    client.force_login(user)
    reponse = client.post(reverse("habilitations:deconnexion"), follow=True)
    assert reponse.redirect_chain[-1][0] == reverse("habilitations:connexion")
    assert "Vous êtes déconnecté." in texte(reponse)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_mon_profil_et_mots_de_passe_ont_leur_autocomplete(client):
    """WCAG 1.3.5 : les champs où la personne saisit ses propres données disent leur nature."""
    from tests.conftest import connecter_verifie

    user = factories.creer_utilisateur()
    connecter_verifie(client, user)
    profil = texte(client.get(reverse("habilitations:profil")))
    assert re.search(r'<input[^>]*name="email"[^>]*autocomplete="email"', profil)
    assert re.search(r'<input[^>]*name="email_confirmation"[^>]*autocomplete="email"', profil)
    mot_de_passe = texte(client.get(reverse("habilitations:changer_mot_de_passe")))
    assert re.search(r'<input[^>]*name="old_password"[^>]*autocomplete="current-password"', mot_de_passe)
    assert re.search(r'<input[^>]*name="new_password1"[^>]*autocomplete="new-password"', mot_de_passe)
