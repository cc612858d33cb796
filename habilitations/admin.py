"""Administration technique. Toute création de compte passe par le service (une seule porte)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction

from habilitations import services
from habilitations.models import Appartenance, Groupe, GroupeProfil, Utilisateur


class UtilisateurCreationForm(forms.ModelForm):
    class Meta:
        model = Utilisateur
        fields = ["nom", "prenom", "email", "telephone", "poste", "date_ouverture", "date_cloture", "caf", "organisme"]


class UtilisateurModificationForm(forms.ModelForm):
    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if self.instance.convention_id:
            try:
                services.email_verifier_disponible(convention=self.instance.convention, email=email, sauf=self.instance)
            except services.ErreurMetier as exc:
                raise ValidationError(str(exc)) from exc
        return email


@admin.register(Utilisateur)
class UtilisateurAdmin(admin.ModelAdmin):
    list_display = ["identifiant", "nom", "prenom", "email", "date_ouverture", "date_cloture", "caf", "organisme"]
    list_select_related = ["caf", "organisme"]
    search_fields = ["identifiant", "nom", "prenom", "email"]
    list_filter = ["caf"]
    readonly_fields = ["identifiant", "last_login", "connexion_precedente", "cree_le", "date_cloture"]
    fields = [
        "identifiant",
        "nom",
        "prenom",
        "email",
        "telephone",
        "poste",
        "date_ouverture",
        "date_cloture",
        "caf",
        "organisme",
        "is_staff",
        "last_login",
        "connexion_precedente",
        "cree_le",
    ]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = UtilisateurCreationForm
            kwargs["fields"] = UtilisateurCreationForm.Meta.fields
        else:
            kwargs["form"] = UtilisateurModificationForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return UtilisateurCreationForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Sa propre adresse ne change que par le lien de confirmation de « Mon profil ».
        return [*self.readonly_fields, "email"] if obj.pk == request.user.pk else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # Création : identifiant, mot de passe provisoire et courriels par le service.
        cree = services.utilisateur_creer(
            par=request.user, **{f: form.cleaned_data.get(f) for f in UtilisateurCreationForm.Meta.fields}
        )
        obj.pk = cree.pk
        obj.identifiant = cree.identifiant


class LectureSeuleMixin:
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class GroupeProfilInline(LectureSeuleMixin, admin.TabularInline):
    model = GroupeProfil
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False


class _Essai(Exception):
    """Annule l'essai à blanc d'un service (voir ``essai_a_blanc``)."""


def essai_a_blanc(service, **arguments) -> None:
    """Exécute le service dans un point de sauvegarde annulé : ses refus (ErreurMetier)
    deviennent des erreurs du formulaire d'administration au lieu d'une erreur serveur."""
    try:
        with transaction.atomic():
            service(par=None, **arguments)
            raise _Essai
    except _Essai:
        pass
    except services.ErreurMetier as exc:
        raise ValidationError(str(exc)) from exc


class GroupeCreationForm(forms.ModelForm):
    class Meta:
        model = Groupe
        fields = ["convention", "code", "libelle", "responsable", "parent", "date_ouverture", "date_cloture"]

    def clean(self):
        donnees = super().clean()
        if not self.errors:
            essai_a_blanc(services.groupe_creer, **donnees)
        return donnees


@admin.register(Groupe)
class GroupeAdmin(LectureSeuleMixin, admin.ModelAdmin):
    """Un groupe créé ici passe par le service (code unique, responsable de la convention,
    niveau et chemin, droit objet du responsable, audit) ; ensuite, consultation seulement."""

    form = GroupeCreationForm
    list_display = ["code", "libelle", "convention", "niveau", "responsable", "date_ouverture", "date_cloture"]
    list_select_related = ["convention", "responsable"]
    search_fields = ["code", "libelle"]
    inlines = [GroupeProfilInline]
    raw_id_fields = ["convention", "responsable", "parent"]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_model(self, request, obj, form, change):
        cree = services.groupe_creer(par=request.user, **form.cleaned_data)
        obj.pk = cree.pk

    def save_related(self, request, form, formsets, change):
        pass


class AppartenanceCreationForm(forms.ModelForm):
    class Meta:
        model = Appartenance
        fields = ["utilisateur", "groupe", "date_ouverture", "date_cloture"]

    def clean(self):
        donnees = super().clean()
        if not self.errors:
            essai_a_blanc(services.appartenance_ouvrir, **donnees)
        return donnees


@admin.register(Appartenance)
class AppartenanceAdmin(LectureSeuleMixin, admin.ModelAdmin):
    """Une appartenance ajoutée ici passe par ``appartenance_ouvrir`` (mêmes règles que les
    écrans) ; ses dates se changent ensuite depuis les écrans du portail."""

    form = AppartenanceCreationForm
    list_display = ["utilisateur", "groupe", "date_ouverture", "date_cloture"]
    list_select_related = ["utilisateur", "groupe"]
    raw_id_fields = ["utilisateur", "groupe"]

    def save_model(self, request, obj, form, change):
        cree = services.appartenance_ouvrir(par=request.user, **form.cleaned_data)
        obj.pk = cree.pk
