"""Filtres de la file « Approbateurs à valider »."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from afas.enums import DecisionCaf
from afas.models import ValidationApprobateur
from portail.socle.forms import PortailForm


class ValidationFiltre(django_filters.FilterSet):
    partenaire = django_filters.CharFilter(
        label="Partenaire", field_name="habilitation__convention__organisme__raison_sociale", lookup_expr="icontains"
    )
    utilisateur = django_filters.CharFilter(label="Utilisateur", method="filtrer_utilisateur")
    activite = django_filters.CharFilter(
        label="Activité", field_name="habilitation__activite__libelle", lookup_expr="icontains"
    )
    decision = django_filters.ChoiceFilter(label="Décision", choices=DecisionCaf.choices, empty_label="En attente")

    class Meta:
        model = ValidationApprobateur
        fields = ["partenaire", "utilisateur", "activite", "decision"]
        form = PortailForm

    def filtrer_utilisateur(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        q = Q()
        for mot in value.split():
            q &= (
                Q(habilitation__utilisateur__nom__icontains=mot)
                | Q(habilitation__utilisateur__prenom__icontains=mot)
                | Q(habilitation__utilisateur__identifiant__icontains=mot)
            )
        return queryset.filter(q)

    @property
    def qs(self):
        qs = super().qs
        # Sans décision choisie : la file d'attente.
        if not (self.form.is_valid() and self.form.cleaned_data.get("decision")):
            qs = qs.filter(decision=DecisionCaf.EN_ATTENTE)
        return qs
