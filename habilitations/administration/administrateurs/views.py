"""Nommer l'administrateur d'une convention (agents de la Caf pivot) : formaliser une
convention, enregistrer un avenant.

L'administrateur est un compte existant de l'organisme ou un compte créé sur place : l'acte
touche les comptes et les conventions, il s'orchestre donc dans cette couche
(``habilitations.services``), qui voit les deux. Les noms d'URL restent dans l'espace
``conventions:`` (composé par ``portail/urls.py``) et les gabarits dans ``conventions/``.

Les vues lisent, autorisent, appellent le service, affichent. Une convention est cherchée parmi
celles que l'utilisateur voit (404 sinon), puis seul un agent de la Caf pivot la gère (404 aussi,
voir ``conventions.gestion.views.convention_geree``).
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

from conventions import perms
from conventions.enums import EtatConvention, TypeAvenant
from conventions.gestion.views import administrateur_en_fonction, convention_geree, rendre_gestion
from habilitations import services
from habilitations.administration.administrateurs.forms import AvenantForm, FormaliserForm, OrganismeChoixFiltre
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import refus_afficher
from portail.socle.jetons import Jetons
from portail.socle.listes import cle_primaire, paginer, trier
from portail.socle.navigation import fil_ariane

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from conventions.models import Avenant, Convention, Organisme

logger = logging.getLogger(__name__)

# Jetons à usage unique de « Formaliser une convention » (voir portail/jetons.py).
JETONS = Jetons("conventions:formaliser")
MESSAGE_DEJA_ENVOYE = "Ce formulaire a déjà été envoyé : la convention n'a pas été formalisée une seconde fois."


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
            convention = services.convention_formaliser_avec_administrateur(
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


# --- Avenant ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def avenant_enregistrer(request: HttpRequest, pk: int) -> HttpResponse:
    """Avenant daté d'une convention validée et non clôturée ; un changement d'administrateur
    nomme un compte existant de l'organisme ou en crée un."""
    convention = convention_geree(request, pk)
    jour = aujourdhui()
    mandat = administrateur_en_fonction(convention)
    possible = convention.etat == EtatConvention.VALIDEE and not convention.est_cloture(jour)
    form = AvenantForm(
        request.POST if request.method == "POST" else None,
        organisme=convention.organisme,
        administrateur_actuel=mandat.administrateur if mandat else None,
    )
    if request.method == "POST" and not possible:
        form.add_error(None, _raison_impossible(convention))
    elif request.method == "POST" and form.is_valid():
        try:
            avenant = services.avenant_enregistrer_avec_administrateur(
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
    return rendre_gestion(
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
