"""Formulaires des groupes d'une convention : créer un groupe (avec son responsable, existant ou
créé sur place), donner ou retirer une habilitation, ajouter un utilisateur au groupe.

Les formulaires contrôlent la saisie et ne proposent que ce que le périmètre permet (comptes,
groupes parents, profils) : une valeur forgée hors de ces listes est refusée comme un choix
invalide. Les règles métier restent dans ``habilitations.services``, dont les refus
(``ErreurMetier``) sont affichés par la vue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.html import format_html

from habilitations.models import Groupe, Utilisateur
from habilitations.validators import telephone_normaliser
from portail.socle.dates import MESSAGE_PERIODE, aujourdhui, periode_valide
from portail.socle.forms import GABARIT_CASE, GABARIT_RADIOS, PortailForm, champ_date

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.forms import BoundField

    from conventions.models import Profil

# Au-delà, la liste déroulante des comptes deviendrait une page de plusieurs mégaoctets :
# on saisit alors l'identifiant (affiché dans la liste des utilisateurs).
SEUIL_LISTE_COMPTES = 300

MESSAGE_EMAIL = "Saisissez une adresse mail valide, par exemple prenom.nom@organisme.fr."


class ChoixResponsable:
    EXISTANT = "existant"
    NOUVEAU = "nouveau"
    CHOIX = [
        (EXISTANT, "Un utilisateur de la convention"),
        (NOUVEAU, "Créer un nouvel utilisateur"),
    ]


CHAMPS_NOUVEAU = ("nom", "prenom", "email", "email_confirmation", "telephone")
CHAMPS_NOUVEAU_REQUIS = ("nom", "prenom", "email", "email_confirmation")


def libelle_requis(libelle: str) -> str:
    """Libellé marqué d'un astérisque pour un champ requis selon un choix (le formulaire ne peut
    pas le déclarer requis : il ne l'est que si ce choix est fait)."""
    return format_html('{}<span class="fr-required-marker" aria-hidden="true"> *</span>', libelle)


class CompteChoiceField(forms.ModelChoiceField):
    """Un compte, désigné par son identifiant (valeur de l'option, ou saisie quand la liste
    serait trop longue)."""

    def __init__(self, comptes: QuerySet[Utilisateur], **kwargs: Any) -> None:
        super().__init__(
            queryset=comptes.order_by("nom", "prenom", "identifiant"), to_field_name="identifiant", **kwargs
        )

    def label_from_instance(self, obj: Utilisateur) -> str:
        return f"{obj.nom.upper()} {obj.prenom} ({obj.identifiant})"

    def to_python(self, value: Any) -> Utilisateur | None:
        # Identifiant saisi en minuscules ou avec des espaces : même compte.
        return super().to_python(value.strip().upper() if isinstance(value, str) else value)

    def saisie_libre_si_trop_de_comptes(self) -> None:
        """Liste déroulante tant qu'elle reste courte ; au-delà, l'identifiant se saisit."""
        if self.queryset.count() > SEUIL_LISTE_COMPTES:
            self.widget = forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"})
            self.help_text = " ".join(
                filter(
                    None,
                    [self.help_text, "Saisissez son identifiant (colonne Identifiant de la liste des utilisateurs)."],
                )
            )


class GroupeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Groupe) -> str:
        return f"{'— ' * (obj.niveau - 1)}{obj.code} — {obj.libelle} (niveau {obj.niveau})"


