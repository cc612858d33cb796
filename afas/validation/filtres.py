"""Filtres de la file « Approbateurs à valider »."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from afas.enums import DecisionCaf
from afas.models import ValidationApprobateur
from portail.socle.forms import PortailForm


class ValidationFiltre(django_filters.FilterSet):
    """Partenaire, compte et activité lus par les copies de l'habilitation que porte la demande
    (``ValidationApprobateur.champs_copies``) : à travers l'habilitation, « partenaire contient
    commune » partait des 17 855 partenaires du pays de ce nom et lisait leurs 316 000
    habilitations, deux fois (nombre et page : 1,1 à 1,3 s à « nationale »)."""

    partenaire = django_filters.CharFilter(
        label="Partenaire", field_name="organisme__raison_sociale", lookup_expr="icontains"
    )
    utilisateur = django_filters.CharFilter(label="Utilisateur", method="filtrer_utilisateur")
    activite = django_filters.CharFilter(label="Activité", field_name="activite__libelle", lookup_expr="icontains")
    decision = django_filters.ChoiceFilter(label="Décision", choices=DecisionCaf.choices, empty_label="En attente")

    class Meta:
        model = ValidationApprobateur
        fields = ["partenaire", "utilisateur", "activite", "decision"]
        form = PortailForm

    def filtrer_utilisateur(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        q = Q()
        for mot in value.split():
            q &= (
                Q(utilisateur__nom__icontains=mot)
                | Q(utilisateur__prenom__icontains=mot)
                | Q(utilisateur__identifiant__icontains=mot)
            )
        return queryset.filter(q)

    @property
    def qs(self):
        qs = super().qs
        # Sans décision choisie : la file d'attente.
        if not (self.form.is_valid() and self.form.cleaned_data.get("decision")):
            qs = qs.filter(decision=DecisionCaf.EN_ATTENTE)
        return qs
