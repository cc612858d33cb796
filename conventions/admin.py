"""Administration technique : consultation seulement pour les organismes et les conventions.

Enregistrer, formaliser, valider, clôturer et amender passent par les écrans du portail, donc par
les fonctions de service (règles, audit, droits objets). L'administration technique ne doit pas
être une porte dérobée qui contourne « exactement un administrateur » ou la piste d'audit.
"""

from django.contrib import admin

from conventions.models import Avenant, Caf, Convention, Mandat, Organisme, Profil, Service, TypeOrganisme


class LectureSeuleMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Caf)
class CafAdmin(admin.ModelAdmin):
    list_display = ["code", "nom"]


@admin.register(TypeOrganisme)
class TypeOrganismeAdmin(admin.ModelAdmin):
    list_display = ["code", "libelle"]


@admin.register(Organisme)
class OrganismeAdmin(LectureSeuleMixin, admin.ModelAdmin):
    list_display = ["raison_sociale", "siret", "type_organisme", "caf", "commune"]
    list_select_related = ["type_organisme", "caf"]
    search_fields = ["raison_sociale", "siret"]


@admin.register(Service)
class ServiceAdmin(LectureSeuleMixin, admin.ModelAdmin):
    list_display = ["code", "libelle", "ordre"]


@admin.register(Profil)
class ProfilAdmin(LectureSeuleMixin, admin.ModelAdmin):
    list_display = ["code", "libelle", "service"]
    list_select_related = ["service"]


class MandatInline(LectureSeuleMixin, admin.TabularInline):
    model = Mandat
    fields = ["administrateur", "date_ouverture", "date_cloture", "avenant"]
    extra = 0


class AvenantInline(LectureSeuleMixin, admin.TabularInline):
    model = Avenant
    fields = ["numero", "type_avenant", "objet", "date_effet", "nouvel_administrateur", "cree_par", "cree_le"]
    extra = 0


@admin.register(Convention)
class ConventionAdmin(LectureSeuleMixin, admin.ModelAdmin):
    list_display = ["libelle", "caf", "organisme", "date_ouverture", "date_cloture", "etat"]
    list_select_related = ["caf", "organisme"]
    list_filter = ["caf", "etat"]
    search_fields = ["libelle", "organisme__raison_sociale", "organisme__siret"]
    inlines = [MandatInline, AvenantInline]
