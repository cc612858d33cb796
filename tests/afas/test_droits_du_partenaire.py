"""Les droits du jour d'un seul partenaire (``q_effective(jour, convention=…)`` : les membres
AFAS-DECLARER de ses groupes lus une fois, la forme de la recherche d'un partenaire) rendent les
mêmes habilitations que la forme générale (appartenance vérifiée habilitation par habilitation),
restreinte à ce partenaire : Actif comme Inactif."""

import datetime

import pytest

from afas.enums import RoleAfas
from afas.models import HabilitationAfas
from habilitations.models import Appartenance, Groupe
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.conftest import creer_activite

pytestmark = pytest.mark.django_db

J = aujourdhui()


@pytest.fixture
def titulaires(convention, convention_autre_partenaire, admin_autre_partenaire):
    """Un FDF sur une activité du partenaire pour chacun : membre AFAS-DECLARER ; membre d'un
    groupe AFAS-DECLARER de l'autre partenaire seulement ; appartenance close ; groupe clos ;
    membre d'un groupe sans AFAS-DECLARER. Plus une habilitation chez l'autre partenaire, tenue
    par son membre."""
    org = convention.organisme
    activite = creer_activite(org, "Crèche A")
    comptes = {
        nom: factories.creer_utilisateur(nom=nom, organisme=org)
        for nom in ("Membre", "Ailleurs", "Sorti", "GroupeClos", "AutreProfil")
    }
    factories.habiliter(comptes["Membre"], convention, "AFAS-DECLARER")
    # Les services refusent un membre d'une autre convention : l'appartenance est écrite à la
    # main, pour que la règle « groupe de la convention de l'habilitation » soit vérifiée.
    ailleurs = factories.habiliter(admin_autre_partenaire, convention_autre_partenaire, "AFAS-DECLARER")
    Appartenance.objects.create(utilisateur=comptes["Ailleurs"], groupe=ailleurs.groupe, date_ouverture=J)
    sortie = factories.habiliter(comptes["Sorti"], convention, "AFAS-DECLARER")
    Appartenance.objects.filter(pk=sortie.pk).update(date_cloture=J)
    close = factories.habiliter(comptes["GroupeClos"], convention, "AFAS-DECLARER")
    Groupe.objects.filter(pk=close.groupe_id).update(date_cloture=J)
    factories.habiliter(comptes["AutreProfil"], convention, "CDAP-T1")
    for compte in comptes.values():
        HabilitationAfas.objects.create(
            utilisateur=compte,
            convention=convention,
            role=RoleAfas.FDF,
            activite=activite,
            date_ouverture=J - datetime.timedelta(days=4),
        )
    HabilitationAfas.objects.create(
        utilisateur=comptes["Ailleurs"],
        convention=convention_autre_partenaire,
        role=RoleAfas.FDF,
        activite=creer_activite(convention_autre_partenaire.organisme, "Crèche B"),
        date_ouverture=J - datetime.timedelta(days=4),
    )
    return comptes


@pytest.mark.parametrize("etat", ["actives", "inactives"])
def test_droits_d_un_partenaire_comme_la_forme_generale(convention, titulaires, etat):
    qs = HabilitationAfas.objects.all()
    generale = set(getattr(qs, etat)(J).filter(convention=convention).values_list("pk", flat=True))
    du_partenaire = set(getattr(qs, etat)(J, convention=convention).values_list("pk", flat=True))
    assert du_partenaire == generale
    membres = set(
        HabilitationAfas.objects.filter(convention=convention, utilisateur=titulaires["Membre"]).values_list(
            "pk", flat=True
        )
    )
    # Seul le membre AFAS-DECLARER du partenaire est actif ; les quatre autres sont inactifs.
    assert (
        (du_partenaire == membres) if etat == "actives" else (len(du_partenaire) == 4 and not du_partenaire & membres)
    )
