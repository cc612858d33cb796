"""« Gestion des habilitations » d'une convention : la liste des utilisateurs, leur création,
modification, clôture et réouverture, le renvoi de l'identifiant, leurs appartenances aux groupes.

Chaque vue commence par ``perimetre_ou_404`` : une convention hors du périmètre répond 404, une
page d'écriture répond 403 à qui ne peut que lire (agent de la Caf pivot, supervision
nationale). Les objets sont cherchés dans le périmètre (``utilisateur_ou_404``,
``appartenance_ou_404``) : un responsable ne voit ni ne touche ce qui est hors de son sous-arbre,
ni les administrateurs. Les vues lisent, autorisent, appellent le service, affichent.
"""

from __future__ import annotations

import datetime
import logging
from html import escape as echapper
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from habilitations import perms, services
from habilitations.administration.acces import appartenance_ou_404, perimetre_ou_404, utilisateur_ou_404
from habilitations.administration.utilisateurs.filtres import TRI_PAR_DEFAUT, TRIS, UtilisateurFiltre
from habilitations.administration.utilisateurs.forms import (
    AjouterGroupeForm,
    AppartenanceCloturerForm,
    AppartenanceModifierForm,
    ConfirmationForm,
    UtilisateurCloturerForm,
    UtilisateurCreerForm,
    UtilisateurModifierForm,
)
from habilitations.administration.utilisateurs.pagination import PaginateurDuSousArbre
from portail.socle.adresses import adresse_par_cle
from portail.socle.dates import Statut, aujourdhui
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import refus_afficher
from portail.socle.jetons import Jetons
from portail.socle.listes import PaginateurParLeBoutLePlusProche, paginer, trier
from portail.socle.navigation import fil_ariane

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.db.models import QuerySet
    from django.http import HttpRequest, HttpResponse

    from habilitations.models import Appartenance, Utilisateur
    from portail.socle.navigation import Lien

logger = logging.getLogger(__name__)


# --- Ce que toutes les pages partagent -------------------------------------------------------


def _fil(perimetre: perms.Perimetre, *liens: tuple[str, str]) -> list[Lien]:
    """« Accueil > Partenaires > Conventions > Consulter les conventions > la convention > … »."""
    convention = perimetre.convention
    liste = reverse("conventions:conventions")
    return fil_ariane(
        ("Conventions", liste),
        ("Consulter les conventions", liste),
        (convention.libelle, reverse("conventions:convention", args=[convention.pk])),
        *liens,
    )


def _lien_liste(perimetre: perms.Perimetre) -> tuple[str, str]:
    return ("Liste des utilisateurs", reverse("gestion:utilisateurs", args=[perimetre.convention.pk]))


def _lien_utilisateur(perimetre: perms.Perimetre, utilisateur: Utilisateur) -> tuple[str, str]:
    return (
        utilisateur.get_full_name(),
        reverse("gestion:utilisateur", args=[perimetre.convention.pk, utilisateur.pk]),
    )


