"""Listes paginées dans la base : une requête de comptage, une requête de page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet

PAR_PAGE = 25
# Le paramètre d'adresse du tri (« ?tri=-date »), lu ici et écrit par les en-têtes de colonnes.
PARAMETRE_TRI = "tri"


def paginer(request, queryset: QuerySet, par_page: int = PAR_PAGE) -> Page:
    """La page demandée (``?page=``) ; une page hors limites donne la dernière, pas une erreur.
    ``pages_list`` sert au gabarit de pagination DSFR (numéros avec ellipses)."""
    page = Paginator(queryset, par_page).get_page(request.GET.get("page"))
    page.pages_list = list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
    return page


def trier(
    request, queryset: QuerySet, champs: Mapping[str, Sequence[str]] | Sequence[str], defaut: Sequence[str]
) -> QuerySet:
    """L'ordre demandé par l'en-tête cliqué (``?tri=cle`` ou ``?tri=-cle``) si la clé est dans la
    liste blanche ``champs`` (une clé peut trier sur plusieurs colonnes), sinon ``defaut``. L'ordre
    par défaut puis la clé primaire départagent les égalités : la pagination reste stable. Une
    valeur absente (date de clôture vide : jamais close) vient après les autres en ordre croissant."""
    tri = request.GET.get(PARAMETRE_TRI, "")
    cle = tri.removeprefix("-")
    if cle not in champs:
        return queryset.order_by(*defaut, "pk")
    colonnes = champs[cle] if isinstance(champs, Mapping) else (cle,)
    if tri.startswith("-"):
        ordre = [F(c).desc(nulls_first=True) for c in colonnes]
    else:
        ordre = [F(c).asc(nulls_last=True) for c in colonnes]
    return queryset.order_by(*ordre, *defaut, "pk")


def cle_primaire(valeur: str) -> int | None:
    """Une clé primaire reçue dans l'adresse (``?organisme=12``), ou None si ce n'en est pas une.
    Chiffres ASCII seulement : ``"²".isdigit()`` est vrai mais ``int("²")`` échoue, et 19 chiffres
    ou plus dépassent un entier de la base."""
    if valeur.isascii() and valeur.isdigit() and len(valeur) <= 18:
        return int(valeur)
    return None
