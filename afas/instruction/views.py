"""Transmission par l'approbateur, récépissé, et instruction par la Caf : la file « Déclarations
reçues », la déclaration en lecture seule, « Valider » et « Renvoyer pour correction ».

Déclaration d'un autre partenaire ou d'une autre Caf : 404. Un déclarant de la déclaration qui
n'en est pas l'approbateur (FDA, FDF) : 403 sur « Transmettre ». Les pages de l'agent Caf : 403
pour qui n'est pas agent."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from afas import perms
from afas.enums import FIGES
from afas.instruction import recepisse as recepisse_module
from afas.instruction import services
from afas.instruction.filtres import DeclarationRecueFiltre, avec_retard
from afas.instruction.forms import RenvoiForm, ValidationDeclarationForm
from afas.instruction.recepisse import contenu_construire, empreinte_calculer
from afas.models import Declaration, DonneesFinancieres
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import refus_afficher
from portail.socle.listes import paginer, trier
from portail.socle.navigation import fil_ariane

TRI_RECUES = {
    "partenaire": ("activite__organisme__raison_sociale",),
    "activite": ("activite__libelle",),
    "type": ("type_declaration",),
    "exercice": ("exercice",),
    "date_limite": ("date_limite",),
    "etat": ("etat",),
    "modifiee_le": ("modifiee_le",),
}


# --- Déclarant : transmettre, récépissé -------------------------------------------------------


@require_POST
def transmettre(request, pk: int):
    """« Transmettre à la Caf » (le bouton est sur la page de la déclaration) : succès ou refus
    en message, retour à la déclaration ; un double clic est refusé par le service."""
    declaration = get_object_or_404(perms.declarations_du_declarant(request.user), pk=pk)
    if not perms.peut_demander_transmission(perms.roles_sur_declaration(request.user, declaration)):
        raise PermissionDenied
    try:
        recepisse = services.declaration_transmettre(par=request.user, declaration=declaration)
    except ErreurMetier as erreur:
        messages.error(request, erreur.message)
    else:
        messages.success(
            request,
            f"La déclaration est transmise à la Caf. Récépissé n° {recepisse.numero} (empreinte SHA-256 "
            f"{recepisse.empreinte}) : il vous est envoyé par courriel.",
        )
    return redirect("afas:declaration", pk=declaration.pk)


@require_GET
def recepisse(request, pk: int):
    """Le PDF du récépissé, affiché dans le navigateur : déclarants de l'activité et agents de la Caf."""
    recu = get_object_or_404(
        perms.recepisses_visibles(request.user).select_related("declaration__activite").defer("contenu"), pk=pk
    )
    nom = recepisse_module.nom_fichier(recu)
    reponse = HttpResponse(bytes(recu.pdf), content_type="application/pdf")
    reponse["Content-Disposition"] = content_disposition_header(as_attachment=False, filename=nom)
    return reponse


# --- Agent Caf : file, lecture, instruction ---------------------------------------------------


def _exiger_agent(request) -> None:
    if not perms.peut_recevoir_declarations(request.user):
        raise PermissionDenied


def _fil():
    return fil_ariane(
        ("Aides financières d'action sociale", reverse("afas:activites")),
        ("Déclarations reçues", reverse("afas:declarations_recues")),
    )


@require_GET
def declarations_recues(request):
    """La file de l'agent Caf : par défaut les déclarations transmises, à instruire."""
    _exiger_agent(request)
    queryset = avec_retard(perms.declarations_caf(request.user).select_related("activite__organisme"))
    filtre = DeclarationRecueFiltre(request.GET or None, queryset=queryset)
    # Clés de la page d'abord (index de la Caf, de l'état et de la date limite), puis les 25 lignes :
    # triées entières, les 3 000 transmises d'une Caf calculaient chacune leur retard (sous-requête
    # des récépissés) et joignaient leur activité avant l'OFFSET de la dernière page (44 ms).
    page = paginer(request, trier(request, filtre.qs, TRI_RECUES, ("date_limite",)), par_cles=True)
    return render(
        request,
        "afas/instruction/declarations_recues.html",
        {
            "filtre": filtre,
            "page": page,
            "filtre_actif": any(request.GET.get(nom) for nom in filtre.filters),
            "fil": fil_ariane(("Aides financières d'action sociale", reverse("afas:activites"))),
        },
    )


def _declaration_caf(request, pk: int) -> Declaration:
    _exiger_agent(request)
    return get_object_or_404(
        perms.declarations_caf(request.user).select_related("activite__organisme", "caf", "appel"), pk=pk
    )


def _page_caf(request, declaration: Declaration, *, validation=None, renvoi=None, status: int = 200):
    """La déclaration en lecture seule : les chiffres (ceux du dernier récépissé si elle est
    transmise ou validée : exactement ce qui est haché), l'historique, les récépissés et leur
    empreinte recalculée, et les deux décisions quand elle est transmise."""
    recepisses = list(declaration.recepisses.select_related("transmise_par").defer("pdf").order_by("numero"))
    for r in recepisses:
        r.empreinte_verifiee = empreinte_calculer(r.contenu) == r.empreinte
    if declaration.etat in FIGES and recepisses:
        contenu = recepisses[-1].contenu
    else:
        contenu = contenu_construire(
            declaration,
            lignes=list(declaration.donnees_activite.select_related("lieu").order_by("lieu__libelle", "nature", "pk")),
            financieres=DonneesFinancieres.objects.filter(declaration=declaration).first(),
        )
    peut_instruire = perms.peut_instruire(request.user, declaration)
    return render(
        request,
        "afas/instruction/declaration_caf.html",
        {
            "declaration": declaration,
            "contenu": contenu,
            "recepisses": recepisses,
            "dernier_recepisse": recepisses[-1] if recepisses else None,
            "evenements": list(declaration.evenements.select_related("par").order_by("le", "pk")),
            "peut_instruire": peut_instruire,
            "form_validation": validation or ValidationDeclarationForm(),
            "form_renvoi": renvoi or RenvoiForm(),
            "fil": _fil(),
        },
        status=status,
    )


@require_GET
def declaration_caf(request, pk: int):
    return _page_caf(request, _declaration_caf(request, pk))


@require_http_methods(["GET", "POST"])
def valider(request, pk: int):
    """« Valider » : la page de la déclaration (GET) ; l'envoi confirmé la valide."""
    declaration = _declaration_caf(request, pk)
    form = ValidationDeclarationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.declaration_valider(par=request.user, declaration=declaration)
        except ErreurMetier as erreur:
            messages.error(request, erreur.message)
            return redirect("afas:declaration_caf", pk=declaration.pk)
        messages.success(request, "La déclaration est validée ; l'approbateur en est informé par courriel.")
        return redirect("afas:declarations_recues")
    return _page_caf(request, declaration, validation=form)


@require_http_methods(["GET", "POST"])
def renvoyer(request, pk: int):
    """« Renvoyer pour correction » : commentaire obligatoire, affiché sous le champ s'il manque."""
    declaration = _declaration_caf(request, pk)
    form = RenvoiForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.declaration_renvoyer(
                par=request.user, declaration=declaration, commentaire=form.cleaned_data["commentaire"]
            )
        except ErreurMetier as erreur:
            if erreur.champ:
                refus_afficher(form, erreur)
                return _page_caf(request, declaration, renvoi=form)
            messages.error(request, erreur.message)
            return redirect("afas:declaration_caf", pk=declaration.pk)
        messages.success(
            request, "La déclaration est renvoyée pour correction ; ses déclarants en sont informés par courriel."
        )
        return redirect("afas:declarations_recues")
    return _page_caf(request, declaration, renvoi=form)
