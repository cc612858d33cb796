"""Connexion, mots de passe, double authentification et « Mon profil »."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from habilitations import perms, services
from habilitations.compte import otp
from habilitations.compte.forms import (
    ChangerEmailForm,
    ChangerMotDePasseForm,
    ChoisirMotDePasseForm,
    CodeOtpForm,
    ConnexionForm,
    MotDePasseOublieForm,
)
from habilitations.middleware import CLE_CHOIX_MOT_DE_PASSE
from habilitations.models import SessionUtilisateur
from habilitations.receivers import CLE_A_DOUBLE_AUTHENTIFICATION, connexion_terminer
from habilitations.tasks import mot_de_passe_oublie as tache_mot_de_passe_oublie
from portail.socle import cache_partage
from portail.socle.middleware import adresse_client

logger = logging.getLogger(__name__)


def _nouveau_hash_de_session(request) -> None:
    """update_session_auth_hash change la clé de session : le suivi des sessions ouvertes suit."""
    ancienne = request.session.session_key
    update_session_auth_hash(request, request.user)
    SessionUtilisateur.objects.filter(session_key=ancienne).update(session_key=request.session.session_key)


def _suivant(request, defaut: str = settings.LOGIN_REDIRECT_URL) -> str:
    cible = request.POST.get("next") or request.GET.get("next")
    if cible and url_has_allowed_host_and_scheme(
        cible, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return cible
    return reverse(defaut)


class DeconnexionView(auth_views.LogoutView):
    """Déconnexion (POST) puis page de connexion, qui confirme que la session est fermée. Le
    message survit à la session vidée : il est gardé dans un cookie (stockage par défaut)."""

    def post(self, request, *args, **kwargs):
        reponse = super().post(request, *args, **kwargs)
        messages.success(request, "Vous êtes déconnecté. Fermez le navigateur si l'ordinateur est partagé.")
        return reponse


class ConnexionView(auth_views.LoginView):
    template_name = "habilitations/connexion.html"
    form_class = ConnexionForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        # Avant tout hachage : un flot de tentatives (identifiants neufs, jamais verrouillés)
        # depuis une même adresse ne doit pas occuper les processeurs de tout le monde.
        if cache_partage.limite_atteinte(
            "connexion-ip",
            adresse_client(request) or "",
            settings.CONNEXION_LIMITE_ADRESSE,
            fenetre=settings.CONNEXION_LIMITE_FENETRE_SECONDES,
        ):
            logger.warning("connexion : limite par adresse atteinte adresse=%s", adresse_client(request))
            minutes = max(1, settings.CONNEXION_LIMITE_FENETRE_SECONDES // 60)
            return render(
                request,
                self.template_name,
                {
                    "form": self.get_form_class()(request, initial={"username": request.POST.get("username", "")}),
                    "next": request.POST.get("next", ""),
                    "erreur_verrouillage": (
                        "Trop de tentatives de connexion viennent de votre adresse réseau. Patientez "
                        f"{minutes} minutes avant de réessayer."
                    ),
                },
                status=429,
            )
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        user = form.get_user()
        reponse = super().form_valid(form)
        if getattr(user, "connexion_provisoire", False):
            self.request.session[CLE_CHOIX_MOT_DE_PASSE] = True
            return redirect("habilitations:choisir_mot_de_passe")
        return reponse


def verrouillage(request, credentials, *args, **kwargs):
    """Réponse d'axes quand l'identifiant est verrouillé (5 échecs : 15 minutes)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "habilitations/connexion.html",
        {
            "form": ConnexionForm(request, initial={"username": request.POST.get("username", "")}),
            # La page cible survit au verrouillage ; LoginView la vérifie à la connexion suivante.
            "next": request.POST.get("next", ""),
            "erreur_verrouillage": (
                f"Trop de tentatives de connexion ont échoué pour cet identifiant : il est verrouillé pendant {minutes} "
                "minutes. Réessayez plus tard ou utilisez « Mot de passe oublié ? »."
            ),
        },
        status=429,
    )


@login_not_required
@require_http_methods(["GET", "POST"])
def mot_de_passe_oublie(request):
    form = MotDePasseOublieForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        identifiant = form.cleaned_data["identifiant"].strip().upper()
        if cache_partage.limite_atteinte(
            "oubli-id", identifiant, settings.MOT_DE_PASSE_OUBLIE_LIMITE_IDENTIFIANT
        ) | cache_partage.limite_atteinte(
            "oubli-ip", adresse_client(request) or "", settings.MOT_DE_PASSE_OUBLIE_LIMITE_ADRESSE
        ):
            logger.warning("mot de passe oublié : limite atteinte adresse=%s", adresse_client(request))
            messages.error(request, "Trop de demandes ont été faites. Patientez une heure avant de réessayer.")
            return render(request, "habilitations/mot_de_passe_oublie.html", {"form": form}, status=429)
        _mot_de_passe_oublie_programmer(identifiant)
        messages.success(
            request,
            "Si cet identifiant correspond à un compte ouvert, un mot de passe provisoire vient d'être envoyé à "
            "l'adresse mail du compte. Il est valable 24 heures.",
        )
        return redirect("habilitations:connexion")
    return render(request, "habilitations/mot_de_passe_oublie.html", {"form": form})


