"""Parcours de bout en bout dans Chromium : un agent Caf enregistre un organisme partenaire,
formalise et valide une convention avec un nouvel administrateur ; celui-ci se connecte pour la
première fois (courriels, mot de passe provisoire, double authentification) et voit la convention."""

import base64
import re
from pathlib import Path

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from conventions.enums import EtatConvention
from conventions.models import Convention, Organisme
from habilitations.models import Utilisateur
from tests import factories
from tests.e2e.test_premiere_connexion import (
    SUJET_IDENTIFIANT,
    SUJET_PROVISOIRE,
    choisir_mot_de_passe,
    lire_courriel,
    se_connecter,
)
from tests.e2e.verification import verifier_page

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CAPTURES = Path("/tmp")
SIRET = "21120199900011"  # clé de Luhn valide
EMAIL_ADMINISTRATEUR = "nadia.serres@mairie-belcastel.example"
MOT_DE_PASSE_ADMINISTRATEUR = "un phare veille sur le port de Belcastel"


def code_totp(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key):06d}"


def verifier_double_authentification(page, user: Utilisateur) -> None:
    page.get_by_label(re.compile(r"^\s*Code à usage unique")).fill(code_totp(TOTPDevice.objects.get(user=user)))
    page.get_by_role("button", name="Valider", exact=True).click()


