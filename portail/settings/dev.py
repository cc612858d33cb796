"""Développement : `make run`. SQLite, tâches immédiates, boîte aux lettres de développement."""

from portail.settings.base import *  # noqa: F403
from portail.settings.base import mailers
from portail.settings.env import env_bool, env_str

DEBUG = env_bool("DJANGO_DEBUG", True)
# Les courriels « envoyés » restent lisibles sur la page /dev/courriels/ (DEBUG uniquement).
MAILERS = mailers(env_str("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Fichiers statiques servis depuis les applications, sans collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
