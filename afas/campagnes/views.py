"""Les appels de déclaration de l'agent Caf : la liste, le lancement (aperçu puis confirmation),
le suivi d'un appel (décomptes, retards, déclarations filtrées), la progression du lancement
(fragment htmx) et l'export CSV. Hors rôle : 403 ; appel d'une autre Caf : 404."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from afas import perms
from afas.campagnes import services
from afas.campagnes.filtres import DeclarationAppelFiltre
from afas.campagnes.forms import AppelForm
from afas.campagnes.requetes import decompte_vide, decomptes
from afas.enums import SAISISSABLES, EtatDeclaration, NatureActivite, TypeActivite, TypeDeclaration
from afas.models import AppelDeclaration
from portail.socle.csv import DateTexte, HorodatageTexte, LibelleChoix, LignesSQL, OuiNon, reponse_csv
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import refus_afficher
from portail.socle.listes import paginer, trier
from portail.socle.navigation import fil_ariane

TRI_DECLARATIONS = {
    "partenaire": ("activite__organisme__raison_sociale",),
    "activite": ("activite__libelle",),
    "etat": ("etat",),
    "modifiee_le": ("modifiee_le",),
}
ENTETES_EXPORT = (
    "Partenaire",
    "Numéro d'équipement",
    "Activité",
    "Type d'activité",
    "Nature d'activité",
    "Exercice",
    "Type de déclaration",
    "État",
    "Ouverture de la saisie",
    "Date limite",
    "En retard",
    "Dernière modification",
)


def _exiger_agent(request) -> None:
    if not perms.peut_lancer_appel(request.user):
        raise PermissionDenied


def _fil(*liens: tuple[str, str]):
    return fil_ariane(("Aides financières d'action sociale", reverse("afas:appels")), *liens)


def _etats(decompte: dict[str, int]) -> list[tuple[str, str, int]]:
    """(valeur, libellé, nombre) de chaque état, dans l'ordre du cycle de vie."""
    return [(etat.value, etat.label, decompte.get(etat.value, 0)) for etat in EtatDeclaration]


@require_GET
def appels(request):
    """Les appels de la Caf, du plus récent au plus ancien, avec leurs décomptes (trois requêtes
    par page : le nombre d'appels, la page, les décomptes de la page)."""
    _exiger_agent(request)
    page = paginer(
        request, perms.appels_visibles(request.user).select_related("lance_par").order_by("-lance_le", "-pk")
    )
    comptes = decomptes([a.pk for a in page.object_list], aujourdhui())
    for appel in page.object_list:
        appel.decompte = comptes.get(appel.pk, decompte_vide())
        appel.etats = _etats(appel.decompte)
    return render(request, "afas/campagnes/appels.html", {"page": page, "fil": _fil()})


@require_http_methods(["GET", "POST"])
def appel_lancer(request):
    """Premier envoi (« Voir les activités concernées ») : l'aperçu ; second (« Confirmer le
    lancement ») : le service. Chaque envoi refusé s'affiche sous son champ, rien n'est écrit."""
    _exiger_agent(request)
    form = AppelForm(request.POST or None)
    apercu = None
    if request.method == "POST" and form.is_valid():
        donnees = form.cleaned_data
        try:
            if "confirmer" in request.POST:
                appel = services.appel_lancer(
                    par=request.user,
                    cle=donnees["cle"],
                    exercice=donnees["exercice"],
                    type_declaration=donnees["type_declaration"],
                    criteres=form.criteres(),
                    date_ouverture=donnees["date_ouverture"],
                    date_limite=donnees["date_limite"],
                )
            else:
                apercu = services.appel_apercu(
                    caf_id=request.user.caf_id,
                    exercice=donnees["exercice"],
                    type_declaration=donnees["type_declaration"],
                    criteres=form.criteres(),
                )
        except ErreurMetier as erreur:
            refus_afficher(form, erreur)
        else:
            if apercu is None:
                messages.success(
                    request,
                    f"L'appel de déclaration {appel} est lancé : les déclarations de {appel.total} activité(s) "
                    "sont en cours de création et leurs approbateurs seront prévenus par courriel.",
                )
                return redirect("afas:appel", appel.pk)
    return render(
        request,
        "afas/campagnes/appel_lancer.html",
        {"form": form, "apercu": apercu, "fil": _fil(("Appels de déclaration", reverse("afas:appels")))},
    )


