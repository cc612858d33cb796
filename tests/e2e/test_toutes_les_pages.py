"""Toutes les pages GET de chaque persona de démonstration (agent Caf, administrateur partenaire,
responsable d'habilitations, et les comptes AFAS : déclarant, FDA, FDF, approbateur), atteintes en
suivant les liens depuis l'accueil : chacune répond sans erreur, sans erreur JavaScript (fixture
``navigateur``), et passe ``verifier_page`` (axe-core à 1280 et 320 px, rien ne déborde). Un écran
ajouté plus tard est vérifié dès qu'un lien y mène ; les pages AFAS de la persona sont visitées
(vérifié)."""

import io
import re
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from habilitations.models import Utilisateur
from portail.management.commands.demo import COMPTES, MOT_DE_PASSE_DEMO
from tests.e2e.test_premiere_connexion import se_connecter
from tests.e2e.verification import verifier_page

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Ni la déconnexion, ni les pages techniques, ni les téléchargements (PDF, CSV).
EXCLUES = re.compile(r"^/(deconnexion|dev|administration|static)/|/pdf/|csv|/export")
# Une page par forme d'adresse : /conventions/1/ et /conventions/2/ sont le même écran.
MAXIMUM = 80


def forme(chemin: str) -> str:
    return re.sub(r"/\d+/", "/N/", chemin)


def liens_internes(page, origine: str) -> list[str]:
    chemins = []
    for href in page.eval_on_selector_all("a[href]:not([download])", "liens => liens.map(a => a.href)"):
        morceaux = urlsplit(href)
        if f"{morceaux.scheme}://{morceaux.netloc}" == origine and not EXCLUES.search(morceaux.path):
            chemins.append(morceaux.path)
    return chemins


# Les résultats d'une recherche s'atteignent par un formulaire, pas par un lien : la recherche AFAS
# dans chaque état est visitée d'office (et, de là, « Supprimer »).
RECHERCHES = {
    "administrateur": [
        f"/afas/administration-des-profils/?etat={etat}&lieux=oui"
        for etat in ("actif", "inactif", "historique", "non_attribue")
    ],
}

# Les personas qui ont la rubrique « Aides financières d'action sociale » dans leur menu.
PERSONAS_AFAS = ("agent", "administrateur", "declarant", "fda", "fdf", "approbateur")


@pytest.mark.parametrize(
    "persona", ["agent", "administrateur", "responsable", "declarant", "fda", "fdf", "approbateur"]
)
def test_chaque_page_de_la_persona(navigateur, live_server, persona):
    page = navigateur
    call_command("demo", stdout=io.StringIO())
    email = next(c[3] for c in COMPTES if c[0] == persona)
    user = Utilisateur.objects.get(email=email)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()

    se_connecter(page, user.identifiant, MOT_DE_PASSE_DEMO)
    if device is not None:  # les comptes AFAS de démonstration n'ont pas la double authentification
        page.get_by_label(re.compile(r"^\s*Code à usage unique")).fill(f"{totp(device.bin_key):06d}")
        page.get_by_role("button", name="Valider", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Bienvenue "))

    a_visiter, formes_vues, visitees = ["/", *RECHERCHES.get(persona, [])], set(), []
    while a_visiter and len(visitees) < MAXIMUM:
        chemin = a_visiter.pop(0)
        if forme(chemin) in formes_vues:
            continue
        formes_vues.add(forme(chemin))
        reponse = page.goto(chemin)
        assert reponse is not None and reponse.status < 400, f"{chemin} : {reponse and reponse.status}"
        visitees.append(chemin)
        verifier_page(page)
        a_visiter.extend(c for c in liens_internes(page, live_server.url) if forme(c) not in formes_vues)
    assert len(visitees) >= (2 if persona in ("fda", "fdf", "approbateur", "declarant") else 5), visitees
    if persona in PERSONAS_AFAS:
        afas = [c for c in visitees if c.startswith("/afas/")]
        assert afas, f"{persona} : aucune page AFAS visitée ({visitees})"


def test_pages_d_erreur(navigateur, live_server, settings):
    """La page 404 (DEBUG désactivé, comme en production), pour un visiteur anonyme : mise en page du
    portail, lien de retour, et les mêmes vérifications que toute autre page."""
    page = navigateur
    settings.DEBUG = False
    reponse = page.goto("/cette-page-n-existe-pas/")
    assert reponse.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page introuvable")
    verifier_page(page)
    page.get_by_role("link", name="Retour à l'accueil").click()
    expect(page).to_have_url(re.compile(r"/connexion/"))
