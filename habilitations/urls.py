from django.urls import path

from habilitations.compte import views

app_name = "habilitations"

urlpatterns = [
    path("connexion/", views.ConnexionView.as_view(), name="connexion"),
    path("deconnexion/", views.DeconnexionView.as_view(), name="deconnexion"),
    path("connexion/mot-de-passe-oublie/", views.mot_de_passe_oublie, name="mot_de_passe_oublie"),
    path("connexion/choisir-mot-de-passe/", views.choisir_mot_de_passe, name="choisir_mot_de_passe"),
    path("connexion/verification/", views.verifier_otp, name="verifier_otp"),
    path("profil/", views.profil, name="profil"),
    path("profil/mot-de-passe/", views.changer_mot_de_passe, name="changer_mot_de_passe"),
    path("profil/double-authentification/", views.activer_otp, name="activer_otp"),
    path("profil/codes-de-secours/", views.regenerer_codes_secours, name="regenerer_codes_secours"),
    path("profil/email/confirmer/<str:jeton>/", views.confirmer_email, name="confirmer_email"),
]
