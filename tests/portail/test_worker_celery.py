"""La boîte d'envoi avec un vrai worker Celery (sous-processus) sur Redis et PostgreSQL.

Ignoré sans CELERY_BROKER_URL ou sans base PostgreSQL (DATABASE_URL) : le worker doit lire et
écrire la base de test depuis un autre processus, ce que la base SQLite en mémoire des tests ne
permet pas. Le worker écrit ses courriels dans des fichiers (backend filebased) d'un dossier
temporaire ; son journal est affiché si le test échoue.
"""

import os
import signal
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from habilitations import services
from portail.celery import app
from portail.models import Courriel
from portail.tasks import relancer_courriels
from tests import factories
from tests.utils import connexions_neuves, courtier_injoignable

COURTIER = os.environ.get("CELERY_BROKER_URL", "")
DELAI_WORKER = 30.0  # secondes accordées au worker (démarrage compris) pour envoyer les courriels
# Un courtier injoignable ne doit pas bloquer la requête qui crée le compte (une publication pour ses deux courriels).
DUREE_MAX_SANS_COURTIER = 4.0
SEPARATEUR_FILEBASED = b"\n" + b"-" * 79 + b"\n"

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not COURTIER, reason="CELERY_BROKER_URL absent : pas de worker Celery réel"),
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="DATABASE_URL PostgreSQL requis : le worker partage la base de test depuis un autre processus",
    ),
    pytest.mark.django_db(transaction=True),
]


def url_base_de_test() -> str:
    """L'URL de la base de test (et non de la base configurée), pour le worker."""
    base = connection.settings_dict
    identite = quote(base["USER"] or "", safe="")
    if base["PASSWORD"]:
        identite += ":" + quote(str(base["PASSWORD"]), safe="")
    hote = quote(base["HOST"] or "", safe="")
    if base["PORT"]:
        hote += f":{base['PORT']}"
    return f"postgres://{identite + '@' if identite else ''}{hote}/{quote(base['NAME'], safe='')}"


class Worker:
    """Un worker Celery en sous-processus, sur la file par défaut, relié à la base de test."""

    def __init__(self, dossier: Path):
        self.courriels = dossier / "courriels"
        self.courriels.mkdir()
        self.chemin_journal = dossier / "worker.log"
        self.processus: subprocess.Popen | None = None

    def demarrer(self) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portail.settings.test",
            "DATABASE_URL": url_base_de_test(),
            "CELERY_BROKER_URL": COURTIER,
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.courriels),
            "PYTHONUNBUFFERED": "1",
        }
        commande = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portail",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            app.conf.task_default_queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
            "-n",
            f"test-{os.getpid()}@%h",
        ]
        with self.chemin_journal.open("ab") as journal:
            self.processus = subprocess.Popen(
                commande, cwd=settings.BASE_DIR, env=env, stdout=journal, stderr=subprocess.STDOUT
            )

    def arreter(self) -> None:
        if self.processus is None or self.processus.poll() is not None:
            return
        self.processus.send_signal(signal.SIGTERM)  # arrêt à chaud : la tâche en cours se termine
        try:
            self.processus.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.processus.kill()
            self.processus.wait(timeout=10)

    def journal(self) -> str:
        return self.chemin_journal.read_text(errors="replace") if self.chemin_journal.exists() else ""

    def textes_envoyes(self) -> list[str]:
        """Le texte de chaque courriel écrit par le backend filebased (plusieurs par fichier possible)."""
        textes = []
        for fichier in sorted(self.courriels.iterdir()):
            for brut in fichier.read_bytes().split(SEPARATEUR_FILEBASED):
                if brut.strip():
                    message = BytesParser(policy=policy.default).parsebytes(brut)
                    textes.append(f"{message['Subject']}\n{message.get_body(('plain',)).get_content()}")
        return textes

    def attendre(self, condition, attente: str) -> None:
        """Interroge la base toutes les 0,2 s, le temps que l'autre processus agisse."""
        limite = time.monotonic() + DELAI_WORKER
        while not condition():
            if self.processus is not None and self.processus.poll() is not None:
                pytest.fail(f"le worker s'est arrêté (code {self.processus.returncode}) avant : {attente}")
            if time.monotonic() > limite:
                pytest.fail(f"au bout de {DELAI_WORKER:.0f} s, toujours pas : {attente}")
            time.sleep(0.2)


@pytest.fixture
def worker(tmp_path):
    """Vide la file par défaut, fournit un worker (démarré par le test), l'arrête toujours."""
    connexions_neuves()
    app.control.purge()
    worker = Worker(tmp_path)
    try:
        yield worker
    finally:
        worker.arreter()
        # Affiché par pytest seulement si le test échoue.
        print(f"--- journal du worker Celery ({worker.chemin_journal}) ---\n{worker.journal()}")


def creer_compte(identite: str):
    return services.utilisateur_creer(
        par=None,
        nom=identite,
        prenom="Camille",
        email=f"camille.{identite.lower()}@exemple.test",
        organisme=factories.OrganismeFactory(),
    )


def tous_envoyes(user) -> bool:
    courriels = Courriel.objects.filter(destinataire=user.email)
    return courriels.count() == 2 and not courriels.filter(envoye_le__isnull=True).exists()


def test_le_worker_envoie_les_courriels_de_creation_de_compte(worker):
    worker.demarrer()

    user = creer_compte("Worker")

    worker.attendre(lambda: tous_envoyes(user), "les deux courriels de création envoyés par le worker")
    assert set(Courriel.objects.filter(destinataire=user.email).values_list("modele", "tentatives")) == {
        ("identifiant", 1),
        ("mot_de_passe_provisoire", 1),
    }
    textes = worker.textes_envoyes()
    assert any(f"Votre identifiant : {user.identifiant}" in texte for texte in textes), textes
    assert any("Votre mot de passe provisoire : " in texte for texte in textes), textes
    assert "Traceback" not in worker.journal()


def test_courtier_injoignable_le_balayage_rattrape_les_courriels(worker, caplog):
    # Courtier injoignable pour les publications de ce processus (le worker n'est pas démarré).
    with courtier_injoignable():
        debut = time.monotonic()
        user = creer_compte("Injoignable")  # ne lève rien : l'envoi est différé au balayage
        duree = time.monotonic() - debut

    assert duree < DUREE_MAX_SANS_COURTIER, (
        f"utilisateur_creer a bloqué {duree:.1f} s avec un courtier injoignable "
        f"(attendu moins de {DUREE_MAX_SANS_COURTIER:.0f} s)"
    )
    courriels = Courriel.objects.filter(destinataire=user.email)
    assert courriels.count() == 2
    assert not courriels.filter(envoye_le__isnull=False).exists()
    assert set(courriels.values_list("tentatives", flat=True)) == {0}
    # Les deux courriels de l'acte partent par une seule publication : un seul échec journalisé.
    assert sum("courtier indisponible" in r.getMessage() for r in caplog.records) == 1

    # Courtier rétabli : le balayage périodique, exécuté par le worker, envoie les deux courriels.
    worker.demarrer()
    relancer_courriels.delay()

    worker.attendre(lambda: tous_envoyes(user), "les deux courriels rattrapés par le balayage")
    textes = worker.textes_envoyes()
    assert any(f"Votre identifiant : {user.identifiant}" in texte for texte in textes), textes
    assert "Traceback" not in worker.journal()
