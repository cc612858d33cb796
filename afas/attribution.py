"""Les rôles tenus ou non, ce jour, sur chaque activité et chaque lieu : la liste « Non
attribué » de l'administrateur et l'état « Prêt pour l'appel de déclaration » de la Caf.

Une activité ouverte attend un approbateur validé et un fournisseur de données financières ;
elle attend un fournisseur de données d'activité sur elle-même si elle n'a pas de lieu ouvert,
sinon sur chacun de ses lieux ouverts (un FDA sur l'activité couvre tous ses lieux). Seules
les habilitations effectives ce jour comptent (``q_effective``)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from afas.enums import DecisionCaf, RoleAfas
from afas.models import (
    Activite,
    HabilitationAfas,
    LieuImplantation,
    ValidationApprobateur,
    q_effective,
    q_validee,
    titulaires_declarer,
)
from portail.socle.dates import aujourdhui, q_ouvert
from portail.socle.listes import q_parmi


def _effectives(jour: datetime.date, membres: list[int] | None) -> QuerySet[HabilitationAfas]:
    return HabilitationAfas.objects.filter(q_effective(jour, membres))


def activites_annotees(
    activites: QuerySet[Activite], jour: datetime.date, membres: list[int] | None = None, *, selection: bool = True
) -> QuerySet[Activite]:
    """Les activités avec, pour chaque rôle, « quelqu'un le tient ce jour » (et « a des lieux
    ouverts »). ``selection=False`` : seulement pour filtrer (``alias``) ; PostgreSQL évalue alors
    chaque EXISTS une fois en table de hachage au lieu de le rejouer pour chaque ligne affichée."""
    eff = _effectives(jour, membres).filter(activite=OuterRef("pk"), lieu__isnull=True)
    return (activites.annotate if selection else activites.alias)(
        a_approbateur=Exists(eff.filter(role=RoleAfas.APPROBATEUR)),
        a_fdf=Exists(eff.filter(role=RoleAfas.FDF)),
        a_fda=Exists(eff.filter(role=RoleAfas.FDA)),
        a_lieux=Exists(LieuImplantation.objects.ouverts(jour).filter(activite=OuterRef("pk"))),
    )


Q_ACTIVITE_INCOMPLETE = Q(a_approbateur=False) | Q(a_fdf=False) | (Q(a_fda=False) & Q(a_lieux=False))


def lieux_annotes(
    lieux: QuerySet[LieuImplantation], jour: datetime.date, membres: list[int] | None = None
) -> QuerySet[LieuImplantation]:
    eff = _effectives(jour, membres).filter(role=RoleAfas.FDA)
    return lieux.annotate(
        a_fda=Exists(eff.filter(lieu=OuterRef("pk")))
        | Exists(eff.filter(activite=OuterRef("activite"), lieu__isnull=True))
    )


def roles_manquants(tenus: set[str], a_lieux: bool) -> list[str]:
    """Les libellés des rôles que personne ne tient sur une activité, d'après les rôles tenus sur
    l'activité elle-même et la présence de lieux ouverts."""
    manquants = []
    if RoleAfas.APPROBATEUR not in tenus:
        manquants.append(RoleAfas.APPROBATEUR.label)
    if RoleAfas.FDA not in tenus and not a_lieux:
        manquants.append(RoleAfas.FDA.label)
    if RoleAfas.FDF not in tenus:
        manquants.append(RoleAfas.FDF.label)
    return manquants


def roles_tenus(
    activites: list[int], jour: datetime.date, membres: list[int] | None
) -> set[tuple[int, int | None, str]]:
    """(activité, lieu, rôle) tenus ce jour sur ces activités : une requête, bornée par la page."""
    return set(
        _effectives(jour, membres)
        .filter(activite__in=activites)
        .values_list("activite_id", "lieu_id", "role")
        .distinct()
    )


Habilitations = set[tuple[int, int | None, str, int, int]]


def _lectures_orm(
    organismes: list[int], jour: datetime.date
) -> tuple[dict[int, int], dict[int, list[int]], Habilitations]:
    activites = dict(
        Activite.objects.ouverts(jour).filter(organisme__in=organismes).order_by().values_list("pk", "organisme_id")
    )
    lieux: dict[int, list[int]] = defaultdict(list)
    habilitations: Habilitations = set()
    if activites:
        for lieu, activite in (
            LieuImplantation.objects.ouverts(jour)
            .filter(q_parmi("activite_id", list(activites)))
            .order_by()
            .values_list("pk", "activite_id")
        ):
            lieux[activite].append(lieu)
        habilitations = set(
            HabilitationAfas.objects.filter(q_ouvert(jour), q_validee(), q_parmi("activite_id", list(activites)))
            .order_by()
            .values_list("activite_id", "lieu_id", "role", "utilisateur_id", "convention_id")
        )
    return activites, lieux, habilitations


