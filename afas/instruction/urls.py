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

# TEMPORAIRE, à retirer à la fusion avec la branche decl-saisie : « afas:declaration » (la page
# de la déclaration du déclarant, où vit le bouton « Transmettre à la Caf ») appartient aux écrans
# de saisie ; cette page minimale ne sert qu'à exercer la transmission tant qu'elle n'existe pas.
urlpatterns.append(path("afas/declarations/<int:pk>/", views.declaration_provisoire, name="declaration"))
