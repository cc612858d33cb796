"""Écrans « Organismes partenaires » et « Agents Caf ».

Lecture : l'agent Caf (sa Caf) et la supervision nationale (tout, sans rien gérer). Écriture :
l'agent Caf seul, par le service ``organisme_enregistrer``. Une liste hors rôle répond 403 ; un
organisme hors du périmètre répond 404, qu'il existe ou non.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from conventions import perms, services
from conventions.models import TypeOrganisme
from conventions.organismes.filtres import AgentFiltre, OrganismeFiltre
from conventions.organismes.forms import OrganismeForm
from portail.socle.erreurs import ErreurMetier
from portail.socle.listes import paginer, trier
from portail.socle.navigation import fil_ariane

TRI_TYPES = ("code", "libelle", "nombre_organismes")
TRI_ORGANISMES = ("raison_sociale", "siret", "type_organisme__libelle", "commune")
TRI_AGENTS = ("identifiant", "nom", "prenom", "date_ouverture", "date_cloture")


def _exiger_lecture(request) -> None:
    if not perms.peut_consulter_partenaires(request.user):
        raise PermissionDenied


@require_GET
def types_organismes(request):
    """Les types d'organismes, avec le nombre d'organismes de chaque type que l'on voit (sa Caf
    pour un agent, tous pour la supervision) ; un type sans organisme reste listé (0)."""
    _exiger_lecture(request)
    visibles = perms.organismes_visibles(request.user).values("pk")
    types = TypeOrganisme.objects.annotate(nombre_organismes=Count("organisme", filter=Q(organisme__in=visibles)))
    page = paginer(request, trier(request, types, TRI_TYPES, ("libelle",)))
    return render(
        request,
        "conventions/types_organismes.html",
        {
            "page": page,
            "superviseur": not perms.est_agent_caf(request.user),
            "fil": fil_ariane(("Organismes partenaires", reverse("conventions:organismes"))),
        },
    )


@require_GET
def organismes(request):
    _exiger_lecture(request)
    agent = perms.est_agent_caf(request.user)
    queryset = perms.organismes_visibles(request.user).select_related("type_organisme", "caf")
    filtre = OrganismeFiltre(request.GET or None, queryset=queryset, avec_caf=not agent)
    # Les clés de la page d'abord (index du tri), puis le nombre de conventions des seuls 25
    # organismes de la page : compté sur toute la liste (GROUP BY des 60 000 organismes du pays),
    # il coûtait 180 ms à la page 1 000 de la supervision nationale.
    page = paginer(request, trier(request, filtre.qs, TRI_ORGANISMES, ("raison_sociale",)), par_cles=True)
    page.object_list = page.object_list.annotate(nombre_conventions=Count("conventions"))
    return render(
        request,
        "conventions/organismes.html",
        {
            "filtre": filtre,
            "page": page,
            "filtre_actif": any(request.GET.get(nom) for nom in filtre.filters),
            "peut_gerer": perms.peut_gerer_organismes(request.user),
            "avec_caf": not agent,
            "fil": fil_ariane(("Organismes partenaires", reverse("conventions:organismes"))),
        },
    )


@require_http_methods(["GET", "POST"])
def organisme_enregistrer(request):
    """Un agent Caf enregistre un organisme de sa Caf. Le service refuse un SIRET déjà connu,
    ce qui couvre aussi la double soumission du formulaire."""
    if not perms.peut_gerer_organismes(request.user):
        raise PermissionDenied
    form = OrganismeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organisme = services.organisme_enregistrer(par=request.user, caf=request.user.caf, **form.cleaned_data)
        except ErreurMetier as exc:
            # Le service ne refuse qu'un SIRET en double : le message va sous ce champ.
            form.add_error("siret", str(exc))
        else:
            messages.success(request, f"L'organisme {organisme.raison_sociale} est enregistré.")
            return redirect("conventions:organisme", pk=organisme.pk)
    return render(
        request,
        "conventions/organisme_enregistrer.html",
        {
            "form": form,
            "fil": fil_ariane(("Organismes partenaires", reverse("conventions:organismes"))),
        },
    )


@require_GET
def organisme(request, pk: int):
    """Détail d'un organisme et de ses conventions ; 404 hors du périmètre de l'utilisateur."""
    organisme = get_object_or_404(
        perms.organismes_visibles(request.user).select_related("type_organisme", "caf"), pk=pk
    )
    conventions = perms.conventions_visibles(request.user).filter(organisme=organisme).order_by("-date_ouverture", "pk")
    return render(
        request,
        "conventions/organisme.html",
        {
            "organisme": organisme,
            "conventions": conventions,
            "peut_gerer": perms.peut_gerer_organisme(request.user, organisme),
            "fil": fil_ariane(
                ("Organismes partenaires", reverse("conventions:organismes")),
                ("Consulter les organismes partenaires", reverse("conventions:organismes")),
            ),
        },
    )


@require_GET
def agents(request):
    """Les agents de sa propre Caf, ouverts comme clôturés (le statut le dit)."""
    if not perms.est_agent_caf(request.user):
        raise PermissionDenied
    filtre = AgentFiltre(request.GET or None, queryset=perms.agents_visibles(request.user))
    page = paginer(request, trier(request, filtre.qs, TRI_AGENTS, ("nom", "prenom")))
    return render(
        request,
        "conventions/agents.html",
        {
            "filtre": filtre,
            "page": page,
            "filtre_actif": any(request.GET.get(nom) for nom in filtre.filters),
            "fil": fil_ariane(("Agents Caf", reverse("conventions:agents"))),
        },
    )
