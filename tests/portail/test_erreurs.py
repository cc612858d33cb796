"""Pages d'erreur avec DEBUG désactivé (comme en production) : dans la mise en page du portail,
en français, avec un chemin de retour ; la page 500 s'affiche même base arrêtée."""

import pytest
from django.db import OperationalError, connection
from django.test import Client

from tests import factories
from tests.conftest import connecter_verifie
from tests.utils import texte


def verifier_page_du_portail(reponse, code: int, titre: str) -> str:
    page = texte(reponse)
    assert reponse.status_code == code
    assert '<html lang="fr"' in page
    assert 'class="fr-header"' in page and 'id="pied-de-page"' in page
    assert f"<h1>{titre}</h1>" in page
    assert f"Erreur {code}" in page
    assert 'href="/">Retour à l' in page
    return page


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False


@pytest.mark.django_db
class TestPagesErreur:
    def test_404_anonyme(self, client):
        page = verifier_page_du_portail(client.get("/n-existe-pas/"), 404, "Page introuvable")
        assert "Not Found" not in page
        assert "Se connecter" in page

    def test_404_connecte_garde_le_menu(self, client, agent_caf):
        connecter_verifie(client, agent_caf)
        page = verifier_page_du_portail(client.get("/partenaires/conventions/999999/"), 404, "Page introuvable")
        assert 'id="menu-portail"' in page
        assert "Déconnexion" in page

    def test_403(self, client, convention, administrateur, agent_caf):
        # L'agent de la Caf pivot lit la convention mais ne peut pas y créer d'utilisateur.
        connecter_verifie(client, agent_caf)
        page = verifier_page_du_portail(
            client.get(f"/partenaires/conventions/{convention.pk}/utilisateurs/creer/"), 403, "Accès refusé"
        )
        assert "Forbidden" not in page

    def test_echec_csrf(self):
        client = Client(enforce_csrf_checks=True)
        reponse = client.post("/connexion/", {"identifiant": "X", "password": "y"})
        page = verifier_page_du_portail(reponse, 403, "La session a expiré")
        assert "CSRF" not in page

    def test_400(self, client):
        # Un en-tête Host refusé (DisallowedHost) répond 400.
        page = verifier_page_du_portail(client.get("/", headers={"host": "hote.invalide"}), 400, "Requête incorrecte")
        assert "Bad Request" not in page

    def test_identifiant_de_requete_affiche(self, rf):
        from portail.erreurs import erreur_404

        requete = rf.get("/x/")
        requete.user = factories.creer_utilisateur(caf=factories.CafFactory())
        requete.id_requete = "req-1234abcd"
        assert "req-1234abcd" in texte(erreur_404(requete))


@pytest.mark.urls("tests.portail.urls_erreurs")
@pytest.mark.django_db
class TestPage500:
    def test_500_dans_la_mise_en_page(self):
        client = Client(raise_request_exception=False)
        page = verifier_page_du_portail(client.get("/test/plantage/"), 500, "Le service rencontre un problème")
        assert "Server Error" not in page
        assert "<script" not in page

    def test_500_base_arretee(self):
        """Toute requête SQL échoue (base arrêtée) : la session ne se lit pas, et la page 500
        s'affiche quand même, sans une requête."""

        def base_arretee(execute, sql, params, many, context):
            raise OperationalError("connexion refusée (test)")

        client = Client(raise_request_exception=False)
        client.cookies["sessionid"] = "une-session-quelconque"
        with connection.execute_wrapper(base_arretee):
            reponse = client.get("/partenaires/conventions/")
        verifier_page_du_portail(reponse, 500, "Le service rencontre un problème")
