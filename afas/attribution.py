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

from django.db.models import Exists, OuterRef, Q, QuerySet

from afas.enums import RoleAfas
from afas.models import Activite, HabilitationAfas, LieuImplantation, q_effective
from portail.socle.dates import aujourdhui
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


def etat_preparation(organismes: Iterable[int], jour: datetime.date | None = None) -> dict[int, list[str]]:
    """Ce qui manque à chaque organisme pour l'appel de déclaration (liste vide : prêt). Trois
    requêtes quel que soit le nombre d'organismes et d'activités, chacune par index : les activités
    ouvertes des organismes, leurs lieux ouverts, les rôles tenus ce jour sur ces activités ; la
    règle (celle de ``Q_ACTIVITE_INCOMPLETE`` et de ``lieux_annotes``) s'applique ensuite en Python
    à ces ensembles. En deux requêtes à EXISTS corrélés (quatre par activité, deux par lieu),
    PostgreSQL passait 15 ms à les planifier et 40 ms à les exécuter pour une page de 25
    partenaires, les 80 000 lieux ouverts du pays hachés à chaque page.

    L'appartenance AFAS-DECLARER est vérifiée habilitation par habilitation (``q_effective`` sans
    liste de déclarants) : la page qui contient la grande commune (50 000 comptes) passait 0,7 à
    0,9 s à lire ses déclarants, puis PostgreSQL allait de la convention à ses 50 000 comptes pour
    chaque habilitation (1,8 s avant cette écriture, 8 s avec la liste) ; 0,13 s ainsi."""
    jour = jour or aujourdhui()
    organismes = list(organismes)
    activites = dict(
        Activite.objects.ouverts(jour).filter(organisme__in=organismes).order_by().values_list("pk", "organisme_id")
    )
    lieux: dict[int, list[int]] = defaultdict(list)
    tenus: set[tuple[int, int | None, str]] = set()
    if activites:
        for lieu, activite in (
            LieuImplantation.objects.ouverts(jour)
            .filter(q_parmi("activite_id", list(activites)))
            .order_by()
            .values_list("pk", "activite_id")
        ):
            lieux[activite].append(lieu)
        tenus = set(
            _effectives(jour, None)
            .filter(q_parmi("activite_id", list(activites)))
            .order_by()
            .values_list("activite_id", "lieu_id", "role")
            .distinct()
        )
    lieux_avec_fda = {lieu for _, lieu, role in tenus if role == RoleAfas.FDA and lieu is not None}
    # Par organisme : activités sans approbateur, sans FDF, sans FDA (ni lieu ouvert) ; lieux sans FDA.
    comptes: dict[int, list[int]] = {}
    for activite, organisme in activites.items():
        compte = comptes.setdefault(organisme, [0, 0, 0, 0])
        fda_sur_activite = (activite, None, RoleAfas.FDA) in tenus
        compte[0] += (activite, None, RoleAfas.APPROBATEUR) not in tenus
        compte[1] += (activite, None, RoleAfas.FDF) not in tenus
        compte[2] += not fda_sur_activite and not lieux[activite]
        if not fda_sur_activite:
            compte[3] += sum(lieu not in lieux_avec_fda for lieu in lieux[activite])
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
