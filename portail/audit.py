"""Écrire la piste d'audit. Appelé par les fonctions de service, dans leur transaction."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

from django.db import models

from portail.models import EvenementAudit

if TYPE_CHECKING:
    from habilitations.models import Utilisateur

# Adresse de la requête en cours, posée par portail.middleware.AdresseIPMiddleware.
adresse_ip_courante: contextvars.ContextVar[str | None] = contextvars.ContextVar("adresse_ip_courante", default=None)


def audit_enregistrer(
    *,
    par: Utilisateur | None,
    action: str,
    cible: models.Model | None = None,
    avant: dict[str, Any] | None = None,
    apres: dict[str, Any] | None = None,
) -> EvenementAudit:
    return EvenementAudit.objects.create(
        acteur=par if (par is not None and par.pk) else None,
        action=action,
        cible_type=cible._meta.label if cible is not None else "",
        cible_id=str(cible.pk) if cible is not None else "",
        cible_libelle=str(cible)[:250] if cible is not None else "",
        adresse_ip=adresse_ip_courante.get(),
        avant=avant,
        apres=apres,
    )
