"""Tests : `make test`. PostgreSQL et Redis si DATABASE_URL et CELERY_BROKER_URL sont fournis."""

import copy
import os
import sys
from pathlib import Path

from django.template import TemplateSyntaxError

from portail.settings.base import *  # noqa: F403
from portail.settings.base import PASSWORD_HASHERS as HACHEURS_PRODUCTION
from portail.settings.base import mailers
from portail.settings.env import env_str

DEBUG = False
SECRET_KEY = "cle-de-test"  # noqa: S105
MAILERS = mailers(env_str("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"))
# Argon2 est mesuré à part (tests/habilitations/test_mots_de_passe.py) ; ailleurs un hacheur
# rapide garde la suite sous quelques minutes.
HACHEURS_PRODUCTION = HACHEURS_PRODUCTION
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *HACHEURS_PRODUCTION]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Fichiers statiques servis depuis les applications, sans collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# pytest-xdist (`make test`) : chaque processus de test a sa base (test_<nom>_gw0, …) et sa file
# Celery ; le vrai worker qu'un test démarre hérite de la variable, donc écoute et publie sur la même.
if os.environ.get("PYTEST_XDIST_WORKER"):
    CELERY_TASK_DEFAULT_QUEUE = f"celery-{os.environ['PYTEST_XDIST_WORKER']}"


class VariableIndefinie(str):
    """`string_if_invalid` des tests : une variable indéfinie dans NOS gabarits fait échouer le test.

    Django évalue `if string_if_invalid:` à l'endroit même où une variable ne se résout pas (nœud
    en cours de rendu, donc gabarit connu) : c'est là qu'on lève. Seuls les gabarits tiers (paquets
    installés : django-dsfr, django-filter, formulaires de Django) gardent le comportement de
    production (chaîne vide, filtres comme `default` appliqués) : on ne corrige pas leurs gabarits.
    """

    def _verifier(self) -> None:
        expression, chemin = "?", None
        cadre = sys._getframe(2)
        while cadre is not None:
            soi = cadre.f_locals.get("self")
            if expression == "?" and cadre.f_code.co_name == "resolve" and hasattr(soi, "token"):
                expression = soi.token
            if cadre.f_code.co_name == "render_annotated":
                chemin = Path(str(getattr(getattr(soi, "origin", None), "name", "") or ""))
                break
            cadre = cadre.f_back
        # Gabarit sans fichier (Template("…")) : le nôtre, donc vérifié.
        if chemin and chemin.is_absolute() and ("site-packages" in chemin.parts or not chemin.is_relative_to(BASE_DIR)):
            return
        raise TemplateSyntaxError(f"Variable indéfinie « {expression} » dans le gabarit {chemin}")

    def __bool__(self) -> bool:
        self._verifier()
        return False

    def __str__(self) -> str:
        self._verifier()
        return ""


TEMPLATES = copy.deepcopy(TEMPLATES)  # une copie : les réglages de base restent intacts
TEMPLATES[0]["OPTIONS"]["string_if_invalid"] = VariableIndefinie()
