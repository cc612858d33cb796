"""La chaîne entière d'une déclaration dans Chromium (issue 13), chacun dans son navigateur :
l'agent de la Caf lance l'appel ; le FDA puis le FDF saisissent leur part ; l'approbateur
transmet et ouvre son récépissé (l'empreinte SHA-256 y est) ; l'agent renvoie pour correction
avec un commentaire ; le FDA corrige ; l'approbateur transmet à nouveau (récépissé n° 2) ;
l'agent valide. ``verifier_page`` après chaque navigation (axe-core à 1280 et 320 px,
débordements, erreurs JavaScript relevées par la fixture ``navigateur``)."""

import datetime
import io
import re

import pytest
from pypdf import PdfReader

from afas.enums import EtatDeclaration, RoleAfas
from afas.models import Declaration, Recepisse
from portail.models import Courriel
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.conftest import creer_activite, creer_lieu
from tests.afas.declarations.fabrique_instruction import declarant_avec_role
from tests.e2e.test_afas import connecter, ouvrir_menu_afas, verifier_page

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIGNE = {
    "Heures réalisées": "1200",
    "Heures facturées": "1300",
    "Heures du mercredi": "200",
    "Nombre d'enfants inscrits": "20",
    "Jours d'ouverture": "100",
    "Amplitude d'ouverture": "8",
}
FINANCIER = {
    "64 — Charges de personnel": "50000",
    "60 — Achats": "1000",
    "70 — Ventes": "20000",
    "74 — Subventions": "30000",
    "Participations familiales": "15000",
    "Taux de ressortissants": "85",
}


def etat(declaration) -> str:
    return Declaration.objects.get(pk=declaration.pk).etat


def remplir(page, champs: dict[str, str]) -> None:
    for libelle, valeur in champs.items():
        page.get_by_label(re.compile(rf"^\s*{re.escape(libelle)}")).fill(valeur)
    page.get_by_role("button", name="Enregistrer").click()
    verifier_page(page)


def ouvrir_la_declaration(page, declaration) -> None:
    page.goto(f"/afas/declarations/{declaration.pk}/")
    verifier_page(page)


def transmettre(page, declaration, numero: int) -> Recepisse:
    ouvrir_la_declaration(page, declaration)
    page.get_by_role("button", name="Transmettre à la Caf").click()
    verifier_page(page)
    expect(page.get_by_text(f"La déclaration est transmise à la Caf. Récépissé n° {numero}")).to_be_visible()
    return Recepisse.objects.get(declaration=declaration, numero=numero)


def ouvrir_le_recepisse(page, recepisse: Recepisse) -> str:
    """Suit le lien du récépissé de la page de la déclaration : le PDF reçu par le navigateur, lu."""
    lien = page.get_by_role("link", name=re.compile(rf"^Récépissé n° {recepisse.numero} \(PDF\)"))
    reponse = page.request.get(lien.get_attribute("href"))
    assert reponse.status == 200 and reponse.headers["content-type"] == "application/pdf"
    assert reponse.headers["content-disposition"].startswith("inline;")
    texte = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(reponse.body())).pages)
    return " ".join(texte.split())


