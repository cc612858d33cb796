"""« Inactif » et « Historique » trient par des sous-requêtes (libellés de l'activité et du lieu,
nom du titulaire) et lisent la décision de la Caf ligne par ligne : mêmes lignes, dans le même
ordre que le tri par jointures d'« Actif » (activité, lieu d'abord sans lieu, rôle, nom)."""

import datetime
import itertools

import pytest
from django.db.models import F
from django.utils import timezone

from afas.enums import DecisionCaf, RoleAfas
from afas.habilitations import recherche as moteur
from afas.models import HabilitationAfas, ValidationApprobateur
from conventions.models import Convention
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.conftest import creer_activite, creer_lieu

pytestmark = pytest.mark.django_db

J = aujourdhui()
ORDRE_PAR_JOINTURES = (
    "activite__libelle",
    "activite_id",
    F("lieu__libelle").asc(nulls_first=True),
    "lieu_id",
    "role",
    "utilisateur__nom",
    "pk",
)


@pytest.fixture
def habilitations(caf, convention, convention_autre_partenaire):
    """Dans chaque état voulu : trois activités (deux au même libellé), deux lieux, trois titulaires ;
    chaque rôle sur l'activité, et FDA sur chaque lieu. Plus une ligne d'un autre partenaire."""
    org = convention.organisme
    activites = [creer_activite(org, "Crèche B"), creer_activite(org, "Crèche A"), creer_activite(org, "Crèche A")]
    lieux = [creer_lieu(activites[0], "Salle Z"), creer_lieu(activites[0], "Salle Y")]
    titulaires = [factories.creer_utilisateur(nom=n, organisme=org) for n in ("Vidal", "Albouy", "Marty")]
    futures, finies, refusees = [], [], []
    for (activite, lieu), titulaire in zip(
        itertools.chain(((a, None) for a in activites), ((lieux[0].activite, lieu) for lieu in lieux)),
        itertools.cycle(titulaires),
        strict=False,
    ):
        for role in (RoleAfas.FDA,) if lieu else RoleAfas:
            commun = {
                "utilisateur": titulaire,
                "convention": convention,
                "role": role,
                "activite": activite,
                "lieu": lieu,
            }
            futures.append(HabilitationAfas.objects.create(date_ouverture=J + datetime.timedelta(days=3), **commun))
            finies.append(
                HabilitationAfas.objects.create(
                    date_ouverture=J - datetime.timedelta(days=9), date_cloture=J - datetime.timedelta(days=1), **commun
                )
            )
            if role == RoleAfas.APPROBATEUR:
                h = HabilitationAfas.objects.create(date_ouverture=J - datetime.timedelta(days=2), **commun)
                ValidationApprobateur.objects.create(
                    habilitation=h,
                    caf=caf,
                    decision=DecisionCaf.REFUSEE,
                    decidee_le=timezone.now(),
                    motif="Pièces manquantes",
                    **ValidationApprobateur.champs_copies(h),
                )
                refusees.append(h)
    autre = creer_activite(convention_autre_partenaire.organisme, "Crèche A")
    HabilitationAfas.objects.create(
        utilisateur=titulaires[0],
        convention=convention_autre_partenaire,
        role=RoleAfas.FDF,
        activite=autre,
        date_ouverture=J + datetime.timedelta(days=3),
    )
    return {"inactif": futures, "historique": finies + refusees}


@pytest.mark.parametrize("etat", ["inactif", "historique"])
def test_inactif_et_historique_dans_l_ordre_des_jointures(convention, habilitations, etat):
    conventions = Convention.objects.filter(pk=convention.pk)
    ids = list(moteur.habilitations(conventions, {"etat": etat}, J, None).values_list("pk", flat=True))
    attendus = HabilitationAfas.objects.filter(pk__in=[h.pk for h in habilitations[etat]]).order_by(
        *ORDRE_PAR_JOINTURES
    )
    assert ids == list(attendus.values_list("pk", flat=True))
    # Toutes les lignes de l'état (celle de l'autre partenaire non) : avec et sans lieu, des
    # libellés égaux départagés par l'activité, plusieurs noms.
    assert len(ids) == len(habilitations[etat]) >= 11
