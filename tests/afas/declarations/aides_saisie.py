"""Déclarations de test pour la saisie des déclarants : un appel et ses déclarations créés comme
le fait le lancement d'un appel (une ligne d'activité par lieu ouvert et par nature, ou une
seule pour l'activité sans lieu ; les données financières vides), sans passer par la tâche."""

from __future__ import annotations

import datetime

from afas.enums import EtatDeclaration, TypeActivite, TypeDeclaration
from afas.models import AppelDeclaration, Declaration, DonneesActivite, DonneesFinancieres
from portail.socle.dates import aujourdhui


def creer_appel(caf, *, exercice: int | None = None, type_declaration=TypeDeclaration.PREVISIONNEL, **kwargs):
    jour = aujourdhui()
    return AppelDeclaration.objects.create(
        caf=caf,
        exercice=exercice or jour.year,
        type_declaration=type_declaration,
        date_ouverture=kwargs.pop("date_ouverture", jour - datetime.timedelta(days=10)),
        date_limite=kwargs.pop("date_limite", jour + datetime.timedelta(days=30)),
        **kwargs,
    )


def creer_declaration(
    activite,
    *,
    appel: AppelDeclaration | None = None,
    type_declaration=TypeDeclaration.PREVISIONNEL,
    exercice: int | None = None,
    etat=EtatDeclaration.A_SAISIR,
) -> Declaration:
    caf = activite.organisme.caf
    appel = appel or creer_appel(caf, exercice=exercice, type_declaration=type_declaration)
    declaration = Declaration.objects.create(
        appel=appel,
        activite=activite,
        caf=caf,
        exercice=appel.exercice,
        type_declaration=appel.type_declaration,
        etat=etat,
        date_ouverture=appel.date_ouverture,
        date_limite=appel.date_limite,
    )
    nature = activite.nature if activite.type_activite == TypeActivite.ALSH else ""
    lieux = list(activite.lieux.ouverts())
    if lieux:
        DonneesActivite.objects.bulk_create(
            DonneesActivite(declaration=declaration, lieu=lieu, nature=nature) for lieu in lieux
        )
    else:
        DonneesActivite.objects.create(declaration=declaration, nature=nature)
    DonneesFinancieres.objects.create(declaration=declaration)
    return declaration


#: Une ligne d'activité complète et cohérente (ALSH : heures du mercredi comprises).
ACTIVITE_COMPLETE = {
    "heures_realisees": "1200",
    "heures_facturees": "1300",
    "heures_mercredi": "200",
    "enfants_inscrits": "20",
    "jours_ouverture": "100",
    "amplitude_ouverture": "8",
}
#: Des données financières complètes et cohérentes.
FINANCIER_COMPLET = {
    "c60": "1000",
    "c64": "50000",
    "p70": "20000",
    "p74": "30000",
    "participations_familiales": "15000",
    "taux_ressortissants": "85",
}