def _suivant(request: HttpRequest, defaut: str) -> str:
    """Où revenir après un acte lancé depuis une liste (la même page, mêmes filtres) : une
    adresse de ce site seulement."""
    suivant = request.POST.get("suivant", "")
    if suivant and url_has_allowed_host_and_scheme(
        suivant, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return suivant
    return defaut


# --- Liste des utilisateurs --------------------------------------------------------------------


@require_GET
def utilisateurs(request: HttpRequest, convention: int) -> HttpResponse:
    """« LISTE DES UTILISATEURS » : filtres en GET, tri par en-tête, 25 lignes par page. Le
    nombre de requêtes ne dépend pas du nombre d'utilisateurs (tout se lit sur la ligne)."""
    perimetre = perimetre_ou_404(request, convention)
    filtre = UtilisateurFiltre(
        request.GET or None, queryset=perms.utilisateurs_du_perimetre(perimetre, en_liste=True), perimetre=perimetre
    )
    # Les comptes d'un responsable (trouvés par leurs appartenances) ne se comptent ni ne se
    # parcourent par un index : nombre et page en une seule lecture (voir pagination.py). Ceux d'une convention
    # suivent l'index (convention, tri) ; les dernières pages se lisent depuis la fin.
    paginateur = PaginateurDuSousArbre if perimetre.responsable else PaginateurParLeBoutLePlusProche
    page = paginer(request, trier(request, filtre.qs, TRIS, TRI_PAR_DEFAUT), paginateur=paginateur)
    adresses = {
        action: adresse_par_cle(nom, perimetre.convention.pk)
        for action, nom in (
            ("detail", "gestion:utilisateur"),
            ("modifier", "gestion:utilisateur_modifier"),
            ("cloturer", "gestion:utilisateur_cloturer"),
            ("rouvrir", "gestion:utilisateur_rouvrir"),
            ("renvoyer", "gestion:identifiant_renvoyer"),
            ("appartenances", "gestion:appartenances"),
            ("ajouter_groupe", "gestion:utilisateur_ajouter_groupe"),
        )
    }
    return render(
        request,
        "habilitations/gestion/utilisateurs.html",
        {
            "perimetre": perimetre,
            "filtre": filtre,
            "page": page,
            "lignes": _lignes_utilisateurs(request, perimetre, page, adresses),
            "filtre_actif": any(request.GET.get(nom) for nom in filtre.filters),
            "fil": _fil(perimetre),
        },
    )


def _date(jour: datetime.date | None) -> str:
    """Le filtre de gabarit ``date:"d/m/Y"`` (vide sans date)."""
    return f"{jour.day:02d}/{jour.month:02d}/{jour.year:04d}" if jour else ""


def _lignes_utilisateurs(
    request: HttpRequest, perimetre: perms.Perimetre, page: Iterable[Utilisateur], adresses: dict[str, Any]
) -> SafeString:
    """Les lignes du tableau en HTML, chaque texte échappé comme le fait un gabarit
    (``html.escape``, celui de ``django.utils.html.escape``) : écrites par le gabarit, les 25
    lignes coûtaient le tiers du processeur de la page (5 ms sur 15).

    Comme dans les guides : « Désactivé » / « Suspendu » à la place de l'adresse mail ; Modifier
    et Clôturer pour un compte ouvert, Rouvrir pour un compte clos, suspendu ou dont la clôture est
    programmée (Clôturer et Rouvrir décidés par habilitations.perms, pas ici) ; « Autres actions » :
    le menu « Choisir… » des guides, un <details> natif (sans script, CSP), les actes d'écriture
    pour qui peut écrire."""
    ecrire = perimetre.peut_ecrire
    suivant = echapper(request.get_full_path())
    jeton = echapper(get_token(request)) if ecrire else ""
    jour = aujourdhui()
    corps = []
    for cible in page:
        cloture, ouvert, suspendu = cible.est_cloture(jour), cible.est_ouvert(jour), cible.est_suspendu
        nom_complet = echapper(cible.get_full_name())
        if cloture:
            adresse_mail = "Désactivé"
        elif suspendu:
            adresse_mail = "Suspendu"
        else:
            adresse_mail = echapper(cible.email)
        # Le statut d'un compte (gabarit _utilisateur_statut.html) : « Suspendu » l'emporte sur les dates.
        statut = "Suspendu" if suspendu else (Statut.OUVERT.label if ouvert else Statut.CLOTURE.label)
        corps.append(
            f"<tr><td>{echapper(cible.identifiant)}</td>"
            f'<td class="fr-cell--multiline">{echapper(cible.nom.upper())}</td>'
            f'<td class="fr-cell--multiline">{echapper(cible.prenom)}</td>'
            f'<td class="portail-coupable">{adresse_mail}</td>'
            f"<td>{echapper(cible.telephone or '') or '—'}</td>"
            f"<td>{_date(cible.date_ouverture)}</td><td>{_date(cible.date_cloture)}</td>"
            f"<td>{statut}</td>"
        )
        if ecrire:
            # Les actions de chaque ligne, décidées par le module d'autorisation.
            actions = []
            if not cloture and not suspendu:
                actions.append(_lien(adresses["modifier"](cible.pk), "Modifier", f" {nom_complet}"))
                if perms.peut_cloturer_compte(perimetre, cible):
                    actions.append(_lien(adresses["cloturer"](cible.pk), "Clôturer", f" {nom_complet}"))
            if perms.peut_rouvrir_compte(perimetre, cible):
                actions.append(_lien(adresses["rouvrir"](cible.pk), "Rouvrir", f" {nom_complet}"))
            corps.append(f'<td><ul class="fr-raw-list">{"".join(actions)}</ul></td>')
        autres = []
        if ecrire and ouvert and not suspendu:
            autres.append(
                f'<li><form method="post" action="{adresses["renvoyer"](cible.pk)}">'
                f'<input type="hidden" name="csrfmiddlewaretoken" value="{jeton}">'
                f'<input type="hidden" name="suivant" value="{suivant}">'
                '<button type="submit" class="fr-link fr-link--sm">Renvoi de l\'identifiant par mail</button>'
                "</form></li>"
            )
        autres.append(_lien(adresses["appartenances"](cible.pk), "Gérer l'appartenance de l'utilisateur"))
        if ecrire and not cloture:
            autres.append(_lien(adresses["ajouter_groupe"](cible.pk), "Ajouter à un groupe"))
        autres.append(_lien(adresses["detail"](cible.pk), "Détail de l'utilisateur"))
        corps.append(
            '<td><details class="portail-choisir"><summary class="fr-btn fr-btn--sm fr-btn--secondary">Choisir…'
            f'<span class="fr-sr-only"> (utilisateur {nom_complet})</span></summary>'
            f'<ul class="fr-raw-list fr-mt-1w">{"".join(autres)}</ul></details></td></tr>'
        )
    return mark_safe("".join(corps))  # noqa: S308 (tout est échappé ci-dessus)


def _lien(adresse: str, texte: str, pour: str = "") -> str:
    """Un lien d'action d'une ligne (``pour`` : le nom complet déjà échappé, lu par les lecteurs
    d'écran seuls)."""
    cache = f'<span class="fr-sr-only">{pour}</span>' if pour else ""
    return f'<li><a class="fr-link fr-link--sm" href="{adresse}">{texte}{cache}</a></li>'


# --- Créer un utilisateur ----------------------------------------------------------------------
#
# Jetons à usage unique contre le double envoi (voir portail/jetons.py).

JETONS = Jetons("gestion:utilisateur_creer")
MESSAGE_DEJA_ENVOYE = (
    "Ce formulaire a déjà été envoyé : aucun compte n'a été créé une seconde fois. Vérifiez la liste des "
    "utilisateurs avant de recommencer."
)


@require_http_methods(["GET", "POST"])
def utilisateur_creer(request: HttpRequest, convention: int) -> HttpResponse:
    """« Créer un utilisateur partenaire » : le compte, ses deux courriels (identifiant, mot de
    passe provisoire) et, si un groupe est choisi, son appartenance, en une transaction."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    if request.method == "GET":
        form = UtilisateurCreerForm(perimetre=perimetre)
        return _rendre_creer(request, perimetre, form, JETONS.emettre(request))

    jeton = request.POST.get("jeton", "")
    if not JETONS.reserver(request, jeton):
        messages.error(request, MESSAGE_DEJA_ENVOYE)
        deja = JETONS.objet_cree(request, jeton)
        if deja is not None and perms.utilisateurs_du_perimetre(perimetre).filter(pk=deja).exists():
            return redirect("gestion:utilisateur", convention=perimetre.convention.pk, pk=deja)
        return redirect("gestion:utilisateurs", convention=perimetre.convention.pk)

    form = UtilisateurCreerForm(request.POST, perimetre=perimetre)
    utilisateur = None
    try:
        if form.is_valid():
            utilisateur = services.utilisateur_creer_dans_convention(
                par=request.user, convention=perimetre.convention, **form.arguments_service()
            )
    except ErreurMetier as exc:
        refus_afficher(form, exc)
    finally:
        if utilisateur is None:
            JETONS.liberer(jeton)
    if utilisateur is None:
        return _rendre_creer(request, perimetre, form, jeton)

    JETONS.consommer(request, jeton, utilisateur.pk)
    message = (
        f"Le compte {utilisateur.identifiant} est créé ; l'identifiant et le mot de passe provisoire partent par "
        f"courriel à {utilisateur.email}."
    )
    groupe = form.cleaned_data["groupe"]
    if groupe is not None:
        message += f" {utilisateur.get_full_name()} est membre du groupe {groupe.code}."
    messages.success(request, message)
    logger.info("utilisateur %s créé dans la convention %s par %s", utilisateur.pk, convention, request.user.pk)
    return redirect("gestion:utilisateur", convention=perimetre.convention.pk, pk=utilisateur.pk)


def _rendre_creer(
    request: HttpRequest, perimetre: perms.Perimetre, form: UtilisateurCreerForm, jeton: str
) -> HttpResponse:
    return render(
        request,
        "habilitations/gestion/utilisateur_creer.html",
        {"perimetre": perimetre, "form": form, "jeton": jeton, "fil": _fil(perimetre, _lien_liste(perimetre))},
    )


# --- Un utilisateur : détail, modifier, clôturer, rouvrir, renvoyer l'identifiant ---------------


def _appartenances_visibles(perimetre: perms.Perimetre, utilisateur: Utilisateur) -> QuerySet[Appartenance]:
    """Ses appartenances aux groupes du périmètre (un responsable ne voit pas les autres)."""
    return (
        utilisateur.appartenances.filter(groupe__in=perms.groupes_du_perimetre(perimetre))
        .select_related("groupe")
        .order_by("-date_ouverture", "groupe__code", "pk")
    )


@require_GET
def utilisateur(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """« Détail de l'utilisateur » : identité, statut, appartenances, profils effectifs du jour
    (ce qu'il peut ouvrir aujourd'hui), dernière connexion."""
    perimetre = perimetre_ou_404(request, convention)
    cible = utilisateur_ou_404(perimetre, pk)
    return render(
        request,
        "habilitations/gestion/utilisateur.html",
        {
            "perimetre": perimetre,
            "cible": cible,
            "appartenances": _appartenances_visibles(perimetre, cible),
            "peut_cloturer": perms.peut_cloturer_compte(perimetre, cible),
            "peut_rouvrir": perms.peut_rouvrir_compte(perimetre, cible),
            "profils": perms.profils_effectifs(cible).select_related("service").order_by("service__ordre", "pk"),
            "aujourdhui": aujourdhui(),
            "fil": _fil(perimetre, _lien_liste(perimetre)),
        },
    )


@require_http_methods(["GET", "POST"])
def utilisateur_modifier(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    cible = utilisateur_ou_404(perimetre, pk)
    form = UtilisateurModifierForm(request.POST if request.method == "POST" else None, utilisateur=cible)
    if request.method == "POST" and form.is_valid():
        arguments = form.arguments_coordonnees()
        try:
            services.utilisateur_modifier(par=request.user, utilisateur=cible, **arguments)
        except ErreurMetier as exc:
            refus_afficher(form, exc)
        else:
            messages.success(request, f"Le compte {cible.identifiant} ({cible.get_full_name()}) est modifié.")
            if cible.email != arguments["email"].strip().lower():
                messages.info(
                    request,
                    f"Un lien de confirmation vient d'être envoyé à {arguments['email'].strip().lower()} : votre "
                    "adresse mail ne change qu'après avoir ouvert ce lien.",
                )
            return redirect("gestion:utilisateur", convention=perimetre.convention.pk, pk=cible.pk)
    return render(
        request,
        "habilitations/gestion/utilisateur_modifier.html",
        {
            "perimetre": perimetre,
            "cible": cible,
            "form": form,
            "fil": _fil(perimetre, _lien_liste(perimetre), _lien_utilisateur(perimetre, cible)),
        },
    )


@require_http_methods(["GET", "POST"])
def utilisateur_cloturer(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """Clôture aujourd'hui ou à une date future, après confirmation. Le refus du service (un
    administrateur sans successeur) s'affiche en tête du formulaire."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    cible = utilisateur_ou_404(perimetre, pk)
    if not perimetre.gere_les_comptes:
        raise PermissionDenied
    deja_cloture = cible.est_cloture()
    form = UtilisateurCloturerForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and deja_cloture:
        form.add_error(None, f"Ce compte est déjà clôturé depuis le {cible.date_cloture:%d/%m/%Y}.")
    elif request.method == "POST" and form.is_valid():
        date_cloture = form.cleaned_data["date_cloture"]
        try:
            services.utilisateur_cloturer(par=request.user, utilisateur=cible, date_cloture=date_cloture)
        except ErreurMetier as exc:
            refus_afficher(form, exc)
        else:
            if date_cloture == aujourdhui():
                message = f"Le compte {cible.identifiant} ({cible.get_full_name()}) est clôturé ce jour."
            else:
                message = (
                    f"Le compte {cible.identifiant} ({cible.get_full_name()}) sera clôturé le {date_cloture:%d/%m/%Y}."
                )
            messages.success(request, message)
            return redirect("gestion:utilisateurs", convention=perimetre.convention.pk)
    return render(
        request,
        "habilitations/gestion/utilisateur_cloturer.html",
        {
            "perimetre": perimetre,
            "cible": cible,
            "form": form,
            "deja_cloture": deja_cloture,
            "fil": _fil(perimetre, _lien_liste(perimetre), _lien_utilisateur(perimetre, cible)),
        },
    )


