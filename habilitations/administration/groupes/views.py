"""« Groupes utilisateurs » d'une convention : la liste (l'arbre des groupes), créer un groupe,
les habilitations du groupe, ajouter un utilisateur au groupe, les appartenances du groupe.

Chaque vue commence par ``perimetre_ou_404`` (404 hors périmètre, 403 pour une page d'écriture
à qui ne fait que lire), puis cherche le groupe dans le périmètre (404 sinon). L'administrateur
gère toute la convention ; le responsable d'habilitations ne voit que ses groupes et leurs
sous-groupes, ne crée que des sous-groupes, et ne donne à un sous-groupe que ce que son parent
détient ; l'agent de la Caf pivot et la supervision nationale lisent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from habilitations import perms, services
from habilitations.administration.acces import groupe_ou_404, perimetre_ou_404
from habilitations.administration.groupes.filtres import TRIS, GroupeFilterSet, ordre_arbre
from habilitations.administration.groupes.forms import (
    AppartenanceOuvrirForm,
    GroupeCreerForm,
    ProfilAssignerForm,
    ProfilRetirerForm,
)
from habilitations.models import Appartenance, Groupe, GroupeProfil
from habilitations.validators import telephone_normaliser
from portail.socle.adresses import adresse_par_cle
from portail.socle.dates import aujourdhui, q_pas_encore_cloture
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import refus_afficher
from portail.socle.listes import PaginateurParLeBoutLePlusProche, cle_primaire, paginer, trier
from portail.socle.navigation import Lien, fil_ariane

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest, HttpResponse

    from conventions.models import Profil
    from habilitations.models import Utilisateur

logger = logging.getLogger(__name__)

# Tri de « Gérer l'appartenance » : liste blanche (paramètre « tri »).
TRIS_APPARTENANCES = {
    "identifiant": ("utilisateur__identifiant",),
    "nom": ("utilisateur__nom", "utilisateur__prenom"),
    "prenom": ("utilisateur__prenom",),
    "date_ouverture": ("date_ouverture",),
    "date_cloture": ("date_cloture",),
}
TRI_APPARTENANCES_PAR_DEFAUT = ("utilisateur__nom", "utilisateur__prenom", "-date_ouverture")


def _fil(perimetre: perms.Perimetre, *suite: tuple[str, str]) -> list[Lien]:
    """« Accueil > Partenaires > Conventions > Consulter les conventions > la convention > … »."""
    liste = reverse("conventions:conventions")
    convention = perimetre.convention
    return fil_ariane(
        ("Conventions", liste),
        ("Consulter les conventions", liste),
        (convention.libelle, reverse("conventions:convention", args=[convention.pk])),
        *suite,
    )


def _fil_groupes(perimetre: perms.Perimetre) -> list[Lien]:
    return _fil(perimetre, ("Groupes utilisateurs", reverse("gestion:groupes", args=[perimetre.convention.pk])))


def _comptes_proposables(perimetre: perms.Perimetre) -> QuerySet[Utilisateur]:
    """Les comptes qu'on peut désigner : ouverts ce jour, non suspendus, du périmètre."""
    return perms.utilisateurs_du_perimetre(perimetre).ouverts().filter(suspendu_le__isnull=True, is_active=True)


# --- Groupes utilisateurs ------------------------------------------------------------------


@require_GET
def groupes(request: HttpRequest, convention: int) -> HttpResponse:
    """« GROUPES UTILISATEURS » : les groupes du périmètre, dans l'ordre de l'arbre (chaque groupe
    suivi de ses sous-groupes, en retrait) sauf tri demandé ; filtres en GET, 25 par page."""
    perimetre = perimetre_ou_404(request, convention)
    filtre = GroupeFilterSet(
        request.GET,
        queryset=perms.groupes_du_perimetre(perimetre).select_related("parent", "responsable"),
        perimetre=perimetre,
    )
    tri = request.GET.get("tri", "")
    tri = tri if tri.removeprefix("-") in TRIS else ""
    page = paginer(request, trier(request, filtre.qs, TRIS, ordre_arbre()), par_cles=True)
    for groupe in page:
        # Retrait de l'arbre par une classe DSFR d'espacement (pas de style en ligne : CSP).
        groupe.retrait = f"fr-pl-{min(2 * (groupe.niveau - 1), 12)}w" if groupe.niveau > 1 and not tri else ""
    return render(
        request,
        "habilitations/gestion/groupes.html",
        {
            "perimetre": perimetre,
            "filtre": filtre,
            "filtre_actif": any(request.GET.get(nom, "").strip() for nom in filtre.filters),
            "page": page,
            "tri": tri,
            "fil": _fil(perimetre),
        },
    )


