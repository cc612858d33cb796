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
# Noté quand la connexion est complète (double authentification comprise).
CLE_CONNEXION_TERMINEE = "connexion_terminee"


def connexion_reussie(sender, request, user, **kwargs) -> None:
    """Mot de passe accepté : la session s'ouvre. Si la double authentification reste à passer
    (ou à activer), la connexion n'est pas encore complète : ni « dernière connexion », ni
    « Connexion » au journal, ni remise à zéro du compteur d'inactivité ; la tentative est
    journalisée pour ce qu'elle est. ``connexion_terminer`` le fera après le code."""
    maintenant = timezone.now()
    a_double_authentification, requise = perms.double_authentification_etat(user)
    if request is not None and hasattr(request, "session"):
        request.session[CLE_CONNECTE_LE] = maintenant.timestamp()
        request.session[CLE_DERNIERE_ACTIVITE] = maintenant.timestamp()
        request.session[CLE_A_DOUBLE_AUTHENTIFICATION] = a_double_authentification
        if not request.session.session_key:
            request.session.save()
        # Une requête (INSERT … ON CONFLICT) au lieu des quatre d'update_or_create (verrou, point
        # de sauvegarde, insertion, relâche) : la connexion en fait moins (ticket 11, 15/s par cœur).
        SessionUtilisateur.objects.bulk_create(
            [SessionUtilisateur(session_key=request.session.session_key, utilisateur=user)],
            update_conflicts=True,
            unique_fields=["session_key"],
            update_fields=["utilisateur"],
        )
    if a_double_authentification or requise:
        logger.info(
            "mot de passe accepté, double authentification attendue utilisateur=%s adresse=%s",
            user.pk,
            adresse_client(request) if request else None,
        )
        audit_enregistrer(par=user, action="connexion_mot_de_passe_accepte", cible=user)
        return
    connexion_terminer(request, user)


def connexion_terminer(request, user) -> None:
    """La connexion est complète (mot de passe, puis code de double authentification s'il est
    exigé) : elle compte comme connexion (dernière connexion, compteur d'inactivité, journal).
    Une seule fois par session : réactiver la double authentification plus tard n'en est pas une."""
    if request is not None and hasattr(request, "session"):
        if request.session.get(CLE_CONNEXION_TERMINEE):
            return
        request.session[CLE_CONNEXION_TERMINEE] = True
    user.connexion_precedente = user.last_login
    user.last_login = timezone.now()
    user.save(update_fields=["connexion_precedente", "last_login"])
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
