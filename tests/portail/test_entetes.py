"""Garde permanente (issue 10, point 10) : chaque page authentifiée porte ``Cache-Control:
no-store``, la CSP et ``frame-ancestors 'none'``.

Les pages sont trouvées en parcourant le portail depuis l'accueil, lien après lien, pour chaque
persona (``pages_authentifiees``) : une page ajoutée demain et reliée au menu y entre d'elle-même.
Quand le registre des URL (tests/securite/registre.py) existera, ``pages_authentifiees`` pourra
simplement l'énumérer ; les assertions (``verifier_entetes``) ne changent pas.
"""

from collections import Counter
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from django.urls import Resolver404, resolve, reverse

from tests import factories
from tests.conftest import connecter_verifie

PAGES_PAR_VUE = 3  # une vue listée avec 25 objets n'est pas visitée 25 fois
JAMAIS = ("/deconnexion/", "/static/", "/dev/")


class _Liens(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.liens: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith("/") and not href.startswith("//"):
                self.liens.append(urldefrag(href).url)


def pages_authentifiees(client, depart: str = "/"):
    """(adresse, réponse) de chaque page atteinte par des liens depuis ``depart`` (GET)."""
    vues: Counter[str] = Counter()
    vues_adresses: set[str] = set()
    a_visiter = [depart]
    while a_visiter:
        adresse = a_visiter.pop(0)
        chemin = urlsplit(adresse).path
        if adresse in vues_adresses or chemin.startswith(JAMAIS):
            continue
        vues_adresses.add(adresse)
        try:
            vue = resolve(chemin).view_name
        except Resolver404:
            continue
        if vues[vue] >= PAGES_PAR_VUE:
            continue
        vues[vue] += 1
        reponse = client.get(adresse)
        yield adresse, reponse
        if reponse.status_code == 200 and reponse["Content-Type"].startswith("text/html"):
            analyseur = _Liens()
            analyseur.feed(reponse.content.decode())
            a_visiter.extend(analyseur.liens)


def verifier_entetes(adresse: str, reponse) -> list[str]:
    defauts = []
    if "no-store" not in reponse.get("Cache-Control", ""):
        defauts.append(f"{adresse} : Cache-Control sans no-store ({reponse.get('Cache-Control')!r})")
    csp = reponse.get("Content-Security-Policy", "")
    if reponse["Content-Type"].startswith("text/html"):
        if "default-src 'self'" not in csp:
            defauts.append(f"{adresse} : pas de CSP")
        if "frame-ancestors 'none'" not in csp:
            defauts.append(f"{adresse} : CSP sans frame-ancestors 'none'")
        if reponse.get("X-Frame-Options") != "DENY":
            defauts.append(f"{adresse} : X-Frame-Options absent")
    return defauts


@pytest.fixture
def monde(convention, administrateur, responsable, declarant, agent_caf, superviseur):
    """Une convention avec ses comptes, un groupe et un membre : les listes ont des liens."""
    return {
        "agent Caf": agent_caf,
        "administrateur": administrateur,
        "responsable": responsable,
        "déclarant": declarant,
        "supervision nationale": superviseur,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "persona", ["agent Caf", "administrateur", "responsable", "déclarant", "supervision nationale"]
)
def test_chaque_page_authentifiee(client, monde, persona):
    connecter_verifie(client, monde[persona])
    visitees, defauts = 0, []
    for adresse, reponse in pages_authentifiees(client):
        visitees += 1
        defauts += verifier_entetes(adresse, reponse)
    print(f"\n{persona} : {visitees} pages")
    assert visitees >= 3, visitees
    assert not defauts, "\n".join(defauts)


@pytest.mark.django_db
def test_pdf_enrolement_totp_et_codes_de_secours(client, convention, administrateur, agent_caf):
    connecter_verifie(client, agent_caf)
    pdf = client.get(reverse("conventions:convention_pdf", args=[convention.pk]))
    assert pdf.status_code == 200
    assert verifier_entetes("PDF", pdf) == []

    codes = client.post(reverse("habilitations:regenerer_codes_secours"))
    assert codes.status_code == 200
    assert verifier_entetes("codes de secours", codes) == []

    nouveau = factories.creer_utilisateur(nom="Sans", prenom="Appareil")
    client.force_login(nouveau)
    enrolement = client.get(reverse("habilitations:activer_otp"))
    assert enrolement.status_code == 200 and "secret" in enrolement.context
    assert verifier_entetes("enrôlement TOTP", enrolement) == []
