"""Tests : `make test`. PostgreSQL et Redis si DATABASE_URL et CELERY_BROKER_URL sont fournis."""

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
