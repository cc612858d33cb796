"""Contrôles de panne : hors de la suite par défaut (plusieurs minutes, services lancés à part).
`make verify` les lance (`pytest tests/pannes -m panne`)."""

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.pannes.pile import Pile


def pytest_collection_modifyitems(config, items):
    if "panne" in (config.getoption("-m") or ""):
        return
    sauter = pytest.mark.skip(reason="contrôle de panne : make verify (pytest -m panne)")
    for item in items:
        if item.get_closest_marker("panne"):
            item.add_marker(sauter)


@pytest.fixture(scope="module")
def pile():
    # Sous /tmp et non sous le dossier temporaire de pytest (700) : postgres doit y entrer.
    dossier = Path(tempfile.mkdtemp(prefix="portail-pannes."))
    pile = Pile(dossier)
    try:
        pile.postgresql_initialiser()
        pile.redis_demarrer()
        pile.donnees = pile.preparer()
        pile.web_demarrer()
        pile.celery_demarrer()
        yield pile
    finally:
        pile.arreter_tout()
        shutil.rmtree(dossier, ignore_errors=True)
