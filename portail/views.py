"""Accueil, pages de service, règles d'usage, boîte aux lettres de développement, santé."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from habilitations import perms
from portail.models import Courriel


@require_GET
def accueil(request):
    # Les tuiles et le menu lisent le même `services_menu` (context processor) : une requête.
    return render(request, "portail/accueil.html")


@require_GET
def service(request, code: str):
    """L'entrée d'un service en ligne : 404 pour qui n'y a pas de profil effectif (on ne dit pas
    à un utilisateur non habilité ce qui existe)."""
    service = get_object_or_404(perms.services_ouverts(request.user), code=code)
    # Chaque profil effectif avec le groupe (et son responsable) et la convention qui le donnent :
    # les jointures du filtre des profils effectifs servent aussi à ces colonnes.
    groupe = "groupe_profils__groupe__"
    acces = (
        perms.profils_effectifs(request.user)
        .filter(service=service)
        .values(
            "libelle",
            f"{groupe}code",
            f"{groupe}libelle",
            f"{groupe}responsable__prenom",
            f"{groupe}responsable__nom",
            f"{groupe}convention__libelle",
        )
        .order_by("libelle", f"{groupe}code")
    )
    profils = [
        {
            "libelle": ligne["libelle"],
            "groupe": f"{ligne[f'{groupe}code']} — {ligne[f'{groupe}libelle']}",
            "responsable": f"{ligne[f'{groupe}responsable__prenom']} {ligne[f'{groupe}responsable__nom'].upper()}",
            "convention": ligne[f"{groupe}convention__libelle"],
        }
        for ligne in acces
    ]
    return render(request, "portail/service.html", {"service": service, "profils": profils})


@login_not_required
@require_GET
def regles_usage(request):
    return render(request, "portail/regles_usage.html")


@login_not_required
@require_GET
def accessibilite(request):
    """Déclaration d'accessibilité (obligatoire, RGAA), liée depuis le pied de chaque page."""
    return render(request, "portail/accessibilite.html")


@login_not_required
@require_GET
def sante(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def _mode_developpement() -> None:
    if not settings.DEBUG:
        raise Http404


@login_not_required
@require_GET
def courriels(request):
    """Boîte aux lettres de développement (DEBUG uniquement) : les courriels de la boîte d'envoi."""
    _mode_developpement()
    page = Paginator(Courriel.objects.all(), 25).get_page(request.GET.get("page"))
    return render(request, "portail/dev_courriels.html", {"page": page})


@login_not_required
@require_GET
def courriel(request, pk: int):
    _mode_developpement()
    return render(request, "portail/dev_courriel.html", {"courriel": get_object_or_404(Courriel, pk=pk)})
