"""Gestion des conventions par les agents de la Caf pivot : formaliser, valider, clôturer,
enregistrer un avenant.

Les vues lisent, autorisent, appellent le service, affichent. Une convention est cherchée parmi
celles que l'utilisateur voit (404 sinon), puis seul un agent de la Caf pivot la gère (404 aussi :
un superviseur ou un administrateur la voit mais ne la gère pas, et la page ne le lui révèle pas).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from conventions import perms, services
from conventions.enums import EtatConvention, TypeAvenant
from conventions.gestion.forms import AvenantForm, CloturerForm, ConfirmationForm, FormaliserForm, OrganismeChoixFiltre
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import refus_afficher
from portail.socle.jetons import Jetons
from portail.socle.listes import cle_primaire, paginer, trier
from portail.socle.navigation import fil_ariane

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from conventions.models import Avenant, Convention, Mandat, Organisme

logger = logging.getLogger(__name__)

# Jetons à usage unique de « Formaliser une convention » (voir portail/jetons.py).
JETONS = Jetons("conventions:formaliser")
MESSAGE_DEJA_ENVOYE = "Ce formulaire a déjà été envoyé : la convention n'a pas été formalisée une seconde fois."


def _convention_geree(request: HttpRequest, pk: int) -> Convention:
    """La convention, si l'utilisateur la voit ET la gère ; 404 dans tous les autres cas."""
    convention = get_object_or_404(perms.conventions_visibles(request.user).select_related("caf", "organisme"), pk=pk)
    if not perms.peut_gerer_convention(request.user, convention):
        raise Http404
    return convention


def _administrateur_en_fonction(convention: Convention) -> Mandat | None:
    """Le mandat ouvert aujourd'hui, ou, pour une convention qui n'a pas encore commencé, celui
    de son premier jour."""
    return services.mandat_ouvert(convention, max(aujourdhui(), convention.date_ouverture))


def _profils_par_service(convention: Convention) -> list[tuple[str, list[str]]]:
    """Les profils accordés, groupés par service (une requête)."""
    groupes: dict[str, list[str]] = {}
    for profil in convention.profils.select_related("service").order_by("service__ordre", "pk"):
        groupes.setdefault(profil.service.libelle, []).append(profil.libelle)
    return list(groupes.items())


