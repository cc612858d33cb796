"""Transmission et instruction dans Chromium : l'approbateur transmet d'un double clic sur
« Transmettre à la Caf » (une seule transmission, un seul courriel) et obtient son récépissé PDF
(empreinte SHA-256) ; l'agent de la Caf trouve la déclaration dans « Déclarations reçues » (menu
AFAS), la filtre, l'ouvre en lecture seule, essaie de la renvoyer sans commentaire (message sous
le champ), la renvoie ; le FDA corrige, l'approbateur retransmet (récépissé n° 2), l'agent
valide. ``verifier_page`` après chaque navigation (axe à 1280 et 320 px, débordements, erreurs
JavaScript relevées par la fixture ``navigateur``)."""

import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from afas.declarations import services as services_saisie
from afas.enums import EtatDeclaration, RoleAfas
from afas.models import Declaration, DonneesActivite, Recepisse
from portail.models import Courriel
from tests import factories
from tests.afas.conftest import creer_activite, creer_lieu
from tests.afas.declarations.fabrique_instruction import CHIFFRES_LIGNE, creer_declaration, declarant_avec_role
from tests.e2e.test_afas import connecter, ouvrir_menu_afas, verifier_page

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def nouvelle_page(page, live_server):
    return page.context.browser.new_context(
        base_url=live_server.url, locale="fr-FR", timezone_id="Europe/Paris"
    ).new_page()


def transmettre(page, declaration) -> None:
    page.goto(f"/afas/declarations/{declaration.pk}/")
    verifier_page(page)
    page.get_by_role("button", name="Transmettre à la Caf").click()
    verifier_page(page)
    expect(page.get_by_text(re.compile(r"La déclaration est transmise à la Caf\. Récépissé n°"))).to_be_visible()


def texte_du_recepisse(page, recepisse: Recepisse) -> str:
    """Le PDF tel que le navigateur le reçoit (avec la session de la page)."""
    reponse = page.request.get(f"/afas/recepisses/{recepisse.pk}/pdf/")
    assert reponse.status == 200 and reponse.headers["content-type"] == "application/pdf"
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(reponse.body())).pages).split())


def test_transmettre_recevoir_renvoyer_valider(navigateur, live_server):
    page = navigateur
    caf = factories.CafFactory()
    convention = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))
    agent = factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=caf)
    administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", convention=convention)
    factories.nommer_administrateur(convention, administrateur)
    activite = creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="EQ1")
    creer_lieu(activite, "École de Lioujas")
    approbateur = declarant_avec_role(
        convention, activite, RoleAfas.APPROBATEUR, administrateur=administrateur, agent_caf=agent, nom="Ferrand"
    )
    fda = declarant_avec_role(convention, activite, RoleAfas.FDA, administrateur=administrateur, nom="Albouy")
    declaration = creer_declaration(activite)

    # L'approbateur transmet d'un double clic : une seule transmission, un seul courriel.
    connecter(page, approbateur)
    page.goto(f"/afas/declarations/{declaration.pk}/")
    verifier_page(page)
    page.get_by_role("button", name="Transmettre à la Caf").dblclick()
    expect(
        page.get_by_text(re.compile(r"(La déclaration est transmise|Cette déclaration a déjà été transmise) à la Caf"))
    ).to_be_visible()
    verifier_page(page)
    assert Courriel.objects.filter(modele="afas_declaration_transmise").count() == 1
    expect(page.get_by_role("link", name=re.compile(r"Récépissé n° 1 \(PDF\)"))).to_be_visible()
    recepisse = Recepisse.objects.get()
    assert recepisse.empreinte in texte_du_recepisse(page, recepisse)

    # L'agent de la Caf : la file, ses filtres, la déclaration en lecture seule.
    page_agent = nouvelle_page(page, live_server)
    connecter(page_agent, agent)
    ouvrir_menu_afas(page_agent, "Déclarations reçues")
    expect(page_agent.get_by_role("heading", level=1)).to_have_text("Déclarations reçues")
    expect(page_agent.get_by_text("1 déclaration — page 1 sur 1")).to_be_visible()
    page_agent.get_by_label(re.compile(r"^\s*Type de déclaration")).select_option(label="Prévisionnel")
    page_agent.get_by_role("button", name="Filtrer").click()
    verifier_page(page_agent)
    expect(page_agent.get_by_text("Aucun résultat ne correspond à ces filtres")).to_be_visible()
    page_agent.get_by_label(re.compile(r"^\s*Type de déclaration")).select_option(label="Réel")
    page_agent.get_by_label(re.compile(r"^\s*Exercice")).fill("2026")
    page_agent.get_by_role("button", name="Filtrer").click()
    verifier_page(page_agent)
    page_agent.get_by_role("link", name=re.compile("^Ouvrir")).click()
    verifier_page(page_agent)
    expect(page_agent.get_by_text(recepisse.empreinte)).to_be_visible()
    expect(page_agent.get_by_text("vérifiée", exact=True)).to_be_visible()
    assert recepisse.empreinte in texte_du_recepisse(page_agent, recepisse)

    # Renvoyer sans commentaire : le message sous le champ, rien ne change ; puis avec.
    page_agent.get_by_role("button", name="Renvoyer pour correction").click()
    verifier_page(page_agent)
    expect(page_agent.locator("#id_commentaire-desc-error, .fr-error-text").first).to_contain_text(
        "Le commentaire est obligatoire pour renvoyer la déclaration."
    )
    assert Declaration.objects.get(pk=declaration.pk).etat == EtatDeclaration.TRANSMISE
    page_agent.get_by_label(re.compile(r"^\s*Commentaire pour les déclarants")).fill(
        "Les heures du mercredi sont à revoir."
    )
    page_agent.get_by_role("button", name="Renvoyer pour correction").click()
    verifier_page(page_agent)
    expect(page_agent.get_by_text("La déclaration est renvoyée pour correction")).to_be_visible()
    expect(page_agent.get_by_text("Aucune déclaration transmise n'attend l'instruction de votre Caf.")).to_be_visible()

    # Le FDA corrige sa ligne (premier enregistrement : la saisie reprend, complète elle attend
    # l'approbateur), l'approbateur retransmet : récépissé n° 2.
    ligne = DonneesActivite.objects.get(declaration=declaration)
    valeurs = {**CHIFFRES_LIGNE, "heures_mercredi": Decimal("640.00")}
    services_saisie.donnees_activite_enregistrer(par=fda, ligne=ligne, version=ligne.version, valeurs=valeurs)
    assert Declaration.objects.get(pk=declaration.pk).etat == EtatDeclaration.A_APPROUVER
    transmettre(page, declaration)
    assert Recepisse.objects.filter(declaration=declaration).count() == 2

    # L'agent valide.
    ouvrir_menu_afas(page_agent, "Déclarations reçues")
    page_agent.get_by_role("link", name=re.compile("^Ouvrir")).click()
    verifier_page(page_agent)
    expect(page_agent.get_by_text("Récépissé n° 2 (PDF)")).to_be_visible()
    expect(page_agent.get_by_role("cell", name="Les heures du mercredi sont à revoir.")).to_be_visible()
    page_agent.locator("label", has_text="Je confirme la validation").click()
    page_agent.get_by_role("button", name="Valider", exact=True).click()
    verifier_page(page_agent)
    expect(page_agent.get_by_text("La déclaration est validée")).to_be_visible()
    assert Declaration.objects.get(pk=declaration.pk).etat == EtatDeclaration.VALIDEE
