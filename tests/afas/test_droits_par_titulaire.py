"""Les droits du jour vérifiés par titulaire (``afas.habilitations.recherche._sql_effectives``,
PostgreSQL : une fois par couple (titulaire, convention), pas habilitation par habilitation) rendent
les mêmes lignes, dans le même ordre, que ``q_effective`` de l'ORM : identifiants d'Actif et
d'Inactif d'un partenaire, rôles tenus de « Non attribué ». Chaque condition de la règle a son
cas : compte clos, appartenance close, groupe clos, groupe sans AFAS-DECLARER, membre d'un groupe
d'un autre partenaire, approbateur en attente, validé ou refusé, lieu clos, habilitation future,
finie ; puis la convention qui n'accorde plus AFAS-DECLARER, ou qui n'est plus validée. Sous
SQLite, les mêmes fonctions passent par l'ORM (la comparaison y est triviale : la CI tourne sous
PostgreSQL)."""

import datetime

import pytest
from django.utils import timezone

from afas.enums import DecisionCaf, EtatHabilitation, RoleAfas
from afas.habilitations import recherche as moteur
from afas.models import PROFIL_DECLARER, HabilitationAfas, ValidationApprobateur, q_effective
from conventions.enums import EtatConvention
from conventions.models import Convention
from habilitations.models import Appartenance, Groupe, Utilisateur
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.conftest import creer_activite, creer_lieu

pytestmark = pytest.mark.django_db

J = aujourdhui()


def _habiliter(compte, convention, role, activite, *, lieu=None, debut=-4, fin=None, decision=None, caf=None):
    h = HabilitationAfas.objects.create(
        utilisateur=compte,
        convention=convention,
        role=role,
        activite=activite,
        lieu=lieu,
        date_ouverture=J + datetime.timedelta(days=debut),
        date_cloture=None if fin is None else J + datetime.timedelta(days=fin),
    )
    if decision is not None:
        ValidationApprobateur.objects.create(
            habilitation=h,
            caf=caf,
            decision=decision,
            decidee_le=timezone.now(),
            motif="Pièces manquantes" if decision == DecisionCaf.REFUSEE else "",
            **ValidationApprobateur.champs_copies(h),
        )
    return h


@pytest.fixture
def partenaire(caf, convention, convention_autre_partenaire, admin_autre_partenaire):
    """Chaque compte tient un FDF et un FDA (lieu ouvert) sur l'activité A, un FDA sur un lieu clos
    de A et un approbateur sur B (validé pour « Membre », en attente pour « Attente », refusé pour
    « Refus ») ; « Membre » a aussi des habilitations future et finie. Plus une habilitation de
    l'autre partenaire, tenue par son membre."""
    org = convention.organisme
    a, b = creer_activite(org, "Crèche A"), creer_activite(org, "Crèche B")
    ouvert, clos = creer_lieu(a, "Salle ouverte"), creer_lieu(a, "Salle close")
    clos.date_cloture = J
    clos.save()
    noms = ("Membre", "Attente", "Refus", "Ailleurs", "Sorti", "GroupeClos", "AutreProfil", "CompteClos")
    comptes = {nom: factories.creer_utilisateur(nom=nom, organisme=org) for nom in noms}
    for nom in ("Membre", "Attente", "Refus", "CompteClos"):
        factories.habiliter(comptes[nom], convention, PROFIL_DECLARER)
    ailleurs = factories.habiliter(admin_autre_partenaire, convention_autre_partenaire, PROFIL_DECLARER)
    Appartenance.objects.create(utilisateur=comptes["Ailleurs"], groupe=ailleurs.groupe, date_ouverture=J)
    sortie = factories.habiliter(comptes["Sorti"], convention, PROFIL_DECLARER)
    Appartenance.objects.filter(pk=sortie.pk).update(date_cloture=J)
    groupe_clos = factories.habiliter(comptes["GroupeClos"], convention, PROFIL_DECLARER)
    Groupe.objects.filter(pk=groupe_clos.groupe_id).update(date_cloture=J)
    factories.habiliter(comptes["AutreProfil"], convention, "CDAP-T1")
    Utilisateur.objects.filter(pk=comptes["CompteClos"].pk).update(date_cloture=J)
    decisions = {"Membre": DecisionCaf.VALIDEE, "Refus": DecisionCaf.REFUSEE, "Attente": DecisionCaf.EN_ATTENTE}
    for nom, compte in comptes.items():
        _habiliter(compte, convention, RoleAfas.FDF, a)
        _habiliter(compte, convention, RoleAfas.FDA, a, lieu=ouvert)
        _habiliter(compte, convention, RoleAfas.FDA, a, lieu=clos)
        _habiliter(
            compte, convention, RoleAfas.APPROBATEUR, b, decision=decisions.get(nom, DecisionCaf.VALIDEE), caf=caf
        )
    _habiliter(comptes["Membre"], convention, RoleAfas.FDA, b, debut=3)
    _habiliter(comptes["Membre"], convention, RoleAfas.FDF, b, debut=-9, fin=-1)
    _habiliter(
        admin_autre_partenaire,
        convention_autre_partenaire,
        RoleAfas.FDF,
        creer_activite(convention_autre_partenaire.organisme, "Crèche C"),
    )
    return comptes


