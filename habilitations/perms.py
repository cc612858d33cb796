"""Le module d'autorisation : toute vue et tout queryset lui demandent « qui peut quoi ».

Refus par défaut. Les faits datés (conventions, groupes, appartenances, comptes) font foi et
sont relus à chaque question, à la date du jour : une tâche en retard ou en échec ne peut
jamais prolonger un accès.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet

from conventions.models import Convention, Profil, Service
from habilitations.models import Appartenance, CodeSecoursDevice, Groupe, GroupeProfil
from portail.dates import aujourdhui

if TYPE_CHECKING:
    from habilitations.models import Utilisateur


def profils_effectifs(user: Utilisateur, jour: datetime.date | None = None) -> QuerySet[Profil]:
    """Les profils effectifs d'un utilisateur ce jour : ceux de chaque groupe où son appartenance
    est ouverte, le groupe ouvert, le compte ouvert et la convention validée et ouverte ; et
    seulement si la convention du groupe accorde bien ce profil."""
    jour = jour or aujourdhui()
    if not user.is_authenticated or not user.est_ouvert(jour):
        return Profil.objects.none()
    appartenances = Appartenance.objects.ouverts(jour).filter(utilisateur=user, groupe=OuterRef("pk"))
    groupes = Groupe.objects.effectifs(jour).filter(Exists(appartenances))
    accorde = Convention.profils.through.objects.filter(
        convention_id=OuterRef("groupe__convention_id"), profil_id=OuterRef("profil_id")
    )
    habilitations = GroupeProfil.objects.filter(Exists(accorde), groupe__in=groupes)
    return Profil.objects.filter(pk__in=habilitations.values("profil_id"))


def services_ouverts(user: Utilisateur, jour: datetime.date | None = None) -> QuerySet[Service]:
    """Les services dont l'utilisateur détient au moins un profil effectif ce jour."""
    return Service.objects.filter(profils__in=profils_effectifs(user, jour)).distinct()


def peut_ouvrir_service(user: Utilisateur, service: Service, jour: datetime.date | None = None) -> bool:
    """Un service ne s'ouvre qu'avec un profil effectif de ce service."""
    return profils_effectifs(user, jour).filter(service=service).exists()


def double_authentification_requise(user: Utilisateur) -> bool:
    """Obligatoire pour les agents Caf, les administrateurs partenaires et les responsables
    d'habilitations ; pour tous si DOUBLE_AUTHENTIFICATION_POUR_TOUS est vrai. Le résultat est
    mémorisé sur l'objet le temps d'une requête."""
    if settings.DOUBLE_AUTHENTIFICATION_POUR_TOUS:
        return True
    cache = getattr(user, "_double_authentification_requise", None)
    if cache is None:
        cache = user.est_agent_caf or _administrateur_ou_responsable(user)
        user._double_authentification_requise = cache
    return cache


def _administrateur_ou_responsable(user: Utilisateur) -> bool:
    """Administrateur d'une convention effective ou responsable d'un groupe effectif ce jour ;
    les deux questions en une seule requête (le middleware la pose à chaque page)."""
    from habilitations.models import Utilisateur

    jour = aujourdhui()
    return (
        Utilisateur.objects.filter(pk=user.pk)
        .filter(
            Exists(Convention.objects.effectives(jour).filter(administrateur=OuterRef("pk")))
            | Exists(Groupe.objects.effectifs(jour).filter(responsable=OuterRef("pk")))
        )
        .exists()
    )


def a_double_authentification(user: Utilisateur) -> bool:
    """L'utilisateur a activé une application d'authentification (TOTP confirmé)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def codes_secours(user: Utilisateur) -> CodeSecoursDevice | None:
    return CodeSecoursDevice.objects.filter(user=user, confirmed=True).first()
