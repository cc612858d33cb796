"""Les feuilles de style et les scripts, tels que la production les sert.

En production, ``collectstatic`` passe par ``CompressedManifestStaticFilesStorage`` : chaque
fichier reçoit un nom haché, et les ``url(…)`` des feuilles de style sont réécrites vers ces
noms ; le contenu servi n'est donc plus celui du paquet. django-dsfr écrit par défaut un attribut
``integrity`` (empreinte SHA-384 du fichier d'origine) sur ses feuilles de style et ses scripts :
le navigateur refusait alors le DSFR entier, et le portail s'affichait sans mise en forme (vu dans
Chromium sur le serveur du banc, réglages de production). Ailleurs (``make run``, tests), les
fichiers sont servis tels quels et rien ne se voyait. Ce test refait la collecte de production et
compare chaque empreinte annoncée au fichier servi."""

import base64
import hashlib
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from portail.settings.base import STORAGES as STOCKAGE_DE_PRODUCTION


class _Ressources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ressources: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs) -> None:
        attributs = {nom: valeur or "" for nom, valeur in attrs}
        if (tag == "link" and attributs.get("rel") == "stylesheet") or (tag == "script" and "src" in attributs):
            self.ressources.append(attributs)


@pytest.fixture(scope="module")
def collecte_de_production(tmp_path_factory):
    racine = tmp_path_factory.mktemp("statiques")
    with override_settings(STATIC_ROOT=str(racine), STORAGES=STOCKAGE_DE_PRODUCTION):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield racine


@pytest.mark.django_db
def test_les_empreintes_annoncees_sont_celles_des_fichiers_servis(client, collecte_de_production):
    reponse = client.get(reverse("habilitations:connexion"))
    assert reponse.status_code == 200
    lecteur = _Ressources()
    lecteur.feed(reponse.content.decode())
    adresses = [r.get("href") or r.get("src") for r in lecteur.ressources]
    # Les noms hachés de la collecte de production : le stockage de production est bien en jeu.
    assert any(".css" in a and "dsfr.min." in a and a.count(".") >= 3 for a in adresses), adresses
    for ressource, adresse in zip(lecteur.ressources, adresses, strict=True):
        fichier = collecte_de_production / adresse.removeprefix("/" + settings.STATIC_URL.lstrip("/"))
        assert fichier.is_file(), adresse
        annoncee = ressource.get("integrity")
        if annoncee:
            algorithme, _, empreinte = annoncee.partition("-")
            calculee = base64.b64encode(hashlib.new(algorithme, fichier.read_bytes()).digest()).decode()
            assert calculee == empreinte, f"{adresse} : le navigateur refuserait ce fichier"
