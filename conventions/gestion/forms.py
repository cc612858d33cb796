"""Formulaires de gestion des conventions (agents de la Caf pivot) : valider, clôturer.

Formaliser une convention et enregistrer un avenant nomment un administrateur, compte existant
ou créé sur place : leurs formulaires sont dans ``habilitations.administration.administrateurs``.
"""

from __future__ import annotations

from django import forms

from portail.socle.dates import aujourdhui
from portail.socle.forms import GABARIT_CASE, PortailForm, champ_date


class ConfirmationForm(PortailForm):
    """Formulaire sans champ : porte le jeton CSRF et les refus du service (« déjà validée »)."""


class CloturerForm(PortailForm):
    date_cloture = champ_date(
        "Date de clôture",
        initial=aujourdhui,
        help_text="Aujourd'hui ou plus tard : la convention est close à partir de cette date.",
    )
    confirmation = forms.BooleanField(
        label=("Je confirme la clôture : à cette date, tous les accès ouverts par cette convention seront fermés"),
        error_messages={"required": "Cochez la case pour confirmer la clôture."},
        template_name=GABARIT_CASE,
    )
