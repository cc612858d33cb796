from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet

from habilitations.administration.import_csv.imports import TAILLE_MAX
from habilitations.models import Groupe
from portail.socle.forms import PortailForm


class GroupeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Groupe) -> str:
        # Les sous-groupes en retrait sous leur parent (la liste est dans l'ordre de l'arbre).
        return f"{'— ' * (obj.niveau - 1)}{obj.code} — {obj.libelle}"


class ImportDeposerForm(PortailForm):
    fichier = forms.FileField(
        label="Fichier CSV",
        help_text="UTF-8 ou Windows-1252, séparateur « ; » ou « , », 2 Mo et 10 000 lignes au plus.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        error_messages={
            "required": "Choisissez le fichier CSV des utilisateurs à créer.",
            "empty": "Le fichier est vide.",
        },
    )
    groupe = GroupeChoiceField(
        label="Groupe d'habilitation",
        queryset=Groupe.objects.none(),
        required=False,
        empty_label="Aucun groupe",
        help_text="Chaque compte créé devient membre de ce groupe dès son ouverture.",
        error_messages={"invalid_choice": "Choisissez un groupe ouvert de votre périmètre."},
    )

    def __init__(self, *args: Any, groupes: QuerySet[Groupe], groupe_requis: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["groupe"].queryset = groupes.order_by("chemin")
        if groupe_requis:
            # Un responsable ne crée des comptes que dans ses groupes.
            self.fields["groupe"].required = True
            self.fields["groupe"].empty_label = "Choisir un groupe"
            self.fields["groupe"].error_messages["required"] = "Choisissez l'un de vos groupes."

    def clean_fichier(self) -> UploadedFile:
        fichier = self.cleaned_data["fichier"]
        if fichier.size > TAILLE_MAX:
            poids = f"{fichier.size / 1024 / 1024:.1f}".replace(".", ",")
            raise forms.ValidationError(
                f"Le fichier pèse {poids} Mo : 2 Mo au plus. Découpez-le en plusieurs fichiers."
            )
        return fichier