class GroupeCreerForm(PortailForm):
    """« Créer un groupe utilisateurs » : code, libellé, dates, responsable habilitations (un
    compte ouvert du périmètre, ou un nouveau compte créé sur place) et « Sous-groupe de »
    (obligatoire pour un responsable d'habilitations : il ne crée que sous ses groupes)."""

    code = forms.CharField(
        label="Code",
        max_length=40,
        help_text="Un mot ou un chiffre qui rappelle le libellé, par exemple T1. Unique dans la convention.",
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$",
                "Le code ne contient que des lettres sans accent, des chiffres, des tirets, des points ou des espaces.",
            )
        ],
    )
    libelle = forms.CharField(label="Libellé", max_length=200, help_text="Le nom du groupe, par exemple CDAP T1.")
    date_ouverture = champ_date("Date d'ouverture", initial=aujourdhui)
    date_cloture = champ_date(
        "Date de clôture", requis=False, help_text="Facultative ; postérieure à la date d'ouverture."
    )

    def __init__(
        self,
        *args: Any,
        comptes: QuerySet[Utilisateur],
        parents: QuerySet[Groupe],  # dans l'ordre de l'arbre
        parent_obligatoire: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"] = GroupeChoiceField(
            label="Sous-groupe de",
            queryset=parents,
            required=parent_obligatoire,
            empty_label="Choisir un groupe existant" if parent_obligatoire else "Aucun : groupe de niveau 1",
            help_text=(
                "Vous ne créez que des sous-groupes de vos groupes : leur niveau est celui du parent + 1."
                if parent_obligatoire
                else "Facultatif : le niveau du groupe est celui du parent + 1."
            ),
            error_messages={
                "required": "Choisissez le groupe dont ce groupe sera un sous-groupe.",
                "invalid_choice": "Choisissez un des groupes proposés.",
            },
        )
        self.fields["choix_responsable"] = forms.ChoiceField(
            label="Responsable habilitations",
            choices=ChoixResponsable.CHOIX,
            initial=ChoixResponsable.EXISTANT,
            widget=forms.RadioSelect,
            template_name=GABARIT_RADIOS,
            error_messages={"required": "Choisissez un utilisateur existant ou créez-en un."},
        )
        self.fields["responsable"] = CompteChoiceField(
            comptes,
            label=libelle_requis("Utilisateur"),
            required=False,
            empty_label="Sélectionner un utilisateur",
            help_text="Comptes ouverts de votre périmètre.",
            error_messages={"invalid_choice": "Choisissez un compte ouvert de votre périmètre."},
        )
        self.fields["responsable"].saisie_libre_si_trop_de_comptes()
        self.fields["nom"] = forms.CharField(label=libelle_requis("Nom"), max_length=100, required=False)
        self.fields["prenom"] = forms.CharField(label=libelle_requis("Prénom"), max_length=100, required=False)
        self.fields["email"] = forms.EmailField(
            label=libelle_requis("Adresse mail"), required=False, error_messages={"invalid": MESSAGE_EMAIL}
        )
        self.fields["email_confirmation"] = forms.EmailField(
            label=libelle_requis("Confirmer l'adresse mail"), required=False, error_messages={"invalid": MESSAGE_EMAIL}
        )
        self.fields["telephone"] = forms.CharField(
            label="Téléphone", max_length=20, required=False, validators=[telephone_normaliser]
        )
        for champ in ("email", "email_confirmation", "telephone"):
            self.fields[champ].widget.attrs.update({"autocomplete": "off"})
        self.fields["telephone"].widget.attrs["inputmode"] = "tel"

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        ouverture, cloture = cleaned.get("date_ouverture"), cleaned.get("date_cloture")
        if ouverture and not periode_valide(ouverture, cloture):
            self.add_error("date_cloture", MESSAGE_PERIODE)
        choix = cleaned.get("choix_responsable")
        # Seule la partie choisie compte : la saisie de l'autre est ignorée, ses erreurs aussi.
        ignores = CHAMPS_NOUVEAU if choix == ChoixResponsable.EXISTANT else ("responsable",)
        for champ in ignores:
            self._errors.pop(champ, None)
            cleaned.pop(champ, None)
        if choix == ChoixResponsable.EXISTANT:
            if cleaned.get("responsable") is None and "responsable" not in self.errors:
                self.add_error("responsable", "Choisissez le responsable habilitations du groupe.")
        elif choix == ChoixResponsable.NOUVEAU:
            for champ in CHAMPS_NOUVEAU_REQUIS:
                if not cleaned.get(champ) and champ not in self.errors:
                    self.add_error(champ, "Ce champ est obligatoire pour créer le responsable.")
            email, confirmation = cleaned.get("email"), cleaned.get("email_confirmation")
            if email and confirmation and email.strip().lower() != confirmation.strip().lower():
                self.add_error("email_confirmation", "Les deux adresses mail ne sont pas identiques.")
        return cleaned

    @property
    def nouveau_responsable(self) -> bool:
        return self.cleaned_data.get("choix_responsable") == ChoixResponsable.NOUVEAU

    @property
    def champs_nouveau(self) -> list[BoundField]:
        return [self[champ] for champ in CHAMPS_NOUVEAU]


