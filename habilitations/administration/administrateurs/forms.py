"""Formulaires qui nomment l'administrateur d'une convention (agents de la Caf pivot) :
formaliser une convention, enregistrer un avenant.

Les formulaires contrôlent la saisie (champs requis selon le choix, adresses identiques, dates
dans le bon ordre) ; les règles métier restent dans les services (``habilitations.services`` pour
le compte créé, ``conventions.services`` pour la convention et l'avenant), dont les refus
(``ErreurMetier``) sont affichés par la vue sous le champ concerné.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.html import format_html

from conventions.enums import TypeAvenant
from conventions.models import Organisme, Profil, Service
from conventions.validators import siret_normaliser
from portail.socle.chiffres import sont_chiffres_ascii
from portail.socle.dates import MESSAGE_PERIODE, aujourdhui, periode_valide
from portail.socle.forms import GABARIT_RADIOS, PortailForm, champ_date
from portail.socle.listes import cle_primaire

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser as Utilisateur
    from django.forms import BoundField


class ChoixAdministrateur:
    EXISTANT = "existant"
    NOUVEAU = "nouveau"
    CHOIX = [
        (EXISTANT, "Un utilisateur existant de l'organisme"),
        (NOUVEAU, "Un nouveau compte"),
    ]


CHAMPS_NOUVEAU_COMPTE = ("nom", "prenom", "email", "email_confirmation", "telephone")
CHAMPS_NOUVEAU_COMPTE_REQUIS = ("nom", "prenom", "email", "email_confirmation")
CHAMPS_ADMINISTRATEUR = ("choix_administrateur", "administrateur", *CHAMPS_NOUVEAU_COMPTE)


def _libelle_requis(libelle: str) -> str:
    """Libellé marqué d'un astérisque comme un champ requis : ces champs ne le sont que pour
    un choix (« Un nouveau compte »), si bien que le formulaire ne peut pas les déclarer requis."""
    return format_html('{}<span class="fr-required-marker" aria-hidden="true"> *</span>', libelle)


def comptes_administrables(organisme: Organisme) -> QuerySet[Utilisateur]:
    """Les comptes qu'on peut nommer administrateur : ceux de l'organisme, ouverts, actifs et
    sans date de clôture (une convention a toujours un administrateur)."""
    return get_user_model().objects.ouverts().filter(organisme=organisme, date_cloture__isnull=True, is_active=True)


class CompteChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Utilisateur) -> str:
        return f"{obj.nom.upper()} {obj.prenom} ({obj.identifiant}) — {obj.email}"


class ProfilsChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Profil) -> str:
        return obj.libelle

    def _check_values(self, value):
        # Une clé forgée (« ² », 20 chiffres) est un choix invalide, refusé avant la requête :
        # SQLite lève OverflowError sur un entier de plus de 64 bits dans « pk IN (…) ».
        if any(cle_primaire(str(v)) is None for v in value):
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": ""}
            )
        return super()._check_values(value)


class OrganismeChoixFiltre(django_filters.FilterSet):
    """« Formaliser une convention », première étape : retrouver l'organisme par un fragment de
    sa raison sociale ou par les premiers chiffres de son SIRET (espaces ignorés)."""

    recherche = django_filters.CharFilter(
        label="Raison sociale ou SIRET",
        method="filtrer_recherche",
        help_text="Un fragment de la raison sociale, ou les premiers chiffres du SIRET.",
    )

    class Meta:
        model = Organisme
        fields = ["recherche"]
        form = PortailForm

    def filtrer_recherche(self, queryset: QuerySet[Organisme], name: str, value: str) -> QuerySet[Organisme]:
        value = value.strip()
        if not value:
            return queryset
        condition = Q(raison_sociale__icontains=value)
        siret = siret_normaliser(value)
        if sont_chiffres_ascii(siret):
            condition |= Q(siret__startswith=siret)
        return queryset.filter(condition)


class _AdministrateurMixin:
    """Désignation d'un administrateur partenaire : un compte existant de l'organisme, ou un
    nouveau compte (nom, prénom, adresse mail confirmée, téléphone facultatif). Les champs
    requis dépendent du choix et sont vérifiés ici, côté serveur."""

    def _ajouter_champs_administrateur(self, comptes: QuerySet[Utilisateur], *, libelle_choix: str) -> None:
        self.fields["choix_administrateur"] = forms.ChoiceField(
            label=libelle_choix,
            choices=ChoixAdministrateur.CHOIX,
            widget=forms.RadioSelect,
            required=False,
            template_name=GABARIT_RADIOS,
        )
        self.fields["administrateur"] = CompteChoiceField(
            label=_libelle_requis("Compte existant"),
            queryset=comptes.order_by("nom", "prenom", "identifiant"),
            required=False,
            empty_label="Choisir un compte de l'organisme",
            help_text="Comptes ouverts de l'organisme, sans date de clôture.",
            error_messages={"invalid_choice": "Choisissez un compte ouvert de l'organisme partenaire."},
        )
        self.fields["nom"] = forms.CharField(label=_libelle_requis("Nom"), max_length=100, required=False)
        self.fields["prenom"] = forms.CharField(label=_libelle_requis("Prénom"), max_length=100, required=False)
        self.fields["email"] = forms.EmailField(
            label=_libelle_requis("Adresse mail"),
            required=False,
            error_messages={"invalid": "Saisissez une adresse mail valide, par exemple prenom.nom@organisme.fr."},
        )
        self.fields["email_confirmation"] = forms.EmailField(
            label=_libelle_requis("Confirmation de l'adresse mail"),
            required=False,
            error_messages={"invalid": "Saisissez une adresse mail valide, par exemple prenom.nom@organisme.fr."},
        )
        self.fields["telephone"] = forms.CharField(label="Téléphone", max_length=20, required=False)
        self.fields["email"].widget.attrs.update({"autocomplete": "off"})
        self.fields["email_confirmation"].widget.attrs.update({"autocomplete": "off"})
        self.fields["telephone"].widget.attrs.update({"inputmode": "tel", "autocomplete": "off"})

    def _nettoyer_administrateur(self, cleaned: dict[str, Any]) -> None:
        choix = cleaned.get("choix_administrateur")
        # Seule la partie choisie compte : la saisie de l'autre est ignorée, ses erreurs aussi.
        ignores = CHAMPS_NOUVEAU_COMPTE if choix == ChoixAdministrateur.EXISTANT else ("administrateur",)
        for champ in ignores:
            self._errors.pop(champ, None)
            cleaned.pop(champ, None)
        if choix == ChoixAdministrateur.EXISTANT:
            if cleaned.get("administrateur") is None and "administrateur" not in self.errors:
                self.add_error("administrateur", "Choisissez le compte de l'administrateur.")
        elif choix == ChoixAdministrateur.NOUVEAU:
            for champ in CHAMPS_NOUVEAU_COMPTE_REQUIS:
                if not cleaned.get(champ) and champ not in self.errors:
                    self.add_error(champ, "Ce champ est obligatoire pour un nouveau compte.")
            email, confirmation = cleaned.get("email"), cleaned.get("email_confirmation")
            if email and confirmation and email.strip().lower() != confirmation.strip().lower():
                self.add_error("email_confirmation", "Les deux adresses mail ne sont pas identiques.")
        else:
            self.add_error("choix_administrateur", "Choisissez un utilisateur existant ou un nouveau compte.")

    def _oublier_champs_administrateur(self) -> None:
        """Sans changement d'administrateur, ces champs ne comptent pas : leurs erreurs non plus."""
        for champ in CHAMPS_ADMINISTRATEUR:
            self._errors.pop(champ, None)
            self.cleaned_data.pop(champ, None)

    def administrateur_arguments(self) -> dict[str, Any]:
        """Les arguments du service : ``administrateur`` ou ``nouvel_administrateur``."""
        cleaned = self.cleaned_data
        if cleaned.get("choix_administrateur") == ChoixAdministrateur.EXISTANT:
            return {"administrateur": cleaned["administrateur"]}
        return {
            "nouvel_administrateur": {
                "nom": cleaned["nom"],
                "prenom": cleaned["prenom"],
                "email": cleaned["email"],
                "telephone": cleaned.get("telephone", ""),
            }
        }

    @property
    def champs_nouveau_compte(self) -> list[BoundField]:
        return [self[champ] for champ in CHAMPS_NOUVEAU_COMPTE]


