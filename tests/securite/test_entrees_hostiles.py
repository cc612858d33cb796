"""La garde des entrées hostiles (issue 10) : à chaque formulaire (POST) et à chaque liste
filtrée (GET) que le registre connaît, la persona légitime envoie des valeurs engendrées par
hypothesis — vides, énormes, chiffres et lettres Unicode, caractères de contrôle et sauts de
ligne, HTML et JavaScript, fragments SQL, dates de l'an 1 à 9999, nombres négatifs, clés d'un
autre locataire. Jamais d'erreur serveur (le client de test relève toute exception) ; un envoi
refusé n'écrit rien (empreinte de la base avant et après) et s'explique en français ; une
lecture n'écrit jamais rien.

Les champs sont lus dans la page (``formulaires.py``) : un nouveau formulaire est couvert sans
modifier ce fichier. Chaque exemple s'exécute dans un point de sauvegarde annulé ensuite : ils
partent tous du même monde. Exemples dérandomisés (reproductibles en CI), en nombre modeste
par adresse (``EXEMPLES_*``)."""

from __future__ import annotations

import datetime
import hashlib
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.securite import formulaires, registre
from tests.securite.conftest import connecter

EXEMPLES_FORMULAIRE = 10
EXEMPLES_FILTRES = 6
REGLAGES = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}

VALEURS_HOSTILES = [
    "",
    " ",
    "A" * 300,
    "é" * 5000,
    "²",
    "٣٤٥",
    "１２３",
    "¹²³⁴⁵⁶⁷⁸⁹⁰¹²³⁴",
    "٣٣٣٣٣٣٣٣٣٣٣٣٣٣",
    "Ⅻ",
    "ß𝔘𝔫𝔦",
    "a\x00b",
    "\r\n",
    "objet\r\nBcc: pirate@exemple.test",
    "\t\x0b\x1b[31m",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1 --",
    "1; DROP TABLE habilitations_utilisateur; --",
    "%_\\",
    "-1",
    "-99999999999999999999",
    "0",
    "99999999999999999999",
    "1e309",
    "NaN",
    "0001-01-01",
    "9999-12-31",
    "2024-02-30",
    "31/12/9999",
]

# Les valeurs qui ont déjà fait tomber le portail (issue 10, point 3), envoyées à chaque champ et
# à chaque paramètre en plus des exemples engendrés : la garde les essaie toutes, à coup sûr.
VALEURS_VIFS = [
    "",
    "²",
    "¹²³⁴⁵⁶⁷⁸⁹⁰¹²³⁴",
    "9999-12-31",
    "0001-01-01",
    "a\x00b",
    "-1",
    "99999999999999999999",
    "A" * 300,
]

# Pages dont un envoi peut, sans erreur, réafficher la page : « Assigner rôle » prépare la liste
# des profils à enregistrer ; « Lancer un appel de déclaration » montre d'abord les activités
# concernées (l'aperçu, sans rien écrire) avant la confirmation.
SANS_MESSAGE = {"gestion:groupe_habilitations", "afas:appel_lancer"}

# Écritures qu'un envoi refusé fait à bon droit : l'échec de connexion est journalisé.
ECRITURES_PERMISES = {"habilitations:connexion": {"portail.evenementaudit"}}

# Tables qu'une requête refusée a le droit de changer : la session, les tentatives de connexion
# (axes), le compteur d'échecs de la double authentification.
HORS_EMPREINTE = {"sessions.session", "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"}
HORS_EMPREINTE_PREFIXES = ("otp_",)


def empreinte() -> dict[str, str]:
    """Le contenu de chaque table du projet (ordonné par clé), réduit à une empreinte."""
    resultat = {}
    for modele in apps.get_models():
        etiquette = modele._meta.label_lower
        if etiquette in HORS_EMPREINTE or modele._meta.app_label.startswith(HORS_EMPREINTE_PREFIXES):
            continue
        lignes = repr(list(modele._default_manager.order_by("pk").values_list()))
        resultat[etiquette] = hashlib.sha256(lignes.encode()).hexdigest()
    return resultat


def _changees(avant: dict[str, str], apres: dict[str, str], nom: str = "") -> list[str]:
    return sorted(t for t in avant if avant[t] != apres[t] and t not in ECRITURES_PERMISES.get(nom, ()))


def hostiles(monde) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(VALEURS_HOSTILES),
        st.sampled_from(monde.ids_d_autres_locataires()),
        st.dates(min_value=datetime.date(1, 1, 1), max_value=datetime.date(9999, 12, 31)).map(str),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(max_size=40),
    )


def _acteur(p: registre.Politique) -> str | None:
    """Qui remplit le formulaire : la persona légitime ; une page « connecté » est remplie par un
    utilisateur sans rôle ; une page publique par l'anonyme."""
    if p.acces == registre.CONNECTE:
        return "declarant"
    return p.acteur


def _url(nom: str, monde) -> str:
    p = registre.politique(nom)
    url = reverse(nom, kwargs=p.kwargs(monde))
    requete = p.requete(monde)
    return url + ("?" + "&".join(f"{k}={v}" for k, v in requete.items()) if requete else "")


def _verifier_francais(html: str, contexte: str) -> list[str]:
    erreurs = formulaires.erreurs(html)
    anglais = [e for e in erreurs if formulaires.ANGLAIS.search(e)]
    assert not anglais, f"{contexte} : message non traduit {anglais}"
    return erreurs


