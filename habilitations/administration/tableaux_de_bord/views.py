"""« Mes tableaux de bord » d'une convention, et leurs exports CSV.

Tableaux de bord : l'administrateur (toute la convention), le responsable d'habilitations (ses
groupes et leurs sous-groupes), l'agent de la Caf pivot et la supervision nationale (lecture).
Journal : l'administrateur, l'agent de la Caf pivot et la supervision ; pas le responsable, qui
n'y verrait que des actes hors de son périmètre (404 pour lui, comme pour tout autre). Hors
périmètre : 404, sans dire si la convention existe.
"""

from __future__ import annotations

from html import escape as echapper

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
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


def _corps(section: tableaux.Section) -> SafeString:
    """Les lignes d'aperçu d'une section en HTML, chaque texte échappé comme le fait un gabarit
    (``html.escape``, celui de ``django.utils.html.escape``) ; la première cellule mène à l'écran
    de l'objet quand il en a un. Écrites par le gabarit, les ~30 lignes de la page coûtaient le
    quart de son processeur (4 ms sur 18)."""
    corps = []
    for ligne in section.lignes:
        cellules = [f'<td class="fr-cell--multiline">{echapper(c)}</td>' for c in ligne.cellules]
        if ligne.lien and cellules:
            cellules[0] = f'<td><a class="fr-link" href="{echapper(ligne.lien)}">{echapper(ligne.cellules[0])}</a></td>'
        corps.append(f"<tr>{''.join(cellules)}</tr>")
    return mark_safe("".join(corps))  # noqa: S308 (tout est échappé ci-dessus)


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
            "sections": [(section, _corps(section)) for section in sections],
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
