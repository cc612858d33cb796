from django.contrib import admin

from portail.models import Courriel, EvenementAudit


@admin.register(Courriel)
class CourrielAdmin(admin.ModelAdmin):
    list_display = ["cree_le", "modele", "destinataire", "envoye_le", "tentatives"]
    list_filter = ["modele"]
    readonly_fields = [f.name for f in Courriel._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(EvenementAudit)
class EvenementAuditAdmin(admin.ModelAdmin):
    list_display = ["cree_le", "action", "acteur", "cible_libelle", "adresse_ip"]
    list_filter = ["action"]
    list_select_related = ["acteur"]
    readonly_fields = [f.name for f in EvenementAudit._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