def _lectures_postgresql(
    organismes: list[int], jour: datetime.date
) -> tuple[dict[int, int], dict[int, list[int]], Habilitations]:
    """Les trois lectures de ``_lectures_orm`` en un aller-retour ; lieux et habilitations lus
    activité par activité (``LATERAL``), chacun par l'index des activités, quelle que soit la part
    de la table que portent les activités de la page."""
    ouvert = "{t}.date_ouverture <= %(jour)s AND ({t}.date_cloture IS NULL OR {t}.date_cloture > %(jour)s)"
    # Une union dans une sous-requête LATERAL : PostgreSQL ne la remonte pas dans une jointure
    # qu'il pourrait hacher, il l'évalue pour chaque activité.
    sql = f"""
        SELECT x.genre, x.activite, x.autre, x.role, x.utilisateur, x.convention
        FROM {Activite._meta.db_table} a
        CROSS JOIN LATERAL (
            SELECT 'a' AS genre, a.id AS activite, a.organisme_id AS autre, NULL::varchar AS role,
                NULL::bigint AS utilisateur, NULL::bigint AS convention
            UNION ALL
            SELECT 'l', l.activite_id, l.id, NULL, NULL, NULL
            FROM {LieuImplantation._meta.db_table} l
            WHERE l.activite_id = a.id AND {ouvert.format(t="l")}
            UNION ALL
            SELECT 'h', h.activite_id, h.lieu_id, h.role, h.utilisateur_id, h.convention_id
            FROM {HabilitationAfas._meta.db_table} h
            LEFT JOIN {ValidationApprobateur._meta.db_table} v ON v.habilitation_id = h.id
            WHERE h.activite_id = a.id AND {ouvert.format(t="h")}
              AND (h.role <> %(approbateur)s OR v.decision = %(validee)s)
        ) x
        WHERE a.organisme_id = ANY(%(organismes)s::bigint[]) AND {ouvert.format(t="a")}
    """  # noqa: S608 (noms de tables du modèle ; valeurs passées en paramètres)
    activites: dict[int, int] = {}
    lieux: dict[int, list[int]] = defaultdict(list)
    habilitations: Habilitations = set()
    with connection.cursor() as curseur:
        curseur.execute(
            sql,
            {
                # Le tableau écrit en texte, comme ``q_parmi``.
                "organismes": "{" + ",".join(str(int(cle)) for cle in organismes) + "}",
                "jour": jour,
                "approbateur": RoleAfas.APPROBATEUR.value,
                "validee": DecisionCaf.VALIDEE.value,
            },
        )
        for genre, activite, autre, role, utilisateur, convention in curseur.fetchall():
            if genre == "h":
                habilitations.add((activite, autre, role, utilisateur, convention))
            elif genre == "l":
                lieux[activite].append(autre)
            else:
                activites[activite] = autre
    return activites, lieux, habilitations


def _lectures(organismes: list[int], jour: datetime.date) -> tuple[dict[int, int], dict[int, list[int]], Habilitations]:
    """Les activités ouvertes de ces organismes ({activité: organisme}), leurs lieux ouverts
    ({activité: [lieux]}) et leurs habilitations ouvertes et validées (``q_ouvert``,
    ``q_validee``) : (activité, lieu, rôle, titulaire, convention). Sous PostgreSQL en une requête
    (``_lectures_postgresql``) : en trois, et les habilitations en une seule lecture
    (``activite_id = ANY(…)``), PostgreSQL lançait deux processus parallèles pour 960 lignes à
    l'échelle nationale (16 à 20 ms, 40 à 80 ms sans eux) et lisait toute la table quand la page
    porte une grande part des habilitations (la grande commune du jeu des plans : 55 %)."""
    return (_lectures_postgresql if connection.vendor == "postgresql" else _lectures_orm)(organismes, jour)


