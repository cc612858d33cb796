from django.contrib import admin
from django.urls import include, path

from portail import views

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
    path("", include("conventions.urls")),
    path("", include("habilitations.administration.urls")),
    path("", include("afas.urls")),
    path("administration/", admin.site.urls),
]

handler400 = "portail.erreurs.erreur_400"
handler403 = "portail.erreurs.erreur_403"
handler404 = "portail.erreurs.erreur_404"
handler500 = "portail.erreurs.erreur_500"