@require_http_methods(["GET", "POST"])
def utilisateur_rouvrir(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """GET : page de confirmation ; POST : rouvre un compte clôturé (ou dont la clôture est
    programmée) ou suspendu pour inactivité."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    cible = utilisateur_ou_404(perimetre, pk)
    if not perimetre.gere_les_comptes:
        raise PermissionDenied
    form = ConfirmationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.utilisateur_rouvrir(par=request.user, utilisateur=cible)
        except ErreurMetier as exc:
            form.add_error(None, str(exc))
            cible.refresh_from_db()
        else:
            messages.success(
                request,
                f"Le compte {cible.identifiant} ({cible.get_full_name()}) est rouvert ; ses appartenances aux "
                "groupes sont inchangées.",
            )
            return redirect("gestion:utilisateurs", convention=perimetre.convention.pk)
    return render(
        request,
        "habilitations/gestion/utilisateur_rouvrir.html",
        {
            "perimetre": perimetre,
            "cible": cible,
            "form": form,
            "deja_ouvert": cible.date_cloture is None and not cible.est_suspendu,
            "fil": _fil(perimetre, _lien_liste(perimetre), _lien_utilisateur(perimetre, cible)),
        },
    )


@require_POST
def identifiant_renvoyer(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """« Renvoi de l'identifiant par mail » (et d'un mot de passe provisoire à qui ne s'est
    jamais connecté), depuis le menu « Choisir… » de la liste ou le détail."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    cible = utilisateur_ou_404(perimetre, pk)
    suivant = _suivant(request, reverse("gestion:utilisateurs", args=[perimetre.convention.pk]))
    try:
        services.identifiant_renvoyer(par=request.user, utilisateur=cible)
    except ErreurMetier as exc:
        messages.error(request, str(exc))
        return redirect(suivant)
    message = f"L'identifiant {cible.identifiant} est renvoyé par courriel à {cible.email}"
    if cible.last_login is None:
        message += ", avec un nouveau mot de passe provisoire (valable 24 heures) : le compte n'a jamais servi"
    messages.success(request, f"{message}.")
    return redirect(suivant)


