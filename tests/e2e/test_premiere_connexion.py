"""Parcours de bout en bout dans Chromium : première connexion d'un partenaire (courriels de la
boîte aux lettres de développement, mot de passe provisoire, choix du mot de passe personnel,
accueil, reconnexion) et enrôlement d'un agent Caf à la double authentification."""

import base64
import re
from pathlib import Path

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from portail.models import Courriel
from tests import factories
from tests.e2e.verification import verifier_page

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CAPTURE_ACCUEIL = Path("/tmp/e2e-accueil.png")
MOT_DE_PASSE_PERSONNEL = "lanterne orange sur la colline"
SUJET_IDENTIFIANT = "Portail Partenaires : votre identifiant"
SUJET_PROVISOIRE = "Portail Partenaires : votre mot de passe provisoire"


def lire_courriel(page, *, destinataire: str, sujet: str) -> str:
    """Ouvre, depuis la liste de /dev/courriels/, le courriel de ce sujet adressé à ce destinataire
    et renvoie son corps tel que la page l'affiche."""
    lien = page.get_by_role("link", name=sujet, exact=True)
    page.get_by_role("row").filter(has_text=destinataire).filter(has=lien).get_by_role(
        "link", name=sujet, exact=True
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(sujet)
    return page.locator("#corps-courriel").inner_text()


def se_connecter(page, identifiant: str, mot_de_passe: str) -> None:
    page.goto("/connexion/")
    verifier_page(page)
    page.get_by_label(re.compile(r"^\s*Identifiant")).fill(identifiant)
    page.get_by_label(re.compile(r"^\s*Mot de passe")).fill(mot_de_passe)
    page.get_by_role("button", name="Connexion", exact=True).click()


def choisir_mot_de_passe(page, mot_de_passe: str) -> None:
    page.get_by_label(re.compile(r"^\s*Nouveau mot de passe")).fill(mot_de_passe)
    page.get_by_label(re.compile(r"^\s*Confirmation du nouveau mot de passe")).fill(mot_de_passe)
    page.get_by_role("button", name="Enregistrer mon mot de passe").click()


def test_premiere_connexion_d_un_partenaire(navigateur, live_server):
    page = navigateur
    organisme = factories.OrganismeFactory(caf=factories.CafFactory())
    convention = factories.ConventionFactory(organisme=organisme, profils=["CDAP-T1", "AFAS-DECLARER"])
    # Un responsable distinct : un responsable d'habilitations devrait activer la double authentification.
    responsable = factories.creer_utilisateur(nom="Lacombe", prenom="Ines", organisme=organisme)
    user = factories.creer_utilisateur(nom="Ferrand", prenom="Paul", organisme=organisme, mot_de_passe=None)
    factories.habiliter(user, convention, "AFAS-DECLARER", responsable=responsable)

    # Les deux courriels du compte, lus comme le ferait le nouvel utilisateur.
    page.goto("/dev/courriels/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Boîte aux lettres de développement")
    verifier_page(page)
    corps = lire_courriel(page, destinataire=user.email, sujet=SUJET_IDENTIFIANT)
    identifiant = re.search(r"Votre identifiant : (\S+)", corps).group(1)
    assert identifiant == user.identifiant
    page.go_back()
    corps = lire_courriel(page, destinataire=user.email, sujet=SUJET_PROVISOIRE)
    provisoire = re.search(r"Votre mot de passe provisoire : (\S+)", corps).group(1)

    # Connexion avec le mot de passe provisoire : le choix du mot de passe personnel est imposé.
    se_connecter(page, identifiant, provisoire)
    expect(page).to_have_url(f"{live_server.url}/connexion/choisir-mot-de-passe/")
    page.goto("/")  # aucune autre page avant ce choix
    expect(page).to_have_url(f"{live_server.url}/connexion/choisir-mot-de-passe/")

    choisir_mot_de_passe(page, "trop court")
    expect(page.locator("#resume-erreurs")).to_contain_text(
        "Ce mot de passe est trop court. Il doit contenir au minimum 12 caractères."
    )
    verifier_page(page)
    expect(page).to_have_url(f"{live_server.url}/connexion/choisir-mot-de-passe/")

    choisir_mot_de_passe(page, MOT_DE_PASSE_PERSONNEL)
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_text("Votre mot de passe personnel est enregistré.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Bienvenue Paul FERRAND\b"))
    expect(page.locator("#derniere-connexion")).to_have_text("C'est votre première connexion à ce service.")
    verifier_page(page)
    tuiles = page.locator("#tuiles")
    expect(tuiles.get_by_role("link", name="Aide financière d'action sociale", exact=True)).to_be_visible()
    # CDAP-T1 est accordé par la convention, mais l'utilisateur n'est dans aucun groupe CDAP.
    expect(tuiles.get_by_role("link", name="Consulter dossier", exact=True)).to_have_count(0)
    page.screenshot(path=str(CAPTURE_ACCUEIL), full_page=True)
    assert Courriel.objects.filter(destinataire=user.email, modele="mot_de_passe_modifie").count() == 1

    # Reconnexion avec le mot de passe personnel : l'accueil rappelle la connexion précédente.
    page.get_by_role("button", name="Déconnexion").click()
    expect(page).to_have_url(f"{live_server.url}/connexion/")
    se_connecter(page, identifiant, MOT_DE_PASSE_PERSONNEL)
    expect(page).to_have_url(f"{live_server.url}/")
    derniere = page.locator("#derniere-connexion")
    expect(derniere).to_have_text(
        re.compile(r"^Votre dernière connexion à ce service date du \d{2}/\d{2}/\d{4} à \d{2}h\d{2}\.$")
    )
    user.refresh_from_db()
    expect(derniere).to_contain_text(timezone.localtime(user.connexion_precedente).strftime("du %d/%m/%Y à %Hh%M"))


def test_agent_caf_active_la_double_authentification(navigateur, live_server):
    page = navigateur
    agent = factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=factories.CafFactory())

    se_connecter(page, agent.identifiant, factories.MOT_DE_PASSE)
    expect(page).to_have_url(f"{live_server.url}/profil/double-authentification/?next=%2F")
    expect(page.get_by_role("heading", level=1)).to_have_text("Activer la double authentification")
    verifier_page(page)

    # La clé affichée (groupes de 4 caractères base32) est celle que l'application enregistrerait.
    secret = page.locator("#secret-otp").inner_text().replace(" ", "")
    cle = base64.b32decode(secret + "=" * (-len(secret) % 8))
    assert cle == TOTPDevice.objects.get(user=agent, confirmed=False).bin_key
    page.get_by_label(re.compile(r"^\s*Code à usage unique")).fill(f"{totp(cle):06d}")
    page.get_by_role("button", name="Activer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Vos codes de secours")
    expect(page.locator("#codes-secours li")).to_have_count(10)
    verifier_page(page)
    page.get_by_role("link", name="J'ai noté mes codes, continuer").click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Bienvenue Aline VERDIER\b"))
    assert TOTPDevice.objects.filter(user=agent, confirmed=True).count() == 1
