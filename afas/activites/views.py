"""Activités (équipements/services) et lieux d'implantation des partenaires, tenus par l'agent
Caf pour les organismes de sa Caf. Hors rôle : 403 ; objet d'une autre Caf : 404."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from html import escape as echapper
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from afas import perms, services
from afas.activites.filtres import ActiviteFiltre, LieuFiltre
from afas.activites.forms import ActiviteForm, CloturerForm, LieuForm
from afas.models import Activite, LieuImplantation
from portail.socle.adresses import adresse_par_cle
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import refus_afficher
from portail.socle.listes import (
    PaginateurCompteAvecLaPage,
    PaginateurParLeBoutLePlusProche,
    paginer,
    q_parmi_requete,
    trier,
)
from portail.socle.navigation import fil_ariane

if TYPE_CHECKING:
    from django.http import HttpResponse

TRI_ACTIVITES = {
    "partenaire": ("organisme__raison_sociale",),
    "libelle": ("libelle",),
    "numero_equipement": ("numero_equipement",),
    "type_activite": ("type_activite", "nature"),
    "date_ouverture": ("date_ouverture",),
    "date_cloture": ("date_cloture",),
}
TRI_LIEUX = {
    "partenaire": ("activite__organisme__raison_sociale",),
    "activite": ("activite__libelle",),
    "libelle": ("libelle",),
    "commune": ("commune",),
    "date_ouverture": ("date_ouverture",),
    "date_cloture": ("date_cloture",),
}
# Les filtres « contient » / « commence par » de la liste des activités, que PostgreSQL ne sait pas
# estimer : eux seuls font chercher les activités par la liste des organismes de la Caf.
FILTRES_TEXTE_ACTIVITES = ("partenaire", "libelle", "numero_equipement")


def _exiger_agent(request) -> None:
    if not perms.peut_gerer_activites(request.user):
        raise PermissionDenied


def _fil(*liens):
    return fil_ariane(("Aides financières d'action sociale", reverse("afas:activites")), *liens)


def _par_organismes_de_la_caf(activites: QuerySet[Activite], user) -> QuerySet[Activite]:
    """Les mêmes activités (celles des organismes de la Caf de l'agent, ``perms.activites_gerees``),
    cherchées par la liste de ces organismes, lue une fois en tableau (``q_parmi_requete``). Sans
    elle, un filtre « libellé contient » que PostgreSQL ne sait pas estimer (8 lignes prévues,
    15 000 lues) lui faisait parcourir les 80 000 activités du pays et chercher l'organisme de
    chacune pour n'en garder que les 6 000 de la Caf (40 ms pour le compte, autant pour la page) ;
    par le tableau, il lit l'index (organisme, libellé) des seuls organismes de la Caf.

    Sans filtre de texte, le tableau nuit : la double condition (jointure à la Caf et tableau)
    faisait prévoir 120 activités au lieu de 6 000, et PostgreSQL les triait toutes pour chaque
    page (11 ms) au lieu de parcourir les organismes de la Caf dans l'ordre de leur nom (index
    (caf, raison sociale)) et de s'arrêter à la page (1 ms)."""
    return activites.filter(q_parmi_requete("organisme_id", perms.organismes_geres(user).values("pk")))


def _nombre_lieux() -> Coalesce:
    """Le nombre de lieux (ouverts ou clos) de l'activité, en sous-requête : évaluée pour les seules
    lignes de la page, quand ``Count("lieux")`` joignait et groupait toutes les activités filtrées,
    comptage de la pagination compris."""
    lieux = (
        LieuImplantation.objects.filter(activite=OuterRef("pk"))
        .order_by()
        .values("activite")
        .annotate(nombre=Count("pk"))
        .values("nombre")
    )
    return Coalesce(Subquery(lieux, output_field=IntegerField()), Value(0))


def _date(jour: datetime.date | None) -> str:
    """Le filtre de gabarit ``date:"d/m/Y"|default:"—"``."""
    return f"{jour.day:02d}/{jour.month:02d}/{jour.year:04d}" if jour else "—"


def _lignes_activites(activites: Iterable[Activite]) -> SafeString:
    """Les lignes du tableau des activités en HTML, chaque texte échappé comme le fait un gabarit
    (``html.escape``, celui de ``django.utils.html.escape``) : écrites par le gabarit, les 25
    lignes coûtaient le tiers du processeur de la page (6 ms sur 18)."""
    adresse = adresse_par_cle("afas:activite")
    corps = []
    for a in activites:
        nature = f" — {echapper(a.get_nature_display())}" if a.nature else ""
        corps.append(
            f'<tr><td class="fr-cell--multiline">{echapper(a.organisme.raison_sociale)}</td>'
            f'<td class="fr-cell--multiline"><a class="fr-link" href="{adresse(a.pk)}">{echapper(a.libelle)}</a></td>'
            f"<td>{echapper(a.numero_equipement)}</td>"
            f"<td>{echapper(a.get_type_activite_display())}{nature}</td>"
            f"<td>{int(a.nombre_lieux)}</td>"
            f"<td>{_date(a.date_ouverture)}</td><td>{_date(a.date_cloture)}</td>"
            f"<td>{echapper(str(a.get_statut_display()))}</td></tr>"
        )
    return mark_safe("".join(corps))  # noqa: S308 (tout est échappé ci-dessus)


