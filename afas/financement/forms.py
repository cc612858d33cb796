"""Formulaires du financement : paramètres d'une Caf, label Plan mercredi, filtres."""

from __future__ import annotations

from decimal import Decimal

import django_filters
from django import forms

from afas.enums import TypeActivite
from afas.models import ParametreFinancement
from portail.socle.forms import GABARIT_RADIOS, PortailForm


def _decimal(libelle: str, *, maximum: str | None = None, aide: str = "", decimales: int = 2) -> forms.DecimalField:
    return forms.DecimalField(
        label=libelle,
        min_value=Decimal("0"),
        max_value=Decimal(maximum) if maximum else Decimal("9999999999"),
        max_digits=12,
        decimal_places=decimales,
        help_text=aide,
        localize=True,
        error_messages={
            "required": "Ce champ est obligatoire.",
            "invalid": "Saisissez un nombre, par exemple 4,60.",
            "min_value": "La valeur ne peut pas être négative.",
            "max_value": "La valeur est trop grande.",
            "max_digits": "La valeur est trop grande.",
            "max_decimal_places": "Deux décimales au plus.",
            "max_whole_digits": "La valeur est trop grande.",
        },
    )


class ParametreForm(PortailForm):
    taux = _decimal("Taux de prise en charge (%)", maximum="100", aide="30 pour la PS ALSH, 66 pour la PSU.")
    prix_plafond = _decimal("Prix plafond")
    bonus_mercredi = _decimal("Bonus Plan mercredi (€ par heure)", maximum="100", aide="ALSH seulement ; 0 sinon.")
    taux_avance_1 = _decimal("Première avance (% du prévisionnel)", maximum="70")
    taux_avance_2 = _decimal("Seconde avance (% du prévisionnel)", maximum="70")
    source = forms.CharField(
        label="Source",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="La délibération, la circulaire ou le courrier qui fonde ces valeurs.",
        error_messages={"required": "Indiquez la source de ces valeurs."},
    )

    def __init__(self, *args, unite_plafond: str = "€/h", **kwargs):
        super().__init__(*args, **kwargs)
        self.renommer(prix_plafond=f"Prix plafond ({unite_plafond})")


class PlanMercrediForm(PortailForm):
    exercice = forms.TypedChoiceField(label="Exercice", coerce=int, choices=())
    labellise = forms.TypedChoiceField(
        label="Label Plan mercredi",
        coerce=lambda v: v == "oui",
        choices=[("oui", "Labellisée"), ("non", "Non labellisée")],
        widget=forms.RadioSelect,
        template_name=GABARIT_RADIOS,
        error_messages={"required": "Choisissez si l'activité est labellisée."},
    )

    def __init__(self, *args, exercices: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["exercice"].choices = [(e, str(e)) for e in exercices]


class ParametreFiltre(django_filters.FilterSet):
    exercice = django_filters.NumberFilter(label="Exercice", min_value=2000, max_value=2100)
    type_activite = django_filters.ChoiceFilter(
        label="Type d'activité", choices=TypeActivite.choices, empty_label="Tous"
    )

    class Meta:
        model = ParametreFinancement
        fields = ["exercice", "type_activite"]
        form = PortailForm
