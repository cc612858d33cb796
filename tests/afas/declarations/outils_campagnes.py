"""Outils des tests des appels de déclaration (afas.campagnes) : un partenaire prêt (approbateur
validé, FDF, FDA), et des activités en nombre posées directement (mise en place des tests de
volume, comme le générateur de données ; les services restent sous test ailleurs)."""

from __future__ import annotations

import datetime
import itertools
import uuid

from django.test import TestCase
from django.utils import timezone

from afas import services as services_afas
from afas.campagnes import services as campagnes
from afas.enums import DecisionCaf, RoleAfas, TypeActivite, TypeDeclaration
from afas.models import Activite, HabilitationAfas, ValidationApprobateur
from portail.socle.dates import aujourdhui
from tests import factories

_numeros = itertools.count(1)


def partenaire_pret(caf, agent, *, nom: str = "Roux"):
    """Une convention de la Caf, son administrateur, un déclarant (AFAS-DECLARER) qui tient les
    trois rôles ; renvoie (convention, administrateur, declarant)."""
    convention = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))
    admin = factories.creer_utilisateur(nom=f"Admin{nom}", prenom="Hugo", organisme=convention.organisme)
    factories.nommer_administrateur(convention, admin)
    declarant = factories.creer_utilisateur(nom=nom, prenom="Paul", organisme=convention.organisme)
    factories.habiliter(declarant, convention, "AFAS-DECLARER", responsable=admin)
    return convention, admin, declarant


def donner_les_roles(admin, declarant, agent, activites, *, roles=(RoleAfas.APPROBATEUR, RoleAfas.FDF, RoleAfas.FDA)):
    """Les rôles par les services ; l'approbateur validé par l'agent de la Caf."""
    for role in roles:
        creees = services_afas.habilitation_afas_affecter(
            par=admin, utilisateur=declarant, role=role, date_ouverture=aujourdhui(), activites=activites
        )
        if role == RoleAfas.APPROBATEUR:
            for h in creees:
                services_afas.approbateur_valider(par=agent, validation=h.validation)


def activites_en_masse(convention, nombre: int, *, prefixe: str = "M") -> list[Activite]:
    debut = aujourdhui() - datetime.timedelta(days=30)
    return Activite.objects.bulk_create(
        [
            Activite(
                organisme=convention.organisme,
                libelle=f"Activité {prefixe}{i:05d}",
                numero_equipement=f"{prefixe}{next(_numeros):07d}",
                type_activite=TypeActivite.EAJE,
                nature="",
                date_ouverture=debut,
            )
            for i in range(nombre)
        ]
    )


def approbateur_en_masse(convention, declarant, activites, caf) -> None:
    """Approbateur validé sur chacune des activités (lignes posées d'un coup)."""
    habilitations = HabilitationAfas.objects.bulk_create(
        [
            HabilitationAfas(
                utilisateur=declarant,
                convention=convention,
                role=RoleAfas.APPROBATEUR,
                activite=a,
                date_ouverture=aujourdhui() - datetime.timedelta(days=1),
            )
            for a in activites
        ]
    )
    ValidationApprobateur.objects.bulk_create(
        [
            ValidationApprobateur(
                habilitation=h,
                caf=caf,
                decision=DecisionCaf.VALIDEE,
                decidee_le=timezone.now(),
                **ValidationApprobateur.champs_copies(h),
            )
            for h in habilitations
        ]
    )


def lancer(agent, *, criteres=None, exercice=None, type_declaration=TypeDeclaration.PREVISIONNEL, **kwargs):
    """Lance l'appel et exécute ce qui suit la validation (la tâche, sur place dans les tests)."""
    jour = aujourdhui()
    with TestCase.captureOnCommitCallbacks(execute=True):
        return _lancer(agent, criteres, exercice or jour.year, type_declaration, jour, kwargs)


def _lancer(agent, criteres, exercice, type_declaration, jour, kwargs):
    return campagnes.appel_lancer(
        par=agent,
        cle=kwargs.pop("cle", None) or uuid.uuid4(),
        exercice=exercice,
        type_declaration=type_declaration,
        criteres=criteres or campagnes.Criteres(),
        date_ouverture=kwargs.pop("date_ouverture", jour),
        date_limite=kwargs.pop("date_limite", jour + datetime.timedelta(days=30)),
    )