def _lignes_lieux(lieux: Iterable[LieuImplantation]) -> SafeString:
    """Les lignes du tableau des lieux en HTML, comme ``_lignes_activites``."""
    adresse = adresse_par_cle("afas:activite")
    corps = []
    for lieu in lieux:
        activite = lieu.activite
        corps.append(
            f'<tr><td class="fr-cell--multiline">{echapper(activite.organisme.raison_sociale)}</td>'
            f'<td class="fr-cell--multiline"><a class="fr-link" href="{adresse(lieu.activite_id)}">'
            f"{echapper(activite.libelle)}</a></td>"
            f'<td class="fr-cell--multiline">{echapper(lieu.libelle)}</td>'
            f"<td>{echapper(lieu.commune) or '—'}</td>"
            f"<td>{_date(lieu.date_ouverture)}</td><td>{_date(lieu.date_cloture)}</td>"
            f"<td>{echapper(str(lieu.get_statut_display()))}</td></tr>"
        )
    return mark_safe("".join(corps))  # noqa: S308 (tout est échappé ci-dessus)


@require_GET
def activites(request):
    _exiger_agent(request)
    queryset = perms.activites_gerees(request.user).select_related("organisme")
    texte = any(request.GET.get(nom) for nom in FILTRES_TEXTE_ACTIVITES)
    if texte:
        queryset = _par_organismes_de_la_caf(queryset, request.user)
    filtre = ActiviteFiltre(request.GET or None, queryset=queryset.annotate(nombre_lieux=_nombre_lieux()))
    # Clés de la page d'abord (les dernières pages lues depuis la fin de la liste, qui coûtent
    # alors autant que les premières), puis ses 25 lignes et leur nombre de lieux.
    page = paginer(
        request,
        trier(request, filtre.qs, TRI_ACTIVITES, ("organisme__raison_sociale", "libelle")),
        # Sous un filtre de texte, qu'aucun index ne compte ni ne parcourt dans l'ordre, le nombre
        # et les clés de la page en une seule lecture des activités de la Caf (deux sinon).
        paginateur=PaginateurCompteAvecLaPage if texte else PaginateurParLeBoutLePlusProche,
    )
    return render(
        request,
        "afas/activites.html",
        {
            "filtre": filtre,
            "page": page,
            "lignes": _lignes_activites(page),
            "filtre_actif": any(request.GET.get(nom) for nom in filtre.filters),
            "fil": _fil(),
        },
    )


@require_GET
def lieux(request):
    _exiger_agent(request)
    queryset = perms.lieux_geres(request.user).select_related("activite__organisme")
    filtre = LieuFiltre(request.GET or None, queryset=queryset)
    # Clés de la page d'abord, depuis le bout le plus proche : dans l'ordre par défaut, PostgreSQL
    # parcourt l'index du libellé des activités (à rebours pour les dernières pages), garde celles
    # de la Caf, trie les lieux de chacune et s'arrête à la page, au lieu de joindre et trier les
    # 6 700 lieux de la Caf (20 ms) pour en jeter 6 675.
    page = paginer(
        request,
        trier(request, filtre.qs, TRI_LIEUX, ("activite__libelle", "libelle")),
        paginateur=PaginateurParLeBoutLePlusProche,
    )
    return render(
        request,
        "afas/lieux.html",
        {
            "filtre": filtre,
            "page": page,
            "lignes": _lignes_lieux(page),
            "filtre_actif": any(request.GET.get(nom) for nom in filtre.filters),
            "fil": _fil(),
        },
    )


@require_GET
def activite(request, pk: int):
    _exiger_agent(request)
    activite = get_object_or_404(perms.activites_gerees(request.user).select_related("organisme"), pk=pk)
    return render(
        request,
        "afas/activite.html",
        {
            "activite": activite,
            "lieux": activite.lieux.order_by("libelle", "pk"),
            "fil": _fil(("Activités", reverse("afas:activites"))),
        },
    )


def _formulaire(request, form, titre: str, retour: str, **contexte):
    return render(
        request,
        "afas/formulaire.html",
        {
            "form": form,
            "titre": titre,
            "retour": retour,
            "fil": _fil(("Activités", reverse("afas:activites"))),
            **contexte,
        },
    )


