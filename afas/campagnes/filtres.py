"""Filtres des déclarations d'un appel (suivi de campagne de l'agent Caf)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from afas.campagnes.requetes import q_en_retard
from afas.enums import EtatDeclaration
from afas.models import Declaration
from portail.socle.dates import aujourdhui
from portail.socle.forms import PortailForm


class DeclarationAppelFiltre(django_filters.FilterSet):
    etat = django_filters.ChoiceFilter(label="État", choices=EtatDeclaration.choices, empty_label="Tous")
    partenaire = django_filters.CharFilter(
        label="Partenaire", field_name="activite__organisme__raison_sociale", lookup_expr="icontains"
    )
    activite = django_filters.CharFilter(label="Activité", method="filtrer_activite")
    retard = django_filters.ChoiceFilter(
        label="Date limite",
        choices=[("oui", "En retard (non transmises, date limite passée)")],
        empty_label="Toutes",
        method="filtrer_retard",
    )

    class Meta:
        model = Declaration
        fields = ["etat", "partenaire", "activite", "retard"]
        form = PortailForm

    def filtrer_activite(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        mot = value.strip()
        return queryset.filter(activite__libelle__icontains=mot) | queryset.filter(
            activite__numero_equipement__istartswith=mot
        )

    def filtrer_retard(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(q_en_retard(aujourdhui())) if value == "oui" else queryset
