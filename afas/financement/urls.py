"""Adresses de afas.financement : composées par afas/urls.py."""

from django.urls import URLPattern, path

from afas.financement import views

urlpatterns: list[URLPattern] = [
    path(
        "afas/declarations/<int:pk>/financement/",
        views.declaration_financement,
        name="declaration_financement",
    ),
    path("afas/activites/<int:pk>/historique/", views.activite_historique, name="activite_historique"),
    path("afas/activites/<int:pk>/statistiques/", views.activite_statistiques, name="activite_statistiques"),
    path("afas/activites/<int:pk>/plan-mercredi/", views.activite_plan_mercredi, name="activite_plan_mercredi"),
    path("afas/appels-de-declaration/<int:pk>/financement/", views.appel_financement, name="appel_financement"),
    path(
        "afas/appels-de-declaration/<int:pk>/financement/export.csv",
        views.appel_financement_export,
        name="appel_financement_export",
    ),
    path("afas/parametres-financement/", views.parametres, name="parametres"),
    path("afas/parametres-financement/<int:pk>/", views.parametre_modifier, name="parametre_modifier"),
]
