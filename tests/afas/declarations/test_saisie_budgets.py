"""Budgets de requêtes des écrans des déclarants : « Mes déclarations » coûte le même nombre de
requêtes avec 40 déclarations ou avec 50 000 (2 500 activités × 4 types × 5 exercices), filtrée,
triée, page 2 ; la page d'une déclaration le même avec 2 lieux ou avec 30 (une ligne par lieu,
chacune saisie par un autre fournisseur). Sur PostgreSQL (DATABASE_URL), les statistiques sont
recalculées après chaque chargement en masse (fixture commune)."""

from __future__ import annotations

import datetime
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from afas import services as services_afas
from afas.enums import EtatDeclaration, NatureActivite, RoleAfas, TypeActivite, TypeDeclaration
from afas.models import (
    Activite,
    AppelDeclaration,
    Declaration,
    DonneesActivite,
    EvenementDeclaration,
    HabilitationAfas,
    LieuImplantation,
)
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.declarations.aides_saisie import creer_declaration
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db

J = aujourdhui()
DEBUT = J - datetime.timedelta(days=60)
EXERCICES = range(J.year - 4, J.year + 1)

# Mes déclarations : session, compte, double authentification ; profils effectifs (l'accès
# AFAS-DECLARER et le menu, lus une fois : ``afas.perms.droits_de_la_requete``) ; activités où un
# rôle est actif (une fois) ; comptage ; menu (gestionnaire et habilitateur) ; page (activité
# jointe) ; écriture de la session (point de sauvegarde, mise à jour, libération : le délai
# d'inactivité).
BUDGET_MES_DECLARATIONS = 11
# Une déclaration : session, compte, double authentification ; la déclaration dans le périmètre
# (rôles actifs du jour, dont ses rôles sur l'activité se déduisent, puis la déclaration avec
# activité et organisme) ; les lignes (lieu et auteur joints) ; les données financières (auteur
# joint) ; l'historique (auteur joint) ; menu (2) ; écriture de la session (3) ; le financement
# estimé sur les lignes et données déjà lues (paramètres de l'exercice, label Plan mercredi : 2).
BUDGET_DECLARATION = 15


IMPRIMER = False


def mesurer(client, url, params=None) -> tuple[int, str]:
    debut = time.perf_counter()
    with CaptureQueriesContext(connection) as requetes:
        reponse = client.get(url, params or {})
    assert reponse.status_code == 200
    for q in requetes.captured_queries if IMPRIMER else ():
        print("   ", q["time"], q["sql"][:300])
    print(f"  {url} : {len(requetes)} requêtes, {time.perf_counter() - debut:.2f} s")
    return len(requetes), texte(reponse)


@pytest.mark.parametrize("activites", [2, 2500], ids=["40-declarations", "50000-declarations"])
def test_mes_declarations_budget_plat(client, convention, declarant, activites):
    lots = Activite.objects.bulk_create(
        Activite(
            organisme=convention.organisme,
            numero_equipement=f"M{i:06d}",
            libelle=f"Accueil {i:05d}",
            type_activite=TypeActivite.ALSH,
            nature=NatureActivite.PERISCOLAIRE,
            date_ouverture=DEBUT,
        )
        for i in range(activites)
    )
    HabilitationAfas.objects.bulk_create(
        (
            HabilitationAfas(
                utilisateur=declarant, convention=convention, activite=a, role=RoleAfas.FDA, date_ouverture=DEBUT
            )
            for a in lots
        ),
        batch_size=2000,
    )
    appels = {
        (exercice, t): AppelDeclaration.objects.create(
            caf=convention.organisme.caf,
            exercice=exercice,
            type_declaration=t,
            date_ouverture=DEBUT,
            date_limite=J + datetime.timedelta(days=exercice - J.year + 30),
        )
        for exercice in EXERCICES
        for t in TypeDeclaration.values
    }
    etats = EtatDeclaration.values
    Declaration.objects.bulk_create(
        (
            Declaration(
                appel=appel,
                activite=a,
                caf_id=convention.organisme.caf_id,
                exercice=exercice,
                type_declaration=t,
                etat=etats[(i + a.pk) % len(etats)],
                date_ouverture=appel.date_ouverture,
                date_limite=appel.date_limite,
            )
            for i, ((exercice, t), appel) in enumerate(appels.items())
            for a in lots
        ),
        batch_size=5000,
    )
    assert Declaration.objects.count() == activites * 20
    connecter_verifie(client, declarant)
    url = reverse("afas:mes_declarations")
    client.get(url)  # première page de la session : caches remplis
    n_tout, page = mesurer(client, url, {"page": "2", "tri": "-date_limite"})
    assert f"{activites * 20} déclarations — page 2" in page
    n_filtre, page = mesurer(
        client,
        url,
        {
            "type_declaration": "reel",
            "exercice": str(J.year - 1),
            "etat": "",
            "activite": "Accueil 0",
            "tri": "activite",
        },
    )
    assert "Accueil 00000" in page
    print(f"{activites * 20} déclarations : {n_tout} et {n_filtre} requêtes")
    assert (n_tout, n_filtre) == (BUDGET_MES_DECLARATIONS, BUDGET_MES_DECLARATIONS)


@pytest.mark.parametrize("lieux", [2, 30])
def test_page_d_une_declaration_budget_plat(client, convention, administrateur, agent_caf, lieux):
    activite = services_afas.activite_creer(
        par=None,
        organisme=convention.organisme,
        libelle="Accueil de loisirs aux nombreux lieux",
        numero_equipement="EQ8000",
        type_activite=TypeActivite.ALSH,
        nature=NatureActivite.EXTRASCOLAIRE,
        date_ouverture=DEBUT,
    )
    LieuImplantation.objects.bulk_create(
        LieuImplantation(activite=activite, libelle=f"Lieu {i:02d}", date_ouverture=DEBUT) for i in range(lieux)
    )
    declaration = creer_declaration(activite)
    approbateur = factories.creer_utilisateur(nom="Approbateur", prenom="Anne", organisme=convention.organisme)
    factories.habiliter(approbateur, convention, "AFAS-DECLARER", responsable=administrateur)
    (h,) = services_afas.habilitation_afas_affecter(
        par=administrateur, utilisateur=approbateur, role=RoleAfas.APPROBATEUR, date_ouverture=J, activites=[activite]
    )
    services_afas.approbateur_valider(par=agent_caf, validation=h.validation)
    # Chaque ligne saisie par un fournisseur différent, et un historique.
    fournisseurs = [
        factories.creer_utilisateur(nom=f"Fournisseur{i}", prenom="Luc", organisme=convention.organisme)
        for i in range(lieux)
    ]
    lignes = list(DonneesActivite.objects.filter(declaration=declaration))
    for ligne, user in zip(lignes, fournisseurs, strict=True):
        ligne.heures_realisees, ligne.saisie_par, ligne.saisie_le = Decimal(100), user, timezone.now()
    DonneesActivite.objects.bulk_update(lignes, ["heures_realisees", "saisie_par", "saisie_le"])
    EvenementDeclaration.objects.bulk_create(
        EvenementDeclaration(declaration=declaration, etat_avant="a_saisir", etat_apres="en_cours", par=user)
        for user in fournisseurs
    )
    assert declaration.donnees_activite.count() == lieux
    connecter_verifie(client, approbateur)
    url = reverse("afas:declaration", kwargs={"pk": declaration.pk})
    client.get(url)
    n, page = mesurer(client, url)
    assert "Lieu 01" in page and "Ce qui manque encore avant de transmettre" in page
    print(f"{lieux} lieux : {n} requêtes")
    assert n == BUDGET_DECLARATION