def _enregistrer(request, form, acte: Callable[[dict], int], succes: str) -> HttpResponse | None:
    """Un envoi valide appelle le service (``acte`` rend l'activité à montrer ensuite) : refus
    sous son champ, ou message de succès et retour à la fiche de l'activité. None sinon (la page
    du formulaire se réaffiche)."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        activite_pk = acte(form.cleaned_data)
    except ErreurMetier as erreur:
        refus_afficher(form, erreur)
        return None
    messages.success(request, succes)
    return redirect("afas:activite", activite_pk)


@require_http_methods(["GET", "POST"])
def activite_creer(request):
    _exiger_agent(request)
    form = ActiviteForm(
        request.POST or None, organismes=perms.organismes_geres(request.user).order_by("raison_sociale")
    )
    if request.method == "POST" and form.is_valid():
        try:
            activite = services.activite_creer(par=request.user, **form.cleaned_data)
        except ErreurMetier as erreur:
            refus_afficher(form, erreur)
        else:
            messages.success(request, f"L'activité « {activite.libelle} » est enregistrée.")
            return redirect("afas:activite", activite.pk)
    return _formulaire(request, form, "Enregistrer une activité", reverse("afas:activites"))


@require_http_methods(["GET", "POST"])
def activite_modifier(request, pk: int):
    _exiger_agent(request)
    activite = get_object_or_404(perms.activites_gerees(request.user), pk=pk)
    initial = {
        c: getattr(activite, c) for c in ("libelle", "type_activite", "nature", "date_ouverture", "date_cloture")
    }
    form = ActiviteForm(request.POST or None, initial=initial, modification=True)
    reponse = _enregistrer(
        request,
        form,
        lambda d: services.activite_modifier(par=request.user, activite=activite, **d).pk,
        "L'activité est modifiée.",
    )
    retour = reverse("afas:activite", args=[activite.pk])
    return reponse or _formulaire(request, form, f"Modifier l'activité {activite.libelle}", retour)


@require_http_methods(["GET", "POST"])
def activite_cloturer(request, pk: int):
    _exiger_agent(request)
    activite = get_object_or_404(perms.activites_gerees(request.user), pk=pk)
    form = CloturerForm(request.POST or None)
    reponse = _enregistrer(
        request,
        form,
        lambda d: services.activite_cloturer(par=request.user, activite=activite, date_cloture=d["date_cloture"]).pk,
        "L'activité est clôturée, avec ses lieux d'implantation.",
    )
    return reponse or _formulaire(
        request,
        form,
        f"Clôturer l'activité {activite.libelle}",
        reverse("afas:activite", args=[activite.pk]),
        avertissement="À la date de clôture, ses lieux d'implantation ferment aussi et les habilitations AFAS sur cette activité cessent d'avoir effet.",
    )


@require_http_methods(["GET", "POST"])
def lieu_creer(request, activite: int):
    _exiger_agent(request)
    activite = get_object_or_404(perms.activites_gerees(request.user), pk=activite)
    form = LieuForm(request.POST or None)
    reponse = _enregistrer(
        request,
        form,
        lambda d: services.lieu_creer(par=request.user, activite=activite, **d).activite_id,
        "Le lieu d'implantation est enregistré.",
    )
    retour = reverse("afas:activite", args=[activite.pk])
    return reponse or _formulaire(request, form, f"Ajouter un lieu d'implantation à {activite.libelle}", retour)


@require_http_methods(["GET", "POST"])
def lieu_modifier(request, pk: int):
    _exiger_agent(request)
    lieu = get_object_or_404(perms.lieux_geres(request.user), pk=pk)
    champs = ("libelle", "adresse", "code_postal", "commune", "date_ouverture", "date_cloture")
    form = LieuForm(request.POST or None, initial={c: getattr(lieu, c) for c in champs})
    reponse = _enregistrer(
        request,
        form,
        lambda d: services.lieu_modifier(par=request.user, lieu=lieu, **d).activite_id,
        "Le lieu d'implantation est modifié.",
    )
    retour = reverse("afas:activite", args=[lieu.activite_id])
    return reponse or _formulaire(request, form, f"Modifier le lieu {lieu.libelle}", retour)


@require_http_methods(["GET", "POST"])
def lieu_cloturer(request, pk: int):
    _exiger_agent(request)
    lieu = get_object_or_404(perms.lieux_geres(request.user), pk=pk)
    form = CloturerForm(request.POST or None)
    reponse = _enregistrer(
        request,
        form,
        lambda d: services.lieu_cloturer(par=request.user, lieu=lieu, date_cloture=d["date_cloture"]).activite_id,
        "Le lieu d'implantation est clôturé.",
    )
    retour = reverse("afas:activite", args=[lieu.activite_id])
    return reponse or _formulaire(request, form, f"Clôturer le lieu {lieu.libelle}", retour)
