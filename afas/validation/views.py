"""Écrans de l'agent Caf : « Approbateurs à valider » (valider, refuser) et l'état de préparation
des partenaires de sa Caf pour l'appel de déclaration. Hors rôle : 403 ; demande d'une autre
Caf : 404."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from afas import perms, services
from afas.attribution import etat_preparation
from afas.models import Activite
from afas.validation.filtres import ValidationFiltre
from afas.validation.forms import RefusForm, ValidationForm
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import refus_afficher
from portail.socle.listes import PaginateurParTableauDeClesDepuisLeBout, paginer, trier
from portail.socle.navigation import fil_ariane

# Par les copies de l'habilitation que porte la demande (``ValidationApprobateur.champs_copies``) :
# mêmes valeurs, mais lues dans l'index de la file de la Caf, sans joindre les habilitations.
TRI_VALIDATIONS = {
    "partenaire": ("organisme__raison_sociale",),
    "utilisateur": ("utilisateur__nom", "utilisateur__prenom"),
    "activite": ("activite__libelle",),
    "demandee_le": ("demandee_le",),
    "date_ouverture": ("date_ouverture",),
}


def _exiger_agent(request) -> None:
    if not perms.peut_gerer_activites(request.user):
        raise PermissionDenied


def _fil():
    return fil_ariane(("Aides financières d'action sociale", reverse("afas:validations")))


@require_GET
def validations(request):
    """La file : partenaire, utilisateur, activité, demandé par qui et depuis quand."""
    _exiger_agent(request)
    queryset = perms.validations_visibles(request.user).select_related(
        "habilitation__utilisateur",
        "habilitation__activite",
        "habilitation__convention__organisme",
        "demandee_par",
        "decidee_par",
    )
    filtre = ValidationFiltre(request.GET or None, queryset=queryset)
    # Par clés : les 25 clés de la page viennent de l'index (caf, décision, date, clé) seul, puis
    # les lignes jointes ; la page 1 000 des validées ne trie plus 25 000 lignes jointes. Les
    # dernières pages se lisent depuis la fin (tri borné). Triée par activité, PostgreSQL parcourt
    # les activités dans l'ordre du libellé (``activite_libelle_tri``) et les demandes de chacune
    # (``validation_activite_tri``), et s'arrête à la page : sans ces index, il hachait les 80 000
    # activités du pays (plan parallèle, p50 61-64 ms au banc).
    page = paginer(
        request,
        trier(request, filtre.qs, TRI_VALIDATIONS, ("demandee_le",)),
        paginateur=PaginateurParTableauDeClesDepuisLeBout,
    )
    return render(
        request,
        "afas/validations.html",
        {
            "filtre": filtre,
            "page": page,
            "filtre_actif": any(request.GET.get(nom) for nom in filtre.filters),
            "fil": _fil(),
        },
    )


def _decider(request, pk: int, form_class, gabarit: str):
    _exiger_agent(request)
    validation = get_object_or_404(
        perms.validations_visibles(request.user).select_related(
            "habilitation__utilisateur", "habilitation__activite", "habilitation__convention__organisme", "demandee_par"
        ),
        pk=pk,
    )
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            if form_class is RefusForm:
                services.approbateur_refuser(par=request.user, validation=validation, motif=form.cleaned_data["motif"])
                messages.success(
                    request, f"L'approbateur {validation.habilitation.utilisateur.get_full_name()} est refusé."
                )
            else:
                services.approbateur_valider(par=request.user, validation=validation)
                messages.success(
                    request, f"L'approbateur {validation.habilitation.utilisateur.get_full_name()} est validé."
                )
        except ErreurMetier as erreur:
            refus_afficher(form, erreur)
        else:
            return redirect("afas:validations")
    return render(
        request,
        gabarit,
        {
            "form": form,
            "validation": validation,
            "h": validation.habilitation,
            "fil": [*_fil(), {"titre": "Approbateurs à valider", "url": reverse("afas:validations")}],
        },
    )


@require_http_methods(["GET", "POST"])
def valider(request, pk: int):
    return _decider(request, pk, ValidationForm, "afas/valider.html")


@require_http_methods(["GET", "POST"])
def refuser(request, pk: int):
    return _decider(request, pk, RefusForm, "afas/refuser.html")


@require_GET
def preparation(request):
    """Par partenaire de la Caf : « Prêt pour l'appel de déclaration » ou ce qui manque."""
    _exiger_agent(request)
    # « A au moins une activité » en EXISTS : par la jointure et DISTINCT, le compte et la page
    # rapprochaient les 80 000 activités du pays des organismes de la Caf (15 ms chacun).
    organismes = perms.organismes_geres(request.user).filter(Exists(Activite.objects.filter(organisme=OuterRef("pk"))))
    page = paginer(request, trier(request, organismes, ("raison_sociale",), ("raison_sociale",)))
    etats = etat_preparation([o.pk for o in page.object_list])
    for organisme in page.object_list:
        organisme.preparation = etats.get(organisme.pk, [])
    return render(request, "afas/preparation.html", {"page": page, "fil": _fil()})
