"""Une pile complète et jetable pour les contrôles de panne : sa propre grappe PostgreSQL et son
propre Redis (ports libres, comme .ci/run ; jamais les services partagés), gunicorn avec les
réglages de production, un worker et un beat Celery. Chaque service peut être arrêté et relancé."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from email import policy
from email.parser import BytesParser
from pathlib import Path

RACINE = Path(__file__).resolve().parents[2]
SEPARATEUR_FILEBASED = b"\n" + b"-" * 79 + b"\n"


def port_libre() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binaires_postgresql() -> Path:
    candidats = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not candidats:
        raise RuntimeError("initdb introuvable sous /usr/lib/postgresql/*/bin")
    return candidats[-1].parent


def _en_postgres(commande: list[str]) -> None:
    # Sorties vers /dev/null et non vers un tube : le serveur lancé par pg_ctl hériterait du
    # tube et run() attendrait sa fin pour toujours.
    if os.geteuid() == 0:
        commande = ["runuser", "-u", "postgres", "--", *commande]
    subprocess.run(commande, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def attendre(condition, delai: float, quoi: str, pas: float = 0.25):
    limite = time.monotonic() + delai
    while True:
        resultat = condition()
        if resultat:
            return resultat
        if time.monotonic() > limite:
            raise AssertionError(f"au bout de {delai:.0f} s, toujours pas : {quoi}")
        time.sleep(pas)


class Pile:
    def __init__(self, dossier: Path) -> None:
        self.dossier = dossier
        os.chmod(dossier, 0o755)  # noqa: S103 (l'utilisateur postgres doit traverser le dossier)
        self.pg_bin = _binaires_postgresql()
        self.pgdata = dossier / "pgdata"
        self.pg_port, self.redis_port, self.web_port = port_libre(), port_libre(), port_libre()
        self.courriels = dossier / "courriels"
        self.courriels.mkdir()
        self.processus: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portail.settings.prod",
            "DJANGO_SECRET_KEY": "cle-des-controles-de-panne-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.pg_port}/portail",
            # Connexions persistantes, comme en production : c'est elles qu'un redémarrage casse.
            "DATABASE_CONN_MAX_AGE": "60",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "REDIS_CACHE_URL": f"redis://127.0.0.1:{self.redis_port}/1",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.courriels),
            "PORTAIL_URL": f"http://127.0.0.1:{self.web_port}",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(RACINE),
        }
        for variable in ("PROXY_INVERSE_DE_CONFIANCE", "DJANGO_DEBUG"):
            self.env.pop(variable, None)

    # --- PostgreSQL ---------------------------------------------------------------------------
    def postgresql_initialiser(self) -> None:
        self.pgdata.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.pgdata, "postgres", "postgres")
        os.chmod(self.pgdata, 0o700)
        _en_postgres(
            [
                str(self.pg_bin / "initdb"),
                "-D",
                str(self.pgdata),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        self.postgresql_demarrer()
        subprocess.run(
            [str(self.pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "portail"],
            check=True,
        )

    def postgresql_demarrer(self) -> None:
        _en_postgres(
            [
                str(self.pg_bin / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.pgdata / "postgresql.log"),
                "-w",
                "-o",
                f"-p {self.pg_port} -k {self.pgdata} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ]
        )

    def postgresql_redemarrer(self) -> None:
        _en_postgres(
            [
                str(self.pg_bin / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.pgdata / "postgresql.log"),
                "-m",
                "fast",
                "-w",
                "restart",
            ]
        )

    def postgresql_arreter(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                _en_postgres([str(self.pg_bin / "pg_ctl"), "-D", str(self.pgdata), "-m", "immediate", "-w", "stop"])

    @property
    def _psql(self) -> list[str]:
        return [
            str(self.pg_bin / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.pg_port),
            "-U",
            "postgres",
            "-d",
            "portail",
        ]

    def sql(self, requete: str) -> str:
        return subprocess.run(
            [*self._psql, "-Atc", requete],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    # --- Redis --------------------------------------------------------------------------------
    def redis_demarrer(self) -> None:
        self._lancer(
            "redis",
            [
                *("redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "yes", "--dir", str(self.dossier)),
            ],
        )
        attendre(lambda: self._repond(self.redis_port), 15, "Redis répond")

    def redis_arreter(self) -> None:
        self._arreter("redis")

    # --- Portail ------------------------------------------------------------------------------
    def manage(self, *arguments: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=RACINE,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def preparer(self) -> dict:
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        sortie = subprocess.run(
            [sys.executable, "-m", "tests.pannes.preparer"],
            cwd=RACINE,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(sortie.strip().splitlines()[-1])

    def web_demarrer(self) -> None:
        self._lancer(
            "web",
            [
                *(sys.executable, "-m", "gunicorn", "portail.wsgi:application", f"--bind=127.0.0.1:{self.web_port}"),
                *("--workers=2", "--timeout=30", "--graceful-timeout=5"),
            ],
        )
        attendre(lambda: self._repond(self.web_port), 30, "gunicorn écoute")

    def celery_demarrer(self) -> None:
        self._lancer(
            "worker",
            [
                *(sys.executable, "-m", "celery", "-A", "portail", "worker", "-l", "info"),
                *("--concurrency=1", "-n", f"pannes-{os.getpid()}@%h"),
            ],
        )
        self._lancer(
            "beat",
            [
                *(sys.executable, "-m", "celery", "-A", "portail", "beat", "-l", "info"),
                *("--schedule", str(self.dossier / "beat-schedule")),
            ],
        )

    # --- Courriels écrits par le backend filebased -----------------------------------------
    def courriels_envoyes(self) -> list[tuple[str, str]]:
        envoyes = []
        for fichier in sorted(self.courriels.iterdir()):
            for brut in fichier.read_bytes().split(SEPARATEUR_FILEBASED):
                if brut.strip():
                    message = BytesParser(policy=policy.default).parsebytes(brut)
                    envoyes.append((str(message["To"]), str(message["Subject"])))
        return envoyes

    # --- Processus ----------------------------------------------------------------------------
    def _lancer(self, nom: str, commande: list[str]) -> None:
        with (self.dossier / f"{nom}.log").open("ab") as journal:
            self.processus[nom] = subprocess.Popen(
                commande, cwd=RACINE, env=self.env, stdout=journal, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _arreter(self, nom: str) -> None:
        processus = self.processus.pop(nom, None)
        if processus is None or processus.poll() is not None:
            return
        os.killpg(processus.pid, signal.SIGTERM)
        try:
            processus.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(processus.pid, signal.SIGKILL)
            processus.wait(timeout=10)

    @staticmethod
    def _repond(port: int) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        return False

    def journal(self, nom: str) -> str:
        chemin = self.dossier / f"{nom}.log"
        return chemin.read_text(errors="replace")[-6000:] if chemin.exists() else ""

    def arreter_tout(self) -> None:
        for nom in ("web", "beat", "worker", "redis"):
            self._arreter(nom)
        self.postgresql_arreter()


class Navigateur:
    """Un client HTTP minimal (http.client) avec ses cookies : session et jeton CSRF."""

    def __init__(self, port: int, session: str | None = None) -> None:
        self.port = port
        self.cookies: dict[str, str] = {"sessionid": session} if session else {}

    def requete(self, methode: str, chemin: str, donnees: dict | None = None, delai: float = 20):
        connexion = http.client.HTTPConnection("127.0.0.1", self.port, timeout=delai)
        entetes = {"Host": "127.0.0.1"}
        if self.cookies:
            entetes["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        corps = None
        if donnees is not None:
            donnees = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **donnees}
            corps = urllib.parse.urlencode(donnees)
            entetes["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connexion.request(methode, chemin, body=corps, headers=entetes)
            reponse = connexion.getresponse()
            texte = reponse.read().decode(errors="replace")
        finally:
            connexion.close()
        for valeur in reponse.headers.get_all("Set-Cookie") or []:
            nom, _, reste = valeur.partition("=")
            self.cookies[nom.strip()] = reste.split(";", 1)[0]
        return reponse.status, reponse.headers, texte

    def get(self, chemin: str, **kwargs):
        return self.requete("GET", chemin, **kwargs)

    def post(self, chemin: str, donnees: dict, **kwargs):
        return self.requete("POST", chemin, donnees, **kwargs)

    def jeton(self, chemin: str) -> str:
        statut, _, page = self.get(chemin)
        assert statut == 200, (chemin, statut)
        return re.search(r'name="jeton" value="([^"]+)"', page).group(1)
