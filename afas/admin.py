"""Administration technique : consultation seulement pour AFAS (activités, lieux, habilitations,
validations des approbateurs).

Créer, modifier, clôturer une activité ou un lieu, donner ou retirer un rôle, valider ou refuser
un approbateur passent par les écrans du portail, donc par ``afas.services`` (règles, journal de
la convention, courriels, décision enregistrée de la Caf). L'administration technique ne doit pas
être une porte dérobée qui rendrait un approbateur actif sans décision de la Caf ou effacerait
l'historique.
"""

from django.contrib import admin

from afas.models import Activite, HabilitationAfas, LieuImplantation, ValidationApprobateur
from conventions.admin import LectureSeuleMixin


class LieuInline(LectureSeuleMixin, admin.TabularInline):
    model = LieuImplantation
    fields = ["libelle", "adresse", "code_postal", "commune", "date_ouverture", "date_cloture"]
    extra = 0


@admin.register(Activite)
class ActiviteAdmin(LectureSeuleMixin, admin.ModelAdmin):
    list_display = [
        "libelle",
        "numero_equipement",
        "organisme",
        "type_activite",
        "nature",
        "date_ouverture",
        "date_cloture",
    ]
    list_select_related = ["organisme"]
    list_filter = ["type_activite", "nature"]
    search_fields = ["libelle", "numero_equipement", "organisme__raison_sociale"]
    inlines = [LieuInline]


@admin.register(LieuImplantation)
class LieuImplantationAdmin(LectureSeuleMixin, admin.ModelAdmin):
    list_display = ["libelle", "activite", "commune", "date_ouverture", "date_cloture"]
    list_select_related = ["activite"]
    search_fields = ["libelle", "activite__libelle", "activite__numero_equipement"]


class ValidationInline(LectureSeuleMixin, admin.StackedInline):
    model = ValidationApprobateur
    fields = ["caf", "demandee_par", "demandee_le", "decision", "decidee_par", "decidee_le", "motif"]
    extra = 0


@admin.register(HabilitationAfas)
class HabilitationAfasAdmin(LectureSeuleMixin, admin.ModelAdmin):
    list_display = ["utilisateur", "role", "activite", "lieu", "convention", "date_ouverture", "date_cloture"]
    list_select_related = ["utilisateur", "activite", "lieu", "convention"]
    list_filter = ["role"]
    search_fields = ["utilisateur__nom", "utilisateur__identifiant", "activite__libelle"]
    inlines = [ValidationInline]


@admin.register(ValidationApprobateur)
class ValidationApprobateurAdmin(LectureSeuleMixin, admin.ModelAdmin):
    list_display = ["habilitation", "caf", "decision", "demandee_le", "decidee_par", "decidee_le"]
    list_select_related = ["habilitation__utilisateur", "habilitation__activite", "caf", "decidee_par"]
    list_filter = ["decision", "caf"]
