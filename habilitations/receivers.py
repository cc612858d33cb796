"""Traces de connexion (sans jamais le mot de passe) et suivi des sessions ouvertes."""

import logging

from django.contrib.auth import signals
from django.utils import timezone

from habilitations import perms
from habilitations.models import SessionUtilisateur
from portail.socle.audit import audit_enregistrer
from portail.socle.middleware import adresse_client

logger = logging.getLogger("habilitations.connexions")

CLE_CONNECTE_LE = "connecte_le"
CLE_DERNIERE_ACTIVITE = "derniere_activite"
# Noté à la connexion : le compte a une application d'authentification confirmée.
CLE_A_DOUBLE_AUTHENTIFICATION = "a_double_authentification"


def connexion_reussie(sender, request, user, **kwargs) -> None:
    maintenant = timezone.now()
    user.connexion_precedente = user.last_login
    user.last_login = maintenant
    user.save(update_fields=["connexion_precedente", "last_login"])
    if request is not None and hasattr(request, "session"):
        request.session[CLE_CONNECTE_LE] = maintenant.timestamp()
        request.session[CLE_DERNIERE_ACTIVITE] = maintenant.timestamp()
        request.session[CLE_A_DOUBLE_AUTHENTIFICATION] = perms.a_double_authentification(user)
        if not request.session.session_key:
            request.session.save()
        SessionUtilisateur.objects.update_or_create(
            session_key=request.session.session_key, defaults={"utilisateur": user}
        )
    logger.info("connexion réussie utilisateur=%s adresse=%s", user.pk, adresse_client(request) if request else None)
    audit_enregistrer(par=user, action="connexion_reussie", cible=user)


def connexion_echouee(sender, credentials, request=None, **kwargs) -> None:
    # `credentials` est déjà expurgé du mot de passe par Django ; on n'en garde que l'identifiant.
    identifiant = str(credentials.get("username", ""))[:40]
    logger.info(
        "connexion échouée identifiant=%r adresse=%s", identifiant, adresse_client(request) if request else None
    )
    audit_enregistrer(par=None, action="connexion_echouee", apres={"identifiant": identifiant})


def deconnexion(sender, request, user, **kwargs) -> None:
    if request is not None and request.session.session_key:
        SessionUtilisateur.objects.filter(session_key=request.session.session_key).delete()
    if user is not None:
        logger.info("déconnexion utilisateur=%s", user.pk)


def connecter() -> None:
    signals.user_logged_in.connect(connexion_reussie, dispatch_uid="portail_connexion_reussie")
    signals.user_login_failed.connect(connexion_echouee, dispatch_uid="portail_connexion_echouee")
    signals.user_logged_out.connect(deconnexion, dispatch_uid="portail_deconnexion")
