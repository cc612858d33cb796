"""Un arbre de groupes pour les tests de « Gestion des habilitations ».

Convention (fixture ``convention`` : CDAP-T1, AFAS-HABILITER, AFAS-DECLARER) administrée par
``administrateur`` ; groupes :

    A   (CDAP-T1, AFAS-DECLARER)  responsable : resp_a
    └── A1  (CDAP-T1)              responsable : resp_a1
    B   (AFAS-DECLARER)           responsable : resp_b

``membre_a1`` appartient à A1, ``membre_b`` à B. ``autre_convention_meme_partenaire`` est une
seconde convention du même organisme, avec son administrateur.
"""

import datetime

import pytest

from conventions.models import Profil
from habilitations import services
from portail.socle.dates import aujourdhui
from tests import factories


def _groupe(convention, code, responsable, profils, parent=None):
    groupe = services.groupe_creer(
        par=None,
        convention=convention,
        code=code,
        libelle=f"Groupe {code}",
        responsable=responsable,
        parent=parent,
        date_ouverture=convention.date_ouverture,
    )
    for profil in profils:
        services.groupe_profil_ajouter(par=None, groupe=groupe, profil=Profil.objects.get(code=profil))
    return groupe


def _membre(user, groupe):
    services.appartenance_ouvrir(
        par=None, utilisateur=user, groupe=groupe, date_ouverture=aujourdhui() - datetime.timedelta(days=3)
    )
    return user


@pytest.fixture
def resp_a(convention):
    return factories.creer_utilisateur(nom="Aubrac", prenom="Anne", convention=convention)


@pytest.fixture
def resp_a1(convention):
    return factories.creer_utilisateur(nom="Aubin", prenom="Alain", convention=convention)


@pytest.fixture
def resp_b(convention):
    return factories.creer_utilisateur(nom="Bastide", prenom="Brice", convention=convention)


@pytest.fixture
def groupe_a(convention, administrateur, resp_a):
    groupe = _groupe(convention, "A", resp_a, ["CDAP-T1", "AFAS-DECLARER"])
    _membre(resp_a, groupe)
    return groupe


@pytest.fixture
def groupe_a1(convention, groupe_a, resp_a1):
    groupe = _groupe(convention, "A1", resp_a1, ["CDAP-T1"], parent=groupe_a)
    _membre(resp_a1, groupe)
    return groupe


@pytest.fixture
def groupe_b(convention, administrateur, resp_b):
    groupe = _groupe(convention, "B", resp_b, ["AFAS-DECLARER"])
    _membre(resp_b, groupe)
    return groupe


@pytest.fixture
def membre_a1(convention, groupe_a1):
    return _membre(factories.creer_utilisateur(nom="Cayrol", prenom="Chloé", convention=convention), groupe_a1)


@pytest.fixture
def membre_b(convention, groupe_b):
    return _membre(factories.creer_utilisateur(nom="Delpech", prenom="Denis", convention=convention), groupe_b)


@pytest.fixture
def arbre(groupe_a, groupe_a1, groupe_b, membre_a1, membre_b):
    """Tout l'arbre ci-dessus, pour les tests qui veulent l'ensemble."""
    return {"A": groupe_a, "A1": groupe_a1, "B": groupe_b}


@pytest.fixture
def autre_convention_meme_partenaire(convention):
    autre = factories.ConventionFactory(organisme=convention.organisme, libelle="Seconde convention")
    factories.nommer_administrateur(autre, factories.creer_utilisateur(nom="Second", prenom="Sam", convention=autre))
    return autre


@pytest.fixture
def admin_autre_convention(autre_convention_meme_partenaire):
    return autre_convention_meme_partenaire.mandats.get().administrateur
