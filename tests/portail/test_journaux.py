"""Erreurs serveur journalisées avec leur trace et l'identifiant de la requête (issue 10,
point 3, partie « aucun gestionnaire n'écrit la trace »)."""

import io
import logging
import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse


@pytest.fixture
def sortie_erreur():
    """Le vrai gestionnaire configuré (filtre et format compris), écrit dans un tampon."""
    gestionnaire = logging.getLogger("django.request").handlers[0]
    tampon = io.StringIO()
    ancien = gestionnaire.setStream(tampon)
    yield tampon
    gestionnaire.setStream(ancien)


def test_chaque_reponse_porte_un_identifiant_de_requete(client):
    premiere = client.get(reverse("habilitations:connexion"))
    seconde = client.get(reverse("habilitations:connexion"), HTTP_X_REQUEST_ID="forge")
    assert re.fullmatch(r"[0-9a-f]{12}", premiere["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{12}", seconde["X-Request-ID"])
    assert premiere["X-Request-ID"] != seconde["X-Request-ID"]
    assert premiere.wsgi_request.id_requete == premiere["X-Request-ID"]


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.portail.urls_erreur", DEBUG=False)
def test_une_erreur_500_est_journalisee_avec_sa_trace_et_son_identifiant(sortie_erreur):
    reponse = Client(raise_request_exception=False).get("/test-erreur/?courriel=jean.dupont@exemple.fr")
    assert reponse.status_code == 500
    journal = sortie_erreur.getvalue()
    assert f"[{reponse['X-Request-ID']}] Internal Server Error: /test-erreur/" in journal
    assert "Traceback (most recent call last)" in journal
    assert "RuntimeError: panne simulée pour le test" in journal
    # La chaîne de requête (adresses, identifiants saisis) n'est pas recopiée.
    assert "jean.dupont" not in journal


def test_hors_requete_l_identifiant_est_un_tiret(sortie_erreur):
    logging.getLogger("django.request").error("hors requête")
    assert "[-] hors requête" in sortie_erreur.getvalue()


def test_production_et_developpement_ecrivent_les_erreurs_sur_la_sortie_d_erreur():
    # prod et dev reprennent LOGGING de base sans le changer (« from base import * »).
    from portail.settings import base, dev

    assert dev.LOGGING is base.LOGGING
    assert base.LOGGING["handlers"]["console"]["stream"] == "ext://sys.stderr"
    assert base.LOGGING["loggers"]["django.request"] == {"handlers": ["console"], "level": "ERROR", "propagate": False}