def _rendre_gestion(
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


# --- Formaliser ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def convention_formaliser(request: HttpRequest) -> HttpResponse:
    """Sans ``?organisme=`` : choisir l'organisme parmi ceux de sa Caf ; avec : le formulaire."""
    if not perms.est_agent_caf(request.user):
        raise PermissionDenied
    organisme_pk = request.GET.get("organisme", "")
    if not organisme_pk:
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return _choisir_organisme(request)
    if cle_primaire(organisme_pk) is None:
        raise Http404
    organisme = get_object_or_404(
        perms.organismes_visibles(request.user).select_related("caf"), pk=cle_primaire(organisme_pk)
    )

    if request.method == "GET":
        form = FormaliserForm(organisme=organisme)
        return _rendre_formaliser(request, form, organisme, JETONS.emettre(request))

    jeton = request.POST.get("jeton", "")
    if not JETONS.reserver(request, jeton):
        messages.error(request, MESSAGE_DEJA_ENVOYE)
        deja = JETONS.objet_cree(request, jeton)
        if deja is not None and perms.conventions_visibles(request.user).filter(pk=deja).exists():
            return redirect("conventions:convention", pk=deja)
        return redirect(f"{reverse('conventions:convention_formaliser')}?organisme={organisme.pk}")

    form = FormaliserForm(request.POST, organisme=organisme)
    convention = None
    try:
        if form.is_valid():
            convention = services.convention_formaliser(
                par=request.user,
                organisme=organisme,
                libelle=form.cleaned_data["libelle"],
                date_ouverture=form.cleaned_data["date_ouverture"],
                date_cloture=form.cleaned_data["date_cloture"],
                profils=form.cleaned_data["profils"],
                **form.administrateur_arguments(),
            )
    except ErreurMetier as exc:
        form.add_error(None, str(exc))
    finally:
        if convention is None:
            # Rien n'a été créé (saisie refusée, règle métier, ou erreur imprévue) : le même
            # formulaire, corrigé, peut être renvoyé.
            JETONS.liberer(jeton)
    if convention is None:
        return _rendre_formaliser(request, form, organisme, jeton)

    JETONS.consommer(request, jeton, convention.pk)
    mandat = convention.mandats.select_related("administrateur").get()
    administrateur = mandat.administrateur
    if "nouvel_administrateur" in form.administrateur_arguments():
        suite = (
            f"Un courriel a été envoyé à {administrateur.email} avec l'identifiant {administrateur.identifiant} "
            "de l'administrateur, un second avec son mot de passe provisoire (valable 24 heures). "
        )
    else:
        suite = f"L'administrateur est {administrateur.get_full_name()} ({administrateur.identifiant}). "
    messages.success(
        request,
        f"La convention « {convention.libelle} » est formalisée (état : En cours). {suite}"
        "Validez-la pour ouvrir les accès de l'administrateur.",
    )
    logger.info("convention %s formalisée par l'agent %s", convention.pk, request.user.pk)
    return redirect("conventions:convention", pk=convention.pk)


def _rendre_formaliser(request: HttpRequest, form: FormaliserForm, organisme: Organisme, jeton: str) -> HttpResponse:
    fil = fil_ariane(
        ("Conventions", reverse("conventions:conventions")),
        ("Formaliser une convention", reverse("conventions:convention_formaliser")),
    )
    return render(
        request,
        "conventions/formaliser.html",
        {"form": form, "organisme": organisme, "caf": request.user.caf, "jeton": jeton, "fil": fil},
    )


# Tri de la liste des organismes : liste blanche (paramètre « tri », « -champ » pour l'inverse).
TRIS_ORGANISMES = {
    "raison_sociale": ("raison_sociale",),
    "siret": ("siret",),
    "type": ("type_organisme__libelle",),
    "commune": ("commune",),
}


def _choisir_organisme(request: HttpRequest) -> HttpResponse:
    """Les organismes de sa Caf, cherchés par raison sociale ou SIRET, 25 par page."""
    filtre = OrganismeChoixFiltre(
        request.GET,
        queryset=perms.organismes_visibles(request.user).select_related("type_organisme"),
    )
    tri = request.GET.get("tri", "")
    organismes = trier(request, filtre.qs, TRIS_ORGANISMES, ("raison_sociale",))
    return render(
        request,
        "conventions/formaliser_choix_organisme.html",
        {
            "filtre": filtre,
            "page": paginer(request, organismes),
            "tri": tri if tri.removeprefix("-") in TRIS_ORGANISMES else "",
            "recherche": request.GET.get("recherche", "").strip(),
            "fil": fil_ariane(("Conventions", reverse("conventions:conventions"))),
        },
    )


# --- Valider ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def convention_valider(request: HttpRequest, pk: int) -> HttpResponse:
    """GET : récapitulatif à confirmer ; POST : « En cours » → « Validée le … »."""
    convention = _convention_geree(request, pk)
    form = ConfirmationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            convention = services.convention_valider(par=request.user, convention=convention)
        except ErreurMetier as exc:
            form.add_error(None, str(exc))
            convention.refresh_from_db()  # l'état laissé par un autre agent, s'il a agi entre-temps
        else:
            mandat = _administrateur_en_fonction(convention)
            messages.success(request, _message_validee(convention, mandat))
            return redirect("conventions:convention", pk=convention.pk)
    return _rendre_gestion(
        request,
        "conventions/valider.html",
        convention,
        _administrateur_en_fonction(convention),
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
    convention = _convention_geree(request, pk)
    jour = aujourdhui()
    deja_cloturee = convention.date_cloture is not None and convention.date_cloture <= jour
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
    return _rendre_gestion(
        request,
        "conventions/cloturer.html",
        convention,
        _administrateur_en_fonction(convention),
        form=form,
        deja_cloturee=deja_cloturee,
    )


# --- Avenant ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def avenant_enregistrer(request: HttpRequest, pk: int) -> HttpResponse:
    """Avenant daté d'une convention validée et non clôturée ; un changement d'administrateur
    nomme un compte existant de l'organisme ou en crée un."""
    convention = _convention_geree(request, pk)
    jour = aujourdhui()
    mandat = _administrateur_en_fonction(convention)
    possible = convention.etat == EtatConvention.VALIDEE and (
        convention.date_cloture is None or convention.date_cloture > jour
    )
    form = AvenantForm(
        request.POST if request.method == "POST" else None,
        organisme=convention.organisme,
        administrateur_actuel=mandat.administrateur if mandat else None,
    )
    if request.method == "POST" and not possible:
        form.add_error(None, _raison_impossible(convention))
    elif request.method == "POST" and form.is_valid():
        try:
            avenant = services.avenant_enregistrer(
                par=request.user,
                convention=convention,
                type_avenant=form.cleaned_data["type_avenant"],
                objet=form.cleaned_data["objet"],
                date_effet=form.cleaned_data["date_effet"],
                **form.administrateur_arguments(),
            )
        except ErreurMetier as exc:
            refus_afficher(form, exc)
        else:
            messages.success(request, _message_avenant(avenant))
            return redirect("conventions:convention", pk=convention.pk)
    return _rendre_gestion(
        request,
        "conventions/avenant.html",
        convention,
        mandat,
        form=form,
        changements_programmes=convention.mandats.filter(avenant__isnull=False, date_ouverture__gt=jour)
        .select_related("administrateur")
        .order_by("date_ouverture"),
        possible=possible,
        raison_impossible="" if possible else _raison_impossible(convention),
    )


def _raison_impossible(convention: Convention) -> str:
    if convention.etat != EtatConvention.VALIDEE:
        return "Cette convention n'est pas encore validée : elle se corrige avant validation, l'avenant suit la validation."
    return (
        f"Cette convention est clôturée depuis le {convention.date_cloture:%d/%m/%Y} : elle n'accepte plus d'avenant."
    )


def _message_avenant(avenant: Avenant) -> str:
    message = f"L'avenant n° {avenant.numero} est enregistré (date d'effet : {avenant.date_effet:%d/%m/%Y})."
    if avenant.type_avenant == TypeAvenant.ADMINISTRATEUR:
        nouveau = avenant.nouvel_administrateur
        quand = (
            "dès aujourd'hui" if avenant.date_effet == aujourdhui() else f"à partir du {avenant.date_effet:%d/%m/%Y}"
        )
        message += (
            f" {nouveau.get_full_name()} ({nouveau.identifiant}) administre la convention {quand} ; "
            "l'ancien et le nouvel administrateur en sont avertis par courriel."
        )
    return message
