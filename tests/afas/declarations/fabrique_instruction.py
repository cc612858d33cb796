"""Fabrique des déclarations pour les tests de la transmission et de l'instruction (afas.instruction) :
un appel, une déclaration avec ses lignes (une par lieu ouvert, sinon une pour l'activité) et ses
données financières, remplies ou non, menée jusqu'à l'état voulu par ``etats.transitionner``, et
des déclarants habilités par les vrais services (l'approbateur validé par la Caf)."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from afas import services as services_afas
from afas.declarations import etats
from afas.enums import EtatDeclaration, RoleAfas, TypeActivite, TypeDeclaration
from afas.models import AppelDeclaration, Declaration, DonneesActivite, DonneesFinancieres
from portail.socle.dates import aujourdhui
from tests import factories

E = EtatDeclaration
_noms = itertools.count(1)

#: Le chemin de chaque état depuis « À saisir ».
CHEMINS = {
    E.A_SAISIR: [],
    E.EN_COURS: [E.EN_COURS],
    E.A_APPROUVER: [E.EN_COURS, E.A_APPROUVER],
}

CHIFFRES_LIGNE = {
    "heures_realisees": Decimal("12345.50"),
    "heures_facturees": Decimal("12000.25"),
    "heures_mercredi": Decimal("812.00"),
    "enfants_inscrits": 87,
    "jours_ouverture": 211,
    "amplitude_ouverture": Decimal("10.50"),
}
CHIFFRES_FINANCIERS = {
    "c60": Decimal("15000.00"),
    "c61": Decimal("4200.10"),
    "c64": Decimal("186543.21"),
    "p70": Decimal("98765.43"),
    "p74": Decimal("120000.00"),
    "participations_familiales": Decimal("45678.90"),
    "taux_ressortissants": Decimal("92.50"),
}


def creer_appel(caf, *, exercice: int = 2026, type_declaration: str = TypeDeclaration.REEL, par=None):
    jour = aujourdhui()
    return AppelDeclaration.objects.create(
        caf=caf,
        exercice=exercice,
        type_declaration=type_declaration,
        date_ouverture=jour - datetime.timedelta(days=10),
        date_limite=jour + datetime.timedelta(days=30),
        lance_par=par,
    )


def creer_declaration(activite, *, appel=None, remplie: bool = True, etat: str = E.A_APPROUVER, par=None):
    """Une déclaration de l'activité, ses lignes et ses données financières (remplies ou vides),
    amenée à ``etat`` (À saisir, En cours, À approuver) par les passages réels."""
    caf = activite.organisme.caf
    appel = appel or creer_appel(caf)
    declaration = Declaration.objects.create(
        appel=appel,
        activite=activite,
        caf=caf,
        exercice=appel.exercice,
        type_declaration=appel.type_declaration,
        date_ouverture=appel.date_ouverture,
        date_limite=appel.date_limite,
    )
    nature = activite.nature if activite.type_activite == TypeActivite.ALSH else ""
    lieux = list(activite.lieux.ouverts(aujourdhui())) or [None]
    chiffres = CHIFFRES_LIGNE if remplie else {}
    DonneesActivite.objects.bulk_create(
        [DonneesActivite(declaration=declaration, lieu=lieu, nature=nature, **chiffres) for lieu in lieux]
    )
    DonneesFinancieres.objects.create(declaration=declaration, **(CHIFFRES_FINANCIERS if remplie else {}))
    mener(declaration, etat, par=par)
    return declaration


def mener(declaration, etat: str, *, par=None) -> None:
    for vers in CHEMINS[etat]:
        etats.transitionner(declaration, vers, par=par)


def declarant_avec_role(convention, activite, role: str, *, administrateur, agent_caf=None, nom: str | None = None):
    """Un compte du partenaire, membre d'un groupe AFAS-DECLARER, habilité ``role`` sur l'activité
    (dès aujourd'hui) ; un approbateur est validé par ``agent_caf`` (sinon il reste en attente)."""
    user = factories.creer_utilisateur(
        nom=nom or f"Declarant{next(_noms)}", prenom="Test", organisme=convention.organisme
    )
    factories.habiliter(user, convention, "AFAS-DECLARER", responsable=administrateur)
    (habilitation,) = services_afas.habilitation_afas_affecter(
        par=administrateur, utilisateur=user, role=role, date_ouverture=aujourdhui(), activites=[activite]
    )
    if role == RoleAfas.APPROBATEUR and agent_caf is not None:
        services_afas.approbateur_valider(par=agent_caf, validation=habilitation.validation)
    return user


def charger_declarations(organisme, nombre: int, *, transmise_par) -> None:
    """``nombre`` déclarations des activités de ``organisme`` (par lots, sans services) : quatre
    types, plusieurs exercices, tous les états ; un tiers transmises (avec leur récépissé), dont
    une sur six après la date limite. Pour les budgets de requêtes à grand volume."""
    from django.utils import timezone

    from afas.enums import NatureActivite
    from afas.models import Activite, Recepisse

    jour = aujourdhui()
    types = list(TypeDeclaration.values)
    par_activite = 4 * 5  # 4 types × 5 exercices
    activites = Activite.objects.bulk_create(
        Activite(
            organisme=organisme,
            numero_equipement=f"D{organisme.pk}-{i:06d}",
            libelle=f"Accueil {i:05d}",
            type_activite=TypeActivite.ALSH if i % 3 else TypeActivite.EAJE,
            nature=NatureActivite.PERISCOLAIRE if i % 3 else "",
            date_ouverture=jour - datetime.timedelta(days=400),
        )
        for i in range(-(-nombre // par_activite))
    )
    appels = {
        (exercice, t): creer_appel(organisme.caf, exercice=exercice, type_declaration=t)
        for exercice in range(2022, 2027)
        for t in types
    }
    etats_possibles = [E.A_SAISIR, E.EN_COURS, E.TRANSMISE, E.A_APPROUVER, E.TRANSMISE, E.VALIDEE, E.RENVOYEE]
    declarations = []
    for i in range(nombre):
        activite = activites[i // par_activite]
        exercice, t = 2022 + (i // 4) % 5, types[i % 4]
        appel = appels[(exercice, t)]
        limite = jour + datetime.timedelta(days=(i % 40) - 20)
        declarations.append(
            Declaration(
                appel=appel,
                activite=activite,
                caf_id=organisme.caf_id,
                exercice=exercice,
                type_declaration=t,
                etat=etats_possibles[i % 7],
                date_ouverture=limite - datetime.timedelta(days=60),
                date_limite=limite,
            )
        )
    declarations = Declaration.objects.bulk_create(declarations, batch_size=5000)
    maintenant = timezone.now()
    Recepisse.objects.bulk_create(
        (
            Recepisse(
                declaration=d,
                numero=1,
                transmise_par=transmise_par,
                transmise_le=maintenant - datetime.timedelta(days=(d.pk % 6) * 5),
                contenu={},
                empreinte="0" * 64,
            )
            for d in declarations
            if d.etat in (E.TRANSMISE, E.VALIDEE)
        ),
        batch_size=5000,
    )
