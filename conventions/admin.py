from django.contrib import admin

from conventions.models import Caf, Convention, Organisme, Profil, Service, TypeOrganisme


@admin.register(Caf)
class CafAdmin(admin.ModelAdmin):
    list_display = ["code", "nom"]


@admin.register(TypeOrganisme)
class TypeOrganismeAdmin(admin.ModelAdmin):
    list_display = ["code", "libelle"]


@admin.register(Organisme)
class OrganismeAdmin(admin.ModelAdmin):
    list_display = ["raison_sociale", "siret", "type_organisme", "caf", "commune"]
    list_select_related = ["type_organisme", "caf"]
    search_fields = ["raison_sociale", "siret"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["code", "libelle", "ordre"]


@admin.register(Profil)
class ProfilAdmin(admin.ModelAdmin):
    list_display = ["code", "libelle", "service"]
    list_select_related = ["service"]


@admin.register(Convention)
class ConventionAdmin(admin.ModelAdmin):
    list_display = ["libelle", "caf", "organisme", "date_ouverture", "date_cloture", "etat"]
    list_select_related = ["caf", "organisme"]
    filter_horizontal = ["profils"]
