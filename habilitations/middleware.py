"""Sessions bornées dans le temps et parcours imposés après la connexion."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from habilitations import perms
from habilitations.receivers import CLE_A_DOUBLE_AUTHENTIFICATION, CLE_CONNECTE_LE, CLE_DERNIERE_ACTIVITE

CLE_CHOIX_MOT_DE_PASSE = "choix_mot_de_passe_requis"


class SessionSecuriseeMiddleware:
    """Déconnecte côté serveur après 30 minutes sans activité, et au plus tard 12 heures après
    la connexion, avec un message qui dit pourquoi."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            maintenant = timezone.now().timestamp()
            connecte_le = request.session.get(CLE_CONNECTE_LE, maintenant)
            derniere_activite = request.session.get(CLE_DERNIERE_ACTIVITE, maintenant)
            motif = None
            if maintenant - derniere_activite > settings.SESSION_INACTIVITE_MAX.total_seconds():
                minutes = int(settings.SESSION_INACTIVITE_MAX.total_seconds() // 60)
                motif = f"Par mesure de sécurité, vous avez été déconnecté après {minutes} minutes sans activité."
            elif maintenant - connecte_le > settings.SESSION_DUREE_MAX.total_seconds():
                heures = int(settings.SESSION_DUREE_MAX.total_seconds() // 3600)
                motif = f"Par mesure de sécurité, une session dure au plus {heures} heures : reconnectez-vous."
            if motif:
                logout(request)
                messages.warning(request, motif)
                return redirect(settings.LOGIN_URL)
            request.session[CLE_DERNIERE_ACTIVITE] = maintenant
        return self.get_response(request)


class ParcoursObligatoireMiddleware:
    """Avant toute autre page : choisir son mot de passe personnel (après une connexion par mot de
    passe provisoire), puis, si la double authentification est requise, l'activer ou la vérifier."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not self._libre(request.path):
            if request.session.get(CLE_CHOIX_MOT_DE_PASSE):
                cible = reverse("habilitations:choisir_mot_de_passe")
                if request.path != cible:
                    return redirect(cible)
            elif not user.is_verified():
                # Qui a activé la double authentification la passe à chaque connexion, même si
                # son rôle ne l'exige pas ; qui y est tenu et ne l'a pas encore doit l'activer.
                if request.session.get(CLE_A_DOUBLE_AUTHENTIFICATION):
                    cible = reverse("habilitations:verifier_otp")
                elif perms.double_authentification_requise(user):
                    cible = reverse("habilitations:activer_otp")
                else:
                    cible = None
                if cible and request.path != cible:
                    suite = f"{cible}?{urlencode({'next': request.get_full_path()})}"
                    return redirect(suite if request.method == "GET" else cible)
        return self.get_response(request)

    @staticmethod
    def _libre(path: str) -> bool:
        libres = (
            reverse("habilitations:deconnexion"),
            settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL,
            "/dev/",
            "/sante/",
        )
        return path.startswith(libres)
