"""La recherche HABILITATIONS D'ACTION SOCIALE : les habilitations dans un état (Actif, Inactif,
Historique), ou les rôles que personne ne tient (Non attribué), groupées sous « Activité : … » et
« Lieu d'implantation : … ». Tout est filtré et paginé dans la base : une page coûte le même
nombre de requêtes quel que soit le volume."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.paginator import Page
from django.db.models import F, FilteredRelation, OuterRef, Q, QuerySet, Subquery

from afas.attribution import roles_manquants, roles_tenus
from afas.enums import EtatHabilitation, RoleAfas
from afas.models import Activite, HabilitationAfas, LieuImplantation, q_effective
from conventions.models import Convention
from habilitations.models import Utilisateur
from portail.socle.dates import q_ouvert


@dataclass
class Groupe:
    """Un titre (« Activité : … » ou « Lieu d'implantation : … ») et ses lignes."""

    titre: str
    lignes: list = field(default_factory=list)


def _filtrer_activites(qs: QuerySet, criteres: dict, prefixe: str = "") -> QuerySet:
    if criteres.get("activite"):
        qs = qs.filter(**{f"{prefixe}libelle__icontains": criteres["activite"]})
    if criteres.get("type_activite"):
        qs = qs.filter(**{f"{prefixe}type_activite": criteres["type_activite"]})
    if criteres.get("nature"):
        qs = qs.filter(**{f"{prefixe}nature": criteres["nature"]})
    return qs


def habilitations(
    conventions: QuerySet[Convention], criteres: dict, jour: datetime.date, membres: list[int]
) -> QuerySet[HabilitationAfas]:
    """Les habilitations des conventions dans l'état demandé, dans l'ordre d'affichage."""
    qs = HabilitationAfas.objects.filter(convention__in=conventions).dans_etat(criteres["etat"], jour, membres)
    if criteres.get("partenaire"):
        qs = qs.filter(convention=criteres["partenaire"])
    for mot in (criteres.get("utilisateur") or "").split():
        qs = qs.filter(
            Q(utilisateur__nom__icontains=mot)
            | Q(utilisateur__prenom__icontains=mot)
            | Q(utilisateur__identifiant__icontains=mot)
        )
    if criteres.get("role"):
        qs = qs.filter(role=criteres["role"])
    qs = _filtrer_activites(qs, criteres, "activite__")
    if criteres.get("lieux") == "non":
        qs = qs.filter(lieu__isnull=True)
    qs = qs.select_related("utilisateur", "activite", "lieu", "validation")
    if criteres["etat"] != EtatHabilitation.ACTIF:
        # Inactif, Historique : les libellés du tri lus ligne par ligne, par clé primaire. En
        # jointures, PostgreSQL hachait les 80 000 activités et 57 000 lieux du pays pour trier
        # les quelques milliers de lignes d'une grande commune (Actif les joint déjà pour ses
        # droits du jour, par index).
        qs = qs.alias(
            activite_libelle=_libelle(Activite, "activite_id", "libelle"),
            lieu_libelle=_libelle(LieuImplantation, "lieu_id", "libelle"),
            utilisateur_nom=_libelle(Utilisateur, "utilisateur_id", "nom"),
        )
        return qs.order_by(
            "activite_libelle",
            "activite_id",
            F("lieu_libelle").asc(nulls_first=True),
            "lieu_id",
            "role",
            "utilisateur_nom",
            "pk",
        )
    return qs.order_by(
        "activite__libelle",
        "activite_id",
        F("lieu__libelle").asc(nulls_first=True),
        "lieu_id",
        "role",
        "utilisateur__nom",
        "pk",
    )


def _libelle(modele, cle: str, champ: str) -> Subquery:
    """Le ``champ`` de la ligne de ``modele`` désignée par la clé étrangère ``cle`` (NULL sans elle)."""
    return Subquery(modele.objects.filter(pk=OuterRef(cle)).order_by().values(champ))


def habilitations_de_la_page(ids: list[int]) -> list[HabilitationAfas]:
    """Les habilitations d'une page de ``habilitations(...)`` lue en identifiants, dans cet ordre.

    La page n'est pas demandée à PostgreSQL avec son ORDER BY … LIMIT : pour un état qui a peu
    de lignes (Inactif), il parcourait alors toutes les activités du pays dans l'ordre des
    libellés en espérant trouver vite les 50 premières (2,7 s à l'échelle nationale). Sans LIMIT,
    la liste ordonnée des identifiants se calcule par jointures et tri en mémoire, puis la page
    se lit par clé primaire. Page vide : l'identifiant 0 n'existe pas, mais la requête part."""
    ids = list(ids)
    par_pk = HabilitationAfas.objects.filter(pk__in=ids or [0]).select_related(
        "utilisateur", "activite", "lieu", "validation"
    )
    lues = {h.pk: h for h in par_pk}
    return [lues[pk] for pk in ids if pk in lues]


def grouper_habilitations(page: Page) -> list[Groupe]:
    groupes: list[Groupe] = []
    cle_courante = None
    for h in page.object_list:
        cle = (h.activite_id, h.lieu_id)
        if cle != cle_courante:
            titre = f"Lieu d'implantation : {h.lieu.libelle}" if h.lieu_id else f"Activité : {h.activite.libelle}"
            groupes.append(Groupe(titre))
            cle_courante = cle
        groupes[-1].lignes.append(h)
    return groupes


def ids_non_attribues(conventions: QuerySet[Convention], criteres: dict, jour: datetime.date) -> list[int]:
    """Les activités ouvertes où un rôle n'est tenu par personne ce jour (ou, avec les lieux,
    dont un lieu ouvert n'a pas de fournisseur de données d'activité), dans l'ordre d'affichage.

    Deux requêtes simples (les activités filtrées avec leurs lieux ouverts, les rôles tenus ce
    jour sur ces activités), puis la règle en Python. Écrite en SQL (un EXISTS par
    rôle et par lieu, chacun refaisant la jointure des droits effectifs), la même question
    coûtait plus d'une seconde de planification à PostgreSQL pour une grande commune (EXPLAIN :
    tests/perf/test_plans_afas.py)."""
    activites, lieux = activites_et_lieux_ouverts(conventions, criteres, jour)
    # Bornées par les activités lues (index par activité) : filtrées par partenaire à travers la
    # jointure, PostgreSQL lisait toutes les habilitations ouvertes avant de les trier.
    tenus = (
        HabilitationAfas.objects.filter(q_effective(jour), activite_id__in=activites or [0])
        .order_by()
        .values_list("activite_id", "lieu_id", "role")
        .distinct()
    )
    return activites_sans_titulaire(activites, lieux, tenus, criteres)


def activites_et_lieux_ouverts(
    conventions: QuerySet[Convention], criteres: dict, jour: datetime.date
) -> tuple[list[int], dict[int, list[int]]]:
    """Une requête : les activités ouvertes des partenaires de ``conventions`` (ou du partenaire
    choisi), filtrées, dans l'ordre d'affichage, et les lieux ouverts de chacune."""
    organismes = conventions.values("organisme_id")
    if criteres.get("partenaire"):
        organismes = Convention.objects.filter(pk=criteres["partenaire"].pk).values("organisme_id")
    # Les activités filtrées, chacune avec ses lieux ouverts (jointure externe : une ligne par lieu).
    lignes = (
        _filtrer_activites(Activite.objects.ouverts(jour).filter(organisme__in=organismes), criteres)
        .alias(lieux_ouverts=FilteredRelation("lieux", condition=q_ouvert(jour, "lieux__")))
        .order_by("libelle", "pk", "lieux_ouverts__pk")
        .values_list("pk", "lieux_ouverts__pk")
    )
    activites: list[int] = []
    lieux: dict[int, list[int]] = {}
    for activite, lieu in lignes:
        if not activites or activites[-1] != activite:
            activites.append(activite)
        if lieu is not None:
            lieux.setdefault(activite, []).append(lieu)
    return activites, lieux


def activites_sans_titulaire(
    activites: list[int],
    lieux: dict[int, list[int]],
    tenus: Iterable[tuple[int, int | None, str]],
    criteres: dict,
) -> list[int]:
    """La règle de « Non attribué », sans requête : parmi ``activites`` (et leurs ``lieux``
    ouverts), celles où manque un rôle (ou le rôle cherché) d'après ``tenus``, les triplets
    (activité, lieu ou None, rôle) tenus ce jour."""
    sur_activite: dict[int, set[str]] = {}
    lieux_avec_fda: set[int] = set()
    for activite, lieu, r in tenus:
        if lieu is None:
            sur_activite.setdefault(activite, set()).add(r)
        elif r == RoleAfas.FDA:
            lieux_avec_fda.add(lieu)
    role = criteres.get("role") or ""
    avec_lieux = criteres.get("lieux") != "non" and role in ("", RoleAfas.FDA)
    resultat = []
    for activite in activites:
        roles = sur_activite.get(activite, set())
        sans_fda = RoleAfas.FDA not in roles and activite not in lieux
        manque = {
            "": RoleAfas.APPROBATEUR not in roles or RoleAfas.FDF not in roles or sans_fda,
            RoleAfas.APPROBATEUR: RoleAfas.APPROBATEUR not in roles,
            RoleAfas.FDF: RoleAfas.FDF not in roles,
            RoleAfas.FDA: sans_fda,
        }[role]
        if not manque and avec_lieux and RoleAfas.FDA not in roles:
            manque = any(lieu not in lieux_avec_fda for lieu in lieux.get(activite, []))
        if manque:
            resultat.append(activite)
    return resultat


def activites_de_la_page(ids: list[int]) -> list[Activite]:
    """Les activités d'une page de ``ids_non_attribues`` (paginés en Python : la liste est déjà
    lue), dans l'ordre d'affichage. Page vide : l'identifiant 0 n'existe pas, mais la requête part
    (un nombre de requêtes constant)."""
    return list(Activite.objects.filter(pk__in=list(ids) or [0]).order_by("libelle", "pk"))


def grouper_non_attribues(page: Page, criteres: dict, jour: datetime.date, membres: list[int]) -> list[Groupe]:
    """Pour les activités de la page : une ligne par rôle manquant sous l'activité, puis une ligne
    « Fournisseur de données d'activité » sous chaque lieu ouvert qui n'en a pas. Deux requêtes
    bornées par la page : les rôles tenus sur ses activités et leurs lieux, et ses lieux ouverts."""
    activites = list(page.object_list)
    ids = [a.pk for a in activites]
    role = criteres.get("role") or ""
    tenus = roles_tenus(ids, jour, membres)
    lieux_par_activite: dict[int, list[LieuImplantation]] = {}
    for lieu in LieuImplantation.objects.ouverts(jour).filter(activite__in=ids).order_by("libelle", "pk"):
        lieux_par_activite.setdefault(lieu.activite_id, []).append(lieu)
    avec_lieux = criteres.get("lieux") != "non" and role in ("", RoleAfas.FDA)
    groupes = []
    for activite in activites:
        roles = {r for (a, lieu, r) in tenus if a == activite.pk and lieu is None}
        lieux = lieux_par_activite.get(activite.pk, [])
        manquants = [r for r in roles_manquants(roles, bool(lieux)) if not role or r == RoleAfas(role).label]
        if manquants:
            groupes.append(Groupe(f"Activité : {activite.libelle}", manquants))
        if avec_lieux and RoleAfas.FDA not in roles:
            for lieu in lieux:
                if (activite.pk, lieu.pk, RoleAfas.FDA) not in tenus:
                    groupes.append(Groupe(f"Lieu d'implantation : {lieu.libelle}", [RoleAfas.FDA.label]))
    return groupes


ETATS_HABILITATIONS = (EtatHabilitation.ACTIF, EtatHabilitation.INACTIF, EtatHabilitation.HISTORIQUE)
