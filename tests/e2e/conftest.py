"""Parcours dans un vrai Chromium sans tête (Playwright, API synchrone) contre le `live_server`.

Sans /usr/bin/chromium ou sans Playwright, les tests de ce dossier sont ignorés. Playwright
n'installe jamais de navigateur ici : on utilise le Chromium de la distribution.
"""

from pathlib import Path

import pytest
from django.db import connections

from tests.e2e.verification import ecouter_erreurs

CHROMIUM = Path("/usr/bin/chromium")
ARGUMENTS_CHROMIUM = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]
# Une attente qui échoue doit échouer vite : tout le parcours tient en une trentaine de secondes.
DELAI_MS = 10_000


@pytest.fixture(autouse=True)
def _debug(settings):
    """La boîte aux lettres de développement (/dev/courriels/) n'existe qu'en DEBUG. Le serveur
    de test tourne dans ce processus : le réglage modifié ici vaut pour lui."""
    settings.DEBUG = True


@pytest.fixture
def navigateur(live_server, monkeypatch):
    """Une page Chromium dont les adresses relatives visent le serveur de test.

    L'API synchrone de Playwright fait tourner une boucle asyncio dans ce fil : Django refuserait
    alors l'ORM (SynchronousOnlyOperation) dans le test. DJANGO_ALLOW_ASYNC_UNSAFE le permet, le
    temps du test seulement (monkeypatch le retire ensuite, après l'arrêt de Playwright : le vidage
    de la base qui suit se fait sans boucle en cours).
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} absent : parcours navigateur ignorés")
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = sync_api.sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGUMENTS_CHROMIUM)
        context = browser.new_context(base_url=live_server.url, locale="fr-FR", timezone_id="Europe/Paris")
        context.set_default_timeout(DELAI_MS)
        sync_api.expect.set_options(timeout=DELAI_MS)
        page = context.new_page()
        erreurs = ecouter_erreurs(page)
        yield page
        browser.close()
        assert not erreurs, "Erreurs JavaScript pendant le parcours :\n" + "\n".join(erreurs)
    finally:
        # Pendant que Playwright tourne, le test s'exécute dans un autre contexte (contextvars) :
        # Django y a ouvert une seconde connexion. La fermer avant d'arrêter Playwright, sinon elle
        # survit au test et PostgreSQL refuse de supprimer la base de test (« being accessed by
        # other users »).
        connections.close_all()
        playwright.stop()  # arrête aussi le navigateur si le test a échoué avant browser.close()