def _appel(request, pk: int) -> AppelDeclaration:
    _exiger_agent(request)
    return get_object_or_404(perms.appels_visibles(request.user).select_related("lance_par"), pk=pk)


@require_GET
def appel(request, pk: int):
    """Le suivi d'un appel : décomptes par état, retards, déclarations filtrées et paginées."""
    appel = _appel(request, pk)
    jour = aujourdhui()
    decompte = decomptes([appel.pk], jour).get(appel.pk, decompte_vide())
    queryset = perms.declarations_caf(request.user).filter(appel=appel).select_related("activite__organisme")
    filtre = DeclarationAppelFiltre(request.GET or None, queryset=queryset)
    page = paginer(
        request,
        trier(request, filtre.qs, TRI_DECLARATIONS, ("activite__organisme__raison_sociale", "activite__libelle")),
    )
    for declaration in page.object_list:
        declaration.en_retard = declaration.etat in SAISISSABLES and declaration.date_limite < jour
    return render(
        request,
        "afas/campagnes/appel.html",
        {
            "appel": appel,
            "decompte": decompte,
            "etats": _etats(decompte),
            "filtre": filtre,
            "page": page,
            "filtre_actif": any(request.GET.get(nom) for nom in filtre.filters),
            "fil": _fil(("Appels de déclaration", reverse("afas:appels"))),
        },
    )


@require_GET
def appel_progression(request, pk: int):
    """Le fragment de progression du lancement, relu par htmx toutes les deux secondes tant que
    le lancement n'est pas terminé (le fragment terminé ne se relit plus)."""
    appel = _appel(request, pk)
    return render(request, "afas/campagnes/_progression.html", {"appel": appel})


def lignes_export(request, appel: AppelDeclaration, jour: datetime.date) -> LignesSQL:
    """Les déclarations de l'appel, une ligne chacune, écrites par PostgreSQL (``repli`` : les
    mêmes en Python, le chemin de SQLite ; tests/afas/declarations/test_campagnes.py compare les
    deux fichiers octet pour octet)."""
    declarations = (
        perms.declarations_caf(request.user)
        .filter(appel=appel)
        .select_related("activite__organisme")
        .order_by("activite__organisme__raison_sociale", "activite__libelle", "pk")
    )

    def repli():
        for d in declarations.iterator(chunk_size=2000):
            yield (
                d.activite.organisme.raison_sociale,
                d.activite.numero_equipement,
                d.activite.libelle,
                d.activite.get_type_activite_display(),
                d.activite.get_nature_display(),
                d.exercice,
                d.get_type_declaration_display(),
                d.get_etat_display(),
                d.date_ouverture,
                d.date_limite,
                d.etat in SAISISSABLES and d.date_limite < jour,
                d.modifiee_le,
            )

    colonnes = [
        "activite__organisme__raison_sociale",
        "activite__numero_equipement",
        "activite__libelle",
        LibelleChoix("activite__type_activite", TypeActivite.choices),
        LibelleChoix("activite__nature", NatureActivite.choices),
        "exercice",
        LibelleChoix("type_declaration", TypeDeclaration.choices),
        LibelleChoix("etat", EtatDeclaration.choices),
        DateTexte("date_ouverture"),
        DateTexte("date_limite"),
        OuiNon(Q(etat__in=sorted(SAISISSABLES), date_limite__lt=jour)),
        HorodatageTexte("modifiee_le", timezone.get_current_timezone_name()),
    ]
    return LignesSQL(declarations, colonnes, repli=repli)


@require_GET
def appel_export(request, pk: int):
    """Les déclarations de l'appel en CSV (« ; », UTF-8 avec BOM), écrit en flux par PostgreSQL."""
    appel = _appel(request, pk)
    jour = aujourdhui()
    return reponse_csv(f"appel-declaration-{appel.pk}", ENTETES_EXPORT, lignes_export(request, appel, jour), jour=jour)
