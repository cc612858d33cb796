"""Le formulaire « Lancer un appel de déclaration » ; les règles restent dans le service
(``afas.campagnes.services``), le formulaire ne fait que dire tôt, sous le champ, ce qu'il refuserait."""

from __future__ import annotations

import uuid

from django import forms

from afas.campagnes.services import Criteres, bornes_exercice, numeros_lire
from afas.enums import NatureActivite, TypeActivite, TypeDeclaration
from portail.socle.dates import aujourdhui
from portail.socle.forms import GABARIT_RADIOS, PortailForm, champ_date

PAR_CRITERES, PAR_CHOIX = "criteres", "choix"


def _exercices() -> list[tuple[int, str]]:
    premier, dernier = bornes_exercice()
    return [(annee, str(annee)) for annee in range(dernier, premier - 1, -1)]


class AppelForm(PortailForm):
    # La clé d'envoi, tirée à l'affichage : renvoyer le même formulaire rend le même appel.
    cle = forms.CharField(widget=forms.HiddenInput, required=False)
    exercice = forms.TypedChoiceField(
        label="Exercice",
        coerce=int,
        choices=_exercices,
        error_messages={
            "required": "Choisissez l'exercice.",
            "invalid_choice": "Choisissez un exercice de la liste.",
        },
    )
    type_declaration = forms.ChoiceField(
        label="Type de déclaration",
        choices=[("", "Choisir"), *TypeDeclaration.choices],
        error_messages={
            "required": "Choisissez le type de déclaration.",
            "invalid_choice": "Choisissez un type de déclaration de la liste.",
        },
    )
    mode = forms.ChoiceField(
        label="Activités concernées",
        choices=[
            (PAR_CRITERES, "Par type et nature d'activité, chez tous les partenaires de la Caf"),
            (PAR_CHOIX, "Activités choisies, par leur numéro d'équipement"),
        ],
        initial=PAR_CRITERES,
        widget=forms.RadioSelect,
        template_name=GABARIT_RADIOS,
        error_messages={
            "required": "Choisissez comment désigner les activités concernées.",
            "invalid_choice": "Choisissez l'une des deux façons de désigner les activités.",
        },
    )
    type_activite = forms.ChoiceField(
        label="Type d'activité",
        choices=[("", "Tous les types"), *TypeActivite.choices],
        required=False,
        error_messages={"invalid_choice": "Choisissez un type d'activité de la liste."},
    )
    nature = forms.ChoiceField(
        label="Nature d'activité",
        choices=[("", "Toutes les natures"), *NatureActivite.choices],
        required=False,
        help_text="Pour les accueils de loisirs (ALSH) seulement.",
        error_messages={"invalid_choice": "Choisissez une nature d'activité de la liste."},
    )
    numeros = forms.CharField(
        label="Numéros d'équipement (activités choisies)",
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Les activités ouvertes de votre Caf, séparées par des virgules ou des retours à la ligne "
        "(par exemple : ALSH120001, EAJE120003).",
        error_messages={"max_length": "Saisissez au plus 20 000 caractères."},
    )
    date_ouverture = champ_date("Ouverture de la saisie", initial=aujourdhui)
    date_limite = champ_date("Date limite de transmission")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("cle", str(uuid.uuid4()))
            self.initial.setdefault("exercice", aujourdhui().year)

    def clean_cle(self) -> uuid.UUID:
        # Absente ou forgée : une clé neuve (seul un envoi légitime renvoie la même clé).
        try:
            return uuid.UUID(self.cleaned_data.get("cle") or "")
        except ValueError:
            return uuid.uuid4()

    def clean(self):
        donnees = super().clean()
        ouverture, limite = donnees.get("date_ouverture"), donnees.get("date_limite")
        if limite and limite < aujourdhui():
            self.add_error("date_limite", "La date limite ne peut pas être passée.")
        elif ouverture and limite and limite <= ouverture:
            self.add_error("date_limite", "La date limite doit être postérieure à la date d'ouverture.")
        if donnees.get("mode") == PAR_CHOIX and not numeros_lire(donnees.get("numeros") or ""):
            self.add_error("numeros", "Saisissez au moins un numéro d'équipement.")
        nature, type_activite = donnees.get("nature"), donnees.get("type_activite")
        if donnees.get("mode") == PAR_CRITERES and nature and type_activite not in ("", TypeActivite.ALSH, None):
            self.add_error("nature", "La nature d'activité ne concerne que les accueils de loisirs (ALSH).")
        return donnees

    def criteres(self) -> Criteres:
        d = self.cleaned_data
        if d["mode"] == PAR_CHOIX:
            return Criteres(numeros=tuple(numeros_lire(d["numeros"])))
        return Criteres(type_activite=d.get("type_activite") or "", nature=d.get("nature") or "")
