"""Adresses de afas.instruction : composées par afas/urls.py."""

from django.urls import URLPattern, path

from afas.instruction import views

urlpatterns: list[URLPattern] = [
    path("afas/declarations/<int:pk>/transmettre/", views.transmettre, name="declaration_transmettre"),
    path("afas/recepisses/<int:pk>/pdf/", views.recepisse, name="recepisse"),
    path("afas/declarations-recues/", views.declarations_recues, name="declarations_recues"),
    path("afas/declarations-recues/<int:pk>/", views.declaration_caf, name="declaration_caf"),
    path("afas/declarations-recues/<int:pk>/valider/", views.valider, name="declaration_valider"),
    path("afas/declarations-recues/<int:pk>/renvoyer/", views.renvoyer, name="declaration_renvoyer"),
]
