"""Saisie d'un organisme partenaire. Le formulaire contrôle la forme ; le doublon de SIRET, règle
métier, est refusé par le service (``conventions.services.organisme_enregistrer``)."""

from django import forms
from django.core.validators import RegexValidator

from conventions.models import TypeOrganisme
from conventions.validators import siret_normaliser, valider_siret
from portail.socle.forms import PortailForm


class OrganismeForm(PortailForm):
    raison_sociale = forms.CharField(label="Raison sociale", max_length=200)
    # 14 chiffres, mais on accepte la saisie « 211 201 999 00018 » recopiée d'un courrier.
    siret = forms.CharField(
        label="SIRET",
        max_length=20,
        validators=[valider_siret],
        help_text="14 chiffres ; les espaces sont acceptés.",
    )
    type_organisme = forms.ModelChoiceField(
        label="Type d'organisme",
        queryset=TypeOrganisme.objects.all(),
        empty_label="Choisir un type",
    )
    adresse = forms.CharField(label="Adresse", max_length=250, required=False)
    code_postal = forms.CharField(
        label="Code postal",
        required=False,
        validators=[RegexValidator(r"^[0-9]{5}$", "Le code postal comporte 5 chiffres.", code="code_postal")],
    )
    commune = forms.CharField(label="Commune", max_length=120, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["siret"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})
        self.fields["code_postal"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "postal-code"})

    def clean_siret(self) -> str:
        return siret_normaliser(self.cleaned_data["siret"])
