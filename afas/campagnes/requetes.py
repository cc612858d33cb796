"""Lectures du suivi des appels : décomptes par état et retards, en une requête pour une page
d'appels (ou pour un appel), quel que soit le nombre de déclarations."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models import BooleanField, Count, ExpressionWrapper, Q

from afas.enums import SAISISSABLES, EtatDeclaration
from afas.models import Declaration


def q_en_retard(jour: datetime.date) -> Q:
    """En retard : pas transmise alors que la date limite est passée."""
    return Q(etat__in=SAISISSABLES, date_limite__lt=jour)


def decomptes(appels: Iterable[int], jour: datetime.date) -> dict[int, dict[str, int]]:
    """Par appel : le nombre de déclarations, par état (clés des états), ``total`` et ``retard``.

    Lues groupées par (appel, état, date limite passée), quelques dizaines de lignes, additionnées
    ici. En une ligne par appel et huit agrégats filtrés, PostgreSQL lançait deux processus
    parallèles pour les 50 000 déclarations des 9 appels d'une Caf à l'échelle nationale (20 à
    30 ms ; 10 ms ainsi)."""
    resultat: dict[int, dict[str, int]] = {}
    lignes = (
        Declaration.objects.filter(appel_id__in=list(appels))
        .annotate(limite_passee=ExpressionWrapper(Q(date_limite__lt=jour), output_field=BooleanField()))
        .values_list("appel_id", "etat", "limite_passee")
        .annotate(nombre=Count("*"))
        .order_by()
    )
    for appel, etat, limite_passee, nombre in lignes:
        decompte = resultat.setdefault(appel, decompte_vide())
        decompte["total"] += nombre
        if etat in decompte:
            decompte[etat] += nombre
        # ``q_en_retard`` : pas transmise alors que la date limite est passée.
        if limite_passee and etat in SAISISSABLES:
            decompte["retard"] += nombre
    return resultat


def decompte_vide() -> dict[str, int]:
    return {"total": 0, "retard": 0, **{etat.value: 0 for etat in EtatDeclaration}}