# --- Appartenances -------------------------------------------------------------------------------


@require_GET
def appartenances(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """« Gérer l'appartenance de l'utilisateur » : ses appartenances aux groupes du périmètre,
    closes comprises (l'historique reste), avec leurs actes pour qui peut écrire."""
    perimetre = perimetre_ou_404(request, convention)
    cible = utilisateur_ou_404(perimetre, pk)
    return render(
        request,
        "habilitations/gestion/appartenances.html",
        {
            "perimetre": perimetre,
            "cible": cible,
            "page": paginer(request, _appartenances_visibles(perimetre, cible)),
            "fil": _fil(perimetre, _lien_liste(perimetre), _lien_utilisateur(perimetre, cible)),
        },
    )


@require_http_methods(["GET", "POST"])
def utilisateur_ajouter_groupe(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """« Ajouter à un groupe » : un groupe ouvert du périmètre, à des dates ; par la porte
    unique des appartenances (``services.appartenance_ouvrir``)."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    cible = utilisateur_ou_404(perimetre, pk)
    form = AjouterGroupeForm(request.POST if request.method == "POST" else None, perimetre=perimetre)
    if request.method == "POST" and form.is_valid():
        groupe = form.cleaned_data["groupe"]
        try:
            appartenance = services.appartenance_ouvrir(
                par=request.user,
                utilisateur=cible,
                groupe=groupe,
                date_ouverture=form.cleaned_data["date_ouverture"],
                date_cloture=form.cleaned_data["date_cloture"],
            )
        except ErreurMetier as exc:
            refus_afficher(form, exc, appartenance="groupe")
        else:
            messages.success(request, _message_ajout(cible, appartenance))
            return redirect("gestion:appartenances", convention=perimetre.convention.pk, pk=cible.pk)
    return render(
        request,
        "habilitations/gestion/utilisateur_ajouter_groupe.html",
        {
            "perimetre": perimetre,
            "cible": cible,
            "form": form,
            "fil": _fil(perimetre, _lien_liste(perimetre), _lien_utilisateur(perimetre, cible)),
        },
    )


def _message_ajout(cible: Utilisateur, appartenance: Appartenance) -> str:
    groupe = appartenance.groupe
    if appartenance.date_ouverture > aujourdhui():
        quand = f"à partir du {appartenance.date_ouverture:%d/%m/%Y}"
    else:
        quand = "dès aujourd'hui"
    message = f"{cible.get_full_name()} est membre du groupe {groupe.code} — {groupe.libelle} {quand}"
    if appartenance.date_cloture:
        message += f", jusqu'au {appartenance.date_cloture:%d/%m/%Y} exclu"
    return f"{message}."


def _page_appartenance(
    request: HttpRequest, gabarit: str, perimetre: perms.Perimetre, appartenance: Appartenance, **contexte: Any
) -> HttpResponse:
    cible = appartenance.utilisateur
    return render(
        request,
        gabarit,
        {
            "perimetre": perimetre,
            "cible": cible,
            "appartenance": appartenance,
            "fil": _fil(
                perimetre,
                _lien_liste(perimetre),
                _lien_utilisateur(perimetre, cible),
                (
                    "Appartenances",
                    reverse("gestion:appartenances", args=[perimetre.convention.pk, cible.pk]),
                ),
            ),
            **contexte,
        },
    )


@require_http_methods(["GET", "POST"])
def appartenance_modifier(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """Changer les dates d'une appartenance (mêmes règles qu'à l'ouverture, sans chevauchement)."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    appartenance = appartenance_ou_404(perimetre, pk)
    form = AppartenanceModifierForm(request.POST if request.method == "POST" else None, appartenance=appartenance)
    if request.method == "POST" and form.is_valid():
        try:
            services.appartenance_modifier(
                par=request.user,
                appartenance=appartenance,
                date_ouverture=form.cleaned_data["date_ouverture"],
                date_cloture=form.cleaned_data["date_cloture"],
            )
        except ErreurMetier as exc:
            appartenance.refresh_from_db()  # le service a pu changer l'objet avant de refuser
            refus_afficher(form, exc, appartenance="groupe")
        else:
            messages.success(
                request,
                f"Les dates de l'appartenance de {appartenance.utilisateur.get_full_name()} au groupe "
                f"{appartenance.groupe.code} sont modifiées.",
            )
            return redirect("gestion:appartenances", convention=perimetre.convention.pk, pk=appartenance.utilisateur_id)
    return _page_appartenance(
        request, "habilitations/gestion/appartenance_modifier.html", perimetre, appartenance, form=form
    )


@require_http_methods(["GET", "POST"])
def appartenance_cloturer(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """Clôturer une appartenance aujourd'hui ou à une date future, après confirmation : les
    profils du groupe cessent ce jour-là."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    appartenance = appartenance_ou_404(perimetre, pk)
    deja_cloturee = appartenance.est_cloture()
    form = AppartenanceCloturerForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and deja_cloturee:
        form.add_error(None, "Cette appartenance est déjà clôturée.")
    elif request.method == "POST" and form.is_valid():
        try:
            services.appartenance_cloturer(
                par=request.user, appartenance=appartenance, date_cloture=form.cleaned_data["date_cloture"]
            )
        except ErreurMetier as exc:
            appartenance.refresh_from_db()
            refus_afficher(form, exc)
        else:
            cible, groupe = appartenance.utilisateur, appartenance.groupe
            if appartenance.date_cloture <= aujourdhui():
                quand = "ce jour"
            else:
                quand = f"le {appartenance.date_cloture:%d/%m/%Y}"
            messages.success(
                request, f"L'appartenance de {cible.get_full_name()} au groupe {groupe.code} est clôturée {quand}."
            )
            return redirect("gestion:appartenances", convention=perimetre.convention.pk, pk=cible.pk)
    return _page_appartenance(
        request,
        "habilitations/gestion/appartenance_cloturer.html",
        perimetre,
        appartenance,
        form=form,
        deja_cloturee=deja_cloturee,
    )
