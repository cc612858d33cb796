"""Formulaires de « Gestion des habilitations » : créer, modifier, clôturer un utilisateur ;
l'ajouter à un groupe ; changer les dates d'une appartenance ou la clôturer.

Ils contrôlent la saisie (confirmations identiques, téléphone bien formé, dates dans l'ordre,
groupe choisi parmi ceux du périmètre) ; les règles métier restent dans
``habilitations.services``, dont les refus (``ErreurMetier``) sont affichés par la vue sous le
champ concerné.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

from habilitations import perms
from habilitations.enums import Poste
from habilitations.validators import telephone_normaliser
from portail.socle.dates import MESSAGE_PERIODE, aujourdhui, periode_valide, q_pas_encore_cloture
from portail.socle.forms import GABARIT_CASE, GABARIT_RADIOS, PortailForm, champ_date

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from conventions.models import Convention
    from habilitations.models import Appartenance, Groupe, Utilisateur

MESSAGE_EMAIL_INVALIDE = "Saisissez une adresse mail valide, par exemple prenom.nom@organisme.fr."
POSTES = [
    (Poste.SEDENTAIRE, "Sédentaire (possède un poste fixe)"),
    (Poste.ITINERANT, "Itinérant (poste de travail variable)"),
]


class GroupeChoiceField(forms.ModelChoiceField):
    """Les groupes dans l'ordre de l'arbre, un sous-groupe décalé sous son parent."""

    def label_from_instance(self, obj: Groupe) -> str:
        return f"{'— ' * (obj.niveau - 1)}{obj.code} — {obj.libelle}"


def groupes_proposes(perimetre: perms.Perimetre) -> QuerySet[Groupe]:
    """Les groupes où l'on peut faire entrer quelqu'un : ceux du périmètre, pas encore clôturés
    (un groupe qui ouvre plus tard est proposé : l'appartenance prendra effet avec lui). L'ordre
    du chemin range chaque sous-groupe sous son parent."""
    return perms.groupes_du_perimetre(perimetre).filter(q_pas_encore_cloture(aujourdhui())).order_by("chemin")


def _champ_email(libelle: str) -> forms.EmailField:
    champ = forms.EmailField(label=libelle, max_length=254, error_messages={"invalid": MESSAGE_EMAIL_INVALIDE})
    champ.widget.attrs.update({"autocomplete": "off"})
    return champ


def _champ_telephone(libelle: str) -> forms.CharField:
    champ = forms.CharField(label=libelle, max_length=20, required=False)
    champ.widget.attrs.update({"inputmode": "tel", "autocomplete": "off"})
    return champ


class _CoordonneesForm(PortailForm):
    """Identité et coordonnées d'un compte, avec la confirmation de l'adresse et du téléphone
    (une faute de frappe enverrait l'identifiant et le mot de passe à quelqu'un d'autre)."""

    nom = forms.CharField(label="Nom", max_length=100)
    prenom = forms.CharField(label="Prénom", max_length=100)
    email = _champ_email("Adresse mail")
    email_confirmation = _champ_email("Confirmer l'adresse mail")
    telephone = _champ_telephone("Téléphone")
    telephone_confirmation = _champ_telephone("Confirmer le téléphone")
    poste = forms.ChoiceField(
        label="Poste de travail",
        choices=POSTES,
        initial=Poste.SEDENTAIRE,
        widget=forms.RadioSelect,
        template_name=GABARIT_RADIOS,
        error_messages={"required": "Choisissez Sédentaire ou Itinérant."},
    )

    def __init__(
        self, *args: Any, convention: Convention | None, utilisateur: Utilisateur | None = None, **kwargs: Any
    ) -> None:
        self.convention = convention
        self.utilisateur = utilisateur
        super().__init__(*args, **kwargs)
        self.fields["telephone"].help_text = "10 chiffres (espaces ou points acceptés), ou +33…"

    def clean_nom(self) -> str:
        return self.cleaned_data["nom"].strip()

    def clean_prenom(self) -> str:
        return self.cleaned_data["prenom"].strip()

    def clean_email(self) -> str:
        # L'adresse libre dans la convention est vérifiée une fois, par le service (son refus
        # s'affiche sous ce champ).
        return self.cleaned_data["email"].strip().lower()

    def clean_telephone(self) -> str:
        valeur = self.cleaned_data["telephone"].strip()
        if not valeur:
            return ""
        return telephone_normaliser(valeur)

    def clean_telephone_confirmation(self) -> str:
        valeur = self.cleaned_data["telephone_confirmation"].strip()
        try:
            return telephone_normaliser(valeur)
        except forms.ValidationError:
            return valeur  # comparée au téléphone : l'erreur est dite sous celui-ci

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        email, confirmation = cleaned.get("email"), cleaned.get("email_confirmation")
        if email and confirmation and email != confirmation.strip().lower():
            self.add_error("email_confirmation", "Les deux adresses mail ne sont pas identiques.")
        if "telephone" not in self.errors:
            telephone, confirmation = cleaned.get("telephone", ""), cleaned.get("telephone_confirmation", "")
            if telephone and not confirmation:
                self.add_error("telephone_confirmation", "Confirmez le numéro de téléphone.")
            elif telephone != confirmation:
                self.add_error("telephone_confirmation", "Les deux numéros de téléphone ne sont pas identiques.")
        return cleaned

    def arguments_coordonnees(self) -> dict[str, Any]:
        cleaned = self.cleaned_data
        return {champ: cleaned[champ] for champ in ("nom", "prenom", "email", "telephone", "poste")}


class UtilisateurCreerForm(_CoordonneesForm):
    """« Créer un utilisateur partenaire ». Le groupe d'habilitation est facultatif pour
    l'administrateur ; un responsable d'habilitations crée ses utilisateurs dans un de ses
    groupes, donc le choisit obligatoirement (et seulement parmi eux)."""

    date_ouverture = champ_date("Date d'ouverture", initial=aujourdhui)
    date_cloture = champ_date("Date de clôture", requis=False, help_text="Facultative.")
    groupe = GroupeChoiceField(
        label="Groupe d'habilitation",
        queryset=None,
        required=False,
        error_messages={"invalid_choice": "Choisissez un groupe de la liste."},
    )

    def __init__(self, *args: Any, perimetre: perms.Perimetre, **kwargs: Any) -> None:
        super().__init__(*args, convention=perimetre.convention, **kwargs)
        champ = self.fields["groupe"]
        champ.queryset = groupes_proposes(perimetre)
        if perimetre.responsable:
            champ.required = True
            champ.empty_label = "Choisir un de vos groupes"
            champ.help_text = "Obligatoire : vous créez les utilisateurs dans vos groupes et leurs sous-groupes."
            champ.error_messages["required"] = "Choisissez le groupe d'habilitation de l'utilisateur."
        else:
            champ.empty_label = "Aucun groupe pour l'instant"
            champ.help_text = "Facultatif : l'utilisateur pourra être ajouté à un groupe plus tard."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        ouverture, cloture = cleaned.get("date_ouverture"), cleaned.get("date_cloture")
        if ouverture and not periode_valide(ouverture, cloture):
            self.add_error("date_cloture", MESSAGE_PERIODE)
        return cleaned

    def arguments_service(self) -> dict[str, Any]:
        cleaned = self.cleaned_data
        return {
            **self.arguments_coordonnees(),
            "date_ouverture": cleaned["date_ouverture"],
            "date_cloture": cleaned["date_cloture"],
            "groupe": cleaned["groupe"],
        }


class UtilisateurModifierForm(_CoordonneesForm):
    """Identité et coordonnées ; les dates du compte ont leurs propres actes (clôturer,
    rouvrir)."""

    def __init__(self, *args: Any, utilisateur: Utilisateur, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "nom": utilisateur.nom,
                "prenom": utilisateur.prenom,
                "email": utilisateur.email,
                "email_confirmation": utilisateur.email,
                "telephone": utilisateur.telephone,
                "telephone_confirmation": utilisateur.telephone,
                "poste": utilisateur.poste,
            },
        )
        convention = utilisateur.convention if utilisateur.convention_id else None
        super().__init__(*args, convention=convention, utilisateur=utilisateur, **kwargs)

    def clean_email(self) -> str:
        if self.convention:
            return super().clean_email()
        # Compte d'administrateur rattaché à l'organisme (pas à une convention) : pas de
        # convention où l'adresse devrait être unique.
        return self.cleaned_data["email"].strip().lower()


class _CloturerForm(PortailForm):
    date_cloture = champ_date(
        "Date de clôture",
        initial=aujourdhui,
        help_text="Aujourd'hui ou plus tard : la clôture prend effet ce jour-là.",
    )
    confirmation = forms.BooleanField(
        label="Je confirme la clôture",
        error_messages={"required": "Cochez la case pour confirmer la clôture."},
        template_name=GABARIT_CASE,
    )


class UtilisateurCloturerForm(_CloturerForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.renommer(
            confirmation="Je confirme la clôture du compte : à cette date, l'utilisateur ne pourra plus se "
            "connecter et perdra tous ses profils"
        )


class AppartenanceCloturerForm(_CloturerForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.renommer(
            confirmation="Je confirme la clôture de l'appartenance : à cette date, l'utilisateur perdra les "
            "profils de ce groupe"
        )


class ConfirmationForm(PortailForm):
    """Sans champ : porte le jeton CSRF et les refus du service (« déjà ouvert »…)."""


class _PeriodeForm(PortailForm):
    date_ouverture = champ_date("Date d'ouverture", initial=aujourdhui)
    date_cloture = champ_date("Date de clôture", requis=False, help_text="Facultative.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        ouverture, cloture = cleaned.get("date_ouverture"), cleaned.get("date_cloture")
        if ouverture and not periode_valide(ouverture, cloture):
            self.add_error("date_cloture", MESSAGE_PERIODE)
        return cleaned


class AjouterGroupeForm(_PeriodeForm):
    """« Ajouter à un groupe » : un des groupes ouverts du périmètre ; un utilisateur peut
    appartenir à plusieurs groupes."""

    groupe = GroupeChoiceField(
        label="Groupe",
        queryset=None,
        empty_label="Choisir un groupe existant",
        error_messages={
            "required": "Choisissez le groupe.",
            "invalid_choice": "Choisissez un groupe de la liste.",
        },
    )
    field_order = ["groupe", "date_ouverture", "date_cloture"]

    def __init__(self, *args: Any, perimetre: perms.Perimetre, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["groupe"].queryset = groupes_proposes(perimetre)


class AppartenanceModifierForm(_PeriodeForm):
    def __init__(self, *args: Any, appartenance: Appartenance, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial", {"date_ouverture": appartenance.date_ouverture, "date_cloture": appartenance.date_cloture}
        )
        super().__init__(*args, **kwargs)
