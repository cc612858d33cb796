"""Données de départ des contrôles de panne, lancé dans la pile jetable (réglages de production) :
une convention validée, son administrateur (double authentification confirmée) et une session
déjà ouverte et vérifiée pour lui. Écrit un JSON sur la sortie standard."""

import json
import time

import django

django.setup()

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

from habilitations.models import SessionUtilisateur  # noqa: E402
from habilitations.receivers import (  # noqa: E402
    CLE_A_DOUBLE_AUTHENTIFICATION,
    CLE_CONNECTE_LE,
    CLE_CONNEXION_TERMINEE,
    CLE_DERNIERE_ACTIVITE,
)
from tests import factories  # noqa: E402

convention = factories.ConventionFactory()
administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", organisme=convention.organisme)
factories.nommer_administrateur(convention, administrateur)
membre = factories.creer_utilisateur(nom="Cayrol", prenom="Chloe", convention=convention)
device = TOTPDevice.objects.create(user=administrateur, name="app", confirmed=True)

session = SessionStore()
maintenant = time.time()
session.update(
    {
        SESSION_KEY: str(administrateur.pk),
        BACKEND_SESSION_KEY: "habilitations.backends.IdentifiantBackend",
        HASH_SESSION_KEY: administrateur.get_session_auth_hash(),
        DEVICE_ID_SESSION_KEY: device.persistent_id,
        CLE_CONNECTE_LE: maintenant,
        CLE_DERNIERE_ACTIVITE: maintenant,
        CLE_A_DOUBLE_AUTHENTIFICATION: True,
        CLE_CONNEXION_TERMINEE: True,
    }
)
session.create()
SessionUtilisateur.objects.create(session_key=session.session_key, utilisateur=administrateur)
print(
    json.dumps(
        {
            "convention": convention.pk,
            "session": session.session_key,
            "administrateur": administrateur.identifiant,
            "membre": membre.identifiant,
        }
    )
)