def _roles_tenus_par_titulaires(
    habilitations: Habilitations, lieux_ouverts: set[int], jour: datetime.date
) -> set[tuple[int, int | None, str]]:
    """(activité, lieu, rôle) tenus ce jour, d'après les habilitations ouvertes et validées
    d'activités ouvertes (``_lectures``) et les lieux ouverts de ces activités : le reste de la
    règle de ``q_effective`` vérifié une fois par couple (titulaire, convention)
    (``titulaires_declarer``). Vérifiée habilitation par habilitation, la règle coûtait 55 à 65 ms
    à une page de 20 partenaires à l'échelle nationale (960 habilitations de 7 comptes dans 3
    conventions : les profils des 14 000 conventions qui accordent AFAS-DECLARER hachés par chaque
    processus parallèle, quatre index par habilitation pour l'appartenance)."""
    if not habilitations:
        return set()
    titulaires = titulaires_declarer(jour, {h[3] for h in habilitations}, {h[4] for h in habilitations})
    return {
        (activite, lieu, role)
        for activite, lieu, role, utilisateur, convention in habilitations
        if (utilisateur, convention) in titulaires and (lieu is None or lieu in lieux_ouverts)
    }


def etat_preparation(organismes: Iterable[int], jour: datetime.date | None = None) -> dict[int, list[str]]:
    """Ce qui manque à chaque organisme pour l'appel de déclaration (liste vide : prêt). Deux
    requêtes quel que soit le nombre d'organismes et d'activités (une de plus sous SQLite), par
    index : les activités ouvertes des organismes, leurs lieux ouverts et leurs habilitations
    ouvertes et validées (``_lectures``), puis les titulaires de ces habilitations qui passent la
    règle du jour (``_roles_tenus_par_titulaires``) ; la règle (celle de ``Q_ACTIVITE_INCOMPLETE``
    et de ``lieux_annotes``) s'applique ensuite en Python à ces ensembles. En deux requêtes à
    EXISTS corrélés (quatre par activité, deux par lieu), PostgreSQL passait 15 ms à les planifier
    et 40 ms à les exécuter pour une page de 25 partenaires, les 80 000 lieux ouverts du pays
    hachés à chaque page.

    L'appartenance AFAS-DECLARER n'est pas lue par la liste des déclarants des conventions : la
    page qui contient la grande commune (50 000 comptes) passait 0,7 à 0,9 s à la lire ; elle est
    vérifiée pour les seuls titulaires des habilitations lues."""
    jour = jour or aujourdhui()
    organismes = list(organismes)
    activites, lieux, habilitations = _lectures(organismes, jour)
    lieux_ouverts = {lieu for lieux_activite in lieux.values() for lieu in lieux_activite}
    tenus = _roles_tenus_par_titulaires(habilitations, lieux_ouverts, jour)
    # Les rôles en chaînes simples : une clé qui contient le membre d'énumération se hache par
    # du code Python (``Enum.__hash__``), 3 600 fois par page.
    approbateur, fdf, fda = RoleAfas.APPROBATEUR.value, RoleAfas.FDF.value, RoleAfas.FDA.value
    lieux_avec_fda = {lieu for _, lieu, role in tenus if role == fda and lieu is not None}
    # Par organisme : activités sans approbateur, sans FDF, sans FDA (ni lieu ouvert) ; lieux sans FDA.
    comptes: dict[int, list[int]] = {}
    for activite, organisme in activites.items():
        compte = comptes.setdefault(organisme, [0, 0, 0, 0])
        fda_sur_activite = (activite, None, fda) in tenus
        compte[0] += (activite, None, approbateur) not in tenus
        compte[1] += (activite, None, fdf) not in tenus
        lieux_activite = lieux.get(activite, ())
        compte[2] += not fda_sur_activite and not lieux_activite
        if not fda_sur_activite:
            compte[3] += sum(lieu not in lieux_avec_fda for lieu in lieux_activite)
    resultat: dict[int, list[str]] = {pk: ["Aucune activité ouverte"] for pk in organismes}
    for organisme, (sans_approbateur, sans_fdf, sans_fda, lieux_sans_fda) in comptes.items():
        manques = []
        if sans_approbateur:
            manques.append(f"{sans_approbateur} activité(s) sans approbateur validé par la Caf")
        if sans_fdf:
            manques.append(f"{sans_fdf} activité(s) sans fournisseur de données financières")
        if sans_fda:
            manques.append(f"{sans_fda} activité(s) sans fournisseur de données d'activité")
        if lieux_sans_fda:
            manques.append(f"{lieux_sans_fda} lieu(x) d'implantation sans fournisseur de données d'activité")
        resultat[organisme] = manques
    return resultat
