from django.urls import path

from conventions.consultation import views as conventions
from conventions.gestion import views as gestion
from conventions.organismes import views as organismes

app_name = "conventions"

urlpatterns = [
    # Organismes partenaires et agents (agents Caf ; lecture pour la supervision nationale).
    path("partenaires/types-organismes/", organismes.types_organismes, name="types_organismes"),
    path("partenaires/organismes/", organismes.organismes, name="organismes"),
    path("partenaires/organismes/enregistrer/", organismes.organisme_enregistrer, name="organisme_enregistrer"),
    path("partenaires/organismes/<int:pk>/", organismes.organisme, name="organisme"),
    path("partenaires/agents-caf/", organismes.agents, name="agents"),
    # Conventions : consultation (agents, supervision, administrateurs partenaires).
    path("partenaires/conventions/", conventions.conventions, name="conventions"),
    path("partenaires/conventions/<int:pk>/", conventions.convention, name="convention"),
    path("partenaires/conventions/<int:pk>/pdf/", conventions.convention_pdf, name="convention_pdf"),
    # Conventions : gestion (agents de la Caf pivot).
    path("partenaires/conventions/formaliser/", gestion.convention_formaliser, name="convention_formaliser"),
    path("partenaires/conventions/<int:pk>/valider/", gestion.convention_valider, name="convention_valider"),
    path("partenaires/conventions/<int:pk>/cloturer/", gestion.convention_cloturer, name="convention_cloturer"),
    path("partenaires/conventions/<int:pk>/avenant/", gestion.avenant_enregistrer, name="avenant_enregistrer"),
]
