from django.urls import path

from afas.activites import views as views_activites
from afas.campagnes import urls as urls_campagnes
from afas.declarations import urls as urls_declarations
from afas.financement import urls as urls_financement
from afas.habilitations import views as views_habilitations
from afas.instruction import urls as urls_instruction
from afas.validation import views as views_validation

app_name = "afas"

urlpatterns = [
    # Déclarant : Accueil AFAS et « Mes déclarations » sont dans afas/declarations/urls.py.
    # Partenaire : administration des profils.
    path("afas/administration-des-profils/", views_habilitations.recherche, name="habilitations"),
    path("afas/administration-des-profils/habiliter/", views_habilitations.habiliter, name="habiliter"),
    path(
        "afas/administration-des-profils/habiliter/portee/",
        views_habilitations.portee,
        name="habiliter_portee",
    ),
    path(
        "afas/administration-des-profils/<int:pk>/supprimer/",
        views_habilitations.supprimer,
        name="habilitation_supprimer",
    ),
    # Agent Caf : activités, lieux, approbateurs à valider, état des partenaires.
    path("afas/activites/", views_activites.activites, name="activites"),
    path("afas/activites/creer/", views_activites.activite_creer, name="activite_creer"),
    path("afas/activites/<int:pk>/", views_activites.activite, name="activite"),
    path("afas/activites/<int:pk>/modifier/", views_activites.activite_modifier, name="activite_modifier"),
    path("afas/activites/<int:pk>/cloturer/", views_activites.activite_cloturer, name="activite_cloturer"),
    path("afas/activites/<int:activite>/lieux/creer/", views_activites.lieu_creer, name="lieu_creer"),
    path("afas/lieux/", views_activites.lieux, name="lieux"),
    path("afas/lieux/<int:pk>/modifier/", views_activites.lieu_modifier, name="lieu_modifier"),
    path("afas/lieux/<int:pk>/cloturer/", views_activites.lieu_cloturer, name="lieu_cloturer"),
    path("afas/approbateurs-a-valider/", views_validation.validations, name="validations"),
    path("afas/approbateurs-a-valider/<int:pk>/valider/", views_validation.valider, name="valider"),
    path("afas/approbateurs-a-valider/<int:pk>/refuser/", views_validation.refuser, name="refuser"),
    path("afas/partenaires/", views_validation.preparation, name="preparation"),
]

# Déclarations (appels de la Caf, saisie, transmission et instruction) et financement.
urlpatterns += (
    urls_campagnes.urlpatterns
    + urls_declarations.urlpatterns
    + urls_instruction.urlpatterns
    + urls_financement.urlpatterns
)
