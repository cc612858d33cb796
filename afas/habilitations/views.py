"""« Aides financières d'action sociale » côté partenaire (Accueil AFAS et Mes déclarations : voir
afas/declarations) : « Administration des profils » (l'administrateur ou le profil AFAS-HABILITER) :
recherche, HABILITER UN UTILISATEUR, Supprimer. Hors rôle : 403 ; habilitation d'une autre
convention : 404."""

from __future__ import annotations

from html import escape as echapper
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from afas import perms, services
from afas.enums import EtatHabilitation, RoleAfas
from afas.habilitations import recherche as moteur
from afas.habilitations.forms import HabiliterForm, RechercheForm, SuppressionForm
from conventions.models import Convention
from portail.socle.adresses import adresse_par_cle
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import refus_afficher
from portail.socle.listes import paginer
from portail.socle.navigation import fil_ariane

PAR_PAGE_HABILITATIONS = 50
PAR_PAGE_ACTIVITES = 20
CHAMPS_RECHERCHE = ("partenaire", "utilisateur", "role", "activite", "type_activite", "nature", "etat", "lieux")


def _fil():
    return fil_ariane(("Aides financières d'action sociale", reverse("afas:accueil")))


def _exiger_habiliter(request) -> QuerySet[Convention]:
    """Les conventions où l'utilisateur habilite, lues une fois (la requête des droits n'est pas
    recopiée dans celles de la page) ; aucune : 403. Lues avec le menu du gabarit, qui pose la
    même question (``perms.droits_de_la_requete`` : une requête pour les deux)."""
    ids = perms.droits_de_la_requete(request).conventions_habilitables
    if not ids:
        raise PermissionDenied
    return Convention.objects.filter(pk__in=ids)


@require_GET
def recherche(request):
    """HABILITATIONS D'ACTION SOCIALE : rien n'est cherché tant que l'état (obligatoire) n'est pas
    choisi ; « Non attribué » liste, par activité et lieu, les rôles que personne ne tient."""
    conventions = _exiger_habiliter(request)
    jour = aujourdhui()
    form = RechercheForm(request.GET or None, conventions=conventions, initial={"lieux": "oui"})
    groupes, page, etat = [], None, None
    if form.is_bound and form.is_valid():
        criteres = form.cleaned_data
        etat = criteres["etat"]
        # Les droits du jour relus ligne par ligne (sous-requête corrélée sur les appartenances) :
        # la liste des déclarants d'une grande commune (des milliers d'identifiants recopiés dans
        # chaque requête) coûtait des secondes de planification (tests/perf/test_plans_afas.py).
        membres = None
        if etat == EtatHabilitation.NON_ATTRIBUE:
            na = moteur.non_attribues(conventions, criteres, jour)
            page = paginer(request, na.activites, PAR_PAGE_ACTIVITES)
            groupes = moteur.grouper_non_attribues(list(page.object_list), na, criteres)
        else:
            page = paginer(
                request, moteur.HabilitationsDansLEtat(conventions, criteres, jour, membres), PAR_PAGE_HABILITATIONS
            )
            lignes = page.object_list
            page.object_list = [ligne for ligne, *_titre in lignes]
            groupes = moteur.grouper_habilitations(lignes)
            _adresses_de_suppression(page.object_list, etat, request)
            for groupe in groupes:
                groupe.corps = _corps_du_tableau(groupe.lignes)
    return render(
        request,
        "afas/recherche.html",
        {
            "form": form,
            "groupes": groupes,
            "page": page,
            "etat": etat,
            "non_attribue": etat == EtatHabilitation.NON_ATTRIBUE,
            "en_attente": any(h.en_attente_caf for g in groupes for h in g.lignes if not isinstance(h, str)),
            "fil": _fil(),
        },
    )


def _adresses_de_suppression(lignes: list[moteur.Ligne], etat: str, request) -> None:
    """L'adresse « Supprimer » de chaque ligne (sauf Historique et ses propres habilitations),
    qui garde la recherche pour y revenir : formée ici une fois par ligne plutôt que par
    ``{% url %}`` et ``|urlencode`` dans le gabarit."""
    if etat == EtatHabilitation.HISTORIQUE:
        return
    suite = "?requete=" + quote(request.GET.urlencode(), safe="/")
    supprimer = adresse_par_cle("afas:habilitation_supprimer")
    for ligne in lignes:
        if ligne.utilisateur_id != request.user.pk:
            ligne.suppression = f"{supprimer(ligne.pk)}{suite}"


