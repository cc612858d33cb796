"""La file de la Caf paginée par clés (``portail.socle.listes.PaginateurParTableauDeCles``) :
les mêmes lignes, dans le même ordre, que le tri complet (date de demande, puis clé), à chaque
page, égalités de dates comprises ; une page au-delà de la dernière donne la dernière."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from afas.enums import DecisionCaf, NatureActivite, RoleAfas, TypeActivite
from afas.models import Activite, HabilitationAfas, ValidationApprobateur
from portail.socle.dates import aujourdhui
from tests.conftest import connecter_verifie

pytestmark = pytest.mark.django_db

NOMBRE = 70


@pytest.fixture
def validees(convention, administrateur, declarant):
    """70 demandes validées à trois dates seulement (égalités départagées par la clé), créées
    dans le désordre des dates ; une demande en attente (hors filtre)."""
    activites = Activite.objects.bulk_create(
        Activite(
            organisme=convention.organisme,
            numero_equipement=f"V-{i:04d}",
            libelle=f"Accueil {i:04d}",
            type_activite=TypeActivite.ALSH,
            nature=NatureActivite.PERISCOLAIRE,
            date_ouverture=aujourdhui() - datetime.timedelta(days=30),
        )
        for i in range(NOMBRE + 1)
    )
    habilitations = HabilitationAfas.objects.bulk_create(
        HabilitationAfas(
            utilisateur=declarant,
            convention=convention,
            activite=a,
            role=RoleAfas.APPROBATEUR,
            date_ouverture=aujourdhui(),
        )
        for a in activites
    )
    maintenant = timezone.now()
    dates = [maintenant - datetime.timedelta(days=j) for j in (2, 9, 5)]
    ValidationApprobateur.objects.bulk_create(
        ValidationApprobateur(
            habilitation=h,
            caf_id=convention.caf_id,
            demandee_par=administrateur,
            demandee_le=dates[i % 3],
            decision=DecisionCaf.VALIDEE,
            decidee_le=maintenant,
        )
        for i, h in enumerate(habilitations[:NOMBRE])
    )
    ValidationApprobateur.objects.create(habilitation=habilitations[NOMBRE], caf_id=convention.caf_id)
    return list(
        ValidationApprobateur.objects.filter(decision=DecisionCaf.VALIDEE)
        .order_by("demandee_le", "pk")
        .values_list("pk", flat=True)
    )


def _cles(client, **params) -> tuple[int, list[int]]:
    reponse = client.get(reverse("afas:validations"), params)
    assert reponse.status_code == 200
    page = reponse.context["page"]
    return page.number, [v.pk for v in page.object_list]


def test_pages_des_validees_dans_l_ordre_du_tri_complet(client, agent_caf, validees):
    connecter_verifie(client, agent_caf)
    assert len(validees) == NOMBRE
    assert _cles(client, decision=DecisionCaf.VALIDEE) == (1, validees[:25])
    assert _cles(client, decision=DecisionCaf.VALIDEE, page="2") == (2, validees[25:50])
    # Page 1 000 (le banc) : la dernière, ses 20 lignes.
    assert _cles(client, decision=DecisionCaf.VALIDEE, page="1000") == (3, validees[50:])
    # Ordre décroissant demandé : date décroissante, la clé départage toujours en croissant.
    decroissant = list(
        ValidationApprobateur.objects.filter(decision=DecisionCaf.VALIDEE)
        .order_by("-demandee_le", "pk")
        .values_list("pk", flat=True)
    )
    assert _cles(client, decision=DecisionCaf.VALIDEE, tri="-demandee_le", page="2") == (2, decroissant[25:50])


def test_file_en_attente_inchangee(client, agent_caf, validees):
    connecter_verifie(client, agent_caf)
    (attente,) = ValidationApprobateur.objects.filter(decision=DecisionCaf.EN_ATTENTE).values_list("pk", flat=True)
    assert _cles(client) == (1, [attente])
