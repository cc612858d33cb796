"""Réglages sûrs par défaut (issue 10, point 11) : sans proxy déclaré, X-Forwarded-For est
ignoré ; `.env.example` (copié tel quel pour docker compose, sans proxy devant) ne le déclare pas."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from portail.settings.env import env_bool

RACINE = Path(__file__).resolve().parents[2]


def _variables(fichier: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_]+)=(.*)$", fichier.read_text(), flags=re.MULTILINE))


def test_env_example_ne_declare_pas_de_proxy():
    valeur = _variables(RACINE / ".env.example")["PROXY_INVERSE_DE_CONFIANCE"]
    assert valeur.strip().lower() in ("false", "0", "non", "no", "off")


def test_docker_compose_ne_force_pas_de_proxy():
    assert "PROXY_INVERSE_DE_CONFIANCE" not in (RACINE / "docker-compose.yml").read_text()


def test_reglage_par_defaut(monkeypatch):
    monkeypatch.delenv("PROXY_INVERSE_DE_CONFIANCE", raising=False)
    assert env_bool("PROXY_INVERSE_DE_CONFIANCE", False) is False
    assert settings.PROXY_INVERSE_DE_CONFIANCE is False


@pytest.mark.django_db
@override_settings(MOT_DE_PASSE_OUBLIE_LIMITE_ADRESSE=3)
def test_un_x_forwarded_for_forge_ne_contourne_pas_la_limite(client):
    url = reverse("habilitations:mot_de_passe_oublie")
    statuts = [
        client.post(url, {"identifiant": f"INC{i:07d}"}, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i in range(5)
    ]
    assert statuts == [302, 302, 302, 429, 429]
