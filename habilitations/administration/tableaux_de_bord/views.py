"""« Mes tableaux de bord » d'une convention, et leurs exports CSV.

Tableaux de bord : l'administrateur (toute la convention), le responsable d'habilitations (ses
groupes et leurs sous-groupes), l'agent de la Caf pivot et la supervision nationale (lecture).
Journal : l'administrateur, l'agent de la Caf pivot et la supervision ; pas le responsable, qui
n'y verrait que des actes hors de son périmètre (404 pour lui, comme pour tout autre). Hors
périmètre : 404, sans dire si la convention existe.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from habilitations.administration.acces import perimetre_ou_404
from habilitations.administration.tableaux_de_bord import tableaux
from portail.socle.csv import reponse_csv
from portail.socle.navigation import fil_ariane


def _fil() -> list:
    return fil_ariane(
        ("Conventions", reverse("conventions:conventions")),
        ("Consulter les conventions", reverse("conventions:conventions")),
    )


@require_GET
def tableaux_de_bord(request, convention: int, complements: tableaux.Complements = tableaux.aucun_complement):
    """Une section par tableau : son nombre, ses premières lignes, son export ; puis les lignes
    ``complements`` des couches supérieures (AFAS), calculées après le contrôle du périmètre."""
    perimetre = perimetre_ou_404(request, convention)
    sections = [classe(perimetre).section() for classe in tableaux.TABLEAUX.values()]
    return render(
        request,
        "habilitations/gestion/tableaux_de_bord.html",
        {
            "perimetre": perimetre,
            "sections": sections,
            "complements": complements(request, perimetre),
            "apercu": tableaux.APERCU,
            "fil": _fil(),
        },
    )


@require_GET
def tableau_csv(request, convention: int, tableau: str):
    """Toutes les lignes d'un tableau, écrites en flux. Le périmètre est vérifié avant le nom
    du tableau : hors périmètre, même un nom inconnu répond 404 sans rien dire de plus."""
    perimetre = perimetre_ou_404(request, convention)
    classe = tableaux.TABLEAUX.get(tableau)
    if classe is None:
        raise Http404
    instance = classe(perimetre)
    return reponse_csv(f"{instance.slug}-convention-{perimetre.convention.pk}", instance.entetes, instance.export())
