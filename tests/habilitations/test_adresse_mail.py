"""L'adresse mail : une règle d'unicité, un seul endroit (issue 10, point 8) ; sa propre
adresse ne change que par le lien de confirmation, quel que soit l'écran (issue 9)."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from portail.models import Courriel
from tests import factories
from tests.conftest import connecter_verifie
from tests.habilitations.test_profil import PROFIL, lien_de_confirmation
from tests.habilitations.test_utilisateurs import url
from tests.utils import texte


@pytest.fixture
def collegue(convention):
    return factories.creer_utilisateur(
        nom="Bourdon", prenom="Léa", email="lea.bourdon@bozouls.test", convention=convention
    )


@pytest.mark.django_db
class TestMonProfilMemeRegle:
    def test_demande_refusee_pour_l_adresse_d_un_autre_compte_ouvert(self, client, declarant, collegue):
        client.force_login(declarant)
        reponse = client.post(
            PROFIL, {"email": "Lea.Bourdon@bozouls.test", "email_confirmation": "lea.bourdon@bozouls.test"}
        )
        assert reponse.status_code == 200
        assert "déjà celle d'un autre compte ouvert de votre convention" in texte(reponse)
        # L'identifiant de l'autre compte n'est pas révélé.
        assert collegue.identifiant not in texte(reponse)
        assert not Courriel.objects.filter(modele="confirmer_email").exists()

    def test_confirmation_refusee_si_l_adresse_a_ete_prise_entre_temps(self, client, declarant, convention):
        client.force_login(declarant)
        client.post(PROFIL, {"email": "libre@bozouls.test", "email_confirmation": "libre@bozouls.test"})
        lien = lien_de_confirmation("libre@bozouls.test")
        factories.creer_utilisateur(nom="Autre", prenom="Compte", email="libre@bozouls.test", convention=convention)
        reponse = client.get(lien, follow=True)
        declarant.refresh_from_db()
        assert declarant.email != "libre@bozouls.test"
        assert "déjà celle d'un utilisateur ouvert de la convention" in texte(reponse)


@pytest.mark.django_db
class TestSaPropreAdresseParModifier:
    def _modifier(self, client, convention, user, email):
        return client.post(
            url("utilisateur_modifier", convention, user.pk),
            {
                "nom": user.nom,
                "prenom": "Hugues",
                "email": email,
                "email_confirmation": email,
                "telephone": "",
                "telephone_confirmation": "",
                "poste": "sedentaire",
            },
            follow=True,
        )

    def test_l_administrateur_qui_se_modifie_recoit_un_lien(self, client, convention, administrateur):
        ancienne = administrateur.email
        connecter_verifie(client, administrateur)
        reponse = self._modifier(client, convention, administrateur, "hugo.nouveau@bozouls.test")
        assert reponse.status_code == 200
        administrateur.refresh_from_db()
        assert administrateur.email == ancienne
        assert administrateur.prenom == "Hugues"  # le reste est modifié
        assert "Un lien de confirmation vient d'être envoyé à hugo.nouveau@bozouls.test" in texte(reponse)
        client.get(lien_de_confirmation("hugo.nouveau@bozouls.test"))
        administrateur.refresh_from_db()
        assert administrateur.email == "hugo.nouveau@bozouls.test"

    def test_l_adresse_d_un_autre_compte_change_directement(self, client, convention, administrateur, collegue):
        connecter_verifie(client, administrateur)
        self._modifier(client, convention, collegue, "lea.b@bozouls.test")
        collegue.refresh_from_db()
        assert collegue.email == "lea.b@bozouls.test"

    def test_administration_technique_sa_propre_adresse_en_lecture_seule(self, client):
        technicien = factories.creer_utilisateur(nom="Tech", prenom="Nique", national=True)
        technicien.is_staff = True
        technicien.save()
        technicien.user_permissions.add(
            *Permission.objects.filter(codename__in=["change_utilisateur", "view_utilisateur"])
        )
        connecter_verifie(client, technicien)
        page = texte(client.get(reverse("admin:habilitations_utilisateur_change", args=[technicien.pk])))
        assert 'name="email"' not in page
