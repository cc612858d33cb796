"""Production : toutes les valeurs sensibles viennent de l'environnement."""

from portail.settings.base import *  # noqa: F403
from portail.settings.env import env_bool, env_int, env_str

DEBUG = False
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
# Connexions persistantes à PostgreSQL (vérifiées avant chaque requête, voir base.py) : ouvrir une
# connexion par requête coûte un processus PostgreSQL et le chargement de son catalogue, plus
# cher que la plupart des pages (ticket 11 : connexion 17 → 29 par seconde et par cœur au banc).
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
