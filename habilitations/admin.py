"""Administration technique. Toute création de compte passe par le service (une seule porte)."""

from django import forms
from django.contrib import admin

from habilitations import services
from habilitations.models import Appartenance, Groupe, GroupeProfil, Utilisateur


class UtilisateurCreationForm(forms.ModelForm):
    class Meta:
        model = Utilisateur
        fields = ["nom", "prenom", "email", "telephone", "poste", "date_ouverture", "date_cloture", "caf", "organisme"]


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
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return UtilisateurCreationForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

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


class GroupeProfilInline(admin.TabularInline):
    model = GroupeProfil
    extra = 0


@admin.register(Groupe)
class GroupeAdmin(admin.ModelAdmin):
    list_display = ["code", "libelle", "convention", "niveau", "date_ouverture", "date_cloture"]
    list_select_related = ["convention"]
    inlines = [GroupeProfilInline]


@admin.register(Appartenance)
class AppartenanceAdmin(admin.ModelAdmin):
    list_display = ["utilisateur", "groupe", "date_ouverture", "date_cloture"]
    list_select_related = ["utilisateur", "groupe"]
