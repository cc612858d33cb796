"""Garde permanente (issue 10, point 2) : le temps de réponse ne dit pas si un compte existe.

Connexion avec un mauvais mot de passe et « Mot de passe oublié ? », 30 essais chacun pour un
identifiant existant et pour des identifiants inconnus (neufs à chaque essai, comme un attaquant
qui énumère), mesurés en alternance avec le vrai hacheur de production : les médianes diffèrent
de moins de 10 %. Le compte existant a le cas le plus coûteux : un mot de passe personnel et un
mot de passe provisoire en cours.
"""

import statistics
import time

import pytest
from django.test import override_settings
from django.urls import reverse

from habilitations import services
from portail.settings.test import HACHEURS_PRODUCTION
from tests import factories

ESSAIS = 30
ECART_MAX = 0.10
CONNEXION = reverse("habilitations:connexion")
OUBLIE = reverse("habilitations:mot_de_passe_oublie")

# Aucun verrouillage ni limite ne doit répondre à la place du traitement mesuré.
SANS_LIMITES = {
    "PASSWORD_HASHERS": HACHEURS_PRODUCTION,
    "AXES_FAILURE_LIMIT": 10_000,
    "MOT_DE_PASSE_OUBLIE_LIMITE_IDENTIFIANT": 10_000,
    "MOT_DE_PASSE_OUBLIE_LIMITE_ADRESSE": 10_000,
    "CONNEXION_LIMITE_ADRESSE": 10_000,
}


def _mesurer(client, url: str, champs: dict) -> tuple[float, float]:
    """Temps processeur du processus (tous ses fils, ceux d'Argon2 compris) et temps réel."""
    processeur, reel = time.process_time(), time.perf_counter()
    reponse = client.post(url, champs)
    duree = time.process_time() - processeur, time.perf_counter() - reel
    # Le traitement mesuré a bien eu lieu : ni verrouillage, ni limite, ni formulaire refusé.
    assert reponse.status_code == (302 if url == OUBLIE else 200), reponse.status_code
    return duree


def _medianes(client, url: str, champs_existant: dict, champs_inconnu, libelle: str) -> tuple[float, float]:
    """Médianes du coût (temps processeur) : c'est lui qui doit être le même. Le temps réel,
    affiché, suit le coût mais aussi la charge des autres processus de la machine."""
    # Un tour à vide de chaque côté : caches de gabarits, connexions, premier hachage.
    client.post(url, champs_existant)
    client.post(url, champs_inconnu(-1))
    existant, inconnu = [], []
    for i in range(ESSAIS):
        existant.append(_mesurer(client, url, champs_existant))
        inconnu.append(_mesurer(client, url, champs_inconnu(i)))
    medianes = [statistics.median(m[k] for m in serie) * 1000 for serie in (existant, inconnu) for k in (0, 1)]
    print(
        f"\n{libelle} : existant {medianes[0]:.1f} ms processeur ({medianes[1]:.1f} ms réels), "
        f"inconnu {medianes[2]:.1f} ms processeur ({medianes[3]:.1f} ms réels)"
    )
    return medianes[0], medianes[2]


def _ecart(a: float, b: float) -> float:
    return abs(a - b) / min(a, b)


@pytest.fixture
def compte(db):
    with override_settings(PASSWORD_HASHERS=HACHEURS_PRODUCTION):
        user = factories.creer_utilisateur()
        services.mot_de_passe_provisoire_emettre(utilisateur=user, par=None)
    return user


@pytest.mark.django_db
@override_settings(**SANS_LIMITES)
def test_connexion_meme_temps_que_le_compte_existe_ou_non(client, compte):
    existant, inconnu = _medianes(
        client,
        CONNEXION,
        {"username": compte.identifiant, "password": "une mauvaise phrase de passe"},
        lambda i: {"username": f"INC{i + 1:07d}", "password": "une mauvaise phrase de passe"},
        "connexion",
    )
    assert _ecart(existant, inconnu) < ECART_MAX, (existant, inconnu)


@pytest.mark.django_db
@override_settings(**SANS_LIMITES)
def test_mot_de_passe_oublie_meme_temps_que_le_compte_existe_ou_non(client, compte, mesure_sans_worker):
    existant, inconnu = _medianes(
        client,
        OUBLIE,
        {"identifiant": compte.identifiant},
        lambda i: {"identifiant": f"INC{i + 1:07d}"},
        "mot de passe oublié",
    )
    assert _ecart(existant, inconnu) < ECART_MAX, (existant, inconnu)


@pytest.fixture
def mesure_sans_worker():
    """Comme en production : les tâches partent au courtier au lieu de s'exécuter dans la
    requête. Aucun worker ne tourne ici ; la file est vidée après la mesure."""
    from portail.celery import app

    avant = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = avant
    app.control.purge()
