"""Limites de débit et panne du cache partagé (issue 10, points 5 et 6).

La panne est réelle : le cache est un vrai Redis client pointé sur un port où rien n'écoute
(connexion refusée, comme un Redis arrêté).
"""

import socket

import pytest
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from habilitations.hashers import Argon2idPortailHasher
from habilitations.models import Utilisateur
from portail.models import Courriel, EvenementAudit
from portail.socle import cache_partage
from tests import factories
from tests.conftest import connecter_verifie
from tests.habilitations.test_utilisateurs import saisie, url
from tests.utils import texte

CONNEXION = reverse("habilitations:connexion")
OUBLIE = reverse("habilitations:mot_de_passe_oublie")


def _port_libre() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_arrete():
    cache_partage.vider_secours()
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_port_libre()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    with override_settings(CACHES=caches):
        yield
    cache_partage.vider_secours()


class HacheurCompte(Argon2idPortailHasher):
    """Le vrai hacheur du portail (Argon2id), qui compte ses calculs : ``encode`` (l'empreinte
    factice d'un identifiant inconnu, ou une nouvelle empreinte) et ``verify`` (un compte connu)."""

    calculs = 0

    def encode(self, password, salt):
        HacheurCompte.calculs += 1
        return super().encode(password, salt)

    def verify(self, password, encoded):
        HacheurCompte.calculs += 1
        return super().verify(password, encoded)


@pytest.mark.django_db
@override_settings(
    PASSWORD_HASHERS=["tests.habilitations.test_limites_et_pannes.HacheurCompte"], CONNEXION_LIMITE_ADRESSE=3
)
def test_une_adresse_qui_inonde_la_connexion_est_refusee_sans_aucun_hachage(client):
    """Ticket 11 : au-delà de la limite, ni identifiant inconnu ni bon mot de passe d'un compte
    réel ne coûtent un hachage depuis cette adresse ; une autre adresse se connecte."""
    user = factories.creer_utilisateur()
    Utilisateur.objects.filter(pk=user.pk).update(password=make_password(factories.MOT_DE_PASSE))
    HacheurCompte.calculs = 0
    for i in range(3):
        reponse = client.post(CONNEXION, {"username": f"NEUF{i:06d}", "password": "une phrase fausse"})
        assert reponse.status_code == 200
    assert HacheurCompte.calculs == 3  # un hachage par tentative admise, identifiant connu ou non

    for donnees in (
        {"username": "NEUF999999", "password": "une phrase fausse"},
        {"username": user.identifiant, "password": factories.MOT_DE_PASSE},
    ):
        assert client.post(CONNEXION, donnees).status_code == 429
    assert HacheurCompte.calculs == 3

    ailleurs = client.post(
        CONNEXION, {"username": user.identifiant, "password": factories.MOT_DE_PASSE}, REMOTE_ADDR="10.0.0.9"
    )
    assert ailleurs.status_code == 302
    assert HacheurCompte.calculs == 4


@pytest.mark.django_db
class TestLimiteDeConnexionParAdresse:
    @override_settings(CONNEXION_LIMITE_ADRESSE=3)
    def test_refuse_avant_tout_hachage(self, client):
        for i in range(3):
            reponse = client.post(CONNEXION, {"username": f"NEUF{i:06d}", "password": "une phrase fausse"})
            assert reponse.status_code == 200
        assert EvenementAudit.objects.filter(action="connexion_echouee").count() == 3

        reponse = client.post(CONNEXION, {"username": "NEUF999999", "password": "une phrase fausse"})
        assert reponse.status_code == 429
        assert "Trop de tentatives de connexion viennent de votre adresse réseau" in texte(reponse)
        # Le moteur d'authentification n'a pas été appelé : ni hachage, ni échec enregistré.
        assert EvenementAudit.objects.filter(action="connexion_echouee").count() == 3

    @override_settings(CONNEXION_LIMITE_ADRESSE=2)
    def test_par_adresse(self, client):
        for _ in range(3):
            client.post(CONNEXION, {"username": "NEUF000001", "password": "x"}, REMOTE_ADDR="10.0.0.1")
        user = factories.creer_utilisateur()
        reponse = client.post(
            CONNEXION, {"username": user.identifiant, "password": factories.MOT_DE_PASSE}, REMOTE_ADDR="10.0.0.2"
        )
        assert reponse.status_code == 302


@pytest.mark.django_db
class TestRedisArrete:
    def test_creation_d_utilisateur(self, client, administrateur, convention, redis_arrete):
        connecter_verifie(client, administrateur)
        donnees = saisie(client, convention)
        reponse = client.post(url("utilisateur_creer", convention), donnees, follow=True)
        assert reponse.status_code == 200
        user = Utilisateur.objects.get(nom="Garrigues")
        # Le double envoi reste refusé (par processus pendant la panne) : un seul compte.
        client.post(url("utilisateur_creer", convention), donnees)
        assert Utilisateur.objects.filter(nom="Garrigues").count() == 1
        modeles = Courriel.objects.filter(destinataire=user.email).values_list("modele", flat=True)
        assert sorted(modeles) == ["identifiant", "mot_de_passe_provisoire"]

    def test_mot_de_passe_oublie(self, client, redis_arrete, django_capture_on_commit_callbacks):
        user = factories.creer_utilisateur()
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            reponse = client.post(OUBLIE, {"identifiant": user.identifiant}, follow=True)
        assert reponse.status_code == 200
        assert "Si cet identifiant correspond à un compte ouvert" in texte(reponse)
        assert [m.to for m in mail.outbox] == [[user.email]]

    @override_settings(MOT_DE_PASSE_OUBLIE_LIMITE_IDENTIFIANT=2)
    def test_la_limite_tient_encore_par_processus(self, client, redis_arrete):
        for _ in range(2):
            assert client.post(OUBLIE, {"identifiant": "INC0000001"}).status_code == 302
        reponse = client.post(OUBLIE, {"identifiant": "INC0000001"})
        assert reponse.status_code == 429
        assert "Trop de demandes" in texte(reponse)

    @override_settings(CONNEXION_LIMITE_ADRESSE=1)
    def test_connexion(self, client, redis_arrete):
        user = factories.creer_utilisateur()
        reponse = client.post(CONNEXION, {"username": user.identifiant, "password": factories.MOT_DE_PASSE})
        assert reponse.status_code == 302
        client.logout()
        assert client.post(CONNEXION, {"username": "X", "password": "y"}).status_code == 429
