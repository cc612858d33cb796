"""Traces de connexion (sans jamais le mot de passe) et suivi des sessions ouvertes."""

import logging

from django.contrib.auth import signals
from django.db import connections, router
from django.utils import timezone

from habilitations import perms
from habilitations.models import SessionUtilisateur, Utilisateur
from portail.socle.audit import audit_enregistrer, audit_preparer
from portail.socle.middleware import adresse_client
from portail.socle.requetes import curseur_prepare, sql_insertion

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
        if not (a_double_authentification or requise) and _connexion_complete_ecrire(request, user):
            return
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


def _connexion_complete_ecrire(request, user: Utilisateur) -> bool:
    """La connexion par mot de passe seul, complète d'un coup (le cas de la plupart des comptes) :
    session suivie, dernière connexion et ligne « Connexion » du journal en une seule instruction
    PostgreSQL (``WITH … INSERT / UPDATE``), atomique, au lieu de trois instructions construites
    par l'ORM (ticket 11 : 15 connexions par seconde et par cœur ; 0,6 ms de processeur en moins).
    Mêmes valeurs que le chemin de l'ORM (``audit_preparer``, ``pre_save``) : comparé dans
    tests/habilitations/test_connexion_ecritures.py. Faux (rien d'écrit) hors PostgreSQL, ou si
    la connexion de cette session était déjà complète : le chemin ordinaire s'applique."""
    connexion = connections[router.db_for_write(Utilisateur)]
    if connexion.vendor != "postgresql" or request.session.get(CLE_CONNEXION_TERMINEE):
        return False
    request.session[CLE_CONNEXION_TERMINEE] = True
    user.connexion_precedente = user.last_login
    user.last_login = timezone.now()
    suivi_sql, suivi_valeurs = sql_insertion(
        SessionUtilisateur(session_key=request.session.session_key, utilisateur=user), connexion
    )
    journal_sql, journal_valeurs = sql_insertion(
        audit_preparer(par=user, action="connexion_reussie", cible=user), connexion
    )
    champ_derniere, champ_precedente = (
        Utilisateur._meta.get_field("last_login"),
        Utilisateur._meta.get_field("connexion_precedente"),
    )
    # La ligne de la session elle-même, si elle n'est pas encore écrite (clé neuve de la connexion).
    session = getattr(request.session, "insertion_a_joindre", lambda _connexion: None)(connexion)
    session_sql, session_valeurs = (f"session AS ({session[0]}), ", session[1]) if session else ("", [])
    nom = connexion.ops.quote_name
    # Noms de tables et de colonnes pris au modèle et cités ; les valeurs passent en paramètres.
    sql = (
        f"WITH {session_sql}suivi AS ({suivi_sql} ON CONFLICT ({nom('session_key')}) DO UPDATE "  # noqa: S608
        f"SET {nom('utilisateur_id')} = EXCLUDED.{nom('utilisateur_id')}), "
        f"compte AS (UPDATE {nom(Utilisateur._meta.db_table)} SET {nom(champ_derniere.column)} = %s, "
        f"{nom(champ_precedente.column)} = %s WHERE {nom(Utilisateur._meta.pk.column)} = %s) "
        f"{journal_sql}"
    )
    valeurs = [
        *session_valeurs,
        *suivi_valeurs,
        champ_derniere.get_db_prep_save(user.last_login, connexion),
        champ_precedente.get_db_prep_save(user.connexion_precedente, connexion),
        user.pk,
        *journal_valeurs,
    ]
    # Le texte ne change pas d'une connexion à l'autre (les valeurs passent en paramètres) :
    # instruction préparée, analysée et planifiée une fois par connexion à PostgreSQL.
    with curseur_prepare(connexion) as curseur:
        curseur.execute(sql, valeurs)
    if session:
        request.session.inseree()
    logger.info("connexion réussie utilisateur=%s adresse=%s", user.pk, adresse_client(request))
    return True


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