# --- Créer un groupe -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def groupe_creer(request: HttpRequest, convention: int) -> HttpResponse:
    """« CRÉER UN GROUPE UTILISATEURS ». Le responsable habilitations est un compte ouvert du
    périmètre, ou un compte créé sur place : créé, le groupe créé, puis rattaché au groupe comme
    membre, en une seule transaction (un refus n'a rien créé, aucun courriel ne part)."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    form = GroupeCreerForm(
        request.POST if request.method == "POST" else None,
        comptes=_comptes_proposables(perimetre),
        parents=perms.groupes_du_perimetre(perimetre).filter(q_pas_encore_cloture(aujourdhui())),
        parent_obligatoire=perimetre.responsable,
    )
    if request.method == "POST" and form.is_valid():
        try:
            groupe = _groupe_creer(request, perimetre, form)
        except ErreurMetier as exc:
            refus_afficher(form, exc)
        else:
            messages.success(request, _message_groupe_cree(groupe, form))
            logger.info("groupe %s créé par l'utilisateur %s", groupe.pk, request.user.pk)
            return redirect("gestion:groupe_habilitations", convention=perimetre.convention.pk, pk=groupe.pk)
    return render(
        request,
        "habilitations/gestion/groupe_creer.html",
        {"perimetre": perimetre, "form": form, "fil": _fil_groupes(perimetre)},
    )


def _groupe_creer(request: HttpRequest, perimetre: perms.Perimetre, form: GroupeCreerForm) -> Groupe:
    donnees = form.cleaned_data
    nouveau = None
    if form.nouveau_responsable:
        nouveau = {
            "nom": donnees["nom"],
            "prenom": donnees["prenom"],
            "email": donnees["email"],
            "telephone": telephone_normaliser(donnees.get("telephone", "")),
        }
    return services.groupe_creer_avec_responsable(
        par=request.user,
        convention=perimetre.convention,
        code=donnees["code"],
        libelle=donnees["libelle"],
        responsable=donnees.get("responsable"),
        nouveau_responsable=nouveau,
        date_ouverture=donnees["date_ouverture"],
        date_cloture=donnees.get("date_cloture"),
        parent=donnees.get("parent"),
    )


def _message_groupe_cree(groupe: Groupe, form: GroupeCreerForm) -> str:
    ou = f"sous-groupe de {groupe.parent.code}, niveau {groupe.niveau}" if groupe.parent else "niveau 1"
    message = f"Le groupe « {groupe.code} — {groupe.libelle} » est créé ({ou})."
    responsable = groupe.responsable
    if form.nouveau_responsable:
        message += (
            f" Son responsable {responsable.get_full_name()} ({responsable.identifiant}) est créé et membre du "
            f"groupe : un courriel lui a été envoyé à {responsable.email} avec son identifiant, un second avec son "
            "mot de passe provisoire (valable 24 heures)."
        )
    else:
        message += f" Responsable habilitations : {responsable.get_full_name()} ({responsable.identifiant})."
    return f"{message} Donnez-lui maintenant ses habilitations."


# --- Habilitations du groupe ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def groupe_habilitations(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """« Habilitations du groupe » : ses profils (Service, Profil) ; « Retirer » (avec
    confirmation, le retrait vaut aussi pour les sous-groupes) ; choisir un profil parmi ceux
    que la convention accorde (et, pour un sous-groupe, que son parent détient), « Assigner
    rôle », puis « Enregistrer »."""
    perimetre = perimetre_ou_404(request, convention, ecriture=request.method == "POST")
    groupe = groupe_ou_404(perimetre, pk)
    modifiable = perimetre.peut_modifier_profils(groupe)
    if request.method == "POST" and not modifiable:
        raise PermissionDenied
    detenus = list(
        GroupeProfil.objects.filter(groupe=groupe)
        .select_related("profil__service")
        .order_by("profil__service__ordre", "profil__service__code", "profil__code")
    )
    proposables = []
    if modifiable:
        proposables = list(
            perms.profils_du_perimetre(perimetre, groupe.parent)
            .exclude(pk__in=[d.profil_id for d in detenus])
            .order_by("service__ordre", "service__code", "code")
        )
    assigner = ProfilAssignerForm(proposables=proposables)
    retirer = None
    action = request.POST.get("action", "")

    if request.method == "POST" and action == "retirer":
        retirer = ProfilRetirerForm(request.POST, profils=groupe.profils.select_related("service"))
        if retirer.is_valid():
            profil = retirer.cleaned_data["profil"]
            sous_groupes = _sous_groupes_detenant(groupe, profil)
            try:
                services.groupe_profil_retirer(par=request.user, groupe=groupe, profil=profil)
            except ErreurMetier as exc:
                retirer.add_error(None, str(exc))
            else:
                messages.success(request, _message_retire(groupe, profil, sous_groupes))
                return redirect("gestion:groupe_habilitations", convention=perimetre.convention.pk, pk=groupe.pk)
        profil_a_retirer = retirer.cleaned_data.get("profil")
    elif request.method == "POST":
        assigner = ProfilAssignerForm(request.POST, proposables=proposables)
        if assigner.is_valid():
            if action == ProfilAssignerForm.ENREGISTRER and not assigner.assignes():
                assigner.add_error("profil", "Choisissez un profil et cliquez sur « Assigner rôle ».")
            elif action == ProfilAssignerForm.ENREGISTRER:
                assignes = assigner.assignes()
                try:
                    services.groupe_profils_ajouter(par=request.user, groupe=groupe, profils=assignes)
                except ErreurMetier as exc:
                    assigner.add_error(None, str(exc))
                else:
                    libelles = ", ".join(f"« {p.service.libelle} — {p.libelle} »" for p in assignes)
                    messages.success(request, f"Habilitations enregistrées pour le groupe {groupe.code} : {libelles}.")
                    return redirect("gestion:groupe_habilitations", convention=perimetre.convention.pk, pk=groupe.pk)
            elif not assigner.cleaned_data.get("profil"):
                assigner.add_error("profil", "Choisissez un profil à assigner.")
        profil_a_retirer = None
    else:
        # GET ?retirer=<profil> : la page demande confirmation (le retrait lui-même est un POST).
        profil_a_retirer = None
        retirer_pk = cle_primaire(request.GET.get("retirer", ""))
        if modifiable and retirer_pk is not None:
            profil_a_retirer = groupe.profils.select_related("service").filter(pk=retirer_pk).first()
        if profil_a_retirer is not None:
            retirer = ProfilRetirerForm(initial={"profil": profil_a_retirer.pk}, profils=groupe.profils.all())

    # Après « Assigner rôle » : les rôles assignés restent à enregistrer, le choix est vidé.
    assignes = assigner.assignes() if assigner.is_bound and hasattr(assigner, "cleaned_data") else []
    return render(
        request,
        "habilitations/gestion/groupe_habilitations.html",
        {
            "perimetre": perimetre,
            "groupe": groupe,
            "detenus": detenus,
            "modifiable": modifiable,
            "assigner": assigner,
            "assignes": assignes,
            "choix_profils": assigner.restants(assignes),
            "retirer": retirer,
            "profil_a_retirer": profil_a_retirer,
            "sous_groupes_a_retirer": _sous_groupes_detenant(groupe, profil_a_retirer) if profil_a_retirer else [],
            "fil": _fil_groupes(perimetre),
        },
    )


def _sous_groupes_detenant(groupe: Groupe, profil: Profil) -> list[str]:
    """Les codes des sous-groupes (à toute profondeur) qui perdraient aussi ce profil."""
    return sorted(
        GroupeProfil.objects.filter(profil=profil, groupe__chemin__startswith=groupe.chemin)
        .exclude(groupe=groupe)
        .values_list("groupe__code", flat=True)
    )


def _message_retire(groupe: Groupe, profil: Profil, sous_groupes: list[str]) -> str:
    message = f"Le profil « {profil.libelle} » est retiré du groupe {groupe.code}"
    if not sous_groupes:
        return f"{message}."
    lesquels = (
        f"ses sous-groupes {', '.join(sous_groupes)}" if len(sous_groupes) > 1 else f"son sous-groupe {sous_groupes[0]}"
    )
    return f"{message} et de {lesquels} (un sous-groupe ne détient jamais plus que son parent)."


# --- Ajouter l'utilisateur au groupe -------------------------------------------------------


@require_http_methods(["GET", "POST"])
def groupe_ajouter_utilisateur(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """« AJOUTER UN UTILISATEUR AU GROUPE » : un compte ouvert du périmètre, une date
    d'ouverture (aujourd'hui par défaut), une date de clôture facultative ; par la porte unique
    des appartenances."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    groupe = groupe_ou_404(perimetre, pk)
    form = AppartenanceOuvrirForm(
        request.POST if request.method == "POST" else None, comptes=_comptes_proposables(perimetre)
    )
    if request.method == "POST" and form.is_valid():
        utilisateur = form.cleaned_data["utilisateur"]
        try:
            appartenance = services.appartenance_ouvrir(
                par=request.user,
                utilisateur=utilisateur,
                groupe=groupe,
                date_ouverture=form.cleaned_data["date_ouverture"],
                date_cloture=form.cleaned_data["date_cloture"],
            )
        except ErreurMetier as exc:
            refus_afficher(form, exc, appartenance="utilisateur")
        else:
            depuis = (
                "dès aujourd'hui"
                if appartenance.date_ouverture <= aujourdhui()
                else f"à partir du {appartenance.date_ouverture:%d/%m/%Y}"
            )
            jusqu = f" jusqu'au {appartenance.date_cloture:%d/%m/%Y} (exclu)" if appartenance.date_cloture else ""
            messages.success(
                request,
                f"{utilisateur.get_full_name()} ({utilisateur.identifiant}) est membre du groupe {groupe.code} "
                f"{depuis}{jusqu}.",
            )
            return redirect("gestion:groupe_appartenances", convention=perimetre.convention.pk, pk=groupe.pk)
    return render(
        request,
        "habilitations/gestion/groupe_ajouter_utilisateur.html",
        {"perimetre": perimetre, "groupe": groupe, "form": form, "fil": _fil_groupes(perimetre)},
    )


