"""Consulter les conventions, le détail d'une convention et son PDF.

Quatre rôles lisent : l'agent Caf (sa Caf), la supervision nationale (toutes, en lecture seule),
l'administrateur partenaire (celles qu'il administre ce jour) et le responsable d'habilitations
(celles de ses groupes effectifs). Ses groupes sont des habilitations : ces écrans sont donc dans
cette couche, qui voit les deux (``habilitations.perms.conventions_consultables``) ; leurs noms
d'URL restent dans l'espace ``conventions:`` et leurs gabarits dans ``conventions/``. Une
convention hors de ce périmètre répond 404, comme si elle n'existait pas.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from conventions import perms
from conventions.consultation import pdf
from conventions.consultation.filtres import TRI_PAR_DEFAUT, TRIS, ConventionFilterSet
from conventions.models import Caf, Convention
from habilitations.perms import conventions_consultables
from portail.socle.listes import paginer, trier
from portail.socle.navigation import fil_ariane


def _perimetre(user) -> tuple[QuerySet[Convention], list[Caf]]:
    """Les conventions que l'utilisateur lit et les Caf pivots que le filtre propose. Refus par
    défaut (403) pour qui n'est ni agent Caf, ni supervision, ni administrateur ou responsable
    d'habilitations ce jour : un partenaire a au moins une Caf pivot, celle d'une convention
    qu'il lit."""
    visibles = conventions_consultables(user)
    if perms.est_agent_caf(user):
        return visibles, []  # sa seule Caf : pas de filtre à proposer
    if perms.est_superviseur_national(user):
        return visibles, list(Caf.objects.order_by("nom"))
    # Un partenaire lit quelques conventions : leurs clés et leurs Caf pivots lues en une requête,
    # le décompte et la liste les reprennent par clé, sans recomposer ni réexécuter trois fois
    # l'union de ses droits (administrées, celles de ses groupes ; ~3 ms de Python chacune).
    lignes = list(visibles.order_by("caf__nom", "caf_id").values_list("pk", "caf_id", "caf__code", "caf__nom"))
    if not lignes:
        raise PermissionDenied
    cafs = {caf_id: Caf(pk=caf_id, code=code, nom=nom) for _pk, caf_id, code, nom in lignes}
    return Convention.objects.filter(pk__in=[pk for pk, *_ in lignes]), list(cafs.values())


def _convention_visible(request, pk: int) -> Convention:
    return get_object_or_404(
        conventions_consultables(request.user).select_related("caf", "organisme__type_organisme"), pk=pk
    )


@require_GET
def conventions(request):
    """« Consulter les conventions » : filtres en GET, tri par en-tête, 25 lignes par page."""
    visibles, cafs = _perimetre(request.user)
    filtre = ConventionFilterSet(request.GET, queryset=visibles, request=request, cafs=cafs)
    tri = request.GET.get("tri", "")
    # Les clés de la page d'abord (lignes étroites, triées en mémoire), puis ses 25 conventions avec
    # Caf et organisme : triées entières, les 58 000 conventions ouvertes du pays débordaient sur
    # disque (14 Mo) pour la page 1 000 de la supervision nationale.
    page = paginer(
        request, trier(request, filtre.qs.select_related("caf", "organisme"), TRIS, TRI_PAR_DEFAUT), par_cles=True
    )
    return render(
        request,
        "conventions/conventions.html",
        {
            "filtre": filtre,
            "page": page,
            "tri": tri,
            "peut_formaliser": perms.est_agent_caf(request.user),
            "fil": fil_ariane(("Conventions", reverse("conventions:conventions"))),
        },
    )


@require_GET
def convention(request, pk: int):
    """Détail d'une convention. Les boutons de gestion ne paraissent que pour un agent de la Caf
    pivot, et seulement quand l'action est possible (ni validation ni avenant après clôture)."""
    convention = _convention_visible(request, pk)
    contenu = pdf.convention_contenu(convention)
    return render(
        request,
        "conventions/convention.html",
        {
            "contenu": contenu,
            "convention": convention,
            "peut_valider": perms.peut_valider_convention(request.user, convention),
            "peut_enregistrer_avenant": perms.peut_enregistrer_avenant(request.user, convention),
            "peut_cloturer": perms.peut_cloturer_convention(request.user, convention),
            "fil": fil_ariane(
                ("Conventions", reverse("conventions:conventions")),
                ("Consulter les conventions", reverse("conventions:conventions")),
            ),
        },
    )


@require_GET
def convention_pdf(request, pk: int):
    """Le PDF se télécharge dans le même périmètre que le détail (404 sinon)."""
    convention = _convention_visible(request, pk)
    return HttpResponse(
        pdf.convention_pdf(convention),
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="convention-{convention.pk}.pdf"'},
    )
