"""Formulaires des déclarants : une ligne d'activité, les données financières, et les filtres de
« Mes déclarations ». Les champs viennent du modèle (types et bornes) ; les règles de cohérence
sont celles du service, affichées sous leur champ (``refus_afficher``)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from afas.declarations.services import CHAMPS_ACTIVITE, CHAMPS_FINANCIERS
from afas.enums import EtatDeclaration, NatureActivite, TypeActivite, TypeDeclaration
from afas.models import Declaration, DonneesActivite, DonneesFinancieres
from portail.socle.dates import aujourdhui
from portail.socle.forms import PortailForm

COMMENTAIRE_AIDE = (
    "Obligatoire si ce réel s'écarte de plus de 20 % du prévisionnel du même exercice "
    "(total des heures réalisées ou total des charges)."
)


def _champ(modele: type, nom: str) -> forms.Field:
    """Le champ de formulaire du modèle, facultatif (un brouillon peut le laisser vide), saisi à
    la française (« 12,5 ») pour les décimaux."""
    champ = modele._meta.get_field(nom).formfield(required=False)
    if isinstance(champ, forms.DecimalField):
        champ.localize = True
        champ.widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        champ.widget.is_localized = True
    else:
        champ.widget.attrs.setdefault("autocomplete", "off")
    return champ


class _SaisieForm(PortailForm):
    """La version lue (champ caché) et, pour un réel, le commentaire d'écart."""

    modele: type
    champs: tuple[str, ...]

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**31 - 1)

    def __init__(self, *args, declaration: Declaration, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for nom in self.champs:
            self.fields[nom] = _champ(self.modele, nom)
        if declaration.type_declaration == TypeDeclaration.REEL:
            self.fields["commentaire_ecart"] = forms.CharField(
                label="Commentaire sur l'écart au prévisionnel",
                help_text=COMMENTAIRE_AIDE,
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 3}),
            )
            self.initial.setdefault("commentaire_ecart", declaration.commentaire_ecart)

    def valeurs(self) -> dict:
        return {nom: self.cleaned_data[nom] for nom in self.champs}

    def commentaire(self) -> str | None:
        """Le commentaire s'il a été changé dans ce formulaire, sinon None (laissé tel quel :
        l'autre fournisseur a pu l'écrire entre-temps)."""
        if "commentaire_ecart" in self.fields and "commentaire_ecart" in self.changed_data:
            return self.cleaned_data["commentaire_ecart"]
        return None


class DonneesActiviteForm(_SaisieForm):
    modele = DonneesActivite
    champs = CHAMPS_ACTIVITE

    def __init__(self, *args, declaration: Declaration, alsh: bool, **kwargs) -> None:
        super().__init__(*args, declaration=declaration, **kwargs)
        if not alsh:
            # Le Plan mercredi ne concerne que les accueils de loisirs.
            del self.fields["heures_mercredi"]
        self.fields["heures_realisees"].help_text = "Heures-enfants : heures d'accueil × enfants présents."
        self.fields["heures_facturees"].help_text = "Heures-enfants facturées aux familles."
        if "commentaire_ecart" in self.fields:
            # Demandé à côté des heures réalisées, qu'il explique.
            ordre = ["heures_realisees", "commentaire_ecart"]
            self.order_fields([*ordre, *(n for n in self.fields if n not in ordre)])

    def valeurs(self) -> dict:
        return {nom: self.cleaned_data[nom] for nom in self.champs if nom in self.fields}


class DonneesFinancieresForm(_SaisieForm):
    modele = DonneesFinancieres
    champs = CHAMPS_FINANCIERS

    def __init__(self, *args, declaration: Declaration, **kwargs) -> None:
        super().__init__(*args, declaration=declaration, **kwargs)
        self.fields["participations_familiales"].help_text = "Comprises dans le compte 70."

    def charges(self) -> list[forms.BoundField]:
        return [self[nom] for nom in self.champs if nom.startswith("c")]

    def produits(self) -> list[forms.BoundField]:
        return [self[nom] for nom in self.champs if nom.startswith("p") and nom != "participations_familiales"]

    def autres(self) -> list[forms.BoundField]:
        return [
            self[nom]
            for nom in ("participations_familiales", "taux_ressortissants", "commentaire_ecart")
            if nom in self.fields
        ]


def _exercices() -> list[tuple[int, int]]:
    annee = aujourdhui().year
    return [(a, str(a)) for a in range(annee + 1, annee - 10, -1)]


class MesDeclarationsFiltre(django_filters.FilterSet):
    """Les critères des guides : type, exercice et état de la déclaration ; nom, type et nature
    de l'activité."""

    type_declaration = django_filters.ChoiceFilter(
        label="Type de déclaration", choices=TypeDeclaration.choices, empty_label="Tous"
    )
    exercice = django_filters.ChoiceFilter(label="Exercice de la déclaration", choices=_exercices, empty_label="Tous")
    etat = django_filters.ChoiceFilter(
        label="État de la déclaration", choices=EtatDeclaration.choices, empty_label="Tous"
    )
    activite = django_filters.CharFilter(label="Nom de l'activité", method="filtrer_activite")
    type_activite = django_filters.ChoiceFilter(
        label="Type d'activité", field_name="activite__type_activite", choices=TypeActivite.choices, empty_label="Tous"
    )
    nature = django_filters.ChoiceFilter(
        label="Nature d'activité", field_name="activite__nature", choices=NatureActivite.choices, empty_label="Toutes"
    )

    class Meta:
        model = Declaration
        fields = ["type_declaration", "exercice", "etat", "activite", "type_activite", "nature"]
        form = PortailForm

    def filtrer_activite(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Chaque mot dans le libellé ou le numéro d'équipement."""
        for mot in value.split()[:10]:
            queryset = queryset.filter(
                Q(activite__libelle__icontains=mot) | Q(activite__numero_equipement__icontains=mot)
            )
        return queryset
