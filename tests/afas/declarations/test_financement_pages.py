"""Le financement d'un appel paginé par clés, les dernières pages lues depuis la fin
(``portail.socle.listes.PaginateurParLeBoutLePlusProche``) : les mêmes lignes, dans le même
ordre (raison sociale du partenaire, libellé de l'activité, clé), que le tri complet, à chaque
page, égalités comprises ; une page au-delà de la dernière donne la dernière."""

from __future__ import annotations

import pytest
from django.urls import reverse

from afas.models import Declaration
from tests import factories
from tests.afas.conftest import creer_activite
from tests.afas.declarations.fabriques_financement import creer_appel, creer_declaration
from tests.conftest import connecter_verifie

pytestmark = pytest.mark.django_db

NOMBRE = 60


@pytest.fixture
def appel_a_egalites(caf, convention, convention_autre_partenaire):
    """60 déclarations d'un appel sur trois partenaires dont deux de même raison sociale, quatre
    libellés d'activité (deux ne diffèrent que par la casse), créées à rebours de l'ordre de la
    page : chaque clé du tri a des égalités, que la suivante (puis la clé primaire) départage."""
    autre = convention_autre_partenaire.organisme
    autre.raison_sociale = "Centre social des Tilleuls"
    autre.save(update_fields=["raison_sociale"])
    homonyme = factories.OrganismeFactory(caf=caf, raison_sociale=autre.raison_sociale)
    organismes = [convention.organisme, autre, homonyme]
    appel = creer_appel(caf)
    for i in reversed(range(NOMBRE)):
        activite = creer_activite(
            organismes[i % 3], ("Crèche", "Accueil de loisirs", "Relais", "crèche")[i % 4], numero=f"EQ-P{i:03d}"
        )
        creer_declaration(activite, appel=appel)
    return appel


def _cles(client, appel, page: str) -> tuple[int, list[int]]:
    reponse = client.get(reverse("afas:appel_financement", args=[appel.pk]), {"page": page})
    assert reponse.status_code == 200
    return reponse.context["page"].number, [ligne["d"].pk for ligne in reponse.context["lignes"]]


def test_pages_du_financement_dans_l_ordre_du_tri_complet(client, agent_caf, appel_a_egalites):
    attendu = list(
        Declaration.objects.filter(appel=appel_a_egalites)
        .order_by("activite__organisme__raison_sociale", "activite__libelle", "pk")
        .values_list("pk", flat=True)
    )
    assert len(attendu) == NOMBRE
    connecter_verifie(client, agent_caf)
    lues = []
    for page in ("1", "2", "3"):
        numero, cles = _cles(client, appel_a_egalites, page)
        assert numero == int(page)
        lues += cles
    assert lues == attendu
    # Page 1 000 (le banc) : la dernière, ses dix lignes, lues depuis la fin.
    assert _cles(client, appel_a_egalites, "1000") == (3, attendu[50:])
