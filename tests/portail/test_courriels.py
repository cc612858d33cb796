"""Boîte d'envoi : le courriel naît dans la transaction du changement, part après elle, et un
balayage relance ce qui n'est pas parti, avec un délai qui double."""

import datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone

from habilitations import services as habilitations_services
from portail.models import Courriel
from portail.socle import courriels as services
from portail.socle.emails import courriel_preparer
from tests import factories
from tests.utils import courtier_injoignable


@pytest.mark.django_db
class TestBoiteDEnvoi:
    def test_rien_ne_part_si_la_transaction_est_annulee(self, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
            factories.creer_utilisateur()
            raise RuntimeError("échec après la création")
        assert Courriel.objects.count() == 0
        assert mail.outbox == []

    def test_le_courriel_part_apres_la_validation(self, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False) as rappels:
            user = factories.creer_utilisateur()
        assert Courriel.objects.filter(envoye_le__isnull=True).count() == 2
        assert mail.outbox == []
        for rappel in rappels:
            rappel()
        assert Courriel.objects.filter(envoye_le__isnull=True).count() == 0
        assert {m.to[0] for m in mail.outbox} == {user.email}

    def test_le_contenu_cite_l_adresse_du_portail(self, settings):
        settings.PORTAIL_URL = "https://partenaires.example"
        user = factories.creer_utilisateur()
        corps = Courriel.objects.get(modele="identifiant", destinataire=user.email).corps
        assert "https://partenaires.example/connexion/" in corps

    def test_echec_d_envoi_puis_relance_avec_delai_croissant(self, settings):
        courriel = courriel_preparer(
            modele="identifiant",
            destinataire="a@exemple.test",
            contexte={"utilisateur": factories.creer_utilisateur(mot_de_passe=None)},
        )
        Courriel.objects.exclude(pk=courriel.pk).delete()  # seul ce courriel nous intéresse
        # Un vrai backend SMTP vers un port fermé : l'envoi échoue.
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},
            }
        }
        with time_machine.travel(timezone.now(), tick=False) as voyage:
            assert services.courriel_envoyer(courriel_id=courriel.pk) is False
            courriel.refresh_from_db()
            assert courriel.tentatives == 1 and courriel.envoye_le is None
            assert courriel.prochaine_tentative_le == timezone.now() + datetime.timedelta(minutes=1)
            assert "ConnectionRefusedError" in courriel.derniere_erreur
            # Le balayage ne le reprend pas avant l'heure…
            assert services.courriels_relancer() == 0
            voyage.shift(datetime.timedelta(minutes=1))
            assert services.courriels_relancer() == 0  # nouvel échec : 2 tentatives
            courriel.refresh_from_db()
            assert courriel.prochaine_tentative_le == timezone.now() + datetime.timedelta(minutes=2)
            # …puis le serveur revient.
            settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend", "OPTIONS": {}}}
            voyage.shift(datetime.timedelta(minutes=2))
            assert services.courriels_relancer() == 1
        courriel.refresh_from_db()
        assert courriel.envoye_le is not None and courriel.tentatives == 3
        assert len([m for m in mail.outbox if m.to == ["a@exemple.test"]]) == 1

    def test_jamais_envoye_deux_fois(self):
        user = factories.creer_utilisateur()
        courriel = Courriel.objects.get(modele="identifiant", destinataire=user.email)
        mail.outbox.clear()
        services.courriel_envoyer(courriel_id=courriel.pk)
        services.courriel_envoyer(courriel_id=courriel.pk)
        assert len(mail.outbox) == 1

    def test_courtier_absent_la_requete_aboutit_et_le_courriel_attend(self, caplog, django_capture_on_commit_callbacks):
        """Le courtier est injoignable au moment du commit : rien ne casse, le courriel reste dans
        la boîte d'envoi, et le balayage l'envoie ensuite."""
        import time

        debut = time.monotonic()
        with courtier_injoignable(), django_capture_on_commit_callbacks(execute=True):
            user = factories.creer_utilisateur()
        assert time.monotonic() - debut < 2, "la requête ne doit pas attendre le courtier"
        # Les deux courriels de l'acte partent par une seule publication : un seul échec journalisé.
        assert sum("courtier indisponible" in r.getMessage() for r in caplog.records) == 1
        en_attente = Courriel.objects.filter(destinataire=user.email, envoye_le__isnull=True)
        assert en_attente.count() == 2
        assert services.courriels_relancer() == 2
        assert {m.subject for m in mail.outbox} >= {"Portail Partenaires : votre identifiant"}


@pytest.mark.django_db
class TestBoiteAuxLettresDeDeveloppement:
    def test_visible_en_debug_seulement(self, client, settings):
        factories.creer_utilisateur()
        settings.DEBUG = False
        assert client.get("/dev/courriels/").status_code == 404
        settings.DEBUG = True
        reponse = client.get("/dev/courriels/")
        assert reponse.status_code == 200
        assert "Portail Partenaires : votre identifiant" in reponse.content.decode()

    def test_detail_du_courriel(self, client, settings):
        settings.DEBUG = True
        user = factories.creer_utilisateur()
        courriel = Courriel.objects.get(modele="identifiant", destinataire=user.email)
        assert user.identifiant in client.get(f"/dev/courriels/{courriel.pk}/").content.decode()
        settings.DEBUG = False
        assert client.get(f"/dev/courriels/{courriel.pk}/").status_code == 404