# --- Gérer l'appartenance ------------------------------------------------------------------


@require_GET
def groupe_appartenances(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """Les membres du groupe (toutes leurs appartenances, passées, en cours et à venir), avec
    « Modifier » et « Clôturer » pour qui peut écrire. Un responsable n'y voit pas les
    administrateurs de la convention."""
    perimetre = perimetre_ou_404(request, convention)
    groupe = groupe_ou_404(perimetre, pk)
    appartenances = Appartenance.objects.filter(perms.q_membre_du_perimetre(perimetre), groupe=groupe).select_related(
        "utilisateur"
    )
    tri = request.GET.get("tri", "")
    page = paginer(
        request,
        trier(request, appartenances, TRIS_APPARTENANCES, TRI_APPARTENANCES_PAR_DEFAUT),
        paginateur=PaginateurParLeBoutLePlusProche,
    )
    jour = aujourdhui()
    modifier = adresse_par_cle("gestion:appartenance_modifier", perimetre.convention.pk)
    cloturer = adresse_par_cle("gestion:appartenance_cloturer", perimetre.convention.pk)
    for appartenance in page:
        appartenance.cloturable = perimetre.peut_ecrire and not appartenance.est_cloture(jour)
        appartenance.adresses = {"modifier": modifier(appartenance.pk), "cloturer": cloturer(appartenance.pk)}
    return render(
        request,
        "habilitations/gestion/groupe_appartenances.html",
        {
            "perimetre": perimetre,
            "groupe": groupe,
            "page": page,
            "tri": tri if tri.removeprefix("-") in TRIS_APPARTENANCES else "",
            "fil": _fil_groupes(perimetre),
        },
    )
