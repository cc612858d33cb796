"""Budgets de requêtes des appels de déclaration : la liste des appels et le suivi d'un appel
coûtent le même nombre de requêtes avec un appel de 3 déclarations ou 30 appels dont un de
5 000 déclarations (les décomptes se font dans la base, une requête par page)."""

import datetime
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from afas.enums import EtatDeclaration, EtatLancement, TypeDeclaration
from afas.models import AppelDeclaration, Declaration
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.declarations.outils_campagnes import activites_en_masse
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db

J = aujourdhui()
ETATS = list(EtatDeclaration)
TYPES = list(TypeDeclaration)
# Liste des appels : session, compte, double authentification, comptage des appels, page
# d'appels (lanceur joint), décomptes par état et retards de la page (une requête groupée),
# profils du menu ; puis l'écriture de la session (point de sauvegarde, mise à jour, libération).
BUDGET_APPELS = 10
# Suivi d'un appel : session, compte, double authentification, l'appel (lanceur joint), ses
# décomptes (une requête groupée), comptage et page des déclarations filtrées (activité et
# partenaire joints), profils du menu ; puis l'écriture de la session (3).
BUDGET_APPEL = 11


def charger(caf, agent, nombre_appels: int, premier: int, autres: int) -> AppelDeclaration:
    """``nombre_appels`` appels de la Caf ; le premier a ``premier`` déclarations, les autres
    ``autres`` ; états variés, une sur sept en retard. Rend le premier appel."""
    convention = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))
    activites = activites_en_masse(convention, max(premier, autres), prefixe=f"B{nombre_appels}")
    combinaisons = itertools.product(range(J.year - 20, J.year + 1), TYPES)
    appels = []
    for i, (exercice, type_declaration) in zip(range(nombre_appels), combinaisons, strict=False):
        appels.append(
            AppelDeclaration.objects.create(
                caf=caf,
                exercice=exercice,
                type_declaration=type_declaration,
                date_ouverture=J,
                date_limite=J + datetime.timedelta(days=10),
                lance_par=agent,
                lance_le=timezone.now() - datetime.timedelta(minutes=i),
                etat_lancement=EtatLancement.TERMINE,
            )
        )
    for appel, nombre in zip(appels, [premier] + [autres] * (nombre_appels - 1), strict=True):
        Declaration.objects.bulk_create(
            [
                Declaration(
                    appel=appel,
                    activite=a,
                    caf=caf,
                    exercice=appel.exercice,
                    type_declaration=appel.type_declaration,
                    etat=ETATS[n % len(ETATS)],
                    date_ouverture=J,
                    date_limite=J - datetime.timedelta(days=1) if n % 7 == 0 else appel.date_limite,
                )
                for n, a in enumerate(activites[:nombre])
            ],
            batch_size=2000,
        )
    return appels[0]


def compter(client, url, params=None) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as requetes:
        reponse = client.get(url, params or {})
    assert reponse.status_code == 200
    return len(requetes), texte(reponse)


@pytest.mark.parametrize(("appels", "premier", "autres"), [(1, 3, 0), (30, 5000, 100)])
def test_budgets_appels_et_suivi(client, caf, agent_caf, appels, premier, autres):
    appel = charger(caf, agent_caf, appels, premier, autres)
    connecter_verifie(client, agent_caf)
    client.get(reverse("afas:appels"))  # première page de la session : caches remplis

    n, page = compter(client, reverse("afas:appels"))
    assert n == BUDGET_APPELS, n
    assert f"{premier} déclaration" in page

    url = reverse("afas:appel", args=[appel.pk])
    n, page = compter(client, url)
    assert n == BUDGET_APPEL, n
    assert f"{premier} déclaration" in page
    n, page = compter(client, url, {"etat": EtatDeclaration.A_SAISIR, "retard": "oui", "partenaire": "Commune de Test"})
    assert n == BUDGET_APPEL, n
    assert "En retard" in page
    n, page = compter(client, url, {"page": "3", "tri": "-etat"})
    assert n == BUDGET_APPEL, n
