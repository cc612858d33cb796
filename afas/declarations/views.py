"""Les écrans des déclarants : Accueil AFAS, « Mes déclarations », la page d'une déclaration et la
saisie de chaque part (une ligne d'activité, les données financières).

Accès : l'accueil et la liste, au profil effectif AFAS-DECLARER ou à l'habilitateur (403 sinon) ;
une déclaration, à qui tient ce jour un rôle actif sur son activité ou à un agent de sa Caf (404
pour tout autre) ; saisir une part qui n'est pas la sienne dans une déclaration qu'on voit, ou
saisir quand la saisie est close : 403. Les règles sont dans ``afas.perms`` et le service."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from afas import perms
from afas.declarations import donnees as lecture
from afas.declarations import services
from afas.declarations.forms import DonneesActiviteForm, DonneesFinancieresForm, MesDeclarationsFiltre
from afas.enums import EtatDeclaration, TypeActivite
from afas.financement.services import montant_pour_page
from afas.habilitations import tableau_de_bord
from afas.models import Declaration, DonneesActivite, DonneesFinancieres
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import refus_afficher
from portail.socle.listes import PaginateurCompteAvecLaPage, paginer, trier
from portail.socle.navigation import fil_ariane

TRI_DECLARATIONS = {
    "activite": ("activite__libelle",),
    "type_activite": ("activite__type_activite", "activite__nature"),
    "type_declaration": ("type_declaration",),
    "exercice": ("exercice",),
    "etat": ("etat",),
    "date_limite": ("date_limite",),
}
PAR_PAGE_ROLES = 20
ENREGISTRE = (
    "Vos données sont enregistrées : elles sont conservées même si vous fermez le navigateur, "
    "et visibles dans tout autre onglet après rechargement."
)


def _fil(*liens: tuple[str, str]):
    return fil_ariane(("Aides financières d'action sociale", reverse("afas:accueil")), *liens)


def _exiger_afas(request) -> perms.DroitsDeLaRequete:
    """Le déclarant ou l'habilitateur (403 sinon) ; ses droits, lus une fois pour la vue et le menu."""
    droits = perms.droits_de_la_requete(request)
    if not (droits.est_declarant or droits.conventions_habilitables):
        raise PermissionDenied
    return droits


@require_GET
def accueil(request):
    """Accueil AFAS : les textes des guides (Bienvenue, accès direct, aide, déclarer en trois
    étapes), les rôles du jour (paginés dans la base : un déclarant de grande commune en tient
    des centaines) et, pour l'habilitateur, son tableau de bord."""
    droits = _exiger_afas(request)
    # La clé primaire départage deux rôles égaux : le nombre et les clés de la page se lisent
    # alors en une seule lecture des droits du jour (``PaginateurCompteAvecLaPage``) ; ``Paginator``
    # les relisait deux fois (les centaines de rôles d'un déclarant de grande commune).
    roles = (
        request.user.habilitations_afas.actives()
        .select_related("activite", "lieu")
        .order_by("activite__libelle", "lieu__libelle", "role", "pk")
    )
    ids = droits.conventions_habilitables
    return render(
        request,
        "afas/declarations/accueil.html",
        {
            "roles": paginer(request, roles, PAR_PAGE_ROLES, paginateur=PaginateurCompteAvecLaPage),
            "habiliter": bool(ids),
            "tableau": tableau_de_bord.tableau(ids) if ids else None,
            "fil": _fil(),
        },
    )


@require_GET
def mes_declarations(request):
    """Les déclarations des activités où l'utilisateur tient ce jour un rôle actif, filtrées,
    triées et paginées dans la base."""
    queryset = _exiger_afas(request).declarations_du_declarant().select_related("activite")
    filtre = MesDeclarationsFiltre(request.GET or None, queryset=queryset)
    page = paginer(request, trier(request, filtre.qs, TRI_DECLARATIONS, ("date_limite", "activite__libelle")))
    return render(
        request,
        "afas/declarations/mes_declarations.html",
        {
            "filtre": filtre,
            "page": page,
            "filtre_actif": any(request.GET.get(nom) for nom in filtre.filters),
            "fil": _fil(),
        },
    )


def _declaration(request, pk: int) -> Declaration:
    """La déclaration dans le seul périmètre de l'utilisateur : 404 pour toute autre."""
    return get_object_or_404(
        perms.droits_de_la_requete(request).declarations_lisibles().select_related("activite", "activite__organisme"),
        pk=pk,
    )


