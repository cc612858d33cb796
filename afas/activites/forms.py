"""Saisie des activités et des lieux par l'agent Caf ; les règles restent dans ``afas.services``."""

from __future__ import annotations

from django import forms

from afas.enums import NatureActivite, TypeActivite
from portail.socle.dates import MESSAGE_PERIODE, aujourdhui, periode_valide
from portail.socle.forms import GABARIT_CASE, PortailForm, champ_date


class ActiviteForm(PortailForm):
    organisme = forms.ModelChoiceField(
        label="Partenaire", queryset=None, error_messages={"required": "Choisissez le partenaire."}
    )
    numero_equipement = forms.CharField(label="Numéro d'équipement", max_length=20)
    libelle = forms.CharField(label="Libellé", max_length=200)
    type_activite = forms.ChoiceField(label="Type d'activité", choices=[("", "Choisir"), *TypeActivite.choices])
    nature = forms.ChoiceField(
        label="Nature d'activité",
        choices=[("", "Sans objet"), *NatureActivite.choices],
        required=False,
        help_text="Pour un accueil de loisirs (ALSH) seulement.",
    )
    date_ouverture = champ_date("Date d'ouverture", initial=aujourdhui)
    date_cloture = champ_date("Date de clôture", requis=False)

    def __init__(self, *args, organismes=None, modification: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if modification:
            del self.fields["organisme"]
            del self.fields["numero_equipement"]
        else:
            self.fields["organisme"].queryset = organismes

    def clean(self):
        donnees = super().clean()
        ouverture, cloture = donnees.get("date_ouverture"), donnees.get("date_cloture")
        if ouverture and not periode_valide(ouverture, cloture):
            self.add_error("date_cloture", MESSAGE_PERIODE)
        return donnees


class LieuForm(PortailForm):
    libelle = forms.CharField(label="Libellé", max_length=200)
    adresse = forms.CharField(label="Adresse", max_length=250, required=False)
    code_postal = forms.RegexField(
        label="Code postal",
        regex=r"^\d{5}$",
        required=False,
        error_messages={"invalid": "Le code postal compte 5 chiffres."},
    )
    commune = forms.CharField(label="Commune", max_length=120, required=False)
    date_ouverture = champ_date("Date d'ouverture", initial=aujourdhui)
    date_cloture = champ_date("Date de clôture", requis=False)

    def clean(self):
        donnees = super().clean()
        ouverture, cloture = donnees.get("date_ouverture"), donnees.get("date_cloture")
        if ouverture and not periode_valide(ouverture, cloture):
            self.add_error("date_cloture", MESSAGE_PERIODE)
        return donnees


class CloturerForm(PortailForm):
    date_cloture = champ_date("Date de clôture", initial=aujourdhui)
    confirmation = forms.BooleanField(
        label="Je confirme la clôture.",
        template_name=GABARIT_CASE,
        error_messages={"required": "Cochez la case pour confirmer la clôture."},
    )
