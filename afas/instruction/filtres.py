"""Filtres de la file « Déclarations reçues » de l'agent Caf."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet

from afas.enums import SAISISSABLES, EtatDeclaration, NatureActivite, TypeActivite, TypeDeclaration
from afas.models import Declaration, Recepisse
from portail.socle.dates import aujourdhui
from portail.socle.forms import PortailForm

TOUS_LES_ETATS = "tous"
EN_RETARD, DANS_LES_DELAIS = "oui", "non"


def q_en_retard(jour: datetime.date) -> Q:
    """En retard : la date limite est passée sans transmission, ou la première transmission est
    arrivée après la date limite (jour de Paris)."""
    premiere_tardive = Recepisse.objects.filter(
        declaration=OuterRef("pk"), numero=1, transmise_le__date__gt=OuterRef("date_limite")
    )
    return Q(etat__in=SAISISSABLES, date_limite__lt=jour) | Q(Exists(premiere_tardive))


def avec_retard(queryset: QuerySet[Declaration], jour: datetime.date | None = None) -> QuerySet[Declaration]:
    """Annoté ``en_retard`` (dans la requête de la page : aucune requête par ligne)."""
    return queryset.annotate(en_retard=ExpressionWrapper(q_en_retard(jour or aujourdhui()), BooleanField()))


class ExerciceFiltre(django_filters.NumberFilter):
    """Une année entière, bornée (un nombre démesuré dépasserait la colonne de la base)."""

    field_class = forms.IntegerField


class DeclarationRecueFiltre(django_filters.FilterSet):
    etat = django_filters.ChoiceFilter(
        label="État",
        choices=[(TOUS_LES_ETATS, "Tous les états"), *EtatDeclaration.choices],
        empty_label="À instruire",
        method="filtrer_etat",
    )
    type_declaration = django_filters.ChoiceFilter(
        label="Type de déclaration", choices=TypeDeclaration.choices, empty_label="Tous"
    )
    exercice = ExerciceFiltre(
        label="Exercice",
        min_value=2000,
        max_value=2100,
        error_messages={"invalid": "Saisissez une année, par exemple 2026."},
    )
    partenaire = django_filters.CharFilter(
        label="Partenaire", field_name="activite__organisme__raison_sociale", lookup_expr="icontains", max_length=200
    )
    type_activite = django_filters.ChoiceFilter(
        label="Type d'activité", field_name="activite__type_activite", choices=TypeActivite.choices, empty_label="Tous"
    )
    nature = django_filters.ChoiceFilter(
        label="Nature d'activité", field_name="activite__nature", choices=NatureActivite.choices, empty_label="Toutes"
    )
    retard = django_filters.ChoiceFilter(
        label="Délai",
        choices=[(EN_RETARD, "En retard"), (DANS_LES_DELAIS, "Dans les délais")],
        empty_label="Tous",
        method="filtrer_retard",
    )

    class Meta:
        model = Declaration
        fields = ["etat", "type_declaration", "exercice", "partenaire", "type_activite", "nature", "retard"]
        form = PortailForm

    def filtrer_etat(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset if value == TOUS_LES_ETATS else queryset.filter(etat=value)

    def filtrer_retard(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(en_retard=value == EN_RETARD)

    @property
    def qs(self):
        qs = super().qs
        # Sans état choisi : la file à instruire, les déclarations transmises.
        if not (self.form.is_valid() and self.form.cleaned_data.get("etat")):
            qs = qs.filter(etat=EtatDeclaration.TRANSMISE)
        return qs
