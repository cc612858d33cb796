"""« Consulter les agents Caf » : les agents de sa propre Caf, filtrés, triés, paginés."""

import datetime
import re

import pytest
from django.urls import reverse

from habilitations.models import Utilisateur
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie
from tests.utils import texte

AGENTS = reverse("conventions:agents")
CONNEXION = reverse("habilitations:connexion")


def lignes(reponse) -> list[tuple[str, str, str]]:
    """(identifiant, NOM, prénom) de chaque ligne du tableau, dans l'ordre affiché."""
    return re.findall(r"<tr>\s*<td>([A-Z0-9]+)</td>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>", texte(reponse))


def noms(reponse) -> list[str]:
    return [nom for _identifiant, nom, _prenom in lignes(reponse)]


@pytest.fixture
def collegues(caf, agent_caf):
    """Deux autres agents de la Caf de l'Aveyron, dont une au compte clôturé."""
    return [
        factories.creer_utilisateur(
            nom="Bousquet",
            prenom="Jean",
            caf=caf,
            date_ouverture=datetime.date(2019, 3, 1),
        ),
        factories.creer_utilisateur(
            nom="Albouy",
            prenom="Nadia",
            caf=caf,
            date_ouverture=datetime.date(2018, 1, 15),
            date_cloture=aujourdhui() - datetime.timedelta(days=1),
        ),
    ]


@pytest.mark.django_db
class TestAutorisations:
    def test_anonyme_renvoye_a_la_connexion(self, client):
        reponse = client.get(AGENTS)
        assert reponse.status_code == 302
        assert reponse.url.startswith(CONNEXION)

    @pytest.mark.parametrize("persona", ["superviseur", "administrateur", "admin_autre_partenaire"])
    def test_roles_sans_caf_refuses(self, client, request, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        assert client.get(AGENTS).status_code == 403

    def test_declarant_refuse(self, client, declarant):
        client.force_login(declarant)
        assert client.get(AGENTS).status_code == 403

    def test_agent_voit_les_agents_de_sa_caf_seulement(self, client, agent_caf, agent_autre_caf, collegues):
        connecter_verifie(client, agent_caf)
        reponse = client.get(AGENTS)
        assert reponse.status_code == 200
        assert noms(reponse) == ["ALBOUY", "BOUSQUET", "VERDIER"]
        assert agent_autre_caf.identifiant not in texte(reponse)

    def test_agent_d_une_autre_caf_ne_voit_pas_ceux_de_l_aveyron(self, client, agent_autre_caf, collegues):
        connecter_verifie(client, agent_autre_caf)
        assert noms(client.get(AGENTS)) == ["GIRAUD"]


@pytest.mark.django_db
class TestListe:
    def test_colonnes_et_statut(self, client, agent_caf, collegues):
        bousquet, albouy = collegues
        Utilisateur.objects.filter(pk=bousquet.pk).update(telephone="05 65 00 00 00")
        connecter_verifie(client, agent_caf)
        page = texte(client.get(AGENTS))
        assert re.search(
            rf"<td>{bousquet.identifiant}</td>\s*<td>BOUSQUET</td>\s*<td>Jean</td>\s*<td>{re.escape(bousquet.email)}</td>"
            r"\s*<td>05 65 00 00 00</td>\s*<td>01/03/2019</td>\s*<td>—</td>\s*<td>Ouvert</td>",
            page,
        )
        cloture = f"{albouy.date_cloture:%d/%m/%Y}"
        assert re.search(rf"<td>15/01/2018</td>\s*<td>{cloture}</td>\s*<td>Clôturé</td>", page)

    @pytest.mark.parametrize(
        ("filtres", "attendus"),
        [
            ({"nom": "bous"}, ["BOUSQUET"]),
            ({"prenom": "NAD"}, ["ALBOUY"]),
            ({"nom": "introuvable"}, []),
        ],
        ids=["nom", "prenom", "aucun"],
    )
    def test_filtres(self, client, agent_caf, collegues, filtres, attendus):
        connecter_verifie(client, agent_caf)
        assert noms(client.get(AGENTS, filtres)) == attendus

    def test_filtre_identifiant(self, client, agent_caf, collegues):
        bousquet = collegues[0]
        connecter_verifie(client, agent_caf)
        assert noms(client.get(AGENTS, {"identifiant": f" {bousquet.identifiant.lower()} "})) == ["BOUSQUET"]

    def test_aucun_resultat_le_dit(self, client, agent_caf):
        connecter_verifie(client, agent_caf)
        assert "Aucun résultat ne correspond à ces filtres" in texte(client.get(AGENTS, {"nom": "zzz"}))

    @pytest.mark.parametrize(
        ("tri", "attendus"),
        [
            ("-nom", ["VERDIER", "BOUSQUET", "ALBOUY"]),
            ("prenom", ["VERDIER", "BOUSQUET", "ALBOUY"]),
            ("date_ouverture", ["ALBOUY", "BOUSQUET", "VERDIER"]),
            ("-date_ouverture", ["VERDIER", "BOUSQUET", "ALBOUY"]),
            ("password", ["ALBOUY", "BOUSQUET", "VERDIER"]),
        ],
        ids=["nom-inverse", "prenom", "ouverture", "ouverture-inverse", "hors-liste-blanche-ignore"],
    )
    def test_tri(self, client, agent_caf, collegues, tri, attendus):
        connecter_verifie(client, agent_caf)
        assert noms(client.get(AGENTS, {"tri": tri})) == attendus

    def test_pagination_par_25(self, client, caf, agent_caf):
        Utilisateur.objects.bulk_create(
            Utilisateur(
                identifiant=f"AGT012{i:04d}",
                caf=caf,
                nom=f"Agent{i:02d}",
                prenom="Test",
                email=f"agent{i}@exemple.test",
                date_ouverture=aujourdhui(),
                password="!",
            )
            for i in range(30)
        )
        connecter_verifie(client, agent_caf)
        assert len(lignes(client.get(AGENTS))) == 25
        reponse = client.get(AGENTS, {"page": 2})
        assert len(lignes(reponse)) == 6
        assert "31 agents" in texte(reponse)

    @pytest.mark.parametrize("nombre", [10, 5000])
    def test_budget_de_requetes(self, client, caf, agent_caf, nombre, django_assert_max_num_queries):
        Utilisateur.objects.bulk_create(
            Utilisateur(
                identifiant=f"BUD012{i:05d}",
                caf=caf,
                nom=f"Nom{i:05d}",
                prenom=f"Prénom{i % 13}",
                email=f"agent{i}@exemple.test",
                date_ouverture=aujourdhui() - datetime.timedelta(days=i % 400),
                password="!",
            )
            for i in range(nombre)
        )
        connecter_verifie(client, agent_caf)
        client.get(AGENTS)
        # 1 session, 2 utilisateur, 3 appareil de double authentification, 4 services du menu,
        # 5 comptage de la pagination, 6 page d'agents, 7-9 enregistrement de la session.
        with django_assert_max_num_queries(9):
            reponse = client.get(AGENTS, {"nom": "nom", "tri": "-date_ouverture", "page": 2})
        assert reponse.status_code == 200
        assert len(lignes(reponse)) == min(nombre, 25)
