"""Gestion des conventions par les agents de la Caf pivot : valider, clôturer.

Formaliser une convention et enregistrer un avenant nomment un administrateur (compte existant
ou créé sur place) : ces deux écrans sont dans la couche des comptes,
``habilitations.administration.administrateurs``, qui réutilise les aides ci-dessous.

Les vues lisent, autorisent, appellent le service, affichent. Une convention est cherchée parmi
celles que l'utilisateur voit (404 sinon), puis seul un agent de la Caf pivot la gère (404 aussi :
un superviseur ou un administrateur la voit mais ne la gère pas, et la page ne le lui révèle pas).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from conventions import perms, services
from conventions.enums import EtatConvention
from conventions.gestion.forms import CloturerForm, ConfirmationForm
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from portail.socle.navigation import fil_ariane

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from conventions.models import Convention, Mandat

logger = logging.getLogger(__name__)


def convention_geree(request: HttpRequest, pk: int) -> Convention:
    """La convention, si l'utilisateur la voit ET la gère ; 404 dans tous les autres cas."""
    convention = get_object_or_404(perms.conventions_visibles(request.user).select_related("caf", "organisme"), pk=pk)
    if not perms.peut_gerer_convention(request.user, convention):
        raise Http404
    return convention


def administrateur_en_fonction(convention: Convention) -> Mandat | None:
    """Le mandat ouvert aujourd'hui, ou, pour une convention qui n'a pas encore commencé, celui
    de son premier jour."""
    return services.mandat_ouvert(convention, max(aujourdhui(), convention.date_ouverture))


def _profils_par_service(convention: Convention) -> list[tuple[str, list[str]]]:
    """Les profils accordés, groupés par service (une requête)."""
    groupes: dict[str, list[str]] = {}
    for profil in convention.profils.select_related("service").order_by("service__ordre", "pk"):
        groupes.setdefault(profil.service.libelle, []).append(profil.libelle)
    return list(groupes.items())


def rendre_gestion(
    request: HttpRequest, gabarit: str, convention: Convention, mandat: Mandat | None, **contexte: object
) -> HttpResponse:
    """Valider, clôturer et enregistrer un avenant montrent la convention de la même façon : son
    récapitulatif (``_gestion_convention_resume.html`` : administrateur ``mandat``, profils par
    service) sous le fil « … > Consulter les conventions > libellé de la convention »."""
    liste = reverse("conventions:conventions")
    fil = fil_ariane(
        ("Conventions", liste),
        ("Consulter les conventions", liste),
        (convention.libelle, reverse("conventions:convention", args=[convention.pk])),
    )
    return render(
        request,
        gabarit,
        {
            "convention": convention,
            "mandat": mandat,
            "profils_par_service": _profils_par_service(convention),
            "fil": fil,
            **contexte,
        },
    )


# --- Valider ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def convention_valider(request: HttpRequest, pk: int) -> HttpResponse:
    """GET : récapitulatif à confirmer ; POST : « En cours » → « Validée le … »."""
    convention = convention_geree(request, pk)
    form = ConfirmationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            convention = services.convention_valider(par=request.user, convention=convention)
        except ErreurMetier as exc:
            form.add_error(None, str(exc))
            convention.refresh_from_db()  # l'état laissé par un autre agent, s'il a agi entre-temps
        else:
            mandat = administrateur_en_fonction(convention)
            messages.success(request, _message_validee(convention, mandat))
            return redirect("conventions:convention", pk=convention.pk)
    return rendre_gestion(
        request,
        "conventions/valider.html",
        convention,
        administrateur_en_fonction(convention),
        form=form,
        deja_validee=convention.etat == EtatConvention.VALIDEE,
    )


def _message_validee(convention: Convention, mandat: Mandat | None) -> str:
    message = f"La convention est validée le {convention.validee_le:%d/%m/%Y}"
    if mandat is None:
        return f"{message}."
    qui = f"l'administrateur {mandat.administrateur.get_full_name()} ({mandat.administrateur.identifiant})"
    if convention.date_ouverture > aujourdhui():
        return f"{message} ; {qui} y aura accès à partir du {convention.date_ouverture:%d/%m/%Y}."
    return f"{message} ; {qui} y a désormais accès."


# --- Clôturer -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def convention_cloturer(request: HttpRequest, pk: int) -> HttpResponse:
    """Fixe la date de clôture, après confirmation explicite : à cette date, tout accès ouvert
    par la convention se ferme."""
    convention = convention_geree(request, pk)
    jour = aujourdhui()
    deja_cloturee = convention.est_cloture(jour)
    form = CloturerForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and not deja_cloturee and form.is_valid():
        date_cloture = form.cleaned_data["date_cloture"]
        try:
            convention = services.convention_cloturer(
                par=request.user, convention=convention, date_cloture=date_cloture
            )
        except ErreurMetier as exc:
            form.add_error("date_cloture", str(exc))
        else:
            if date_cloture == jour:
                message = (
                    f"La convention « {convention.libelle} » est clôturée ce jour : tous les accès qu'elle "
                    "ouvrait sont fermés."
                )
            else:
                message = (
                    f"La convention « {convention.libelle} » sera clôturée le {date_cloture:%d/%m/%Y} : à cette "
                    "date, tous les accès qu'elle ouvre seront fermés."
                )
            messages.success(request, message)
            return redirect("conventions:convention", pk=convention.pk)
    elif request.method == "POST" and deja_cloturee:
        form.add_error(None, f"Cette convention est déjà clôturée depuis le {convention.date_cloture:%d/%m/%Y}.")
    return rendre_gestion(
        request,
        "conventions/cloturer.html",
        convention,
        administrateur_en_fonction(convention),
        form=form,
        deja_cloturee=deja_cloturee,
    )
