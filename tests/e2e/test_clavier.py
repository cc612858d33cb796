"""Un parcours au clavier seul, sur grand écran et sur un téléphone de 390 px : connexion avec
double authentification, création d'un utilisateur, déconnexion. Aucun clic : Tab, Maj+Tab,
Entrée et la saisie. Un menu, un bouton ou un champ que le clavier n'atteint pas fait échouer."""

import re

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from habilitations.models import Utilisateur
from tests import factories
from tests.e2e.verification import verifier_page

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EMAIL = "jules.roques@mairie-test.example"

# Le nom que l'élément ayant le focus annonce : son libellé (champ), son texte (lien, bouton).
NOM_DU_FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return "";
  const libelle = e.labels && e.labels.length ? e.labels[0].innerText : "";
  return (libelle || e.getAttribute("aria-label") || e.innerText || e.value || "").replace(/\\s+/g, " ").trim();
}"""


def tabuler_jusqu_a(page, nom: str | re.Pattern, *, balise: str = "", arriere: bool = False, maximum: int = 80) -> None:
    """Appuie sur Tab (ou Maj+Tab) jusqu'à ce que l'élément visible ayant le focus porte ce nom
    (et soit de cette balise HTML, si elle est donnée)."""
    vus = []
    for _ in range(maximum):
        page.keyboard.press("Shift+Tab" if arriere else "Tab")
        actuel = page.evaluate(NOM_DU_FOCUS)
        vus.append(actuel)
        if balise and page.evaluate("() => document.activeElement.tagName") != balise.upper():
            continue
        if (nom.search(actuel) if isinstance(nom, re.Pattern) else actuel.startswith(nom)) and page.evaluate(
            "() => { const r = document.activeElement.getBoundingClientRect(); return r.width > 0 && r.height > 0; }"
        ):
            return
    raise AssertionError(f"« {nom} » jamais atteint au clavier ; parcours : {vus}")


def saisir(page, libelle: str | re.Pattern, texte: str) -> None:
    tabuler_jusqu_a(page, libelle)
    page.keyboard.type(texte)


@pytest.mark.parametrize("largeur", [1280, 390], ids=["grand-ecran", "telephone-390px"])
def test_connexion_creation_deconnexion_au_clavier(navigateur, live_server, largeur):
    page = navigateur
    page.set_viewport_size({"width": largeur, "height": 844})
    convention = factories.ConventionFactory(profils=["CDAP-T1"])
    administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", convention=convention)
    factories.nommer_administrateur(convention, administrateur)
    device = TOTPDevice.objects.create(user=administrateur, name="test", confirmed=True)

    # Connexion : identifiant, mot de passe, Entrée ; puis le code à usage unique.
    page.goto("/connexion/")
    saisir(page, "Identifiant", administrateur.identifiant)
    saisir(page, "Mot de passe", "pas le bon mot de passe")
    page.keyboard.press("Enter")
    # Le refus est annoncé, reçoit le focus, et le titre de la page le dit.
    expect(page.locator("#resume-erreurs")).to_be_focused()
    expect(page.locator("#resume-erreurs")).to_contain_text("Identifiant ou mot de passe incorrect.")
    expect(page).to_have_title(re.compile(r"^Erreur : Connexion"))
    expect(page.get_by_label(re.compile(r"^\s*Mot de passe"))).to_have_attribute("aria-invalid", "true")
    verifier_page(page)
    saisir(page, "Mot de passe", factories.MOT_DE_PASSE)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérification en deux étapes")
    saisir(page, "Code à usage unique", f"{totp(device.bin_key):06d}")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Bienvenue Hugo CASTAN\b"))

    # Accueil → « Gestion des habilitations » → « Choisir… » → « Utilisateurs ».
    tabuler_jusqu_a(page, "Gestion des habilitations")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    tabuler_jusqu_a(page, "Choisir…")
    page.keyboard.press("Enter")
    tabuler_jusqu_a(page, "Utilisateurs")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Liste des utilisateurs")
    verifier_page(page)

    # Créer un utilisateur.
    tabuler_jusqu_a(page, "Créer un utilisateur")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Créer un utilisateur partenaire")
    saisir(page, re.compile(r"^Nom\b"), "Roques")
    saisir(page, re.compile(r"^Prénom"), "Jules")
    saisir(page, re.compile(r"^Adresse mail"), EMAIL)
    saisir(page, re.compile(r"^Confirmer l'adresse mail"), EMAIL)
    tabuler_jusqu_a(page, "Valider")
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(r"Le compte \w+ est créé"))).to_be_visible()
    assert Utilisateur.objects.filter(email=EMAIL, convention=convention).exists()
    verifier_page(page)

    # Déconnexion : dans l'en-tête sur grand écran, derrière le bouton « Menu » sur téléphone.
    page.keyboard.press("Control+Home")
    if largeur < 992:
        tabuler_jusqu_a(page, "Menu", balise="button")
        page.keyboard.press("Enter")
        expect(page.locator("#menu-entete")).to_be_visible()
    tabuler_jusqu_a(page, "Déconnexion", balise="button")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/connexion/")
    expect(page.get_by_text("Vous êtes déconnecté.")).to_be_visible()
