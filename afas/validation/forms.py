from django import forms

from portail.socle.forms import PortailForm


class RefusForm(PortailForm):
    motif = forms.CharField(
        label="Motif du refus",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        error_messages={"required": "Le motif du refus est obligatoire."},
    )
    confirmation = forms.BooleanField(
        label="Je confirme le refus : l'habilitation prend fin et passe en Historique.",
        error_messages={"required": "Cochez la case pour confirmer le refus."},
    )


class ValidationForm(PortailForm):
    confirmation = forms.BooleanField(
        label="Je confirme la validation : l'habilitation sera active à partir de sa date de début.",
        error_messages={"required": "Cochez la case pour confirmer la validation."},
    )
