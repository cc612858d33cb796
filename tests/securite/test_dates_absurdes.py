"""Issue 10, point 9 : une année 0001 ou 9999 est une faute de frappe. La plage est écrite une
fois (``portail.socle.dates``) ; formulaires et services la respectent, quelle que soit la porte."""

import datetime

import pytest

from conventions import services as conventions_services
from conventions.models import Profil
from habilitations import services
from portail.socle.dates import DATE_MIN, date_max, refus_hors_plage
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import champ_date
from tests import factories
from tests.habilitations.conftest import *  # noqa: F403 (l'arbre de groupes)

AN_1 = datetime.date(1, 1, 1)
AN_9999 = datetime.date(9999, 12, 31)


def test_la_plage():
    assert refus_hors_plage(DATE_MIN) is None
    assert refus_hors_plage(date_max()) is None
    assert refus_hors_plage(None) is None
    assert refus_hors_plage(DATE_MIN - datetime.timedelta(days=1)).startswith("Saisissez une date entre le 01/01/2000")
    assert refus_hors_plage(date_max() + datetime.timedelta(days=1)) is not None


@pytest.mark.parametrize("saisie", ["0001-01-01", "1999-12-31", "9999-12-31"])
def test_le_champ_date_de_tous_les_formulaires_refuse(saisie):
    champ = champ_date("Date d'ouverture")
    with pytest.raises(Exception, match="Saisissez une date entre le 01/01/2000"):
        champ.clean(saisie)


@pytest.mark.parametrize("jour", [AN_1, AN_9999], ids=["an-1", "an-9999"])
def test_appartenance_hors_plage_refusee(membre_a1, groupe_b, jour):
    with pytest.raises(ErreurMetier, match="Saisissez une date entre"):
        services.appartenance_ouvrir(par=None, utilisateur=membre_a1, groupe=groupe_b, date_ouverture=jour)
    appartenance = membre_a1.appartenances.get()
    with pytest.raises(ErreurMetier, match="Saisissez une date entre"):
        services.appartenance_modifier(par=None, appartenance=appartenance, date_ouverture=jour, date_cloture=None)
    appartenance.refresh_from_db()
    assert appartenance.date_ouverture.year > 2000


@pytest.mark.parametrize("jour", [AN_1, AN_9999], ids=["an-1", "an-9999"])
def test_compte_hors_plage_refuse(convention, jour):
    with pytest.raises(ErreurMetier, match="Saisissez une date entre"):
        factories.creer_utilisateur(convention=convention, date_ouverture=jour)


def test_convention_hors_plage_refusee(agent_caf, convention, administrateur):
    with pytest.raises(ErreurMetier, match="Saisissez une date entre"):
        conventions_services.convention_formaliser(
            par=agent_caf,
            organisme=convention.organisme,
            libelle="Convention de l'an 1",
            date_ouverture=AN_1,
            profils=list(Profil.objects.filter(code="CDAP-T1")),
            administrateur=administrateur,
        )
