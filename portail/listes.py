"""Listes paginées dans la base : une requête de comptage, une requête de page."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

PAR_PAGE = 25


def paginer(request, queryset: QuerySet, par_page: int = PAR_PAGE) -> Page:
    """La page demandée (``?page=``) ; une page hors limites donne la dernière, pas une erreur.
    ``pages_list`` sert au gabarit de pagination DSFR (numéros avec ellipses)."""
    page = Paginator(queryset, par_page).get_page(request.GET.get("page"))
    page.pages_list = list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
    return page
