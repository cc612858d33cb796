"""Pages d'erreur du portail (400, 403, 404, 500, échec CSRF) : dans la mise en page du portail,
en français, avec un chemin de retour et, quand un intergiciel l'a posé, l'identifiant de la
requête (``request.id_requete``) à citer au support.

La page 500 ne touche ni la base ni la session : elle se rend sans processeur de contexte (ni
utilisateur, ni menu), pour s'afficher même quand PostgreSQL est arrêté.
"""

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader

ERREURS = {
    400: (
        "Requête incorrecte",
        "Le portail n'a pas pu lire la demande envoyée par votre navigateur. Revenez à la page précédente et réessayez.",
    ),
    403: (
        "Accès refusé",
        "Vous n'avez pas le droit d'effectuer cette action ou d'afficher cette page avec votre compte.",
    ),
    404: (
        "Page introuvable",
        "La page que vous cherchez n'existe pas, n'existe plus, ou vous n'y avez pas accès. Vérifiez l'adresse saisie.",
    ),
}


def _page(request: HttpRequest, code: int, titre: str, message: str) -> HttpResponse:
    contexte = {"code": code, "titre": titre, "message": message, "id_requete": getattr(request, "id_requete", "")}
    return render(request, "erreurs/erreur.html", contexte, status=code)


def erreur_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 400, *ERREURS[400])


def erreur_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 403, *ERREURS[403])


def erreur_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 404, *ERREURS[404])


def echec_csrf(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW : le plus souvent une page restée ouverte trop longtemps (session
    expirée) ou un formulaire envoyé deux fois."""
    return _page(
        request,
        403,
        "La session a expiré",
        "Le formulaire n'a pas été enregistré : la page était ouverte depuis trop longtemps ou vous "
        "vous êtes déconnecté entre-temps. Rechargez la page, reconnectez-vous si besoin, puis "
        "recommencez la saisie.",
    )


def erreur_500(request: HttpRequest) -> HttpResponse:
    gabarit = loader.get_template("erreurs/500.html")
    return HttpResponseServerError(gabarit.render({"id_requete": getattr(request, "id_requete", "")}))
