from django import forms

from afas.instruction.services import COMMENTAIRE_LONGUEUR_MAX
from portail.socle.forms import GABARIT_CASE, PortailForm


class ValidationDeclarationForm(PortailForm):
    confirmation = forms.BooleanField(
        label="Je confirme la validation : la déclaration transmise est acceptée par la Caf.",
        error_messages={"required": "Cochez la case pour confirmer la validation."},
        template_name=GABARIT_CASE,
    )


class RenvoiForm(PortailForm):
    commentaire = forms.CharField(
        label="Commentaire pour les déclarants",
        help_text="Ce qui est à corriger : il est envoyé par courriel aux déclarants et reste dans l'historique.",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=COMMENTAIRE_LONGUEUR_MAX,
        error_messages={
            "required": "Le commentaire est obligatoire pour renvoyer la déclaration.",
            "max_length": f"Le commentaire ne doit pas dépasser {COMMENTAIRE_LONGUEUR_MAX} caractères.",
        },
    )
