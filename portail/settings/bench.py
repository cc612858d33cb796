"""Banc d'essai (``make bench``) : les réglages de production, servis en HTTP sur la boucle locale.

Ajoute l'en-tête ``X-Requetes-SQL`` et la page plancher (``portail.banc``), qui n'existent dans
aucun autre réglage. Les cookies restent sécurisés en production ; ici le banc parle HTTP à
127.0.0.1, donc sans redirection HTTPS ni cookies « Secure ».
"""

from portail.settings.prod import *  # noqa: F403
from portail.settings.prod import MIDDLEWARE

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ROOT_URLCONF = "portail.urls_banc"
MIDDLEWARE = ["portail.banc.RequetesSQLMiddleware", *MIDDLEWARE]
# Toute la charge vient de 127.0.0.1 : la limite de connexion par adresse (30 par 5 minutes)
# refuserait les connexions mesurées. Le banc mesure le débit du hacheur, pas cette limite,
# qui a son propre test (tests/habilitations/test_limites_et_pannes.py).
CONNEXION_LIMITE_ADRESSE = 1_000_000
