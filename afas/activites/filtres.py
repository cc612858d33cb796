"""Filtres des listes d'activités et de lieux (agent Caf)."""

from __future__ import annotations

import django_filters

from afas.enums import NatureActivite, TypeActivite
from afas.models import Activite, LieuImplantation
from portail.socle.dates import Statut, aujourdhui, q_ouvert
from portail.socle.forms import PortailForm


class _StatutMixin:
    def filtrer_statut(self, queryset, name, value):
        q = q_ouvert(aujourdhui())
        return queryset.filter(q) if value == Statut.OUVERT else queryset.exclude(q)


class ActiviteFiltre(_StatutMixin, django_filters.FilterSet):
    partenaire = django_filters.CharFilter(
        label="Partenaire", field_name="organisme__raison_sociale", lookup_expr="icontains"
    )
    libelle = django_filters.CharFilter(label="Libellé", lookup_expr="icontains")
    numero_equipement = django_filters.CharFilter(label="Numéro d'équipement", lookup_expr="istartswith")
    type_activite = django_filters.ChoiceFilter(
        label="Type d'activité", choices=TypeActivite.choices, empty_label="Tous"
    )
    nature = django_filters.ChoiceFilter(
        label="Nature d'activité", choices=NatureActivite.choices, empty_label="Toutes"
    )
    statut = django_filters.ChoiceFilter(
        label="Statut", choices=Statut.choices, empty_label="Tous", method="filtrer_statut"
    )

    class Meta:
        model = Activite
        fields = ["partenaire", "libelle", "numero_equipement", "type_activite", "nature", "statut"]
        form = PortailForm


class LieuFiltre(_StatutMixin, django_filters.FilterSet):
    partenaire = django_filters.CharFilter(
        label="Partenaire", field_name="activite__organisme__raison_sociale", lookup_expr="icontains"
    )
    activite = django_filters.CharFilter(label="Activité", field_name="activite__libelle", lookup_expr="icontains")
    libelle = django_filters.CharFilter(label="Lieu", lookup_expr="icontains")
    commune = django_filters.CharFilter(label="Commune", lookup_expr="icontains")
    statut = django_filters.ChoiceFilter(
        label="Statut", choices=Statut.choices, empty_label="Tous", method="filtrer_statut"
    )

    class Meta:
        model = LieuImplantation
        fields = ["partenaire", "activite", "libelle", "commune", "statut"]
        form = PortailForm
