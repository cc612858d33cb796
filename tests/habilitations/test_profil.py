"""Mon profil : ses données, changement d'adresse mail confirmé par un lien envoyé à la nouvelle."""

import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from portail.models import Courriel
from tests.utils import texte

PROFIL = reverse("habilitations:profil")


def lien_de_confirmation(adresse: str) -> str:
    corps = Courriel.objects.filter(destinataire=adresse, modele="confirmer_email").first().corps
    return re.search(r"https?://[^/\s]+(/profil/email/confirmer/\S+/)", corps).group(1)


@pytest.mark.django_db
class TestMonProfil:
    def test_affiche_ses_donnees_et_ses_profils(self, client, declarant):
        client.force_login(declarant)
        page = texte(client.get(PROFIL))
        assert declarant.identifiant in page and declarant.email in page
        assert "AFAS-DECLARER" in page

    def test_changement_d_adresse_confirme_par_lien(self, client, declarant):
        ancienne = declarant.email
        client.force_login(declarant)
        reponse = client.post(
            PROFIL,
            {"email": "Paul.Nouveau@Exemple.test", "email_confirmation": "paul.nouveau@exemple.test"},
            follow=True,
        )
        assert "Un lien de confirmation vient d'être envoyé" in texte(reponse)
        declarant.refresh_from_db()
        assert declarant.email == ancienne  # rien ne change avant la confirmation
        lien = lien_de_confirmation("paul.nouveau@exemple.test")
        reponse = client.get(lien, follow=True)
        assert "Votre adresse mail est désormais paul.nouveau@exemple.test" in texte(reponse)
        declarant.refresh_from_db()
        assert declarant.email == "paul.nouveau@exemple.test"
        # L'ancienne adresse est prévenue ; le lien ne sert qu'une fois.
        assert Courriel.objects.filter(destinataire=ancienne, modele="email_modifie").exists()
        assert "déjà été utilisé" in texte(client.get(lien, follow=True))

    @pytest.mark.parametrize(
        ("donnees", "message"),
        [
            (
                {"email": "pas-une-adresse", "email_confirmation": "pas-une-adresse"},
                "Saisissez une adresse mail valide",
            ),
            ({"email": "a@exemple.test", "email_confirmation": "b@exemple.test"}, "ne sont pas identiques"),
        ],
        ids=["malformee", "confirmation-differente"],
    )
    def test_saisie_invalide(self, client, declarant, donnees, message):
        client.force_login(declarant)
        reponse = client.post(PROFIL, donnees)
        assert reponse.status_code == 200
        assert message in texte(reponse)
        assert not Courriel.objects.filter(modele="confirmer_email").exists()

    def test_lien_d_un_autre_compte_refuse(self, client, declarant, exterieur):
        client.force_login(declarant)
        client.post(PROFIL, {"email": "x@exemple.test", "email_confirmation": "x@exemple.test"})
        lien = lien_de_confirmation("x@exemple.test")
        client.force_login(exterieur)
        client.get(lien)
        exterieur.refresh_from_db()
        assert exterieur.email != "x@exemple.test"

    def test_lien_expire_apres_48_heures(self, client, declarant):
        import datetime

        with time_machine.travel(timezone.now(), tick=False) as voyage:
            client.force_login(declarant)
            client.post(PROFIL, {"email": "x@exemple.test", "email_confirmation": "x@exemple.test"})
            lien = lien_de_confirmation("x@exemple.test")
            voyage.shift(datetime.timedelta(hours=48, seconds=1))
            client.force_login(declarant)
            reponse = client.get(lien, follow=True)
        assert "a expiré" in texte(reponse)

    def test_lien_falsifie(self, client, declarant):
        client.force_login(declarant)
        reponse = client.get(reverse("habilitations:confirmer_email", args=["faux"]), follow=True)
        assert "n'est pas valide" in texte(reponse)

    def test_anonyme_renvoye_a_la_connexion(self, client, db):
        assert client.get(PROFIL).status_code == 302