FORMULAIRES = sorted(
    nom
    for nom, p in registre.REGISTRE.items()
    if p.methodes == registre.GET_POST and p.acces != registre.ADMINISTRATION
)
LECTURES = sorted(
    nom
    for nom, p in registre.REGISTRE.items()
    if "GET" in p.methodes and _acteur(p) and p.acces != registre.ADMINISTRATION
)


@pytest.mark.parametrize("nom", FORMULAIRES)
def test_formulaire_hostile(client, db, monde, nom):
    p = registre.politique(nom)
    acteur = _acteur(p)
    if acteur:
        connecter(client, monde.persona(acteur))
    url = _url(nom, monde)
    chemin = urlsplit(url).path
    page = client.get(url)
    if page.status_code != 200 or not formulaires.formulaires(page.content.decode(), chemin, "post"):
        pytest.skip(f"{nom} : pas de formulaire à remplir pour {acteur} (réponse {page.status_code})")
    valeurs = hostiles(monde)

    def envoyer(choisir) -> None:
        """Un envoi du formulaire, chaque champ rempli par ``choisir(champ, legitimes)``, dans un
        point de sauvegarde annulé ensuite (``choisir(None, formulaires)`` choisit le formulaire)."""
        with transaction.atomic():
            html = client.get(url).content.decode()  # un jeton neuf à chaque envoi
            envoi = {}
            for champ in choisir(None, formulaires.formulaires(html, chemin, "post")).champs.values():
                legitimes = [o for o in champ.options if o] or ([champ.valeur] if champ.valeur else [])
                envoi[champ.nom] = choisir(champ, legitimes)
            avant = empreinte()
            reponse = client.post(url, envoi)
            assert reponse.status_code in (200, 302, 400, 403, 404, 429), (nom, reponse.status_code, envoi)
            if reponse.status_code != 302:
                assert _changees(avant, empreinte(), nom) == [], f"{nom} : écriture d'un envoi refusé {envoi}"
                if reponse.status_code == 200:
                    erreurs = _verifier_francais(reponse.content.decode(), f"{nom} {envoi}")
                    assert erreurs or nom in SANS_MESSAGE, f"{nom} : envoi refusé sans message {envoi}"
            transaction.set_rollback(True)

    # Les valeurs vives dans tous les champs à la fois (champs cachés et boutons gardent leur valeur).
    for vive in VALEURS_VIFS:

        def vif(champ, legitimes, vive=vive):
            if champ is None:
                return legitimes[0]
            return legitimes[0] if champ.type in ("hidden", "submit") and legitimes else vive

        envoyer(vif)

    @settings(max_examples=EXEMPLES_FORMULAIRE, **REGLAGES)
    @given(donnees=st.data())
    def engendre(donnees):
        def choisir(champ, legitimes):
            if champ is None:
                return donnees.draw(st.sampled_from(legitimes))
            if champ.type == "hidden" and legitimes:
                return donnees.draw(st.sampled_from(legitimes))
            if legitimes:
                return donnees.draw(st.sampled_from(legitimes) | valeurs)
            return donnees.draw(valeurs)

        envoyer(choisir)

    engendre()


@pytest.mark.parametrize("nom", LECTURES)
def test_parametres_hostiles(client, db, monde, nom):
    """Les filtres d'une liste (son formulaire GET) et les paramètres que la page se renvoie par
    ses liens (``?retirer=``, ``?organisme=``, ``?tri=``, ``?page=``) : une page qui n'en prend
    aucun n'a rien à recevoir."""
    p = registre.politique(nom)
    connecter(client, monde.persona(_acteur(p)))
    url = _url(nom, monde)
    chemin = urlsplit(url).path
    page = client.get(url)
    html = ""
    if page.status_code == 200 and not page.streaming and page["Content-Type"].startswith("text/html"):
        html = page.content.decode()
    noms = set(p.requete(monde)) | set(p.parametres) | formulaires.parametres_de_liens(html, chemin)
    if p.filtres:
        noms |= {"tri", "page"}
    for formulaire in formulaires.formulaires(html, chemin, "get"):
        noms |= set(formulaire.champs)
    if not noms:
        pytest.skip(f"{nom} : la page ne prend aucun paramètre")
    valeurs = hostiles(monde)

    def lire(params: dict, *, comparer: bool = True) -> None:
        avant = empreinte() if comparer else None
        reponse = client.get(url.split("?")[0], params)
        assert reponse.status_code in (200, 302, 404), (nom, reponse.status_code, params)
        if reponse.streaming:
            b"".join(reponse.streaming_content)  # un export en flux échoue en s'écrivant
        if comparer:
            assert _changees(avant, empreinte()) == [], f"{nom} : une lecture a écrit {params}"
        if reponse.status_code == 200 and not reponse.streaming and reponse["Content-Type"].startswith("text/html"):
            _verifier_francais(reponse.content.decode(), f"{nom} {params}")

    # Chaque valeur vive seule dans chaque paramètre (un autre paramètre invalide masquerait
    # l'erreur : le filtre refusé ne filtre plus rien), puis dans tous à la fois en comparant la
    # base avant et après, puis des combinaisons engendrées.
    for vive in VALEURS_VIFS:
        for parametre in sorted(noms):
            lire({**p.requete(monde), parametre: vive}, comparer=False)
        lire(dict.fromkeys(sorted(noms), vive))

    @settings(max_examples=EXEMPLES_FILTRES, **REGLAGES)
    @given(donnees=st.data())
    def engendre(donnees):
        lire({parametre: donnees.draw(valeurs) for parametre in sorted(noms)})

    engendre()
