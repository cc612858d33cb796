"""Créer des utilisateurs en masse depuis un fichier CSV : déposer le fichier, vérifier l'aperçu
ligne à ligne, confirmer, suivre la progression, lire le compte rendu.

Qui peut écrire dans la convention (son administrateur, un responsable d'habilitations) importe ;
un responsable, seulement dans un de ses groupes, et il ne voit que les imports faits dans son
sous-arbre. Tout autre import répond 404, comme s'il n'existait pas. La lecture seule (agent de
la Caf pivot, supervision nationale) reçoit 403 : ces pages écrivent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from habilitations import perms
from habilitations.administration.acces import perimetre_ou_404
from habilitations.administration.import_csv import imports, tasks
from habilitations.administration.import_csv.forms import ImportDeposerForm
from habilitations.models import EtatImport, ImportUtilisateurs
from portail.socle.erreurs import ErreurMetier
from portail.socle.listes import paginer
from portail.socle.navigation import Lien, fil_ariane

if TYPE_CHECKING:
    from django.http import HttpRequest

IMPORTS_RECENTS = 10
FILTRES_LIGNES = {"erreurs": ~Q(erreurs=[]), "sans-erreur": Q(erreurs=[])}


def _import_ou_404(perimetre: perms.Perimetre, pk: int) -> ImportUtilisateurs:
    return get_object_or_404(perms.imports_visibles(perimetre).select_related("groupe", "par"), pk=pk)


def _compte(nombre: int, singulier: str, pluriel: str) -> str:
    """« 0 ligne », « 1 ligne », « 2 lignes » : en français, le pluriel commence à 2."""
    return f"{nombre} {pluriel if nombre > 1 else singulier}"


def _fil(convention_pk: int, *liens: tuple[str, str]) -> list[Lien]:
    """« Accueil > Partenaires > Conventions > Consulter les conventions > Liste des utilisateurs > … »"""
    conventions = reverse("conventions:conventions")
    return fil_ariane(
        ("Conventions", conventions),
        ("Consulter les conventions", conventions),
        ("Liste des utilisateurs", reverse("gestion:utilisateurs", args=[convention_pk])),
        *liens,
    )


@require_http_methods(["GET", "POST"])
def import_deposer(request: HttpRequest, convention: int) -> HttpResponse:
    """Le formulaire de dépôt, l'aide sur les colonnes et l'exemple (``?exemple`` le télécharge).
    Un fichier accepté devient un aperçu enregistré, sans aucun compte créé ; un fichier refusé
    en entier (vide, illisible, sans en-têtes, trop long) n'enregistre rien."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    if request.method == "GET" and "exemple" in request.GET:
        return HttpResponse(
            ("\ufeff" + imports.exemple()).encode(),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="exemple-import-utilisateurs.csv"'},
        )
    form = ImportDeposerForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        groupes=perms.groupes_du_perimetre(perimetre).ouverts(),
        groupe_requis=perimetre.responsable,
    )
    if request.method == "POST" and form.is_valid():
        fichier = form.cleaned_data["fichier"]
        try:
            lecture = imports.fichier_lire(fichier.read(), convention=perimetre.convention)
        except imports.FichierRefuse as exc:
            form.add_error("fichier", str(exc))
        else:
            import_utilisateurs = imports.import_enregistrer(
                par=request.user,
                convention=perimetre.convention,
                groupe=form.cleaned_data["groupe"],
                nom_fichier=fichier.name,
                lecture=lecture,
            )
            messages.success(
                request,
                f"Fichier lu : {_compte(len(lecture.lignes), 'ligne', 'lignes')}, "
                f"{_compte(lecture.valides, 'valide', 'valides')}, {lecture.en_erreur} en erreur. "
                "Aucun compte n'est encore créé : vérifiez l'aperçu, puis confirmez.",
            )
            if lecture.ignorees:
                messages.info(request, f"Colonnes ignorées : {', '.join(lecture.ignorees)}.")
            return redirect("gestion:import_apercu", convention=convention, pk=import_utilisateurs.pk)
    return render(
        request,
        "habilitations/gestion/import_deposer.html",
        {
            "perimetre": perimetre,
            "form": form,
            "colonnes": imports.COLONNES,
            "exemple": imports.exemple(),
            "recents": perms.imports_visibles(perimetre).select_related("groupe", "par")[:IMPORTS_RECENTS],
            "fil": _fil(convention),
        },
    )


