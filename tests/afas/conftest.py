"""Activités et lieux d'un partenaire, un déclarant à habiliter, l'habilitateur (administrateur)."""

import datetime
import itertools

import pytest

from afas import services
from afas.enums import NatureActivite, TypeActivite
from portail.socle.dates import aujourdhui
from tests import factories

_numeros = itertools.count(5000)


def creer_activite(organisme, libelle="Accueil de loisirs Lioujas", numero=None, **kwargs):
    kwargs.setdefault("type_activite", TypeActivite.ALSH)
    kwargs.setdefault("nature", NatureActivite.EXTRASCOLAIRE if kwargs["type_activite"] == TypeActivite.ALSH else "")
    kwargs.setdefault("date_ouverture", aujourdhui() - datetime.timedelta(days=100))
    return services.activite_creer(
        par=None,
        organisme=organisme,
        libelle=libelle,
        numero_equipement=numero or f"EQ{next(_numeros):06d}",
        **kwargs,
    )


def creer_lieu(activite, libelle="Lioujas école", **kwargs):
    kwargs.setdefault("date_ouverture", activite.date_ouverture)
    return services.lieu_creer(par=None, activite=activite, libelle=libelle, **kwargs)


@pytest.fixture
def activite(convention):
    return creer_activite(convention.organisme, numero="EQ0001")


@pytest.fixture
def activite2(convention):
    return creer_activite(convention.organisme, "CLSH de Bozouls", numero="EQ0002")


@pytest.fixture
def lieu(activite):
    return creer_lieu(activite)


@pytest.fixture
def lieu2(activite):
    return creer_lieu(activite, "Lioujas salle des fêtes")


@pytest.fixture
def habilitateur(convention, administrateur):
    """Un utilisateur au profil AFAS-HABILITER (ni administrateur ni responsable)."""
    user = factories.creer_utilisateur(nom="Albouy", prenom="Céline", organisme=convention.organisme)
    factories.habiliter(user, convention, "AFAS-HABILITER", responsable=administrateur)
    return user


@pytest.fixture
def activite_autre(convention_autre_partenaire):
    return creer_activite(convention_autre_partenaire.organisme, "Crèche des Lilas", numero="EQ0900")
