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


@pytest.fixture
def avec_actives(convention, habilitations):
    """Les trois titulaires membres d'un groupe AFAS-DECLARER, et des habilitations actives : un
    FDF et un FDA sur chaque activité, un FDA sur chaque lieu (titulaires en alternance)."""
    titulaires = list({h.utilisateur for h in habilitations["inactif"]})
    for t in titulaires:
        factories.habiliter(t, convention, "AFAS-DECLARER")
    actives = []
    for i, h in enumerate(h for h in habilitations["inactif"] if h.role != RoleAfas.APPROBATEUR):
        actives.append(
            HabilitationAfas.objects.create(
                utilisateur=titulaires[i % len(titulaires)],
                convention=convention,
                role=h.role,
                activite=h.activite,
                lieu=h.lieu,
                date_ouverture=J - datetime.timedelta(days=4),
            )
        )
    return {**habilitations, "actif": actives}


@pytest.mark.parametrize("etat", ["actif", "inactif", "historique"])
def test_la_liste_d_un_etat_suit_l_ordre_de_la_liste_entiere(convention, avec_actives, etat):
    """``HabilitationsDansLEtat`` (Historique compté par groupes, tranches lues parmi les activités
    qu'elles touchent ; Actif et Inactif par identifiants) rend, tranche après tranche et quelle
    que soit leur taille, les lignes de ``habilitations(...)`` dans le même ordre ; sa longueur
    est leur nombre."""
    conventions = Convention.objects.filter(pk=convention.pk)
    criteres = {"etat": etat, "partenaire": convention}
    attendus = list(moteur.habilitations(conventions, criteres, J, None).values_list("pk", flat=True))
    assert sorted(attendus) == sorted(h.pk for h in avec_actives[etat]) and len(attendus) >= 8
    for par_page in (1, 2, 3, 5, 50):
        liste = moteur.HabilitationsDansLEtat(conventions, criteres, J, None)
        assert len(liste) == len(attendus)
        lus = [ligne.pk for k in range(0, len(attendus) + par_page, par_page) for ligne, *_ in liste[k : k + par_page]]
        assert lus == attendus, par_page
    # Les titres de la page : activité et lieu de chaque ligne, avec leurs libellés.
    ligne, activite, libelle, lieu, libelle_lieu = liste[0:1][0]
    h = HabilitationAfas.objects.select_related("activite", "lieu").get(pk=ligne.pk)
    assert (activite, libelle, lieu) == (h.activite_id, h.activite.libelle, h.lieu_id)
    assert libelle_lieu == (h.lieu.libelle if h.lieu else None)
