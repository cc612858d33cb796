"""La garde permanente des adresses (issue 8) : chaque adresse du projet a une politique
d'accès déclarée dans ``registre.py`` ; chaque adresse protégée est demandée, en GET et en POST,
par l'anonyme (renvoyé à la connexion), l'utilisateur d'un autre organisme et l'agent d'une
autre Caf (404 pour un objet, 403 pour une page de rôle), l'utilisateur du même organisme sans le
rôle (ce que dit la politique) ; la persona légitime, elle, obtient la page (sinon les refus
ne prouveraient rien). Une nouvelle adresse sans politique fait échouer le premier test."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.securite import adresses, registre
from tests.securite.conftest import connecter

ADRESSES = adresses.toutes()
NOMMEES = sorted({a.nom for a in ADRESSES if a.nom and a.espace != registre.ADMINISTRATION_TECHNIQUE})
ADMINISTRATION = sorted(
    {a.nom: a for a in ADRESSES if a.nom and a.espace == registre.ADMINISTRATION_TECHNIQUE}.values(),
    key=lambda a: a.nom,
)
CONNEXION = reverse("habilitations:connexion")


def test_toute_adresse_a_une_politique():
    sans_nom = [a.route for a in ADRESSES if a.nom is None and a.espace != registre.ADMINISTRATION_TECHNIQUE]
    assert not sans_nom, f"Adresses sans nom (nommez-les pour les déclarer dans registre.py) : {sans_nom}"
    manquantes = []
    for nom in NOMMEES:
        try:
            registre.politique(nom)
        except LookupError as exc:
            manquantes.append(str(exc))
    assert not manquantes, "\n".join(manquantes)


def test_le_registre_ne_declare_que_des_adresses_qui_existent():
    assert set(registre.REGISTRE) - set(NOMMEES) == set()


def _adresse(nom: str, monde) -> str:
    p = registre.politique(nom)
    url = reverse(nom, kwargs=p.kwargs(monde))
    requete = p.requete(monde)
    if requete:
        url += "?" + "&".join(f"{k}={v}" for k, v in requete.items())
    return url


def _demander(client, methode: str, url: str):
    return client.get(url) if methode == "GET" else client.post(url, {})


def _cas():
    """(adresse, persona, méthode, code attendu) de chaque requête de la garde."""
    for nom in NOMMEES:
        p = registre.politique(nom)
        for methode in ("GET", "POST"):
            if p.acces != registre.PUBLIC:
                yield pytest.param(nom, "anonyme", methode, "connexion", id=f"{nom}-anonyme-{methode}")
            for persona, code in p.attendus.items():
                attendu = code[methode == "POST"] if isinstance(code, tuple) else code
                if methode not in p.methodes:
                    # 405, ou le refus lui-même si la vue contrôle l'accès avant la méthode.
                    attendu = (attendu, 405)
                yield pytest.param(nom, persona, methode, attendu, id=f"{nom}-{persona}-{methode}")
        if p.acteur is not None and "GET" in p.methodes:
            yield pytest.param(nom, p.acteur, "GET", p.get, id=f"{nom}-{p.acteur}-legitime")
        if p.acces in (registre.PUBLIC, registre.CONNECTE) and "GET" in p.methodes:
            persona = None if p.acces == registre.PUBLIC else "declarant"
            yield pytest.param(nom, persona, "GET", p.get, id=f"{nom}-{persona or 'anonyme'}-legitime")


@pytest.mark.parametrize(("nom", "persona", "methode", "attendu"), list(_cas()))
def test_politique(client, db, monde, nom, persona, methode, attendu):
    url = _adresse(nom, monde)
    if persona not in (None, "anonyme"):
        connecter(client, monde.persona(persona))
    reponse = _demander(client, methode, url)
    if attendu == "connexion":
        assert reponse.status_code == 302, reponse
        assert reponse.url.startswith(f"{CONNEXION}?next="), reponse.url
    else:
        attendus = attendu if isinstance(attendu, tuple) else (attendu,)
        assert reponse.status_code in attendus, f"{methode} {url} par {persona} : {reponse.status_code}"


# --- L'administration technique : une politique pour tout le groupe ---------------------------


def _cas_administration():
    for a in ADMINISTRATION:
        if a.nom in registre.ADMINISTRATION_PUBLIQUE:
            continue
        for persona in ("anonyme", "administrateur", "agent_caf"):
            yield pytest.param(a, persona, id=f"{a.nom}-{persona}")


@pytest.mark.parametrize(("adresse", "persona"), list(_cas_administration()))
def test_administration_technique_reservee_au_personnel(client, db, monde, adresse, persona):
    """GET et POST renvoient à la connexion de l'administration quiconque n'est pas du personnel
    (l'anonyme, à la connexion du portail ou à celle de l'administration)."""
    url = reverse(adresse.nom, kwargs=adresses.arguments_generiques(adresse))
    connexions = (reverse("admin:login"),) if persona != "anonyme" else (reverse("admin:login"), CONNEXION)
    if persona != "anonyme":
        connecter(client, monde.persona(persona))
    for reponse in (client.get(url), client.post(url, {})):
        assert reponse.status_code == 302, f"{url} : {reponse.status_code}"
        assert reponse.url.startswith(connexions), reponse.url


def test_administration_technique_ouverte_au_personnel(client, db, monde):
    connecter(client, monde.personnel)
    assert client.get(reverse("admin:index")).status_code == 200