class FormaliserForm(_AdministrateurMixin, PortailForm):
    libelle = forms.CharField(label="Libellé", max_length=200)
    date_ouverture = champ_date("Date d'ouverture", initial=aujourdhui)
    date_cloture = champ_date(
        "Date de clôture", requis=False, help_text="Facultative ; postérieure à la date d'ouverture."
    )
    profils = ProfilsChoiceField(
        label="Services et profils accordés",
        # Dans l'ordre des services, puis de création des profils (T1, T2, T3, supervision).
        queryset=Profil.objects.select_related("service").order_by("service__ordre", "pk"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Accordez au moins un profil d'un service."},
    )

    def __init__(self, *args: Any, organisme: Organisme, **kwargs: Any) -> None:
        self.organisme = organisme
        super().__init__(*args, **kwargs)
        self._ajouter_champs_administrateur(
            comptes_administrables(organisme), libelle_choix="Administrateur partenaire"
        )
        self.fields["choix_administrateur"].required = True
        self.fields["choix_administrateur"].error_messages["required"] = (
            "Choisissez un utilisateur existant ou un nouveau compte."
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        ouverture, cloture = cleaned.get("date_ouverture"), cleaned.get("date_cloture")
        if ouverture and not periode_valide(ouverture, cloture):
            self.add_error("date_cloture", MESSAGE_PERIODE)
        if "choix_administrateur" not in self.errors:
            self._nettoyer_administrateur(cleaned)
        return cleaned

    def profils_par_service(self) -> list[tuple[Service, list[BoundField]]]:
        """Les cases des profils regroupées par service, dans l'ordre des services : un
        ``fieldset`` par service dans la page (les profils viennent avec leur service, en une
        requête)."""
        groupes: dict[int, tuple[Service, list]] = {}
        for case in self["profils"]:
            profil = case.data["value"].instance
            groupes.setdefault(profil.service_id, (profil.service, []))[1].append(case)
        return list(groupes.values())


class AvenantForm(_AdministrateurMixin, PortailForm):
    type_avenant = forms.ChoiceField(
        label="Type d'avenant",
        choices=TypeAvenant.choices,
        widget=forms.RadioSelect,
        template_name=GABARIT_RADIOS,
        error_messages={"required": "Choisissez le type d'avenant."},
    )
    objet = forms.CharField(label="Objet", max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    date_effet = champ_date("Date d'effet", initial=aujourdhui)

    def __init__(self, *args: Any, organisme: Organisme, administrateur_actuel: Utilisateur | None, **kwargs: Any):
        self.organisme = organisme
        super().__init__(*args, **kwargs)
        comptes = comptes_administrables(organisme)
        if administrateur_actuel is not None:
            comptes = comptes.exclude(pk=administrateur_actuel.pk)
        self._ajouter_champs_administrateur(comptes, libelle_choix=_libelle_requis("Nouvel administrateur"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("type_avenant") == TypeAvenant.ADMINISTRATEUR:
            self._nettoyer_administrateur(cleaned)
        else:
            self._oublier_champs_administrateur()
        return cleaned

    def administrateur_arguments(self) -> dict[str, Any]:
        if self.cleaned_data.get("type_avenant") != TypeAvenant.ADMINISTRATEUR:
            return {}
        return super().administrateur_arguments()
