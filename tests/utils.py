import contextlib
import html
import os
import re

import kombu.pools


def texte(reponse) -> str:
    """Le HTML d'une réponse, entités décodées : ce que l'utilisateur lit."""
    return html.unescape(reponse.content.decode())


def hors_resume_erreurs(page: str) -> str:
    """La page sans le résumé des erreurs de tête (templates/portail/_resume_erreurs.html), qui
    répète chaque erreur : pour vérifier ce qui s'affiche près des champs."""
    return re.sub(r'<div [^>]*id="resume-erreurs".*?</div>', "", page, count=1, flags=re.S)


COURTIER_INJOIGNABLE = "redis://127.0.0.1:1/0"


def connexions_neuves() -> None:
    """Oublie les connexions au courtier de ce processus : la prochaine publication en ouvre de
    nouvelles, avec l'URL du moment (kombu et l'application gardent leurs pools en cache)."""
    from portail.celery import app

    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def courtier_injoignable():
    """Les publications de ce processus visent un port fermé (un worker, lui, n'en sait rien).
    L'URL d'écriture prime sur CELERY_BROKER_URL ; les tâches ne sont plus exécutées sur place."""
    from portail.celery import app

    ancien = (app.conf.task_always_eager, os.environ.get("CELERY_BROKER_WRITE_URL"))
    os.environ["CELERY_BROKER_WRITE_URL"] = COURTIER_INJOIGNABLE
    app.conf.task_always_eager = False
    connexions_neuves()
    try:
        yield
    finally:
        app.conf.task_always_eager = ancien[0]
        if ancien[1] is None:
            os.environ.pop("CELERY_BROKER_WRITE_URL", None)
        else:
            os.environ["CELERY_BROKER_WRITE_URL"] = ancien[1]
        connexions_neuves()