@require_GET
def declaration(request, pk: int):
    """La page d'une déclaration : en-tête, ce qui manque, la part de chacun (modifiable dans les
    seules lignes qu'il peut saisir), l'historique et, pour l'approbateur, « Transmettre à la Caf »."""
    objet = _declaration(request, pk)
    # Les rôles viennent de la lecture du périmètre (``_declaration``) : une lecture des droits du jour.
    roles = perms.droits_de_la_requete(request).roles_sur_declaration(objet)
    donnees = lecture.lire(objet)
    # Toutes les lignes et les données financières, lues ici une fois, servent aussi au montant.
    lues = donnees.lignes, donnees.financieres
    donnees.lignes = [ligne for ligne in donnees.lignes if perms.peut_voir_ligne(request.user, roles, ligne)]
    for ligne in donnees.lignes:
        ligne.editable = perms.peut_saisir_ligne(roles, objet, ligne)
    donnees.voir_activite = bool(donnees.lignes)
    donnees.voir_financier = perms.peut_voir_financier(request.user, roles)
    donnees.financier_editable = perms.peut_saisir_financier(roles, objet)
    transmettre = perms.peut_transmettre(roles, objet)
    evenements = lecture.evenements(objet)
    # Les récépissés (afas/instruction), lus seulement si la déclaration a été transmise un jour.
    recepisses = (
        list(objet.recepisses.select_related("transmise_par").defer("pdf", "contenu").order_by("numero"))
        if any(e.etat_apres == EtatDeclaration.TRANSMISE for e in evenements)
        else []
    )
    # Renvoyée par la Caf : son commentaire en tête, pour corriger sans le chercher dans l'historique.
    renvoi = next((e for e in reversed(evenements) if e.etat_apres == EtatDeclaration.RENVOYEE), None)
    return render(
        request,
        "afas/declarations/declaration.html",
        {
            "declaration": objet,
            "donnees": donnees,
            "roles": roles,
            "evenements": evenements,
            "recepisses": recepisses,
            "renvoi": renvoi if objet.etat in (EtatDeclaration.RENVOYEE, EtatDeclaration.EN_COURS) else None,
            "transmettre": transmettre,
            "saisie_ouverte": perms.saisie_ouverte(objet),
            "lecture_caf": perms.lit_en_caf(request.user, objet),
            "approbateur": roles.approbateur,
            # Le montant estimé découle des charges : qui lit les données financières le lit aussi.
            "montant": montant_pour_page(objet, lues) if perms.peut_voir_financier(request.user, roles) else None,
            "autres_lignes": not roles.approbateur and not roles.fda_activite and bool(roles.fda_lieux),
            # L'agent de la Caf arrive de ses déclarations reçues, pas de « Mes déclarations ».
            "fil": fil_ariane(
                ("Aides financières d'action sociale", reverse("afas:activites")),
                ("Déclarations reçues", reverse("afas:declarations_recues")),
            )
            if perms.lit_en_caf(request.user, objet)
            else _fil(("Mes déclarations", reverse("afas:mes_declarations"))),
        },
    )


def _titre(objet: Declaration) -> str:
    return f"{objet.get_type_declaration_display()} {objet.exercice} — {objet.activite.libelle}"


def _saisie(request, objet: Declaration, form, gabarit: str, enregistrer, contexte: dict):
    if request.method == "POST" and form.is_valid():
        try:
            enregistrer(form)
        except ErreurMetier as erreur:
            refus_afficher(form, erreur)
        else:
            objet.refresh_from_db(fields=["etat"])
            message = ENREGISTRE
            if objet.etat == EtatDeclaration.A_APPROUVER:
                message += " Rien ne manque plus : la déclaration attend l'approbateur."
            messages.success(request, message)
            return redirect("afas:declaration", pk=objet.pk)
    return render(
        request,
        gabarit,
        {
            "form": form,
            "declaration": objet,
            "titre_declaration": _titre(objet),
            "retour": reverse("afas:declaration", kwargs={"pk": objet.pk}),
            "fil": _fil(
                ("Mes déclarations", reverse("afas:mes_declarations")),
                (_titre(objet), reverse("afas:declaration", kwargs={"pk": objet.pk})),
            ),
            **contexte,
        },
    )


@require_http_methods(["GET", "POST"])
def declaration_activite(request, pk: int, ligne: int):
    """Saisir une ligne d'activité (lieu × nature) : le FDA de l'activité ou de ce lieu."""
    objet = _declaration(request, pk)
    donnees = get_object_or_404(DonneesActivite.objects.select_related("lieu"), declaration=objet, pk=ligne)
    if not perms.peut_saisir_ligne(perms.roles_sur_declaration(request.user, objet), objet, donnees):
        raise PermissionDenied
    initial = {nom: getattr(donnees, nom) for nom in services.CHAMPS_ACTIVITE} | {"version": donnees.version}
    form = DonneesActiviteForm(
        request.POST or None,
        initial=initial,
        declaration=objet,
        alsh=objet.activite.type_activite == TypeActivite.ALSH,
    )

    def enregistrer(form):
        services.donnees_activite_enregistrer(
            par=request.user,
            ligne=donnees,
            version=form.cleaned_data["version"],
            valeurs=form.valeurs(),
            commentaire_ecart=form.commentaire(),
        )

    return _saisie(
        request,
        objet,
        form,
        "afas/declarations/saisie_activite.html",
        enregistrer,
        {"ligne": donnees, "libelle_ligne": lecture.libelle_ligne(donnees)},
    )


@require_http_methods(["GET", "POST"])
def declaration_financier(request, pk: int):
    """Saisir les données financières : le FDF."""
    objet = _declaration(request, pk)
    if not perms.peut_saisir_financier(perms.roles_sur_declaration(request.user, objet), objet):
        raise PermissionDenied
    financieres = DonneesFinancieres.objects.filter(declaration=objet).first() or DonneesFinancieres(declaration=objet)
    initial = {nom: getattr(financieres, nom) for nom in services.CHAMPS_FINANCIERS}
    form = DonneesFinancieresForm(
        request.POST or None, initial={**initial, "version": financieres.version}, declaration=objet
    )

    def enregistrer(form):
        services.donnees_financieres_enregistrer(
            par=request.user,
            declaration=objet,
            version=form.cleaned_data["version"],
            valeurs=form.valeurs(),
            commentaire_ecart=form.commentaire(),
        )

    return _saisie(
        request, objet, form, "afas/declarations/saisie_financier.html", enregistrer, {"financieres": financieres}
    )
