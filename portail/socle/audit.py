"""Écrire la piste d'audit. Appelé par les fonctions de service, dans leur transaction."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

from django.db import models

from portail.models import EvenementAudit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser as Utilisateur  # AUTH_USER_MODEL, d'une couche au-dessus

# Adresse de la requête en cours, posée par portail.socle.middleware.AdresseIPMiddleware.
adresse_ip_courante: contextvars.ContextVar[str | None] = contextvars.ContextVar("adresse_ip_courante", default=None)


def _convention_de(cible: models.Model | None) -> int | None:
    """La convention d'une cible : elle-même, ou celle qu'elle porte (groupe, utilisateur…)."""
    if cible is None:
        return None
    if cible._meta.label == "conventions.Convention":
        return cible.pk
    return getattr(cible, "convention_id", None)


def audit_preparer(
    *,
    par: Utilisateur | None,
    action: str,
    cible: models.Model | None = None,
    avant: dict[str, Any] | None = None,
    apres: dict[str, Any] | None = None,
    convention_id: int | None = None,
) -> EvenementAudit:
    """Une ligne de la piste d'audit, rattachée à la convention de la cible (ou à celle donnée),
    pas encore écrite : ``audit_ecrire`` écrit celles d'un même acte en une requête."""
    return EvenementAudit(
        convention_id=convention_id or _convention_de(cible),
        acteur=par if (par is not None and par.pk) else None,
        action=action,
        cible_type=cible._meta.label if cible is not None else "",
        cible_id=str(cible.pk) if cible is not None else "",
        cible_libelle=str(cible)[:250] if cible is not None else "",
        adresse_ip=adresse_ip_courante.get(),
        avant=avant,
        apres=apres,
    )


def audit_ecrire(evenements: list[EvenementAudit]) -> None:
    """Écrit, dans l'ordre, les lignes préparées d'un même acte (une seule insertion)."""
    EvenementAudit.objects.bulk_create(evenements)


def audit_enregistrer(
    *,
    par: Utilisateur | None,
    action: str,
    cible: models.Model | None = None,
    avant: dict[str, Any] | None = None,
    apres: dict[str, Any] | None = None,
    convention_id: int | None = None,
) -> EvenementAudit:
    """Une ligne de la piste d'audit, écrite tout de suite."""
    evenement = audit_preparer(
        par=par, action=action, cible=cible, avant=avant, apres=apres, convention_id=convention_id
    )
    evenement.save()
    return evenement
