"""La recherche HABILITATIONS D'ACTION SOCIALE : les habilitations dans un état (Actif, Inactif,
Historique), ou les rôles que personne ne tient (Non attribué), groupées sous « Activité : … » et
« Lieu d'implantation : … ». Tout est filtré et paginé dans la base : une page coûte le même
nombre de requêtes quel que soit le volume."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.paginator import Page
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from afas.attribution import Q_ACTIVITE_INCOMPLETE, activites_annotees, lieux_annotes, roles_manquants, roles_tenus
from afas.enums import EtatHabilitation, RoleAfas
from afas.models import Activite, HabilitationAfas, LieuImplantation
from conventions.models import Convention


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
    return qs.select_related("utilisateur", "activite", "lieu", "validation").order_by(
        "activite__libelle",
        "activite_id",
        F("lieu__libelle").asc(nulls_first=True),
        "lieu_id",
        "role",
        "utilisateur__nom",
        "pk",
    )


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


def activites_non_attribuees(
    conventions: QuerySet[Convention], criteres: dict, jour: datetime.date, membres: list[int]
) -> QuerySet[Activite]:
    """Les activités ouvertes où un rôle n'est tenu par personne ce jour (ou, avec les lieux,
    dont un lieu ouvert n'a pas de fournisseur de données d'activité)."""
    organismes = conventions.values("organisme_id")
    if criteres.get("partenaire"):
        organismes = Convention.objects.filter(pk=criteres["partenaire"].pk).values("organisme_id")
    activites = _filtrer_activites(Activite.objects.ouverts(jour).filter(organisme__in=organismes), criteres)
    activites = activites_annotees(activites, jour, membres, selection=False)
    role = criteres.get("role")
    q_activite = {
        "": Q_ACTIVITE_INCOMPLETE,
        RoleAfas.APPROBATEUR: Q(a_approbateur=False),
        RoleAfas.FDF: Q(a_fdf=False),
        RoleAfas.FDA: Q(a_fda=False, a_lieux=False),
    }[role or ""]
    if criteres.get("lieux") != "non" and role in ("", None, RoleAfas.FDA):
        lieux_sans_fda = lieux_annotes(LieuImplantation.objects.ouverts(jour), jour, membres).filter(
            a_fda=False, activite=OuterRef("pk")
        )
        q_activite |= Q(Exists(lieux_sans_fda))
    return activites.filter(q_activite).order_by("libelle", "pk")


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
