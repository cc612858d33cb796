"""Qui peut quoi dans AFAS. Refus par défaut : chaque question relit les faits datés du jour.

- L'agent Caf gère les activités et lieux des organismes de sa Caf et valide les approbateurs
  dont sa Caf est la Caf pivot de la convention.
- L'administrateur partenaire, ou l'utilisateur au profil effectif AFAS-HABILITER, donne et
  retire les rôles AFAS dans sa convention ; jamais à lui-même.
- Le déclarant (profil effectif AFAS-DECLARER) voit le menu AFAS.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, QuerySet

from afas.models import (
    PROFIL_DECLARER,
    PROFIL_HABILITER,
    Activite,
    HabilitationAfas,
    LieuImplantation,
    ValidationApprobateur,
)
from conventions.models import Convention, Organisme
from habilitations import perms as perms_habilitations
from habilitations.models import Appartenance
from habilitations.models import Utilisateur as UtilisateurModele
from portail.socle.dates import aujourdhui, q_ouvert

if TYPE_CHECKING:
    from habilitations.models import Utilisateur


# --- Agent Caf : activités, lieux, validation des approbateurs -----------------------------------


def peut_gerer_activites(user: Utilisateur) -> bool:
    """Les écrans « Activités » et « Approbateurs à valider » : un agent Caf au compte ouvert."""
    return perms_habilitations.est_agent_caf(user)


def organismes_geres(user: Utilisateur) -> QuerySet[Organisme]:
    """Les organismes dont l'agent maintient les activités : ceux de sa Caf ; rien pour les autres."""
    if not perms_habilitations.est_agent_caf(user):
        return Organisme.objects.none()
    return Organisme.objects.filter(caf_id=user.caf_id)


def activites_gerees(user: Utilisateur) -> QuerySet[Activite]:
    """Activités que l'agent peut lire et modifier (404 pour les autres)."""
    if not perms_habilitations.est_agent_caf(user):
        return Activite.objects.none()
    return Activite.objects.filter(organisme__caf_id=user.caf_id)


def lieux_geres(user: Utilisateur) -> QuerySet[LieuImplantation]:
    if not perms_habilitations.est_agent_caf(user):
        return LieuImplantation.objects.none()
    return LieuImplantation.objects.filter(activite__organisme__caf_id=user.caf_id)


def validations_visibles(user: Utilisateur) -> QuerySet[ValidationApprobateur]:
    """Les demandes que l'agent peut décider : celles de sa Caf (Caf pivot de la convention)."""
    if not perms_habilitations.est_agent_caf(user):
        return ValidationApprobateur.objects.none()
    return ValidationApprobateur.objects.filter(caf_id=user.caf_id)


def peut_valider_approbateur(user: Utilisateur, validation: ValidationApprobateur) -> bool:
    """Valider ou refuser : un agent de la Caf pivot de la convention de l'habilitation."""
    return perms_habilitations.est_agent_caf(user) and validation.caf_id == user.caf_id


# --- Partenaire : habiliter ---------------------------------------------------------------------


def conventions_habilitables(user: Utilisateur, jour: datetime.date | None = None) -> QuerySet[Convention]:
    """Les conventions où l'utilisateur donne les rôles AFAS ce jour : celles qu'il administre, et
    celles où un groupe lui donne le profil effectif AFAS-HABILITER (appartenance, groupe, compte
    et convention ouverts ; profil accordé par la convention). Les deux doivent accorder le
    service AFAS (profil AFAS-DECLARER)."""
    jour = jour or aujourdhui()
    if not user.is_authenticated or user.caf_id or user.organisme_id is None or not user.est_ouvert(jour):
        return Convention.objects.none()
    habiliter = Appartenance.objects.filter(
        q_ouvert(jour),
        q_ouvert(jour, "groupe__"),
        utilisateur=user,
        groupe__convention=OuterRef("pk"),
        groupe__groupe_profils__profil__code=PROFIL_HABILITER,
    )
    administrees = perms_habilitations.conventions_administrees(user, jour).values("pk")
    par_profil = Convention.objects.effectives(jour).filter(Exists(habiliter), profils__code=PROFIL_HABILITER)
    return Convention.objects.filter(profils__code=PROFIL_DECLARER).filter(
        Q(pk__in=administrees) | Q(pk__in=par_profil.values("pk"))
    )


def peut_habiliter(user: Utilisateur) -> bool:
    """La rubrique « Administration des profils »."""
    return conventions_habilitables(user).exists()


def habilitations_gerees(user: Utilisateur) -> QuerySet[HabilitationAfas]:
    """Les habilitations AFAS que l'utilisateur lit et supprime : celles de ses conventions."""
    return HabilitationAfas.objects.filter(convention__in=conventions_habilitables(user))


def activites_habilitables(user: Utilisateur) -> QuerySet[Activite]:
    """Les activités des organismes de ses conventions habilitables."""
    return Activite.objects.filter(organisme__conventions__in=conventions_habilitables(user)).distinct()


def peut_habiliter_utilisateur(user: Utilisateur, cible: Utilisateur, convention: Convention) -> bool:
    """Donner un rôle à ``cible`` dans ``convention`` : la convention est habilitable par
    ``user``, la cible y a son compte, et personne ne s'habilite soi-même."""
    return (
        cible.pk != user.pk
        and cible.convention_id == convention.pk
        and conventions_habilitables(user).filter(pk=convention.pk).exists()
    )


def peut_supprimer_habilitation(user: Utilisateur, habilitation: HabilitationAfas) -> bool:
    """Supprimer : dans une convention habilitable, jamais sa propre habilitation."""
    return habilitation.utilisateur_id != user.pk and habilitations_gerees(user).filter(pk=habilitation.pk).exists()


# --- Déclarant --------------------------------------------------------------------------------


def est_declarant(user: Utilisateur, jour: datetime.date | None = None) -> bool:
    """Profil effectif AFAS-DECLARER ce jour : le menu « Aides financières d'action sociale »."""
    return perms_habilitations.profils_effectifs(user, jour).filter(code=PROFIL_DECLARER).exists()


def menu_partenaire(user: Utilisateur) -> tuple[bool, bool]:
    """(gestionnaire d'habilitations, habilitateur AFAS) pour le menu d'un partenaire, en une
    seule requête : la même que posait déjà seule « est_gestionnaire_habilitations ». (False,
    False) sans requête pour les autres comptes."""
    if not user.is_authenticated or user.organisme_id is None or user.caf_id:
        return False, False
    return (
        UtilisateurModele.objects.filter(pk=user.pk)
        .annotate(
            gestionnaire=Exists(perms_habilitations.conventions_consultables(user)),
            habiliter=Exists(conventions_habilitables(user)),
        )
        .values_list("gestionnaire", "habiliter")
        .get()
    )
