"""Écrans de l'agent Caf : « Approbateurs à valider » (valider, refuser) et l'état de préparation
des partenaires de sa Caf pour l'appel de déclaration. Hors rôle : 403 ; demande d'une autre
Caf : 404."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from html import escape as echapper

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from afas import perms, services
from afas.attribution import etat_preparation
from afas.enums import DecisionCaf
from afas.models import Activite, ValidationApprobateur
from afas.validation.filtres import ValidationFiltre
from afas.validation.forms import RefusForm, ValidationForm
from portail.socle.adresses import adresse_par_cle
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


# Ce que montre une ligne de la file (``afas/validations.html``).
COLONNES_LIGNE = (
    "decision",
    "date_ouverture",
    "demandee_le",
    "decidee_le",
    "motif",
    "utilisateur__nom",
    "utilisateur__prenom",
    "utilisateur__identifiant",
    "organisme__raison_sociale",
    "activite__libelle",
    "demandee_par__nom",
    "demandee_par__prenom",
    "decidee_par__nom",
    "decidee_par__prenom",
)


def _date(jour: datetime.date) -> str:
    """Le filtre de gabarit ``date:"d/m/Y"``."""
    return f"{jour.day:02d}/{jour.month:02d}/{jour.year:04d}"


def _jour(moment: datetime.datetime) -> str:
    """``moment|date:"d/m/Y"`` d'un gabarit : le jour à l'heure locale (Paris)."""
    return _date(timezone.localtime(moment))


def _lignes(validations: Iterable[ValidationApprobateur]) -> SafeString:
    """Les lignes de la file en HTML, chaque texte échappé comme le fait un gabarit
    (``html.escape``, celui de ``django.utils.html.escape``) : écrites par le gabarit, les 25
    lignes coûtaient le quart du processeur de la page."""
    valider, refuser = adresse_par_cle("afas:valider"), adresse_par_cle("afas:refuser")
    corps = []
    for v in validations:
        u = v.utilisateur
        demandeur = echapper(v.demandee_par.get_full_name()) if v.demandee_par else "—"
        decision = echapper(str(v.get_decision_display()))
        if v.decidee_par:
            decision += f" par {echapper(v.decidee_par.get_full_name())} le {_jour(v.decidee_le)}"
        if v.motif:
            decision += f" — {echapper(v.motif)}"
        action = ""
        if v.decision == DecisionCaf.EN_ATTENTE:
            action = (
                '<ul class="fr-btns-group fr-btns-group--sm fr-btns-group--inline">'
                f'<li><a class="fr-btn fr-btn--sm" href="{valider(v.pk)}">Valider</a></li>'
                f'<li><a class="fr-btn fr-btn--sm fr-btn--secondary" href="{refuser(v.pk)}">Refuser</a></li></ul>'
            )
        corps.append(
            f'<tr><td class="fr-cell--multiline">{echapper(v.organisme.raison_sociale)}</td>'
            f"<td>{echapper(u.nom.upper())} {echapper(u.prenom)} ({echapper(u.identifiant)})</td>"
            f'<td class="fr-cell--multiline">{echapper(v.activite.libelle)}</td>'
            f"<td>{_date(v.date_ouverture)}</td><td>{demandeur}</td><td>{_jour(v.demandee_le)}</td>"
            f"<td>{decision}</td><td>{action}</td></tr>"
        )
    return mark_safe("".join(corps))  # noqa: S308 (tout est échappé ci-dessus)


def _exiger_agent(request) -> None:
    if not perms.peut_gerer_activites(request.user):
        raise PermissionDenied


def _fil():
    return fil_ariane(("Aides financières d'action sociale", reverse("afas:validations")))


@require_GET
def validations(request):
    """La file : partenaire, utilisateur, activité, demandé par qui et depuis quand."""
    _exiger_agent(request)
    # Les lignes lisent les copies que porte la demande (compte, partenaire, activité, date de
    # début : ``ValidationApprobateur.champs_copies``), les tables mêmes que joignent les tris, et
    # les seules colonnes montrées : joindre l'habilitation et sa convention pour les mêmes
    # valeurs, et lire les comptes entiers (trois par ligne), coûtait le tiers du processeur de
    # la page.
    queryset = (
        perms.validations_visibles(request.user)
        .select_related("utilisateur", "organisme", "activite", "demandee_par", "decidee_par")
        .only(*COLONNES_LIGNE)
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
            "lignes": _lignes(page),
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
