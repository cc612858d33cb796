"""Réglages communs. Les fichiers dev, test et prod les complètent.

Mode embarqué par défaut : sans DATABASE_URL, SQLite ; sans CELERY_BROKER_URL, les tâches
Celery s'exécutent dans le processus. Avec ces variables, PostgreSQL et Redis.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.csp import CSP

from portail.settings.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-uniquement-cle-non-secrete-a-remplacer-en-production")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# Un échec CSRF (page restée ouverte, session expirée) s'affiche dans la mise en page du portail.
CSRF_FAILURE_VIEW = "portail.erreurs.echec_csrf"

# Derrière un proxy inverse (production), l'adresse du client est lue dans X-Forwarded-For.
PROXY_INVERSE_DE_CONFIANCE = env_bool("PROXY_INVERSE_DE_CONFIANCE", False)

# Adresse publique du portail, citée dans les liens des courriels (« https://partenaires.example »).
# Vide : l'hôte qui a servi la requête (validé par ALLOWED_HOSTS), et http://127.0.0.1:8000 pour
# les courriels écrits hors requête (tâches de nuit). À donner en production.
PORTAIL_URL = env_str("PORTAIL_URL", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # django-dsfr avant django.forms : ses gabarits de champs (erreurs « fr-error-text » sous
    # le champ) l'emportent ; widget_tweaks sert à ses gabarits de cases et de boutons radio.
    "dsfr",
    "django.forms",
    "widget_tweaks",
    "django_htmx",
    "django_filters",
    "guardian",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "portail",
    "conventions",
    "habilitations",
    "afas",
]

MIDDLEWARE = [
    # Le premier : l'identifiant de requête est dans tous les journaux, erreurs comprises.
    "portail.socle.exploitation.IdentifiantRequeteMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portail.socle.exploitation.SansCacheAuthentifieMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portail.socle.middleware.AdresseIPMiddleware",
    "habilitations.middleware.SessionSecuriseeMiddleware",
    "habilitations.middleware.ParcoursObligatoireMiddleware",
    # Axes en dernier, comme le demande sa documentation.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portail.urls"
WSGI_APPLICATION = "portail.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portail.context_processors.portail",
            ],
        },
    },
]
FORM_RENDERER = "portail.socle.rendu.RenduFormulaires"  # TemplatesSetting, la liste déroulante écrite en Python

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        # Connexions persistantes : vérifiées avant chaque requête, pour qu'un redémarrage de
        # PostgreSQL ne coûte pas une erreur 500 par processus web (tests/pannes).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Pas de compilation JIT : sur les pages à sous-requêtes EXISTS (« Non attribué » d'AFAS),
    # l'estimation de coût la déclenchait et la compilation prenait 7 s pour 50 ms d'exécution.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
    # Instructions préparées, pour les seules requêtes compilées une fois par processus
    # (``portail.socle.requetes`` : la connexion, l'état de double authentification lu à chaque
    # page). Django les désactive par défaut (``None``) ; ses autres requêtes lient leurs valeurs
    # côté client et ne sont jamais préparées. Ticket 11 : la lecture de la connexion coûtait
    # 0,5 ms de planification pour 0,07 ms d'exécution. Derrière un pgbouncer en mode
    # « transaction », il faut pgbouncer ≥ 1.21 (max_prepared_statements), ou les désactiver
    # (DATABASE_INSTRUCTIONS_PREPAREES=0 : ces requêtes sont alors planifiées à chaque appel).
    if env_bool("DATABASE_INSTRUCTIONS_PREPAREES", True):
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "habilitations.Utilisateur"
AUTHENTICATION_BACKENDS = [
    # Axes d'abord : une tentative sur un identifiant verrouillé n'atteint jamais le hacheur.
    "axes.backends.AxesStandaloneBackend",
    "habilitations.backends.IdentifiantBackend",
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "habilitations:connexion"
LOGIN_REDIRECT_URL = "portail:accueil"
LOGOUT_REDIRECT_URL = "habilitations:connexion"

# Argon2id. Paramètres choisis et mesurés dans habilitations/hashers.py (README, « Mots de passe »).
PASSWORD_HASHERS = [
    "habilitations.hashers.Argon2idPortailHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "habilitations.validators.LongueurMaximaleValidator", "OPTIONS": {"max_length": 128}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "habilitations.validators.SansIdentifiantNiNomValidator"},
]

# Mot de passe provisoire : valable 24 heures, à usage unique.
MOT_DE_PASSE_PROVISOIRE_DUREE = timedelta(hours=env_int("MOT_DE_PASSE_PROVISOIRE_HEURES", 24))

# Sessions : 30 minutes d'inactivité, 12 heures au plus (ASVS 7.3), côté serveur.
# En base (une session survit à un redémarrage de Redis), en deux requêtes par connexion au
# lieu de sept : voir portail/socle/sessions.py.
SESSION_ENGINE = "portail.socle.sessions"
SESSION_INACTIVITE_MAX = timedelta(minutes=env_int("SESSION_INACTIVITE_MINUTES", 30))
SESSION_DUREE_MAX = timedelta(hours=env_int("SESSION_DUREE_MAX_HEURES", 12))
SESSION_COOKIE_AGE = int(SESSION_DUREE_MAX.total_seconds())
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Verrouillage : 5 échecs verrouillent l'identifiant 15 minutes (et non l'adresse IP, pour
# qu'un proxy partagé ne verrouille pas tout le monde).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "habilitations.backends.identifiant_axes"
AXES_RESET_ON_SUCCESS = True
# Choix assumé (voir ci-dessus) : verrouiller par adresse bloquerait tout un proxy partagé.
# models.W040 : les index couvrants (INCLUDE) servent PostgreSQL, la base de production ; SQLite
# (démonstration, tests rapides) garde l'index sur ses colonnes clés et ignore le reste.
SILENCED_SYSTEM_CHECKS = ["axes.W006", "models.W040"]
AXES_LOCKOUT_CALLABLE = "habilitations.compte.views.verrouillage"
AXES_VERBOSE = False
# Une connexion réussie sans échec récent ne coûte pas de requête à axes ; le journal du portail
# trace déjà chaque connexion (habilitations/verrouillage.py).
AXES_HANDLER = "habilitations.verrouillage.GestionnaireAxes"
AXES_DISABLE_ACCESS_LOG = True

# Double authentification : obligatoire pour les agents Caf, administrateurs et responsables
# d'habilitations ; ce réglage la rend obligatoire pour tous.
DOUBLE_AUTHENTIFICATION_POUR_TOUS = env_bool("DOUBLE_AUTHENTIFICATION_POUR_TOUS", False)

# Comptes inactifs : l'administrateur doit faire utiliser chaque compte au moins une fois par an.
# Avertissement (au compte et à son administrateur) puis suspension, en jours sans connexion.
INACTIVITE_AVERTISSEMENT_JOURS = env_int("INACTIVITE_AVERTISSEMENT_JOURS", 335)
INACTIVITE_SUSPENSION_JOURS = env_int("INACTIVITE_SUSPENSION_JOURS", 365)
# Avis de fin d'appartenance (à l'utilisateur et à son responsable), en jours avant la fin.
ECHEANCE_APPARTENANCE_JOURS = env_int("ECHEANCE_APPARTENANCE_JOURS", 7)
# Tableau de bord « appartenances qui se terminent bientôt », en jours.
ECHEANCE_TABLEAU_DE_BORD_JOURS = env_int("ECHEANCE_TABLEAU_DE_BORD_JOURS", 30)
OTP_TOTP_ISSUER = "Portail Partenaires"

# Connexion : au plus tant de tentatives par adresse réseau et par fenêtre, refusées avant tout
# hachage (un flot d'identifiants neufs, jamais verrouillés, ralentirait tout le monde). Assez
# haut pour un bureau entier derrière une même adresse à l'heure de l'embauche.
CONNEXION_LIMITE_ADRESSE = env_int("CONNEXION_LIMITE_ADRESSE", 30)
CONNEXION_LIMITE_FENETRE_SECONDES = env_int("CONNEXION_LIMITE_FENETRE_SECONDES", 300)

# « Mot de passe oublié ? » : limites par identifiant et par adresse, par heure.
MOT_DE_PASSE_OUBLIE_LIMITE_IDENTIFIANT = env_int("MOT_DE_PASSE_OUBLIE_LIMITE_IDENTIFIANT", 3)
MOT_DE_PASSE_OUBLIE_LIMITE_ADRESSE = env_int("MOT_DE_PASSE_OUBLIE_LIMITE_ADRESSE", 20)

GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None

LANGUAGE_CODE = "fr-fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Pas d'attribut ``integrity`` sur les feuilles de style et scripts du DSFR : django-dsfr y écrit
# l'empreinte du fichier du paquet, mais la collecte de production (noms hachés, ``url(…)``
# réécrites) change ce contenu, et le navigateur refusait tout le DSFR : le portail s'affichait
# sans mise en forme (tests/portail/test_statiques_production.py). Les fichiers viennent de notre
# propre origine (whitenoise ; CSP ``'self'``) : l'empreinte, faite pour un CDN tiers, n'ajoutait
# rien ici.
DSFR_USE_INTEGRITY_CHECKSUMS = False

# Politique de sécurité du contenu : aucun script ni style en ligne.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"


# Courriels : ils passent par la boîte d'envoi transactionnelle (portail.Courriel), puis par
# le « mailer » par défaut (réglage MAILERS de Django 6.1).
def mailers(backend: str) -> dict:
    options: dict = {}
    if backend.endswith("smtp.EmailBackend"):
        options = {
            "host": env_str("EMAIL_HOST", "localhost"),
            "port": env_int("EMAIL_PORT", 25),
            "username": env_str("EMAIL_HOST_USER", ""),
            "password": env_str("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
            "timeout": env_int("EMAIL_TIMEOUT", 10),
        }
    elif backend.endswith("filebased.EmailBackend"):
        options = {"file_path": env_str("EMAIL_FILE_PATH", str(BASE_DIR / "courriels"))}
    return {"default": {"BACKEND": backend, "OPTIONS": options}}


MAILERS = mailers(env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Portail Partenaires <ne-pas-repondre@portail-partenaires.example>")
COURRIEL_TENTATIVES_MAX = env_int("COURRIEL_TENTATIVES_MAX", 8)

# Celery : sans courtier, exécution immédiate dans le processus (mode embarqué).
_COURTIER = env_str("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not _COURTIER
# En mode embarqué, un courtier en mémoire : Celery n'en a pas besoin pour les tâches immédiates,
# mais en ouvre un quand même (sans quoi kombu avertit « No hostname was supplied »).
CELERY_BROKER_URL = _COURTIER or "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publier ne doit jamais bloquer une requête : si le courtier est absent, le balayage
# périodique de la boîte d'envoi rattrapera le courriel.
CELERY_TASK_PUBLISH_RETRY = False
# Publier depuis une requête : une seule nouvelle tentative, rapide (mesuré : 0,1 s contre 6 s
# par défaut quand Redis est arrêté). Le worker garde sa propre reconnexion patiente.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BEAT_SCHEDULE = {
    "relancer-courriels": {"task": "portail.tasks.relancer_courriels", "schedule": 60.0},
    # Juste après minuit à Paris : les faits datés du jour prennent effet dans les droits objets.
    "reconcilier-droits": {
        "task": "conventions.tasks.reconcilier_droits",
        "schedule": crontab(hour=0, minute=5),
    },
    # Ensuite : droits des responsables, avis d'échéance, comptes inactifs (avertis, suspendus).
    "taches-quotidiennes-habilitations": {
        "task": "habilitations.tasks.taches_quotidiennes",
        "schedule": crontab(hour=0, minute=15),
    },
    # Puis les chiffres de profils des grandes conventions (« Mes tableaux de bord », datés).
    "syntheses-tableaux-de-bord": {
        "task": "habilitations.tasks.syntheses_tableaux_de_bord",
        "schedule": crontab(hour=0, minute=45),
    },
    # Et les lignes AFAS des grandes conventions (rôles non tenus, fins prochaines), datées.
    "syntheses-tableaux-de-bord-afas": {
        "task": "afas.tasks.syntheses_tableaux_de_bord_afas",
        "schedule": crontab(hour=0, minute=50),
    },
    # Approbateurs AFAS sans décision de la Caf : relances à 3 et 7 jours (idempotentes).
    "relancer-validations-afas": {
        "task": "afas.tasks.relancer_validations",
        "schedule": crontab(minute=20),
    },
    # Déclarations AFAS pas encore transmises : rappels à 7 jours et à 1 jour de la date limite.
    "relancer-declarations-afas": {
        "task": "afas.tasks.relancer_declarations",
        "schedule": crontab(hour=8, minute=0),
    },
    # Lancements d'appels de déclaration restés inachevés (courtier absent) : republiés.
    "reprendre-appels-afas": {"task": "afas.tasks.reprendre_appels", "schedule": 600.0},
    # Statistiques AFAS : quartiles et médianes des montants figés, par Caf et nationaux.
    "statistiques-afas": {
        "task": "afas.tasks.statistiques_calculer",
        "schedule": crontab(hour=2, minute=30),
    },
}

CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_str("REDIS_CACHE_URL"),
            # Redis injoignable : échouer vite, le repli de portail.socle.cache_partage prend le relais.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if env_str("REDIS_CACHE_URL", "")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

MESSAGE_TAGS = {10: "info", 20: "info", 25: "success", 30: "warning", 40: "error"}

# Journaux sur la sortie d'erreur (collectés par docker, systemd…), en production comme en
# développement. Chaque ligne porte l'identifiant de la requête (portail.socle.exploitation) ; les
# erreurs serveur (django.request) y écrivent leur trace complète, même DEBUG désactivé (la
# configuration par défaut de Django ne les écrit qu'en DEBUG, ou par courriel aux ADMINS).
# Jamais de données personnelles : les journaux citent des clés (utilisateur=12), pas de noms
# ni d'adresses mail.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"id_requete": {"()": "portail.socle.exploitation.IdentifiantRequeteFilter"}},
    "formatters": {"simple": {"format": "%(asctime)s %(levelname)s %(name)s [%(id_requete)s] %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "simple",
            "filters": ["id_requete"],
        }
    },
    "loggers": {
        "portail": {"handlers": ["console"], "level": "INFO"},
        "habilitations": {"handlers": ["console"], "level": "INFO"},
        "conventions": {"handlers": ["console"], "level": "INFO"},
        "afas": {"handlers": ["console"], "level": "INFO"},
        # Erreurs 500, avec leur trace ; propagate=False : pas de doublon.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.security": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
