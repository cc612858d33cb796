"""Lectures du suivi des appels : décomptes par état et retards, en une requête pour une page
d'appels (ou pour un appel), quel que soit le nombre de déclarations."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models import Count, Q

from afas.enums import SAISISSABLES, EtatDeclaration
from afas.models import Declaration


def q_en_retard(jour: datetime.date) -> Q:
    """En retard : pas transmise alors que la date limite est passée."""
    return Q(etat__in=SAISISSABLES, date_limite__lt=jour)


def decomptes(appels: Iterable[int], jour: datetime.date) -> dict[int, dict[str, int]]:
    """Par appel : le nombre de déclarations, par état (clés des états), ``total`` et ``retard``."""
    comptes = {etat.value: Count("pk", filter=Q(etat=etat.value)) for etat in EtatDeclaration}
    lignes = (
        Declaration.objects.filter(appel_id__in=list(appels))
        .values("appel_id")
        .annotate(total=Count("pk"), retard=Count("pk", filter=q_en_retard(jour)), **comptes)
        .order_by()
    )
    return {ligne.pop("appel_id"): ligne for ligne in lignes}


def decompte_vide() -> dict[str, int]:
    return {"total": 0, "retard": 0, **{etat.value: 0 for etat in EtatDeclaration}}
