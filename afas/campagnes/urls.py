"""Adresses de afas.campagnes : composées par afas/urls.py."""

from django.urls import URLPattern, path

from afas.campagnes import views

urlpatterns: list[URLPattern] = [
    path("afas/appels-de-declaration/", views.appels, name="appels"),
    path("afas/appels-de-declaration/lancer/", views.appel_lancer, name="appel_lancer"),
    path("afas/appels-de-declaration/<int:pk>/", views.appel, name="appel"),
    path("afas/appels-de-declaration/<int:pk>/progression/", views.appel_progression, name="appel_progression"),
    path("afas/appels-de-declaration/<int:pk>/export.csv", views.appel_export, name="appel_export"),
]
