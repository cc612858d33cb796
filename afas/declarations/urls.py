"""Adresses de afas.declarations : composées par afas/urls.py."""

from django.urls import URLPattern, path

from afas.declarations import views

urlpatterns: list[URLPattern] = [
    path("afas/", views.accueil, name="accueil"),
    path("afas/mes-declarations/", views.mes_declarations, name="mes_declarations"),
    path("afas/declarations/<int:pk>/", views.declaration, name="declaration"),
    path(
        "afas/declarations/<int:pk>/activite/<int:ligne>/",
        views.declaration_activite,
        name="declaration_activite",
    ),
    path("afas/declarations/<int:pk>/financier/", views.declaration_financier, name="declaration_financier"),
]
