from django.contrib import admin
from django.urls import include, path

from afas.habilitations import tableau_de_bord as afas_tableau_de_bord
from conventions import urls as conventions_urls
from habilitations.administration import urls as gestion_urls
from habilitations.administration.administrateurs import views as administrateurs
from habilitations.consultation_conventions import views as consultation
from portail import views

# L'espace ``conventions:`` réunit les écrans de la couche des conventions et ceux des conventions
# qui vivent dans la couche des comptes, parce qu'ils voient aussi les habilitations : consulter
# (un responsable d'habilitations lit les conventions de ses groupes), formaliser et enregistrer
# un avenant (l'administrateur nommé peut être un compte créé sur place).
conventions = [
    # Conventions : consultation (agents, supervision, administrateurs et responsables partenaires).
    path("partenaires/conventions/", consultation.conventions, name="conventions"),
    path("partenaires/conventions/<int:pk>/", consultation.convention, name="convention"),
    path("partenaires/conventions/<int:pk>/pdf/", consultation.convention_pdf, name="convention_pdf"),
    # Conventions : nommer l'administrateur (agents de la Caf pivot).
    path("partenaires/conventions/formaliser/", administrateurs.convention_formaliser, name="convention_formaliser"),
    path("partenaires/conventions/<int:pk>/avenant/", administrateurs.avenant_enregistrer, name="avenant_enregistrer"),
    *conventions_urls.urlpatterns,
]

urlpatterns = [
    path(
        "",
        include(
            (
                [
                    path("", views.accueil, name="accueil"),
                    path("services/<slug:code>/", views.service, name="service"),
                    path("regles-d-usage/", views.regles_usage, name="regles_usage"),
                    path("accessibilite/", views.accessibilite, name="accessibilite"),
                    path("sante/", views.sante, name="sante"),
                    path("dev/courriels/", views.courriels, name="dev_courriels"),
                    path("dev/courriels/<int:pk>/", views.courriel, name="dev_courriel"),
                ],
                "portail",
            )
        ),
    ),
    path("", include("habilitations.urls")),
    path("", include((conventions, "conventions"))),
    # « Mes tableaux de bord » gagne les lignes AFAS : composé ici, la couche des habilitations
    # n'important pas AFAS.
    path(
        "",
        include(
            (
                gestion_urls.avec_complements_tableaux(afas_tableau_de_bord.lignes_tableaux_de_bord),
                gestion_urls.app_name,
            )
        ),
    ),
    path("", include("afas.urls")),
    path("administration/", admin.site.urls),
]

handler400 = "portail.erreurs.erreur_400"
handler403 = "portail.erreurs.erreur_403"
handler404 = "portail.erreurs.erreur_404"
handler500 = "portail.erreurs.erreur_500"
