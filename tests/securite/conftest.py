"""Les gardes partagent un monde construit une fois par module, dans une transaction annulée à
la fin du module ; chaque test s'exécute dans un point de sauvegarde de celle-ci (``db``)."""

import pytest
from django.db import transaction
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.securite.monde import PERSONAS, construire


@pytest.fixture(scope="module")
def monde(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        construit = construire()
        for nom in (*PERSONAS, "personnel"):
            TOTPDevice.objects.get_or_create(user=construit.persona(nom), confirmed=True, defaults={"name": "test"})
        yield construit
        transaction.set_rollback(True)


def connecter(client, user) -> None:
    """Session ouverte, double authentification vérifiée (l'appareil existe dans le monde)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