def _corps_du_tableau(lignes: list[moteur.Ligne]) -> str:
    """Les lignes d'un tableau en HTML (rôle, utilisateur, début et « * » si la Caf n'a pas
    validé, fin, Supprimer), chaque texte échappé comme le fait un gabarit (``html.escape``,
    celui de ``django.utils.html.escape``) : écrites par le gabarit, les 50 lignes d'une page
    coûtaient 500 résolutions de variables, le quart du processeur de la page."""
    corps = []
    for h in lignes:
        role, prenom_nom = echapper(h.role), echapper(h.prenom_nom)
        supprimer = (
            f'<a class="fr-btn fr-btn--sm fr-btn--tertiary fr-icon-delete-line fr-btn--icon-left" '
            f'href="{echapper(h.suppression)}">Supprimer<span class="fr-sr-only"> '
            f"l'habilitation {role} de {prenom_nom}</span></a>"
            if h.suppression
            else ""
        )
        corps.append(
            f"<tr><td>{role}</td><td>{echapper(h.nom_prenom)}</td>"
            f"<td>{echapper(h.debut)}{'*' if h.en_attente_caf else ''}</td><td>{echapper(h.fin)}</td>"
            f"<td>{supprimer}</td></tr>"
        )
    return mark_safe("".join(corps))  # noqa: S308 (tout est échappé ci-dessus)


def _retour_recherche(requete: str) -> str:
    """L'adresse de la recherche avec ses seuls critères connus (jamais une adresse fournie)."""
    recu = QueryDict(requete)
    propre = QueryDict(mutable=True)
    for nom in (*CHAMPS_RECHERCHE, "page"):
        if recu.get(nom):
            propre[nom] = recu.get(nom)
    return reverse("afas:habilitations") + (f"?{propre.urlencode()}" if propre else "")


@require_http_methods(["GET", "POST"])
def habiliter(request):
    """HABILITER UN UTILISATEUR : « Afficher les activités » (sans JavaScript : un bouton qui
    renvoie le formulaire sans rien enregistrer) rafraîchit la liste ; Enregistrer reste sur la
    page avec les messages des guides ; Enregistrer et quitter revient à la recherche."""
    conventions = _exiger_habiliter(request)
    donnees = request.POST if request.method == "POST" else None
    form = HabiliterForm(donnees, conventions=conventions, habilitateur=request.user)
    enregistrer = request.method == "POST" and ("enregistrer" in request.POST or "quitter" in request.POST)
    if enregistrer and form.is_valid():
        d = form.cleaned_data
        try:
            creees = services.habilitation_afas_affecter(
                par=request.user,
                utilisateur=d["utilisateur"],
                role=d["role"],
                date_ouverture=d["date_ouverture"],
                activites=d["activites_choisies"],
                lieux=d["lieux_choisis"],
            )
        except ErreurMetier as erreur:
            refus_afficher(form, erreur)
        else:
            messages.success(request, "Les habilitations ont été créées avec succès.")
            for h in creees:
                if h.role == RoleAfas.APPROBATEUR:
                    messages.info(
                        request,
                        "L'habilitation de cet utilisateur au rôle d'approbateur pour l'équipement/service "
                        f"{h.activite.libelle}, est en cours de validation par la Caf.",
                    )
            if "quitter" in request.POST:
                return redirect(
                    reverse("afas:habilitations") + f"?partenaire={d['partenaire'].pk}&etat=actif&lieux=oui"
                )
            return redirect(reverse("afas:habiliter"))
    elif request.method == "POST" and not enregistrer:
        # « Afficher les activités » sans JavaScript : on réaffiche, sans erreurs prématurées.
        form = HabiliterForm(request.POST, conventions=conventions, habilitateur=request.user)
        form._errors = {}
    return render(
        request,
        "afas/habiliter.html",
        {"form": form, "fil": [*_fil(), {"titre": "Administration des profils", "url": reverse("afas:habilitations")}]},
    )


@require_GET
def portee(request):
    """Le fragment « 3. Sélectionner la portée » rafraîchi par htmx (mêmes droits que la page)."""
    conventions = _exiger_habiliter(request)
    form = HabiliterForm(request.GET, conventions=conventions, habilitateur=request.user)
    form._errors = {}
    return render(request, "afas/_portee.html", {"form": form})


@require_http_methods(["GET", "POST"])
def supprimer(request, pk: int):
    # Objet cherché dans le seul périmètre de l'utilisateur : 404 pour tout autre, quel qu'il soit.
    habilitation = get_object_or_404(
        perms.habilitations_gerees(request.user).select_related("utilisateur", "activite", "lieu"), pk=pk
    )
    if habilitation.utilisateur_id == request.user.pk:
        raise Http404
    form = SuppressionForm(request.POST or None)
    requete = request.POST.get("requete", request.GET.get("requete", ""))
    if request.method == "POST" and form.is_valid():
        try:
            services.habilitation_afas_supprimer(par=request.user, habilitation=habilitation)
        except ErreurMetier as erreur:
            refus_afficher(form, erreur)
        else:
            messages.success(request, "L'habilitation est supprimée : elle figure désormais dans l'Historique.")
            return redirect(_retour_recherche(requete))
    return render(
        request,
        "afas/supprimer.html",
        {
            "form": form,
            "h": habilitation,
            "requete": requete,
            "retour": _retour_recherche(requete),
            "fil": [*_fil(), {"titre": "Administration des profils", "url": reverse("afas:habilitations")}],
        },
    )
