"""Fabriques du financement (issue 14) : un appel, une déclaration remplie, une transmission
simulée (état, récépissé, montant figé). Propres à ce module pour ne pas heurter les fabriques
des écrans de déclaration (issue 13), écrites en parallèle."""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal

from afas.enums import EtatDeclaration, TypeDeclaration
from afas.financement import services
from afas.models import AppelDeclaration, Declaration, DonneesActivite, DonneesFinancieres, Recepisse
from portail.socle.dates import aujourdhui


def creer_appel(caf, exercice: int = 2025, type_declaration: str = TypeDeclaration.PREVISIONNEL) -> AppelDeclaration:
    jour = aujourdhui()
    return AppelDeclaration.objects.create(
        caf=caf,
        exercice=exercice,
        type_declaration=type_declaration,
        date_ouverture=jour - datetime.timedelta(days=10),
        date_limite=jour + datetime.timedelta(days=20),
    )


def creer_declaration(
    activite,
    *,
    exercice: int = 2025,
    type_declaration: str = TypeDeclaration.PREVISIONNEL,
    appel: AppelDeclaration | None = None,
    lignes: list[dict] | None = None,
    charges: Decimal | str = "0",
    participations: Decimal | str = "0",
    ressortissants: Decimal | str = "100",
    etat: str = EtatDeclaration.EN_COURS,
) -> Declaration:
    """Une déclaration et ses données : ``lignes`` (une par nature ou lieu : heures_realisees,
    heures_mercredi, enfants_inscrits, jours_ouverture, amplitude_ouverture, nature), les
    charges portées au compte 64."""
    caf_id = activite.organisme.caf_id
    appel = appel or creer_appel(activite.organisme.caf, exercice, type_declaration)
    declaration = Declaration.objects.create(
        appel=appel,
        activite=activite,
        caf_id=caf_id,
        exercice=exercice,
        type_declaration=type_declaration,
        etat=etat,
        date_ouverture=appel.date_ouverture,
        date_limite=appel.date_limite,
    )
    for ligne in lignes or [{}]:
        valeurs = {
            "heures_realisees": Decimal("0"),
            "heures_facturees": Decimal("0"),
            "heures_mercredi": Decimal("0"),
            "enfants_inscrits": 0,
            "jours_ouverture": 0,
            "amplitude_ouverture": Decimal("0"),
            "nature": activite.nature,
            **{k: Decimal(v) if isinstance(v, str) else v for k, v in ligne.items()},
        }
        DonneesActivite.objects.create(declaration=declaration, **valeurs)
    DonneesFinancieres.objects.create(
        declaration=declaration,
        c64=Decimal(charges),
        p70=Decimal(participations),
        participations_familiales=Decimal(participations),
        taux_ressortissants=Decimal(ressortissants),
    )
    return declaration


def transmettre(declaration: Declaration, par=None) -> Declaration:
    """La transmission telle que l'issue 13 la fera : état « Transmise », récépissé, et l'appel
    ``montant_figer`` (la ligne à ajouter au service de transmission)."""
    Declaration.objects.filter(pk=declaration.pk).update(etat=EtatDeclaration.TRANSMISE)
    declaration.refresh_from_db()
    numero = declaration.recepisses.count() + 1
    contenu = {"declaration": declaration.pk, "numero": numero}
    Recepisse.objects.create(
        declaration=declaration,
        numero=numero,
        transmise_par=par,
        contenu=contenu,
        empreinte=hashlib.sha256(repr(contenu).encode()).hexdigest(),
    )
    services.montant_figer(declaration, par=par)
    return declaration


def declaration_du_monde(m) -> Declaration:
    """La déclaration du monde des gardes (réel 2025 de ``m.activite``), créée à la demande : le
    monde (``tests/securite/monde.py``) est partagé avec l'issue 13, qui y ajoutera les siennes."""
    existante = Declaration.objects.filter(activite=m.activite, exercice=2025, type_declaration=TypeDeclaration.REEL)
    return existante.first() or creer_declaration(
        m.activite,
        type_declaration=TypeDeclaration.REEL,
        lignes=[
            {"heures_realisees": "1000", "enfants_inscrits": 20, "jours_ouverture": 100, "amplitude_ouverture": "8"}
        ],
        charges="5000",
        ressortissants="90",
    )
