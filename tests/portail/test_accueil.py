"""Accueil : tuiles des services ouverts par les profils effectifs, dernière connexion, budget."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from conventions.enums import EtatConvention
from habilitations import perms, services
from habilitations.models import Appartenance
from portail.socle.dates import aujourdhui
from tests import factories
from tests.utils import texte

ACCUEIL = reverse("portail:accueil")


def tuiles(reponse) -> set[str]:
    import re

    return set(re.findall(r'data-service="([A-Z]+)"', texte(reponse)))


@pytest.mark.django_db
class TestTuiles:
    def test_declarant_voit_afas_et_seulement_afas(self, client, declarant):
        client.force_login(declarant)
        reponse = client.get(ACCUEIL)
        assert tuiles(reponse) == {"AFAS"}
        assert "Aide financière d'action sociale" in texte(reponse)

    def test_plusieurs_groupes_plusieurs_tuiles(self, client, convention, declarant, administrateur):
        factories.habiliter(declarant, convention, "CDAP-T1", responsable=administrateur)
        client.force_login(declarant)
        assert tuiles(client.get(ACCUEIL)) == {"AFAS", "CDAP"}

    def test_sans_profil_on_dit_pourquoi(self, client, exterieur):
        client.force_login(exterieur)
        reponse = client.get(ACCUEIL)
        assert tuiles(reponse) == set()
        assert "Aucun service en ligne ne vous est ouvert" in texte(reponse)

    def test_anonyme_renvoye_a_la_connexion(self, client):
        reponse = client.get(ACCUEIL)
        assert reponse.status_code == 302
        assert reponse.url.startswith(reverse("habilitations:connexion"))

    def test_profil_que_la_convention_n_accorde_pas_n_ouvre_rien(self, client, convention, declarant):
        convention.profils.remove(*convention.profils.filter(code="AFAS-DECLARER"))
        client.force_login(declarant)
        assert tuiles(client.get(ACCUEIL)) == set()


@pytest.mark.django_db
class TestDates:
    def test_appartenance_ouverte_demain_effective_demain_seulement(self, convention, administrateur):
        user = factories.creer_utilisateur(organisme=convention.organisme)
        groupe = services.groupe_creer(
            par=None,
            convention=convention,
            code="G",
            libelle="G",
            responsable=administrateur,
            date_ouverture=convention.date_ouverture,
        )
        from conventions.models import Profil

        services.groupe_profil_ajouter(par=None, groupe=groupe, profil=Profil.objects.get(code="CDAP-T1"))
        demain = aujourdhui() + datetime.timedelta(days=1)
        services.appartenance_ouvrir(par=None, utilisateur=user, groupe=groupe, date_ouverture=demain)
        assert not perms.services_ouverts(user).exists()
        with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
            assert list(perms.services_ouverts(user).values_list("code", flat=True)) == ["CDAP"]

    def test_convention_cloturee_retire_tout_profil(self, convention, declarant):
        assert perms.profils_effectifs(declarant).exists()
        convention.date_cloture = aujourdhui()
        convention.save(update_fields=["date_cloture"])
        assert not perms.profils_effectifs(declarant).exists()

    def test_convention_non_validee_n_ouvre_rien(self, convention, declarant):
        convention.etat = EtatConvention.EN_COURS
        convention.save(update_fields=["etat"])
        assert not perms.profils_effectifs(declarant).exists()

    def test_appartenance_close_ferme_le_service(self, declarant):
        Appartenance.objects.filter(utilisateur=declarant).update(date_cloture=aujourdhui())
        assert not perms.profils_effectifs(declarant).exists()


@pytest.mark.django_db
class TestDerniereConnexion:
    def test_affiche_la_connexion_precedente_et_non_celle_ci(self, client):
        user = factories.creer_utilisateur()
        identifiants = {"username": user.identifiant, "password": factories.MOT_DE_PASSE}
        # 13/03/2027 à 09h04 (heure de Paris) : première connexion.
        with time_machine.travel(datetime.datetime(2027, 3, 13, 8, 4, tzinfo=datetime.UTC), tick=False):
            client.post(reverse("habilitations:connexion"), identifiants)
            assert "C'est votre première connexion" in texte(client.get(ACCUEIL))
            client.post(reverse("habilitations:deconnexion"))
        with time_machine.travel(datetime.datetime(2027, 3, 20, 15, 30, tzinfo=datetime.UTC), tick=False):
            client.post(reverse("habilitations:connexion"), identifiants)
            page = texte(client.get(ACCUEIL))
        assert "Votre dernière connexion à ce service date du 13/03/2027 à 09h04." in page
        assert "déconnecté au bout de 30 minutes" in page


@pytest.mark.django_db
class TestBudgetDeRequetes:
    @pytest.mark.parametrize("nombre_groupes", [1, 12])
    def test_accueil_budget_constant(
        self, client, convention, declarant, administrateur, nombre_groupes, django_assert_max_num_queries
    ):
        for _ in range(nombre_groupes - 1):
            factories.habiliter(declarant, convention, "CDAP-T1", responsable=administrateur)
        client.force_login(declarant)
        client.get(ACCUEIL)
        # 1 session, 2 utilisateur, 3 double authentification requise ? (administrateur ou
        # responsable, une requête), 4 administrateur d'une convention ? (rubrique « Gestion des
        # habilitations »), 5 services ouverts (menu et tuiles, une requête avec sous-requêtes),
        # 6-8 enregistrement de la session (dernière activité) : savepoint, update, release.
        # Le nombre de groupes ne change rien.
        with django_assert_max_num_queries(8):
            reponse = client.get(ACCUEIL)
        assert reponse.status_code == 200


@pytest.mark.django_db
class TestPageDeService:
    def test_service_ouvert(self, client, declarant):
        client.force_login(declarant)
        reponse = client.get(reverse("portail:service", args=["AFAS"]))
        assert reponse.status_code == 200
        assert "AFAS-DECLARER" in texte(reponse)

    def test_la_page_dit_d_ou_vient_chaque_profil(self, client, declarant, convention, django_assert_max_num_queries):
        """Le service, puis chaque profil effectif avec son groupe, le responsable du groupe et la
        convention ; et les liens utiles."""
        groupe = declarant.appartenances.get().groupe
        client.force_login(declarant)
        # Session, compte, mandat (double authentification requise ?), le service, ses profils
        # effectifs avec groupe et convention, puis le menu de la mise en page (services ouverts,
        # deux types de contenu des droits objets, convention) et l'enregistrement de la session.
        with django_assert_max_num_queries(10):
            page = texte(client.get(reverse("portail:service", args=["AFAS"])))
        ligne = re.search(r"<tr><td>AFAS-DECLARER</td>(.*?)</tr>", page).group(1)
        assert f"{groupe.code} — {groupe.libelle}" in ligne
        assert f"{groupe.responsable.prenom} {groupe.responsable.nom.upper()}" in ligne
        assert convention.libelle in ligne
        assert "Besoin d'un autre accès ?" in page
        assert f'href="{reverse("habilitations:profil")}"' in page

    @pytest.mark.parametrize("code", ["CDAP", "INCONNU"])
    def test_service_non_ouvert_repond_404(self, client, declarant, code):
        client.force_login(declarant)
        assert client.get(reverse("portail:service", args=[code])).status_code == 404

    def test_anonyme_renvoye_a_la_connexion(self, client, db):
        assert client.get(reverse("portail:service", args=["AFAS"])).status_code == 302


@pytest.mark.django_db
def test_regles_d_usage_publiques(client):
    reponse = client.get(reverse("portail:regles_usage"))
    assert reponse.status_code == 200
    assert "Ne partagez" in texte(reponse) or "ne les partagez jamais" in texte(reponse)


@pytest.mark.django_db
def test_sante(client):
    assert client.get("/sante/").content == b"ok"


@pytest.mark.django_db
def test_en_tetes_de_securite(client):
    reponse = client.get(reverse("habilitations:connexion"))
    politique = reponse["Content-Security-Policy"]
    assert "script-src 'self'" in politique
    assert "unsafe-inline" not in politique
    assert reponse["X-Frame-Options"] == "DENY"
    assert reponse["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_declaration_d_accessibilite_liee_depuis_le_pied_de_page(client):
    """Page publique (RGAA) : le pied de chaque page y mène, elle dit l'état réel de l'audit."""
    url = reverse("portail:accessibilite")
    assert f'href="{url}">Accessibilité : partiellement conforme</a>' in texte(
        client.get(reverse("habilitations:connexion"))
    )
    page = texte(client.get(url))
    assert "<h1>Déclaration d'accessibilité</h1>" in page
    assert "partiellement conforme" in page and "Non-conformités connues" in page
    assert "axe-core 4.14" in page and "html-validate" in page and "clavier" in page