def test_agent_formalise_une_convention_et_son_administrateur_la_voit(navigateur, live_server):
    page = navigateur
    caf = factories.CafFactory()
    factories.TypeOrganismeFactory()  # « Commune »
    agent = factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=caf)
    TOTPDevice.objects.create(user=agent, name="test", confirmed=True)

    # L'agent se connecte (double authentification) et enregistre l'organisme.
    se_connecter(page, agent.identifiant, factories.MOT_DE_PASSE)
    verifier_double_authentification(page, agent)
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Bienvenue Aline VERDIER\b"))
    verifier_page(page)
    page.locator("#tuiles").get_by_role("link", name="Organismes partenaires", exact=True).click()
    page.get_by_role("link", name="Enregistrer un organisme partenaire").first.click()

    page.get_by_label(re.compile(r"^\s*Raison sociale")).fill("Commune de Belcastel")
    page.get_by_label(re.compile(r"^\s*SIRET")).fill("211 201 999 00018")  # clé fausse
    page.get_by_label(re.compile(r"^\s*Type d'organisme")).select_option(label="Commune")
    page.get_by_label(re.compile(r"^\s*Code postal")).fill("12390")
    page.get_by_label(re.compile(r"^\s*Commune\s*$")).fill("Belcastel")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    # Le résumé des erreurs reçoit le focus et mène au champ.
    expect(page.locator("#resume-erreurs")).to_be_focused()
    expect(page.locator("#resume-erreurs").get_by_role("link")).to_have_text(
        re.compile(r"^SIRET : Ce SIRET n'est pas valide")
    )
    expect(page).to_have_title(re.compile(r"^Erreur : "))
    verifier_page(page)
    assert not Organisme.objects.exists()

    page.get_by_label(re.compile(r"^\s*SIRET")).fill("211 201 999 00011")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(page.get_by_text("L'organisme Commune de Belcastel est enregistré.")).to_be_visible()
    verifier_page(page)
    organisme = Organisme.objects.get(siret=SIRET)

    # Formaliser la convention depuis la fiche de l'organisme, avec un nouvel administrateur.
    page.get_by_role("link", name="Formaliser une convention").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Formaliser une convention")
    verifier_page(page)
    page.get_by_label(re.compile(r"^\s*Libellé")).fill("Convention Mon Compte Partenaire — Belcastel")
    # Comme une personne : un clic sur le libellé, et la case cochée se voit.
    page.get_by_text("CDAP T1", exact=True).click()
    page.get_by_text("AFAS-DECLARER", exact=True).click()
    expect(page.get_by_label("CDAP T1", exact=True)).to_be_checked()
    expect(page.get_by_label("AFAS-DECLARER", exact=True)).to_be_checked()
    page.get_by_text("Un nouveau compte", exact=True).click()  # le libellé DSFR couvre la case
    page.get_by_label(re.compile(r"^\s*Nom\b")).fill("Serres")
    page.get_by_label(re.compile(r"^\s*Prénom")).fill("Nadia")
    page.get_by_label(re.compile(r"^\s*Adresse mail")).fill(EMAIL_ADMINISTRATEUR)
    page.get_by_label(re.compile(r"^\s*Confirmation de l'adresse mail")).fill(EMAIL_ADMINISTRATEUR)
    page.get_by_role("button", name="Formaliser la convention").click()
    expect(page.get_by_text(re.compile(r"est formalisée \(état : En cours\)"))).to_be_visible()
    verifier_page(page)
    convention = Convention.objects.get(organisme=organisme)
    assert convention.etat == EtatConvention.EN_COURS
    administrateur = Utilisateur.objects.get(email=EMAIL_ADMINISTRATEUR)

    # Valider (page de confirmation, puis confirmation).
    page.get_by_role("link", name="Valider la convention").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Valider la convention")
    verifier_page(page)
    page.get_by_role("button", name="Valider la convention").click()
    expect(page.get_by_text(re.compile(r"La convention est validée le \d{2}/\d{2}/\d{4}"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"Validée le \d{2}/\d{2}/\d{4}")).first).to_be_visible()
    verifier_page(page)
    page.screenshot(path=str(CAPTURES / "e2e-convention-detail.png"), full_page=True)
    page.get_by_role("button", name="Déconnexion").click()

    # Le nouvel administrateur lit ses deux courriels et se connecte pour la première fois.
    page.goto("/dev/courriels/")
    corps = lire_courriel(page, destinataire=EMAIL_ADMINISTRATEUR, sujet=SUJET_IDENTIFIANT)
    identifiant = re.search(r"Votre identifiant : (\S+)", corps).group(1)
    assert identifiant == administrateur.identifiant
    page.go_back()
    corps = lire_courriel(page, destinataire=EMAIL_ADMINISTRATEUR, sujet=SUJET_PROVISOIRE)
    provisoire = re.search(r"Votre mot de passe provisoire : (\S+)", corps).group(1)

    se_connecter(page, identifiant, provisoire)
    choisir_mot_de_passe(page, MOT_DE_PASSE_ADMINISTRATEUR)
    # Administrateur partenaire : la double authentification est exigée, l'enrôlement d'abord.
    expect(page.get_by_role("heading", level=1)).to_have_text("Activer la double authentification")
    secret = page.locator("#secret-otp").inner_text().replace(" ", "")
    cle = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.get_by_label(re.compile(r"^\s*Code à usage unique")).fill(f"{totp(cle):06d}")
    page.get_by_role("button", name="Activer").click()
    page.get_by_role("link", name="J'ai noté mes codes, continuer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Bienvenue Nadia SERRES\b"))
    page.locator("#tuiles").get_by_role("link", name="Gestion des habilitations", exact=True).click()
    ligne = page.get_by_role("row").filter(has_text="Convention Mon Compte Partenaire — Belcastel")
    expect(ligne).to_have_count(1)
    expect(ligne).to_contain_text("Commune de Belcastel")
    expect(ligne).to_contain_text(re.compile(r"Validée le \d{2}/\d{2}/\d{4}"))
    verifier_page(page)
    page.screenshot(path=str(CAPTURES / "e2e-conventions-administrateur.png"), full_page=True)

    # « Choisir… » déplie les actions ; le PDF se télécharge sous le nom convention-<id>.pdf.
    ligne.get_by_text("Choisir…").click()
    with page.expect_download() as telechargement:
        ligne.get_by_role("link", name="Télécharger PDF").click()
    assert telechargement.value.suggested_filename == f"convention-{convention.pk}.pdf"
