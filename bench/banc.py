"""Banc d'essai du portail (``make bench``) : gunicorn comme en production, une charge bornée
envoyée d'un autre processus, un tableau Markdown et un fichier JSON dans ``bench/results/``.

Prérequis : une base PostgreSQL remplie par ``manage.py generer_donnees`` (le résumé qu'il écrit,
``bench/personas.json``, donne les personas, leurs secrets TOTP et les objets à visiter), Redis,
et les variables d'environnement de production (``DATABASE_URL``, ``REDIS_CACHE_URL``,
``CELERY_BROKER_URL``, ``DJANGO_SECRET_KEY``). Le script démarre gunicorn avec
``portail.settings.bench`` (réglages de production + en-tête ``X-Requetes-SQL`` + page plancher),
connecte les personas (mot de passe puis code TOTP), mesure chaque page avec un nombre fixe de
requêtes, puis arrête gunicorn. Boucle locale seulement ; durée bornée (``--duree-max``).

Client : la bibliothèque standard (``http.client`` dans des fils), sans dépendance ajoutée. Le
client attend la réponse entière (corps lu jusqu'au bout) : c'est ce temps qui est mesuré.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

RACINE = Path(__file__).resolve().parent.parent
EN_TETE_REQUETES = "X-Requetes-SQL"
OBJECTIF_RAPPORT = 3.0  # listes, détails, tableaux de bord : p95 ≤ 3 × plancher
OBJECTIF_EXPORT = 50_000  # lignes/s
OBJECTIF_PDF = 0.3  # s (p95)
OBJECTIF_CONNEXION = 15  # connexions/s par cœur
OBJECTIF_PART_DU_PLAFOND = 0.9  # connexions/s ÷ hachages/s du hacheur seul, même course


def totp(cle_hex: str, instant: float | None = None, pas: int = 30, chiffres: int = 6) -> str:
    """RFC 6238 (HMAC-SHA1), comme django-otp avec ses réglages par défaut."""
    compteur = int((instant if instant is not None else time.time()) // pas)
    empreinte = hmac.new(bytes.fromhex(cle_hex), struct.pack(">Q", compteur), hashlib.sha1).digest()
    decalage = empreinte[-1] & 0x0F
    code = (struct.unpack(">I", empreinte[decalage : decalage + 4])[0] & 0x7FFFFFFF) % 10**chiffres
    return f"{code:0{chiffres}d}"


@dataclass
class Reponse:
    statut: int
    en_tetes: dict[str, str]
    corps: bytes
    duree: float


@dataclass
class Session:
    """Un navigateur minimal : des cookies, une connexion neuve par requête (gunicorn en workers
    synchrones ferme la connexion après chaque réponse)."""

    hote: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    verrou: threading.Lock = field(default_factory=threading.Lock)

    def requete(self, methode: str, chemin: str, donnees: dict | None = None) -> Reponse:
        en_tetes = {"Host": f"{self.hote}:{self.port}"}
        with self.verrou:
            if self.cookies:
                en_tetes["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        corps = None
        if donnees is not None:
            corps = urllib.parse.urlencode(donnees).encode()
            en_tetes["Content-Type"] = "application/x-www-form-urlencoded"
            en_tetes["Referer"] = f"http://{self.hote}:{self.port}{chemin}"
        debut = time.perf_counter()
        connexion = http.client.HTTPConnection(self.hote, self.port, timeout=120)
        try:
            connexion.request(methode, chemin, body=corps, headers=en_tetes)
            reponse = connexion.getresponse()
            contenu = reponse.read()
        finally:
            connexion.close()
        duree = time.perf_counter() - debut
        with self.verrou:
            for valeur in reponse.headers.get_all("Set-Cookie") or []:
                nom, _, reste = valeur.partition("=")
                self.cookies[nom.strip()] = reste.split(";", 1)[0]
        return Reponse(reponse.status, {k.lower(): v for k, v in reponse.getheaders()}, contenu, duree)

    def jeton_csrf(self, chemin: str) -> str:
        page = self.requete("GET", chemin)
        trouve = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.corps)
        if not trouve:
            raise RuntimeError(f"pas de jeton CSRF sur {chemin} (statut {page.statut})")
        return trouve.group(1).decode()


def connecter(session: Session, identifiant: str, mot_de_passe: str, cle_totp: str | None) -> None:
    jeton = session.jeton_csrf("/connexion/")
    r = session.requete(
        "POST", "/connexion/", {"csrfmiddlewaretoken": jeton, "username": identifiant, "password": mot_de_passe}
    )
    if r.statut != 302:
        raise RuntimeError(f"connexion de {identifiant} refusée (statut {r.statut})")
    if cle_totp is None:
        return
    for _essai in range(2):
        jeton = session.jeton_csrf("/connexion/verification/")
        r = session.requete("POST", "/connexion/verification/", {"csrfmiddlewaretoken": jeton, "code": totp(cle_totp)})
        if r.statut == 302:
            return
        # Code déjà utilisé dans cette fenêtre de 30 s (banc relancé aussitôt) : on attend la suivante.
        time.sleep(31 - time.time() % 30)
    raise RuntimeError(f"double authentification de {identifiant} refusée")


@dataclass
class Page:
    nom: str
    persona: str
    chemin: str
    genre: str = "page"  # page, export, pdf, plancher


def pages(p: dict) -> list[Page]:
    c, u, g, gr, o = p["convention"], p["utilisateur"], p["grand_groupe"], p["groupe_responsable"], p["organisme"]
    conv = f"/partenaires/conventions/{c}/"
    liste = [
        Page("accueil", "administrateur", "/"),
        Page("règles d'usage", "administrateur", "/regles-d-usage/"),
        Page("profil", "administrateur", "/profil/"),
        Page("conventions (administrateur)", "administrateur", "/partenaires/conventions/"),
        Page("convention, détail", "administrateur", conv),
        Page("convention, PDF", "administrateur", conv + "pdf/", "pdf"),
        Page("utilisateurs, page 1", "administrateur", conv + "utilisateurs/"),
        Page("utilisateurs, page 1 000", "administrateur", conv + "utilisateurs/?page=1000"),
        Page("utilisateurs, filtre nom", "administrateur", conv + "utilisateurs/?nom=ard"),
        Page("utilisateurs, tri par date", "administrateur", conv + "utilisateurs/?tri=-date_ouverture"),
        Page("utilisateurs, filtre grand groupe", "administrateur", conv + f"utilisateurs/?groupe={g}"),
        Page("utilisateur, détail", "administrateur", conv + f"utilisateurs/{u}/"),
        Page("utilisateur, appartenances", "administrateur", conv + f"utilisateurs/{u}/appartenances/"),
        Page("groupes, page 1", "administrateur", conv + "groupes/"),
        Page("groupes, page 1 000", "administrateur", conv + "groupes/?page=1000"),
        Page("groupe, habilitations", "administrateur", conv + f"groupes/{gr}/habilitations/"),
        Page("grand groupe, membres p. 1", "administrateur", conv + f"groupes/{g}/appartenances/"),
        Page("grand groupe, membres p. 1 000", "administrateur", conv + f"groupes/{g}/appartenances/?page=1000"),
        Page("tableaux de bord (administrateur)", "administrateur", conv + "tableaux-de-bord/"),
        Page("journal, page 1", "administrateur", conv + "journal/"),
        Page("journal, page 1 000", "administrateur", conv + "journal/?page=1000"),
        Page("export jamais activés", "administrateur", conv + "tableaux-de-bord/jamais-actives.csv", "export"),
        Page("export inactifs", "administrateur", conv + "tableaux-de-bord/inactifs.csv", "export"),
        Page("export profils", "administrateur", conv + "tableaux-de-bord/profils.csv", "export"),
        Page("export échéances", "administrateur", conv + "tableaux-de-bord/echeances.csv", "export"),
        Page("export groupes orphelins", "administrateur", conv + "tableaux-de-bord/groupes-orphelins.csv", "export"),
        Page("export journal", "administrateur", conv + "journal.csv", "export"),
        Page("utilisateurs, page 1 (responsable)", "responsable", conv + "utilisateurs/"),
        Page("utilisateurs, page 1 000 (responsable)", "responsable", conv + "utilisateurs/?page=1000"),
        Page("groupes (responsable)", "responsable", conv + "groupes/"),
        Page("groupe, membres (responsable)", "responsable", conv + f"groupes/{gr}/appartenances/"),
        Page("organismes, page 1 (agent Caf)", "agent_caf", "/partenaires/organismes/"),
        Page("organismes, page 1 000 (agent Caf)", "agent_caf", "/partenaires/organismes/?page=1000"),
        Page("organisme, détail (agent Caf)", "agent_caf", f"/partenaires/organismes/{o}/"),
        Page("agents Caf (agent Caf)", "agent_caf", "/partenaires/agents-caf/"),
        Page("conventions, page 1 (agent Caf)", "agent_caf", "/partenaires/conventions/"),
        Page("conventions, page 1 000 (agent Caf)", "agent_caf", "/partenaires/conventions/?page=1000"),
        Page("convention, détail (agent Caf)", "agent_caf", conv),
        Page("utilisateurs, page 1 (agent Caf)", "agent_caf", conv + "utilisateurs/"),
        Page("utilisateurs, page 1 000 (agent Caf)", "agent_caf", conv + "utilisateurs/?page=1000"),
        Page("tableaux de bord (agent Caf)", "agent_caf", conv + "tableaux-de-bord/"),
        Page("conventions, page 1 (national)", "superviseur", "/partenaires/conventions/"),
        Page("conventions, page 1 000 (national)", "superviseur", "/partenaires/conventions/?page=1000"),
        Page("organismes, page 1 (national)", "superviseur", "/partenaires/organismes/"),
        Page("organismes, page 1 000 (national)", "superviseur", "/partenaires/organismes/?page=1000"),
        Page("convention, détail (national)", "superviseur", conv),
    ]
    liste += pages_afas(p)
    return liste


# --- Pages AFAS -------------------------------------------------------------------------------
#
# Une ligne par page : (nom, persona, nom d'adresse Django, constructeur). Le constructeur reçoit
# les objets AFAS du résumé (``personas["afas"]`` et la convention de la grande commune) et rend
# (paramètres de l'adresse, chaîne de requête). Ajouter une page AFAS = ajouter une ligne ici.


def _sans(requete: str = ""):
    return lambda _a: ({}, requete)


def _avec(cle: str, requete: str = ""):
    return lambda a: ({"pk": a[cle]}, requete)


def _recherche(etat: str, suite: str = ""):
    return lambda a: ({}, f"?partenaire={a['convention']}&etat={etat}&lieux=oui{suite}")


PAGES_AFAS: list[tuple[str, str, str, object]] = [
    # Agent Caf (la Caf de la grande commune : des milliers d'activités, ≥ 50 000 déclarations à « nationale »).
    ("AFAS activités, page 1 (agent Caf)", "agent_caf", "afas:activites", _sans()),
    ("AFAS activités, page 1 000 (agent Caf)", "agent_caf", "afas:activites", _sans("?page=1000")),
    ("AFAS activités, filtre libellé (agent Caf)", "agent_caf", "afas:activites", _sans("?libelle=cr%C3%A8che")),
    ("AFAS activités, ALSH périscolaires (agent Caf)", "agent_caf", "afas:activites", _sans("?type_activite=ALSH&nature=PERI")),
    ("AFAS activités, tri par ouverture (agent Caf)", "agent_caf", "afas:activites", _sans("?tri=-date_ouverture")),
    ("AFAS lieux, page 1 (agent Caf)", "agent_caf", "afas:lieux", _sans()),
    ("AFAS lieux, page 1 000 (agent Caf)", "agent_caf", "afas:lieux", _sans("?page=1000")),
    ("AFAS activité à 30 lieux (agent Caf)", "agent_caf", "afas:activite", _avec("activite")),
    ("AFAS approbateurs à valider (agent Caf)", "agent_caf", "afas:validations", _sans()),
    ("AFAS approbateurs validés, page 1 000 (agent Caf)", "agent_caf", "afas:validations", _sans("?decision=validee&page=1000")),
    # Les autres tris de la file (en-têtes de colonnes), page 1 000 : leur clé vient d'une autre table.
    ("AFAS approbateurs validés, page 1 000, par partenaire (agent Caf)", "agent_caf", "afas:validations", _sans("?decision=validee&page=1000&tri=partenaire")),
    ("AFAS approbateurs validés, page 1 000, par partenaire décroissant (agent Caf)", "agent_caf", "afas:validations", _sans("?decision=validee&page=1000&tri=-partenaire")),
    ("AFAS approbateurs validés, page 1 000, par utilisateur (agent Caf)", "agent_caf", "afas:validations", _sans("?decision=validee&page=1000&tri=utilisateur")),
    ("AFAS approbateurs validés, page 1 000, par utilisateur décroissant (agent Caf)", "agent_caf", "afas:validations", _sans("?decision=validee&page=1000&tri=-utilisateur")),
    ("AFAS approbateurs validés, page 1 000, par activité (agent Caf)", "agent_caf", "afas:validations", _sans("?decision=validee&page=1000&tri=activite")),
    ("AFAS approbateurs validés, page 1 000, par activité décroissante (agent Caf)", "agent_caf", "afas:validations", _sans("?decision=validee&page=1000&tri=-activite")),
    ("AFAS approbateurs validés, page 1 000, par date de début (agent Caf)", "agent_caf", "afas:validations", _sans("?decision=validee&page=1000&tri=date_ouverture")),
    ("AFAS approbateurs validés, page 1 000, par date de début décroissante (agent Caf)", "agent_caf", "afas:validations", _sans("?decision=validee&page=1000&tri=-date_ouverture")),
    # Les filtres de la file : un partenaire (« commune » : 10 500 validées), un morceau de nom de compte (« bou » : 4 400 validées).
    ("AFAS approbateurs validés, filtre partenaire (agent Caf)", "agent_caf", "afas:validations", _sans("?decision=validee&partenaire=commune")),
    ("AFAS approbateurs validés, filtre utilisateur (agent Caf)", "agent_caf", "afas:validations", _sans("?decision=validee&utilisateur=bou")),
    ("AFAS préparation des partenaires (agent Caf)", "agent_caf", "afas:preparation", _sans()),
    ("AFAS préparation des partenaires, page 1 000 (agent Caf)", "agent_caf", "afas:preparation", _sans("?page=1000")),
    ("AFAS déclarations reçues (agent Caf)", "agent_caf", "afas:declarations_recues", _sans()),
    ("AFAS déclarations reçues, page 1 000 (agent Caf)", "agent_caf", "afas:declarations_recues", _sans("?page=1000")),
    ("AFAS appels (agent Caf)", "agent_caf", "afas:appels", _sans()),
    ("AFAS appel en cours (agent Caf)", "agent_caf", "afas:appel", _avec("appel")),
    ("AFAS déclaration transmise (agent Caf)", "agent_caf", "afas:declaration", _avec("declaration_transmise")),
    ("AFAS financement d'un appel (agent Caf)", "agent_caf", "afas:appel_financement", _avec("appel")),
    ("AFAS financement d'un appel, page 1 000 (agent Caf)", "agent_caf", "afas:appel_financement", _avec("appel", "?page=1000")),
    # Administrateur de la grande commune : « Administration des profils » dans chaque état.
    ("AFAS accueil (habilitateur)", "administrateur", "afas:accueil", _sans()),
    ("AFAS habilitations actives", "administrateur", "afas:habilitations", _recherche("actif")),
    ("AFAS habilitations actives, page 1 000", "administrateur", "afas:habilitations", _recherche("actif", "&page=1000")),
    ("AFAS habilitations inactives", "administrateur", "afas:habilitations", _recherche("inactif")),
    ("AFAS habilitations historiques", "administrateur", "afas:habilitations", _recherche("historique")),
    ("AFAS rôles non attribués", "administrateur", "afas:habilitations", _recherche("non_attribue")),
    # Déclarant : rôles sur des centaines d'activités de la grande commune.
    ("AFAS accueil (déclarant)", "declarant", "afas:accueil", _sans()),
    ("AFAS mes déclarations (déclarant)", "declarant", "afas:mes_declarations", _sans()),
    ("AFAS mes déclarations, page 1 000 (déclarant)", "declarant", "afas:mes_declarations", _sans("?page=1000")),
    ("AFAS déclaration à 30 lieux (déclarant)", "declarant", "afas:declaration", _avec("declaration")),
    ("AFAS statistiques d'une activité (déclarant)", "declarant", "afas:activite_statistiques", _avec("activite")),
    ("AFAS historique d'une activité (déclarant)", "declarant", "afas:activite_historique", _avec("activite")),
]  # fmt: skip


# Les exports CSV d'AFAS, jugés comme les autres exports (lignes/s) : même forme que PAGES_AFAS.
EXPORTS_AFAS: list[tuple[str, str, str, object]] = [
    ("export AFAS déclarations d'un appel (agent Caf)", "agent_caf", "afas:appel_export", _avec("appel")),
    ("export AFAS financement d'un appel (agent Caf)", "agent_caf", "afas:appel_financement_export", _avec("appel")),
]  # fmt: skip


def _django_pret() -> None:
    """Le banc tourne hors de Django : il le charge (réglages du banc) pour résoudre les adresses."""
    if str(RACINE) not in sys.path:
        sys.path.insert(0, str(RACINE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portail.settings.bench")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def pages_afas(p: dict) -> list[Page]:
    """Les pages AFAS du banc. Rien sans les objets AFAS du résumé (données générées avant AFAS) ;
    une adresse renommée fait échouer le banc (NoReverseMatch) plutôt que de sortir du tableau."""
    if "afas" not in p or "declarant" not in p.get("comptes", {}):
        return []
    _django_pret()
    from django.urls import reverse

    objets = {**p["afas"], "convention": p["convention"]}
    liste = []
    for lignes, genre in ((PAGES_AFAS, "page"), (EXPORTS_AFAS, "export")):
        for nom, persona, adresse, constructeur in lignes:
            parametres, requete = constructeur(objets)
            liste.append(Page(nom, persona, reverse(adresse, kwargs=parametres) + requete, genre))
    return liste


def centile(valeurs: list[float], q: float) -> float:
    """Centile par interpolation (statistics.quantiles, méthode « inclusive »)."""
    if len(valeurs) == 1:
        return valeurs[0]
    return statistics.quantiles(valeurs, n=100, method="inclusive")[round(q * 100) - 1]


def mesurer(session: Session, page: Page, requetes: int, concurrence: int) -> dict:
    essai = session.requete("GET", page.chemin)  # échauffement, et contrôle du statut
    if essai.statut != 200:
        return {"page": page.nom, "chemin": page.chemin, "persona": page.persona, "erreur": f"statut {essai.statut}"}
    durees: list[float] = []
    statuts: set[int] = set()
    debut = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrence) as pool:
        for r in pool.map(lambda _i: session.requete("GET", page.chemin), range(requetes)):
            durees.append(r.duree)
            statuts.add(r.statut)
    mur = time.perf_counter() - debut
    resultat = {
        "page": page.nom,
        "chemin": page.chemin,
        "persona": page.persona,
        "genre": page.genre,
        "requetes_sql": int(essai.en_tetes.get(EN_TETE_REQUETES.lower(), "-1")),
        "n": len(durees),
        "p50": centile(durees, 0.50),
        "p95": centile(durees, 0.95),
        "requetes_par_s": len(durees) / mur,
        "durees": durees,
        "octets": len(essai.corps),
        "statuts": sorted(statuts),
    }
    if page.genre == "export":
        lignes = max(0, essai.corps.count(b"\n") - 1)  # moins l'en-tête
        resultat["lignes"] = lignes
        resultat["lignes_par_s"] = lignes / resultat["p50"]
    return resultat


def _cpu_pid(pid: int) -> float:
    """Secondes de processeur (utilisateur + système) consommées par un processus (Linux)."""
    try:
        champs = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(champs[11]) + int(champs[12])) / os.sysconf("SC_CLK_TCK")


def processus_serveur(gunicorn: subprocess.Popen, base: str) -> list[int]:
    """Ce qui sert une connexion : gunicorn (maître et workers) et les processus PostgreSQL
    connectés à la base du banc (leur titre : « postgres: <utilisateur> <base> <hôte> … »)."""
    pids = [gunicorn.pid]
    for entree in Path("/proc").iterdir():
        if not entree.name.isdigit():
            continue
        try:
            parent = int((entree / "stat").read_text().rsplit(")", 1)[1].split()[1])
            titre = (entree / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
            continue
        if parent == gunicorn.pid or (titre.startswith("postgres: ") and f" {base} " in titre):
            pids.append(int(entree.name))
    return pids


def cpu_serveur(gunicorn: subprocess.Popen, base: str) -> dict[int, float]:
    return {pid: _cpu_pid(pid) for pid in processus_serveur(gunicorn, base)}


def _ecart_cpu(avant: dict[int, float], apres: dict[int, float]) -> float:
    return sum(t - avant.get(pid, 0.0) for pid, t in apres.items())


def mesurer_connexion(
    hote: str, port: int, identifiants: list[str], mot_de_passe: str, concurrence: int, serveur=None
) -> dict:
    """Connexions par mot de passe de comptes ordinaires (sans double authentification) : seule la
    requête POST est chronométrée (le jeton CSRF est pris avant). ``serveur`` : une fonction qui
    rend le temps de processeur consommé par le serveur (gunicorn et ses processus PostgreSQL)."""
    sessions = []
    for identifiant in identifiants:
        s = Session(hote, port)
        sessions.append((s, identifiant, s.jeton_csrf("/connexion/")))

    def un(arg):
        s, identifiant, jeton = arg
        return s.requete(
            "POST", "/connexion/", {"csrfmiddlewaretoken": jeton, "username": identifiant, "password": mot_de_passe}
        )

    cpu_avant = serveur() if serveur else None
    debut = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrence) as pool:
        reponses = list(pool.map(un, sessions))
    mur = time.perf_counter() - debut
    durees = [r.duree for r in reponses]
    reussies = sum(r.statut == 302 for r in reponses)
    resultat = {
        "page": "connexion (mot de passe)",
        "chemin": "/connexion/",
        "persona": "comptes ordinaires",
        "genre": "connexion",
        "requetes_sql": int(reponses[0].en_tetes.get(EN_TETE_REQUETES.lower(), "-1")),
        "n": len(durees),
        "reussies": reussies,
        "durees": durees,
        "mur": mur,
        "requetes_par_s": reussies / mur,
        "par_coeur_mur": reussies / mur / (os.cpu_count() or 1),
    }
    if serveur:
        resultat["cpu_serveur_s"] = _ecart_cpu(cpu_avant, serveur())
    return resultat


def mesurer_plafond_hachage(processus: int, hachages: int = 80) -> dict:
    """Le plafond du hacheur, mesuré dans la même course : des hachages Argon2id aux paramètres du
    portail (``habilitations.hashers``), rien d'autre, sur ``processus`` fils en parallèle (autant
    que de workers gunicorn ; argon2-cffi relâche le GIL). Une connexion coûte un hachage : la
    connexion ne peut pas dépasser ce débit, le ticket 11 en demande au moins 90 %. Le temps de
    processeur de chaque fil est compté (``time.thread_time``) : hachages par seconde de cœur."""
    import argon2

    sys.path.insert(0, str(RACINE))
    from habilitations.hashers import Argon2idPortailHasher as Hacheur

    hacheur = argon2.PasswordHasher(
        time_cost=Hacheur.time_cost, memory_cost=Hacheur.memory_cost, parallelism=Hacheur.parallelism
    )
    hacheur.hash("échauffement")

    def un(_i: int) -> tuple[float, float]:
        debut, cpu = time.perf_counter(), time.thread_time()
        hacheur.hash("Banc-d-essai-du-portail-2026")
        return time.perf_counter() - debut, time.thread_time() - cpu

    debut = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(processus) as pool:
        mesures = list(pool.map(un, range(hachages)))
    mur = time.perf_counter() - debut
    return {
        "page": "hachage seul (plafond de la connexion)",
        "chemin": "—",
        "persona": "—",
        "genre": "hachage",
        "requetes_sql": 0,
        "n": hachages,
        "durees": [d for d, _c in mesures],
        "mur": mur,
        "cpu_s": sum(c for _d, c in mesures),
        "parametres": f"t={Hacheur.time_cost} m={Hacheur.memory_cost // 1024} MiB p={Hacheur.parallelism}",
    }


def mesurer_connexion_et_plafond(
    hote: str,
    port: int,
    identifiants: list[str],
    mot_de_passe: str,
    concurrence: int,
    workers: int,
    serveur,
    tours: int,
) -> list[dict]:
    """Connexion et plafond du hacheur mesurés en alternance (``tours`` fois chacun) : la machine
    partagée change de charge d'une seconde à l'autre, deux mesures éloignées ne se comparent pas.

    Deux façons de compter « par cœur », données toutes deux :
    - au mur : connexions/s ÷ cœurs de la machine, et la part du plafond en débit (hachages/s dans
      le même intervalle) ; le client de charge et les autres occupants de la machine prennent
      leur part des mêmes cœurs ;
    - au processeur (le verdict) : connexions par seconde de processeur consommée par le serveur
      (gunicorn et ses processus PostgreSQL, lus dans /proc), et la part du plafond en hachages par
      seconde de processeur des fils qui hachent. C'est ainsi qu'on dimensionne un serveur (le
      guide de Keycloak compte des connexions par vCPU consommé), sans le client ni les voisins.

    Un tour d'échauffement, non compté, vient d'abord : une base générée avant un changement des
    paramètres du hacheur a des empreintes anciennes, que Django recalcule à la première
    connexion réussie (deux hachages et une écriture de plus, une seule fois par compte)."""
    mesurer_connexion(hote, port, identifiants, mot_de_passe, concurrence)
    connexions, plafonds = [], []
    for _tour in range(tours):
        plafonds.append(mesurer_plafond_hachage(workers, hachages=40 * workers))
        connexions.append(mesurer_connexion(hote, port, identifiants, mot_de_passe, concurrence, serveur))
    plafonds.append(mesurer_plafond_hachage(workers, hachages=40 * workers))

    reussies = sum(c["reussies"] for c in connexions)
    mur = sum(c["mur"] for c in connexions)
    durees = [d for c in connexions for d in c["durees"]]
    hachages = sum(p["n"] for p in plafonds)
    mur_h = sum(p["mur"] for p in plafonds)
    cpu_h = sum(p["cpu_s"] for p in plafonds)
    cpu_serveur = sum(c.get("cpu_serveur_s", 0.0) for c in connexions)
    # Part du plafond au mur : chaque tour de connexion comparé aux plafonds qui l'encadrent.
    parts_mur = [
        c["requetes_par_s"]
        / ((plafonds[i]["n"] / plafonds[i]["mur"] + plafonds[i + 1]["n"] / plafonds[i + 1]["mur"]) / 2)
        for i, c in enumerate(connexions)
    ]
    connexion = {
        **{k: v for k, v in connexions[0].items() if k not in ("durees", "mur", "cpu_serveur_s")},
        "n": len(durees),
        "reussies": reussies,
        "tours": tours,
        "p50": centile(durees, 0.5),
        "p95": centile(durees, 0.95),
        "requetes_par_s": reussies / mur,
        "par_coeur_mur": reussies / mur / (os.cpu_count() or 1),
        "part_du_plafond_mur": statistics.median(parts_mur),
    }
    plafond = {
        **{k: v for k, v in plafonds[0].items() if k not in ("durees", "mur", "cpu_s")},
        "n": hachages,
        "p50": centile([d for p in plafonds for d in p["durees"]], 0.5),
        "p95": centile([d for p in plafonds for d in p["durees"]], 0.95),
        "requetes_par_s": hachages / mur_h,
        "par_coeur_mur": hachages / mur_h / (os.cpu_count() or 1),
        "par_coeur": hachages / cpu_h,
        "cpu_par_hachage_ms": cpu_h / hachages * 1000,
    }
    if cpu_serveur > 0:
        connexion["cpu_par_connexion_ms"] = cpu_serveur / reussies * 1000
        connexion["par_coeur"] = reussies / cpu_serveur
        connexion["part_du_plafond"] = connexion["par_coeur"] / plafond["par_coeur"]
    else:  # /proc illisible : le compte au mur seulement
        connexion["par_coeur"] = connexion["par_coeur_mur"]
        connexion["part_du_plafond"] = connexion["part_du_plafond_mur"]
    return [connexion, plafond]


def juger(r: dict, plancher_p95: float) -> None:
    """Objectif du ticket et verdict, écrits dans le résultat."""
    if "erreur" in r:
        r["objectif"], r["atteint"] = "—", None
        return
    r["rapport"] = r["p95"] / plancher_p95
    if r["genre"] == "export":
        if r["lignes"] < 10_000:
            r["objectif"], r["atteint"] = f"≥ {_n(OBJECTIF_EXPORT)} lignes/s (sans objet : {r['lignes']} lignes)", None
        else:
            r["objectif"], r["atteint"] = f"≥ {_n(OBJECTIF_EXPORT)} lignes/s", r["lignes_par_s"] >= OBJECTIF_EXPORT
    elif r["genre"] == "pdf":
        r["objectif"], r["atteint"] = f"p95 ≤ {OBJECTIF_PDF} s", r["p95"] <= OBJECTIF_PDF
    elif r["genre"] == "connexion":
        r["objectif"], r["atteint"] = f"≥ {OBJECTIF_CONNEXION}/s par cœur", r["par_coeur"] >= OBJECTIF_CONNEXION
        if "part_du_plafond" in r:
            r["objectif"] += f" et ≥ {OBJECTIF_PART_DU_PLAFOND:.0%} du plafond du hacheur"
            r["atteint"] = r["atteint"] and r["part_du_plafond"] >= OBJECTIF_PART_DU_PLAFOND
    elif r["genre"] == "hachage":
        r["objectif"], r["atteint"] = f"référence de la connexion ({r['parametres']})", None
    elif r["genre"] == "plancher":
        r["objectif"], r["atteint"] = "référence", None
    else:
        r["objectif"], r["atteint"] = f"p95 ≤ {OBJECTIF_RAPPORT:g} × plancher", r["rapport"] <= OBJECTIF_RAPPORT


def _n(x: float) -> str:
    """12 345 (espace des milliers, à la française)."""
    return f"{x:,.0f}".replace(",", " ")


def tableau(resultats: list[dict]) -> str:
    lignes = [
        "| page | requêtes SQL | p50 (ms) | p95 (ms) | req/s | p95 ÷ plancher | objectif | atteint |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in resultats:
        if "erreur" in r:
            lignes.append(f"| {r['page']} | — | — | — | — | — | {r['erreur']} | non mesuré |")
            continue
        debit = f"{r['requetes_par_s']:.1f}"
        if r["genre"] == "export":
            debit += f" ({_n(r['lignes'])} lignes, {_n(r['lignes_par_s'])} lignes/s)"
        if r["genre"] == "connexion":
            debit += (
                f" ; par cœur : {r['par_coeur']:.1f}/s au processeur ({r.get('cpu_par_connexion_ms', 0):.1f} ms), "
                f"{r['par_coeur_mur']:.1f}/s au mur ; part du plafond : {r['part_du_plafond']:.0%} au processeur, "
                f"{r['part_du_plafond_mur']:.0%} au mur"
            )
        if r["genre"] == "hachage":
            debit += (
                f" ; par cœur : {r['par_coeur']:.1f}/s au processeur ({r['cpu_par_hachage_ms']:.1f} ms), "
                f"{r['par_coeur_mur']:.1f}/s au mur"
            )
        atteint = {True: "oui", False: "**non**", None: "—"}[r["atteint"]]
        lignes.append(
            f"| {r['page']} | {r['requetes_sql']} | {r['p50'] * 1000:.0f} | {r['p95'] * 1000:.0f} | {debit} "
            f"| {r['rapport']:.1f} | {r['objectif']} | {atteint} |"
        )
    return "\n".join(lignes)


def demarrer_gunicorn(port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portail.settings.bench"}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    # Comme le Dockerfile (README, mode complet), sur la boucle locale, journal d'accès compris :
    # chaque requête le paie en production (la sortie standard est jetée ici).
    return subprocess.Popen(  # noqa: S603 (commande fixe)
        [
            str(gunicorn),
            "portail.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            "--worker-tmp-dir=/dev/shm",
            "--timeout=120",
            "--access-logfile=-",
        ],
        cwd=RACINE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def attendre(port: int, processus: subprocess.Popen, delai: float = 60) -> None:
    fin = time.monotonic() + delai
    while time.monotonic() < fin:
        if processus.poll() is not None:
            raise RuntimeError("gunicorn s'est arrêté : " + processus.stderr.read().decode()[-2000:])
        try:
            if Session("127.0.0.1", port).requete("GET", "/sante/").statut == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn ne répond pas sur /sante/")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("BANC_PORT", "8107")))
    parser.add_argument("--workers", type=int, default=2)
    # 40 puis 80 : sur 20 requêtes, le p95 est la deuxième plus lente, et un seul à-coup de la
    # machine partagée décidait du verdict d'une page (de 5 à 18 pages au-dessus de 3 × d'une course
    # à la suivante, même code).
    # 80 : un p95 sur 40 requêtes reste la deuxième plus lente, et deux à-coups de la machine
    # partagée pendant la même page décidaient encore de son verdict (session 8).
    parser.add_argument("--requetes", type=int, default=80, help="requêtes mesurées par page")
    parser.add_argument("--requetes-lourdes", type=int, default=6, help="par export et PDF")
    parser.add_argument("--concurrence", type=int, default=2)
    parser.add_argument(
        "--tranche-plancher",
        type=int,
        default=10,
        help="requêtes du plancher après chaque page (référence de la course)",
    )
    parser.add_argument("--connexions", type=int, default=100, help="connexions par tour")
    parser.add_argument("--tours-connexion", type=int, default=3, help="tours connexion / plafond alternés")
    parser.add_argument("--duree-max", type=float, default=1200, help="secondes ; les pages restantes sont sautées")
    parser.add_argument("--personas", default=str(RACINE / "bench" / "personas.json"))
    parser.add_argument("--sortie", default=str(RACINE / "bench" / "results"))
    parser.add_argument(
        "--filtre",
        action="append",
        default=[],
        help="ne mesurer que les pages dont le nom contient ce texte (répétable : l'un ou l'autre)",
    )
    parser.add_argument("--sans-connexion", action="store_true", help="ne pas mesurer la connexion")
    args = parser.parse_args()

    resume = json.loads(Path(args.personas).read_text())
    p = resume["personas"]
    charge_avant = os.getloadavg()
    gunicorn = demarrer_gunicorn(args.port, args.workers)
    debut = time.monotonic()
    try:
        attendre(args.port, gunicorn)
        sessions: dict[str, Session] = {}
        for role, compte in p["comptes"].items():
            sessions[role] = Session("127.0.0.1", args.port)
            connecter(sessions[role], compte["identifiant"], p["mot_de_passe"], compte["cle_totp_hex"])
        # La référence « plancher » est mesurée tout au long de la course : une fenêtre au début,
        # une tranche après chaque page, une fenêtre à la fin ; son p95 est celui de toutes ces
        # requêtes. Il voit ainsi le bruit de la machine pendant toute la course, comme les pages :
        # deux fenêtres (début et fin, le pire des deux) ne le voyaient qu'à ces deux moments-là, et
        # d'une course à l'autre ce p95 variait de 13,6 à 23 ms (session 7), décidant seul du
        # verdict de pages à 3 ×.
        plancher = Page("plancher (page authentifiée nue)", "administrateur", "/banc/plancher/", "plancher")
        debut_plancher = mesurer(sessions["administrateur"], plancher, args.requetes * 2, args.concurrence)
        echantillons = list(debut_plancher["durees"])
        resultats = [debut_plancher]
        for page in pages(p):
            if args.filtre and not any(f in page.nom for f in args.filtre):
                continue
            if time.monotonic() - debut > args.duree_max:
                resultats.append({"page": page.nom, "chemin": page.chemin, "erreur": "durée maximale atteinte"})
                continue
            n = args.requetes_lourdes if page.genre in ("export", "pdf") else args.requetes
            resultats.append(mesurer(sessions[page.persona], page, n, args.concurrence))
            if args.tranche_plancher:
                tranche = mesurer(sessions["administrateur"], plancher, args.tranche_plancher, args.concurrence)
                echantillons += tranche["durees"]
            print(f"  {page.nom} : fait", file=sys.stderr)
        fin = mesurer(sessions["administrateur"], plancher, args.requetes * 2, args.concurrence)
        echantillons += fin["durees"]
        resultats[0].update(
            p95_debut=resultats[0]["p95"],
            p95_fin=fin["p95"],
            n=len(echantillons),
            p50=centile(echantillons, 0.50),
            p95=centile(echantillons, 0.95),
            durees=echantillons,
            # Requêtes d'une page ordinaire : pas celles de la première page après la connexion.
            requetes_sql=fin["requetes_sql"],
        )
        if not args.sans_connexion:
            base = urllib.parse.urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
            resultats += mesurer_connexion_et_plafond(
                "127.0.0.1",
                args.port,
                p["connexion"][: args.connexions],
                p["mot_de_passe"],
                args.concurrence * 2,
                args.workers,
                lambda: cpu_serveur(gunicorn, base),
                args.tours_connexion,
            )
    finally:
        gunicorn.terminate()
        try:
            gunicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
    plancher_p95 = resultats[0]["p95"]
    for r in resultats:
        juger(r, plancher_p95)
    texte = tableau(resultats)
    print(texte)
    moment = datetime.datetime.now(tz=datetime.UTC)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=RACINE,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    sortie = Path(args.sortie)
    sortie.mkdir(parents=True, exist_ok=True)
    fichier = sortie / f"{moment:%Y%m%dT%H%M%SZ}-{resume['echelle']}.json"
    fichier.write_text(
        json.dumps(
            {
                "moment": moment.isoformat(),
                "commit": commit,
                "echelle": resume["echelle"],
                "graine": resume["graine"],
                "workers": args.workers,
                "concurrence": args.concurrence,
                "coeurs": os.cpu_count(),
                "charge_avant": charge_avant,
                "charge_apres": os.getloadavg(),
                "duree_s": round(time.monotonic() - debut, 1),
                "plancher_p95": plancher_p95,
                "resultats": resultats,
                "tableau": texte,
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    chemin = fichier.relative_to(RACINE) if fichier.is_relative_to(RACINE) else fichier
    print(f"\nRésultats : {chemin} ; charge (1, 5, 15 min) {os.getloadavg()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