def test_chaine_complete_d_une_declaration(navigateur, live_server):
    jour = aujourdhui()
    caf = factories.CafFactory()
    agent = factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=caf)
    convention = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))
    administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", convention=convention)
    factories.nommer_administrateur(convention, administrateur)
    activite = creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="ALSH120001")
    creer_lieu(activite, "École de Lioujas")
    roles = {"administrateur": administrateur, "agent_caf": agent}
    fda = declarant_avec_role(convention, activite, RoleAfas.FDA, nom="Ferrand", **roles)
    fdf = declarant_avec_role(convention, activite, RoleAfas.FDF, nom="Albouy", **roles)
    approbateur = declarant_avec_role(convention, activite, RoleAfas.APPROBATEUR, nom="Rouquette", **roles)

    def navigateur_de(user):
        page = navigateur.context.browser.new_context(
            base_url=live_server.url, locale="fr-FR", timezone_id="Europe/Paris"
        ).new_page()
        connecter(page, user)
        return page

    # 1. L'agent de la Caf lance l'appel (prévisionnel) : la tâche crée la déclaration.
    page_agent = navigateur
    connecter(page_agent, agent)
    ouvrir_menu_afas(page_agent, "Appels de déclaration")
    page_agent.get_by_role("link", name="Lancer un appel de déclaration").click()
    verifier_page(page_agent)
    page_agent.get_by_label(re.compile(r"^\s*Type de déclaration")).select_option(label="Prévisionnel")
    page_agent.get_by_label(re.compile(r"^\s*Date limite de transmission")).fill(
        (jour + datetime.timedelta(days=30)).isoformat()
    )
    page_agent.get_by_role("button", name="Voir les activités concernées").click()
    verifier_page(page_agent)
    page_agent.get_by_role("button", name=re.compile(r"^Confirmer le lancement")).click()
    expect(page_agent.get_by_text("Lancement terminé")).to_be_visible()
    verifier_page(page_agent)
    declaration = Declaration.objects.get(activite=activite)
    assert declaration.etat == EtatDeclaration.A_SAISIR

    # 2. Le FDA saisit la ligne de l'École, le FDF les données financières.
    page_fda = navigateur_de(fda)
    page_fda.goto("/afas/mes-declarations/")
    verifier_page(page_fda)
    page_fda.get_by_role("link", name=re.compile("^Ouvrir")).click()
    verifier_page(page_fda)
    page_fda.get_by_role("link", name=re.compile("^Saisir")).click()
    verifier_page(page_fda)
    remplir(page_fda, LIGNE)
    page_fdf = navigateur_de(fdf)
    ouvrir_la_declaration(page_fdf, declaration)
    page_fdf.get_by_role("link", name="Saisir les données financières").click()
    verifier_page(page_fdf)
    remplir(page_fdf, FINANCIER)
    expect(page_fdf.get_by_text("Rien ne manque plus : la déclaration attend l'approbateur.")).to_be_visible()
    assert etat(declaration) == EtatDeclaration.A_APPROUVER

    # 3. L'approbateur transmet et ouvre son récépissé : l'empreinte y est, en entier.
    page_approbateur = navigateur_de(approbateur)
    premier = transmettre(page_approbateur, declaration, 1)
    assert premier.empreinte in ouvrir_le_recepisse(page_approbateur, premier)
    assert Courriel.objects.filter(modele="afas_declaration_transmise", destinataire=approbateur.email).count() == 1

    # 4. L'agent la trouve dans « Déclarations reçues » et la renvoie pour correction.
    ouvrir_menu_afas(page_agent, "Déclarations reçues")
    page_agent.get_by_role("link", name=re.compile("^Ouvrir")).click()
    verifier_page(page_agent)
    expect(page_agent.get_by_text(premier.empreinte)).to_be_visible()
    page_agent.get_by_label(re.compile(r"^\s*Commentaire pour les déclarants")).fill(
        "Les heures facturées de l'École sont à revoir."
    )
    page_agent.get_by_role("button", name="Renvoyer pour correction").click()
    verifier_page(page_agent)
    expect(page_agent.get_by_text("La déclaration est renvoyée pour correction")).to_be_visible()
    assert etat(declaration) == EtatDeclaration.RENVOYEE
    assert Courriel.objects.filter(modele="afas_declaration_renvoyee").count() == 3  # FDA, FDF, approbateur

    # 5. Le FDA corrige sa ligne : la saisie reprend, complète elle attend l'approbateur.
    ouvrir_la_declaration(page_fda, declaration)
    # Le commentaire de la Caf, en tête de la page (et dans l'historique).
    expect(page_fda.get_by_text("Les heures facturées de l'École sont à revoir.").first).to_be_visible()
    page_fda.get_by_role("link", name=re.compile("^Saisir")).click()
    verifier_page(page_fda)
    remplir(page_fda, {"Heures facturées": "1250"})
    assert etat(declaration) == EtatDeclaration.A_APPROUVER

    # 6. L'approbateur transmet à nouveau : récépissé n° 2, empreinte nouvelle.
    second = transmettre(page_approbateur, declaration, 2)
    assert second.empreinte != premier.empreinte
    texte = ouvrir_le_recepisse(page_approbateur, second)
    assert second.empreinte in texte and "1250.00" in texte

    # 7. L'agent valide.
    ouvrir_menu_afas(page_agent, "Déclarations reçues")
    page_agent.get_by_role("link", name=re.compile("^Ouvrir")).click()
    verifier_page(page_agent)
    expect(page_agent.get_by_text("Récépissé n° 2 (PDF)")).to_be_visible()
    page_agent.locator("label", has_text="Je confirme la validation").click()
    page_agent.get_by_role("button", name="Valider", exact=True).click()
    verifier_page(page_agent)
    expect(page_agent.get_by_text("La déclaration est validée")).to_be_visible()
    assert etat(declaration) == EtatDeclaration.VALIDEE
    assert Courriel.objects.filter(modele="afas_declaration_validee", destinataire=approbateur.email).count() == 1
    etats = list(Declaration.objects.get(pk=declaration.pk).evenements.values_list("etat_apres", flat=True))
    assert etats == [
        EtatDeclaration.A_SAISIR,  # créée par l'appel
        EtatDeclaration.EN_COURS,
        EtatDeclaration.A_APPROUVER,
        EtatDeclaration.TRANSMISE,
        EtatDeclaration.RENVOYEE,
        EtatDeclaration.EN_COURS,
        EtatDeclaration.A_APPROUVER,
        EtatDeclaration.TRANSMISE,
        EtatDeclaration.VALIDEE,
    ]