def _mot_de_passe_oublie_programmer(identifiant: str) -> None:
    """Confie la demande à Celery : la requête coûte la même chose que le compte existe ou non
    (issue 10, point 2). Courtier injoignable : la demande est traitée ici même, plutôt que
    perdue (le temps de réponse peut alors trahir l'existence du compte, le temps de la panne)."""
    demande_le = timezone.now()
    try:
        tache_mot_de_passe_oublie.delay(identifiant, demande_le.isoformat())
    except Exception:
        logger.warning("mot de passe oublié : courtier indisponible, demande traitée dans la requête", exc_info=True)
        services.mot_de_passe_oublie(identifiant=identifiant, demande_le=demande_le)


@require_http_methods(["GET", "POST"])
def choisir_mot_de_passe(request):
    """Après une connexion par mot de passe provisoire : rien d'autre avant ce choix."""
    if not request.session.get(CLE_CHOIX_MOT_DE_PASSE):
        return redirect("portail:accueil")
    form = ChoisirMotDePasseForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.mot_de_passe_choisir(utilisateur=request.user, mot_de_passe=form.cleaned_data["new_password1"])
        _nouveau_hash_de_session(request)
        del request.session[CLE_CHOIX_MOT_DE_PASSE]
        messages.success(request, "Votre mot de passe personnel est enregistré.")
        return redirect("portail:accueil")
    return render(request, "habilitations/choisir_mot_de_passe.html", {"form": form, "sans_menu": True})


@require_http_methods(["GET", "POST"])
def changer_mot_de_passe(request):
    form = ChangerMotDePasseForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.mot_de_passe_choisir(utilisateur=request.user, mot_de_passe=form.cleaned_data["new_password1"])
        _nouveau_hash_de_session(request)
        services.sessions_fermer(utilisateur=request.user, sauf=request.session.session_key)
        messages.success(request, "Votre mot de passe a été modifié. Vos autres sessions ont été fermées.")
        return redirect("habilitations:profil")
    return render(request, "habilitations/changer_mot_de_passe.html", {"form": form})


@require_http_methods(["GET", "POST"])
def activer_otp(request):
    """Enrôlement TOTP : QR code, saisie d'un premier code, puis codes de secours montrés une fois.
    Changer d'application exige d'avoir d'abord passé la vérification avec l'actuelle."""
    if perms.a_double_authentification(request.user) and not request.user.is_verified():
        return redirect("habilitations:verifier_otp")
    device = otp.totp_en_attente(request.user)
    form = CodeOtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = otp.totp_confirmer(utilisateur=request.user, device=device, code=form.cleaned_data["code"])
        if codes is not None:
            otp_login(request, device)
            request.session[CLE_A_DOUBLE_AUTHENTIFICATION] = True
            connexion_terminer(request, request.user)
            messages.success(request, "La double authentification est activée.")
            return render(
                request,
                "habilitations/codes_secours.html",
                {"codes": codes, "suivant": _suivant(request), "sans_menu": True},
            )
        form.add_error("code", "Code incorrect : saisissez les 6 chiffres affichés en ce moment par votre application.")
    return render(
        request,
        "habilitations/activer_otp.html",
        {
            "form": form,
            "qr_code": otp.qr_code_data_uri(device.config_url),
            "secret": otp.secret_base32(device),
            "requise": perms.double_authentification_requise(request.user) and not request.user.is_verified(),
            "suivant": request.GET.get("next", ""),
            "sans_menu": not request.user.is_verified(),
        },
    )


@require_http_methods(["GET", "POST"])
def verifier_otp(request):
    if request.user.is_verified():
        return redirect(_suivant(request))
    form = CodeOtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = otp.verifier(request.user, form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            connexion_terminer(request, request.user)
            return redirect(_suivant(request))
        logger.info("double authentification : code refusé utilisateur=%s", request.user.pk)
        form.add_error(
            "code", "Code incorrect ou expiré. Saisissez le code affiché en ce moment, ou un code de secours."
        )
    return render(
        request,
        "habilitations/verifier_otp.html",
        {"form": form, "suivant": request.GET.get("next", ""), "sans_menu": True},
    )


@require_http_methods(["POST"])
def regenerer_codes_secours(request):
    if not perms.a_double_authentification(request.user):
        return redirect("habilitations:activer_otp")
    codes = otp.codes_secours_generer(utilisateur=request.user)
    messages.success(request, "Vos anciens codes de secours sont annulés ; voici les nouveaux.")
    return render(
        request, "habilitations/codes_secours.html", {"codes": codes, "suivant": reverse("habilitations:profil")}
    )


@require_http_methods(["GET", "POST"])
def profil(request):
    form = ChangerEmailForm(request.POST or None, utilisateur=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.email_changement_demander(utilisateur=request.user, nouvel_email=form.cleaned_data["email"])
        except services.ErreurMetier as exc:
            form.add_error("email", str(exc))
    if request.method == "POST" and form.is_valid():
        messages.success(
            request,
            f"Un lien de confirmation vient d'être envoyé à {form.cleaned_data['email']}. Votre adresse ne change "
            "qu'après avoir ouvert ce lien.",
        )
        return redirect("habilitations:profil")
    return render(
        request,
        "habilitations/profil.html",
        {
            "form": form,
            "profils": perms.profils_effectifs(request.user).select_related("service"),
            "double_authentification": perms.a_double_authentification(request.user),
            "double_authentification_requise": perms.double_authentification_requise(request.user),
        },
    )


@require_http_methods(["GET"])
def confirmer_email(request, jeton: str):
    try:
        email = services.email_changement_confirmer(utilisateur=request.user, jeton=jeton)
    except services.ErreurMetier as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Votre adresse mail est désormais {email}.")
    return redirect("habilitations:profil")
