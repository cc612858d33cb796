"""Filtres des listes « Organismes partenaires » et « Agents Caf » (formulaires GET en DSFR)."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from conventions.models import Caf, Organisme, TypeOrganisme
from conventions.validators import siret_normaliser
from portail.socle.forms import PortailForm


class OrganismeFiltre(django_filters.FilterSet):
    """Raison sociale et commune par fragment, SIRET par ses premiers chiffres (recopié d'un
    courrier avec ses espaces), type d'organisme ; la Caf pour la seule supervision nationale,
    qui voit tous les organismes."""

    raison_sociale = django_filters.CharFilter(label="Raison sociale", lookup_expr="icontains")
    siret = django_filters.CharFilter(label="SIRET", method="filtrer_siret")
    # Des choix (clé, libellé) lus une fois dans __init__ plutôt qu'un ModelChoiceFilter : la
    # même requête sert à valider la valeur reçue et à afficher la liste.
    type_organisme = django_filters.ChoiceFilter(label="Type d'organisme", empty_label="Tous")
    commune = django_filters.CharFilter(label="Commune", lookup_expr="icontains")
    caf = django_filters.ChoiceFilter(label="Caf", empty_label="Toutes")

    class Meta:
        model = Organisme
        fields = ["raison_sociale", "siret", "type_organisme", "commune", "caf"]
        form = PortailForm

    def __init__(self, *args, avec_caf: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.filters["type_organisme"].extra["choices"] = list(TypeOrganisme.objects.values_list("pk", "libelle"))
        if avec_caf:
            self.filters["caf"].extra["choices"] = list(Caf.objects.values_list("pk", "nom"))
        else:
            # Un agent ne voit que sa Caf : le filtre n'aurait qu'un choix utile.
            del self.filters["caf"]
        self.filters["siret"].field.help_text = "Les premiers chiffres suffisent ; les espaces sont ignorés."

    def filtrer_siret(self, queryset: QuerySet[Organisme], name: str, value: str) -> QuerySet[Organisme]:
        siret = siret_normaliser(value)
        return queryset.filter(siret__startswith=siret) if siret else queryset


class AgentFiltre(django_filters.FilterSet):
    identifiant = django_filters.CharFilter(label="Identifiant", lookup_expr="icontains")
    nom = django_filters.CharFilter(label="Nom", lookup_expr="icontains")
    prenom = django_filters.CharFilter(label="Prénom", lookup_expr="icontains")

    class Meta:
        model = get_user_model()  # les comptes sont ceux d'AUTH_USER_MODEL (couche du dessus)
        fields = ["identifiant", "nom", "prenom"]
        form = PortailForm
