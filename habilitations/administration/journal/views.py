"""« Journal des actes » d'une convention, et son export CSV.

L'administrateur, l'agent de la Caf pivot et la supervision ; pas le responsable, qui n'y
verrait que des actes hors de son périmètre (404 pour lui, comme pour tout autre). Hors
périmètre : 404, sans dire si la convention existe.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from habilitations import perms
from habilitations.administration.acces import perimetre_ou_404
from habilitations.administration.journal import journal as lecture
from habilitations.administration.journal.filtres import JournalFiltre
from habilitations.perms import Perimetre
from portail.socle.csv import reponse_csv
from portail.socle.listes import paginer
from portail.socle.navigation import fil_ariane


def _fil() -> list:
    return fil_ariane(
        ("Conventions", reverse("conventions:conventions")),
        ("Consulter les conventions", reverse("conventions:conventions")),
    )


def _perimetre_journal(request, convention: int) -> Perimetre:
    """Refus par défaut : seuls l'administrateur et les lecteurs de la Caf (agent de la Caf
    pivot, supervision) lisent le journal ; le responsable d'habilitations reçoit un 404."""
    perimetre = perimetre_ou_404(request, convention)
    if not perms.peut_lire_journal(perimetre):
        raise Http404
    return perimetre


def _filtre_journal(request, perimetre: Perimetre) -> JournalFiltre:
    return JournalFiltre(request.GET, queryset=lecture.evenements(perimetre), actes=lecture.actes_presents(perimetre))


@require_GET
def journal(request, convention: int):
    """Les actes de la convention, du plus récent au plus ancien, 25 par page, filtrables."""
    perimetre = _perimetre_journal(request, convention)
    filtre = _filtre_journal(request, perimetre)
    page = paginer(request, filtre.resultats(), par_cles=True)
    export = request.GET.copy()
    export.pop("page", None)
    return render(
        request,
        "habilitations/gestion/journal.html",
        {
            "perimetre": perimetre,
            "filtre": filtre,
            "filtre_actif": filtre.actif,
            "page": page,
            "lignes": [lecture.LigneJournal.de(evenement) for evenement in page],
            "parametres_export": export.urlencode(),
            "fil": _fil(),
        },
    )


@require_GET
def journal_csv(request, convention: int):
    """Le journal filtré comme à l'écran, toutes pages confondues, écrit en flux."""
    perimetre = _perimetre_journal(request, convention)
    filtre = _filtre_journal(request, perimetre)
    lignes = lecture.journal_export(filtre.resultats())
    return reponse_csv(f"journal-convention-{perimetre.convention.pk}", lecture.ENTETES_JOURNAL, lignes)