def _choix_par_service(profils: list[Profil]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Les profils regroupés par service (un ``<optgroup>`` par service), dans l'ordre donné."""
    groupes: dict[int, tuple[str, list[tuple[str, str]]]] = {}
    for profil in profils:
        groupes.setdefault(profil.service_id, (profil.service.libelle, []))[1].append((str(profil.pk), profil.libelle))
    return list(groupes.values())


class ProfilAssignerForm(PortailForm):
    """« Assigner rôle » puis « Enregistrer », sans JavaScript : chaque « Assigner rôle » ajoute le
    profil choisi aux rôles à enregistrer (champs cachés renvoyés par la page) ; « Enregistrer »
    les donne tous au groupe, en une fois. Seuls les profils proposables sont acceptés, y compris
    dans les champs cachés."""

    ASSIGNER = "assigner"
    ENREGISTRER = "enregistrer"

    profil = forms.ChoiceField(
        label="Profil",
        required=False,
        help_text="Choisissez le service puis le profil concerné, et cliquez sur « Assigner rôle ».",
        error_messages={"invalid_choice": "Ce profil ne peut pas être donné à ce groupe."},
    )
    a_enregistrer = forms.MultipleChoiceField(
        required=False,
        widget=forms.MultipleHiddenInput,
        error_messages={"invalid_choice": "Un des rôles assignés ne peut pas être donné à ce groupe."},
    )

    def __init__(self, *args: Any, proposables: list[Profil], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.proposables = {str(p.pk): p for p in proposables}
        choix = _choix_par_service(proposables)
        self.fields["profil"].choices = [("", "Choisir un profil"), *choix]
        self.fields["a_enregistrer"].choices = [(pk, p.libelle) for pk, p in self.proposables.items()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "a_enregistrer" in self.errors:
            # Champ caché : son erreur ne peut pas s'afficher sous lui.
            self.add_error(None, self.errors.pop("a_enregistrer"))
        return cleaned

    def assignes(self) -> list[Profil]:
        """Les rôles déjà assignés (à enregistrer), puis celui qui est choisi, sans doublon."""
        cles = [*self.cleaned_data.get("a_enregistrer", []), self.cleaned_data.get("profil") or ""]
        return [self.proposables[cle] for cle in dict.fromkeys(cles) if cle]

    def restants(self, assignes: list[Profil]) -> list[tuple[str, list[tuple[str, str]]]]:
        """Les profils qu'on peut encore assigner, par service."""
        pris = {p.pk for p in assignes}
        return _choix_par_service([p for p in self.proposables.values() if p.pk not in pris])


class ProfilRetirerForm(PortailForm):
    """Retirer un profil au groupe (et à ses sous-groupes), après confirmation explicite."""

    confirmation = forms.BooleanField(
        label="Je confirme le retrait de ce profil du groupe et de tous ses sous-groupes",
        template_name=GABARIT_CASE,
        error_messages={"required": "Cochez la case pour confirmer le retrait."},
    )

    def __init__(self, *args: Any, profils: QuerySet[Profil], **kwargs: Any) -> None:
        # Même page que « Assigner rôle » : des id distincts pour des champs de même nom.
        kwargs.setdefault("auto_id", "retrait_%s")
        super().__init__(*args, **kwargs)
        self.fields["profil"] = forms.ModelChoiceField(
            queryset=profils,
            widget=forms.HiddenInput,
            error_messages={
                "invalid_choice": "Le groupe n'a pas ce profil.",
                "required": "Choisissez le profil à retirer.",
            },
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "profil" in self.errors:
            self.add_error(None, self.errors.pop("profil"))
        return cleaned


class AppartenanceOuvrirForm(PortailForm):
    """« Ajouter l'utilisateur au groupe » : un compte ouvert du périmètre, des dates."""

    date_ouverture = champ_date("Date d'ouverture", initial=aujourdhui)
    date_cloture = champ_date(
        "Date de clôture", requis=False, help_text="Facultative ; postérieure à la date d'ouverture."
    )

    field_order = ["utilisateur", "date_ouverture", "date_cloture"]

    def __init__(self, *args: Any, comptes: QuerySet[Utilisateur], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["utilisateur"] = CompteChoiceField(
            comptes,
            label="Utilisateur",
            empty_label="Sélectionner un utilisateur",
            help_text="Comptes ouverts de votre périmètre.",
            error_messages={
                "required": "Choisissez l'utilisateur à ajouter au groupe.",
                "invalid_choice": "Choisissez un compte ouvert de votre périmètre.",
            },
        )
        self.fields["utilisateur"].saisie_libre_si_trop_de_comptes()
        self.order_fields(self.field_order)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        ouverture, cloture = cleaned.get("date_ouverture"), cleaned.get("date_cloture")
        if ouverture and not periode_valide(ouverture, cloture):
            self.add_error("date_cloture", MESSAGE_PERIODE)
        return cleaned