@require_http_methods(["GET", "POST"])
def import_apercu(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """L'aperçu (une ligne du tableau par ligne du fichier), puis, une fois confirmé, la
    progression, et à la fin le compte rendu, sur la même page. POST ``action`` : « confirmer »
    ou « abandonner » (refusés, sans effet, si l'import n'est plus à confirmer)."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    import_utilisateurs = _import_ou_404(perimetre, pk)
    if request.method == "POST":
        return _apercu_agir(request, perimetre, import_utilisateurs)
    filtre = request.GET.get("lignes", "")
    lignes = import_utilisateurs.lignes.select_related("utilisateur").order_by("numero")
    if filtre in FILTRES_LIGNES:
        lignes = lignes.filter(FILTRES_LIGNES[filtre])
    nombres = import_utilisateurs.lignes.aggregate(lignes=Count("pk"), sans_erreur=Count("pk", filter=Q(erreurs=[])))
    etat = import_utilisateurs.etat
    # Avant la confirmation, les lignes sans erreur ; après, celles qui étaient valides à la
    # confirmation (une ligne refusée à la création reçoit une erreur mais est comptée à part).
    confirme = etat in (EtatImport.EN_COURS, EtatImport.TERMINE)
    valides = import_utilisateurs.total if confirme else nombres["sans_erreur"]
    return render(
        request,
        "habilitations/gestion/import_apercu.html",
        {
            "perimetre": perimetre,
            "imp": import_utilisateurs,
            "page": paginer(request, lignes),
            "filtre": filtre,
            "filtre_actif": filtre in FILTRES_LIGNES,
            "lignes_fichier": _compte(nombres["lignes"], "ligne", "lignes"),
            "valides": valides,
            "en_erreur": nombres["lignes"] - valides,
            "refusees_creation": import_utilisateurs.traites - import_utilisateurs.crees,
            "textes": {
                "valides": _compte(valides, "ligne valide", "lignes valides"),
                "en_erreur": _compte(nombres["lignes"] - valides, "ligne en erreur", "lignes en erreur"),
                "confirmer": _compte(valides, "compte", "comptes"),
                "crees": _compte(import_utilisateurs.crees, "compte créé", "comptes créés"),
                "refusees": _compte(
                    import_utilisateurs.traites - import_utilisateurs.crees,
                    "ligne refusée à la création",
                    "lignes refusées à la création",
                ),
                "ecartees": _compte(
                    nombres["lignes"] - valides,
                    "ligne en erreur écartée à l'aperçu",
                    "lignes en erreur écartées à l'aperçu",
                ),
            },
            "a_confirmer": etat == EtatImport.PREVISUALISE,
            "en_cours": etat == EtatImport.EN_COURS,
            "termine": etat == EtatImport.TERMINE,
            "abandonne": etat == EtatImport.ABANDONNE,
            "fil": _fil(
                convention, ("Importer des utilisateurs", reverse("gestion:import_deposer", args=[convention]))
            ),
        },
    )


def _apercu_agir(
    request: HttpRequest, perimetre: perms.Perimetre, import_utilisateurs: ImportUtilisateurs
) -> HttpResponse:
    action = request.POST.get("action")
    apercu = reverse("gestion:import_apercu", args=[perimetre.convention.pk, import_utilisateurs.pk])
    try:
        if action == "confirmer":
            total = tasks.import_confirmer(par=request.user, import_utilisateurs=import_utilisateurs)
            import_utilisateurs.refresh_from_db(fields=["etat"])
            if import_utilisateurs.etat == EtatImport.PREVISUALISE:
                # La publication a échoué après validation (courtier injoignable) : rien n'est lancé.
                messages.error(
                    request,
                    "La création des comptes n'a pas pu être lancée : le service de traitement est "
                    "momentanément indisponible. Aucun compte n'a été créé ; confirmez de nouveau dans "
                    "quelques minutes.",
                )
            else:
                messages.success(
                    request,
                    f"Création de {_compte(total, 'compte', 'comptes')} lancée. Chaque compte reçoit son "
                    "identifiant et son mot de passe provisoire par courriel.",
                )
        elif action == "abandonner":
            imports.import_abandonner(par=request.user, import_utilisateurs=import_utilisateurs)
            messages.success(request, "Import abandonné : aucun compte n'a été créé.")
            return redirect("gestion:import_deposer", convention=perimetre.convention.pk)
        else:
            messages.error(request, "Action inconnue : rien n'a été fait.")
    except ErreurMetier as exc:
        messages.error(request, str(exc))
    return redirect(apercu)


@never_cache
def import_progression(request: HttpRequest, convention: int, pk: int) -> HttpResponse:
    """La progression, en JSON, que la page de l'import relit chaque seconde. Le contrôle d'accès
    précède celui de la méthode : hors du périmètre, même un POST répond 404."""
    perimetre = perimetre_ou_404(request, convention, ecriture=True)
    import_utilisateurs = _import_ou_404(perimetre, pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return JsonResponse(
        {
            "etat": import_utilisateurs.etat,
            "total": import_utilisateurs.total,
            "traites": import_utilisateurs.traites,
            "crees": import_utilisateurs.crees,
            "pourcentage": import_utilisateurs.pourcentage,
        }
    )