@pytest.mark.django_db
class TestAdresseDesLiens:
    """Sans PORTAIL_URL, les liens des courriels citent l'hôte qui a servi la requête."""

    def test_l_hote_de_la_requete(self, client, settings):
        settings.PORTAIL_URL = ""
        settings.ALLOWED_HOSTS = ["portail.test"]
        user = factories.creer_utilisateur(mot_de_passe="x")
        client.post(
            "/connexion/mot-de-passe-oublie/", {"identifiant": user.identifiant}, headers={"host": "portail.test:8104"}
        )
        corps = Courriel.objects.filter(modele="mot_de_passe_provisoire", destinataire=user.email).latest("pk").corps
        assert "http://portail.test:8104/connexion/" in corps
        assert "127.0.0.1:8000" not in corps

    def test_hors_requete_l_adresse_par_defaut(self, settings):
        settings.PORTAIL_URL = ""
        user = factories.creer_utilisateur()
        corps = Courriel.objects.get(modele="identifiant", destinataire=user.email).corps
        assert "http://127.0.0.1:8000/connexion/" in corps


@pytest.mark.django_db
class TestChaqueCourrielDitCeQuiSEstPasse:
    def test_compte_neuf_pas_de_demande_ni_de_mot_de_passe_actuel(self):
        user = factories.creer_utilisateur(mot_de_passe=None)
        corps = Courriel.objects.get(modele="mot_de_passe_provisoire", destinataire=user.email).corps
        assert "Un compte vient de vous être ouvert" in corps
        assert "à l'origine de cette demande" not in corps
        assert "mot de passe actuel" not in corps

    def test_mot_de_passe_oublie(self):
        user = factories.creer_utilisateur(mot_de_passe="un mot de passe personnel")
        habilitations_services.mot_de_passe_oublie(identifiant=user.identifiant)
        corps = Courriel.objects.filter(modele="mot_de_passe_provisoire", destinataire=user.email).latest("pk").corps
        assert "Vous avez demandé un nouveau mot de passe" in corps
        assert (
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce courriel : votre mot de passe actuel reste valable."
            in corps
        )

    def test_mot_de_passe_oublie_sans_mot_de_passe_personnel(self):
        user = factories.creer_utilisateur(mot_de_passe=None)
        habilitations_services.mot_de_passe_oublie(identifiant=user.identifiant)
        corps = Courriel.objects.filter(modele="mot_de_passe_provisoire", destinataire=user.email).latest("pk").corps
        assert "Si vous n'êtes pas à l'origine de cette demande, ignorez ce courriel." in corps
        assert "mot de passe actuel" not in corps

    def test_renvoi_par_l_administrateur(self, convention, administrateur):
        user = factories.creer_utilisateur(convention=convention, mot_de_passe=None)
        habilitations_services.identifiant_renvoyer(par=administrateur, utilisateur=user)
        identifiant = Courriel.objects.filter(modele="identifiant", destinataire=user.email).latest("pk").corps
        provisoire = (
            Courriel.objects.filter(modele="mot_de_passe_provisoire", destinataire=user.email).latest("pk").corps
        )
        assert "À la demande de votre administrateur" in identifiant
        assert "Un compte vous a été ouvert" not in identifiant
        assert "Votre administrateur vous a renvoyé" in provisoire
        assert "à l'origine de cette demande" not in provisoire


@pytest.mark.django_db
class TestSujetSurUneLigne:
    """Issue 10, point 7 : un saut de ligne dans un libellé saisi faisait échouer l'envoi pour
    toujours (« Header values may not contain linefeed »)."""

    def test_libelle_avec_sauts_de_ligne(self, django_capture_on_commit_callbacks):
        convention = factories.ConventionFactory(libelle="Accueil\r\nde loisirs\u2028été\x0b2026")
        user = factories.creer_utilisateur(organisme=convention.organisme)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            courriel = courriel_preparer(
                modele="administrateur_remplace",
                destinataire=user.email,
                contexte={
                    "utilisateur": user,
                    "successeur": user,
                    "convention": convention,
                    "avenant": SimpleNamespace(numero=1, date_effet=convention.date_ouverture),
                },
            )
        courriel.refresh_from_db()
        assert courriel.envoye_le is not None
        assert mail.outbox[-1].subject == (
            "Portail Partenaires : changement d'administrateur de la convention « Accueil de loisirs été 2026 »"
        )

    def test_une_ligne_ecrite_avant_la_correction_part_quand_meme(self):
        courriel = Courriel.objects.create(
            modele="identifiant", destinataire="a@b.test", sujet="Portail\nPartenaires", corps="."
        )
        assert services.courriel_envoyer(courriel_id=courriel.pk)
        assert mail.outbox[-1].subject == "Portail Partenaires"

    def test_sujet_borne_a_la_colonne(self):
        from portail.socle.courriels import SUJET_LONGUEUR_MAX, sujet_normaliser

        assert len(sujet_normaliser("x" * 1000)) == SUJET_LONGUEUR_MAX