def _attendus(convention: Convention, etat: str) -> list[int]:
    """Les identifiants d'``etat`` par la forme générale de l'ORM (``q_effective`` sans
    partenaire : appartenance vérifiée habilitation par habilitation), dans l'ordre d'affichage."""
    qs = HabilitationAfas.objects.filter(convention=convention).dans_etat(etat, J)
    return list(moteur._ordonner(qs, etat).values_list("pk", flat=True))


def _identifiants(convention: Convention, etat: str) -> list[int]:
    criteres = {"etat": etat, "partenaire": convention, "lieux": "oui"}
    conventions = Convention.objects.filter(pk=convention.pk)
    return moteur.HabilitationsDansLEtat(conventions, criteres, J, None).identifiants()


def _tenus_orm(activites: list[int], conventions: list[int]) -> set:
    return set(
        HabilitationAfas.objects.filter(q_effective(J), activite_id__in=activites, convention_id__in=conventions)
        .values_list("activite_id", "lieu_id", "role")
        .distinct()
    )


@pytest.mark.parametrize("changement", ["aucun", "sans_profil", "convention_en_cours"])
def test_droits_par_titulaire_comme_q_effective(convention, partenaire, changement):
    if changement == "sans_profil":
        convention.profils.remove(*convention.profils.filter(code=PROFIL_DECLARER))
    elif changement == "convention_en_cours":
        Convention.objects.filter(pk=convention.pk).update(etat=EtatConvention.EN_COURS)
    convention.refresh_from_db()
    actives = _identifiants(convention, EtatHabilitation.ACTIF)
    assert actives == _attendus(convention, EtatHabilitation.ACTIF)
    assert _identifiants(convention, EtatHabilitation.INACTIF) == _attendus(convention, EtatHabilitation.INACTIF)
    activites = list(HabilitationAfas.objects.filter(convention=convention).values_list("activite_id", flat=True))
    conventions = list(Convention.objects.values_list("pk", flat=True))
    tenus = moteur._roles_tenus(sorted(set(activites)), conventions, J)
    assert tenus == _tenus_orm(activites, conventions)
    if changement != "aucun":
        assert actives == [] and tenus == set()
        return
    # Les membres AFAS-DECLARER du partenaire aux comptes ouverts : FDF et FDA (lieu ouvert) sur A ;
    # l'approbateur sur B de « Membre » seul (validé par la Caf).
    actifs = {(h.utilisateur.nom, h.role, h.lieu is None) for h in HabilitationAfas.objects.filter(pk__in=actives)}
    assert actifs == {
        *((nom, role, role == RoleAfas.FDF) for nom in ("Membre", "Attente", "Refus") for role in ("FDF", "FDA")),
        ("Membre", RoleAfas.APPROBATEUR, True),
    }
    assert len(tenus) == 3


def test_roles_tenus_d_activites_et_conventions_sans_habilitation(convention, partenaire):
    """Aucune activité, aucune convention : aucun rôle tenu (les tableaux vides sont du SQL valide)."""
    assert moteur._roles_tenus([], [], J) == set()
    assert moteur._roles_tenus([0], [convention.pk], J) == set()
