"""Les URL des écrans de la couche des conventions. L'espace de noms ``conventions:`` est composé
par ``portail/urls.py`` avec les écrans des conventions qui vivent dans la couche des comptes
(consulter les conventions, formaliser, enregistrer un avenant : voir ``habilitations``)."""

from django.urls import path

from conventions.gestion import views as gestion
from conventions.organismes import views as organismes

urlpatterns = [
    # Organismes partenaires et agents (agents Caf ; lecture pour la supervision nationale).
    path("partenaires/types-organismes/", organismes.types_organismes, name="types_organismes"),
    path("partenaires/organismes/", organismes.organismes, name="organismes"),
    path("partenaires/organismes/enregistrer/", organismes.organisme_enregistrer, name="organisme_enregistrer"),
    path("partenaires/organismes/<int:pk>/", organismes.organisme, name="organisme"),
    path("partenaires/agents-caf/", organismes.agents, name="agents"),
    # Conventions : gestion (agents de la Caf pivot).
    path("partenaires/conventions/<int:pk>/valider/", gestion.convention_valider, name="convention_valider"),
    path("partenaires/conventions/<int:pk>/cloturer/", gestion.convention_cloturer, name="convention_cloturer"),
]
