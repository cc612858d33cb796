"""Parcours des guides AFAS dans Chromium : un utilisateur du groupe AFAS-DECLARER reçoit le rôle
FDA sur deux lieux d'implantation et le rôle d'approbateur sur deux activités ; l'approbateur
attend la Caf (« * ») ; l'agent de la Caf le valide ; la recherche montre tout Actif ; un FDA
supprimé passe en Historique et son lieu en Non attribué.

Après chaque navigation (et chaque liste rafraîchie par htmx), ``verifier_page(page)`` est
appelée : un seul titre, puis la garde commune (``tests/e2e/verification.py`` : axe-core sans
violation grave ou critique à 1280 et 320 px, rien ne déborde, cases DSFR visibles) ; les erreurs
JavaScript sont relevées par la fixture ``navigateur``."""

import re

import pytest

from afas.enums import NatureActivite, TypeActivite
from afas.models import HabilitationAfas
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.conftest import creer_activite, creer_lieu
from tests.e2e.test_habilitations import connecter_avec_double_authentification
from tests.e2e.verification import verifier_page as verifier_garde_commune

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def connecter(page, user) -> None:
    connecter_avec_double_authentification(page, user)
    expect(page).not_to_have_url(re.compile("/connexion/"))
    verifier_page(page)


def verifier_page(page) -> None:
    expect(page.locator("h1")).to_have_count(1)
    verifier_garde_commune(page)


def ouvrir_menu_afas(page, lien: str) -> None:
    """Suit le lien de la rubrique « Aides financières d'action sociale » du menu (par son adresse :
    le dépliage du menu latéral est l'affaire du JavaScript du DSFR, pas de ce parcours)."""
    menu = page.get_by_role("navigation", name="Menu du portail")
    expect(menu.get_by_role("button", name="Aides financières d'action sociale")).to_have_count(1)
    page.goto(menu.get_by_role("link", name=lien, exact=True, include_hidden=True).get_attribute("href"))
    verifier_page(page)


def rechercher(page, etat: str) -> None:
    page.locator("label", has_text=re.compile(rf"^\s*{etat}\s*$")).click()
    page.get_by_role("button", name="Rechercher", exact=True).click()
    verifier_page(page)


def habiliter(page, *, role: str, portee: str, cases: list[str], bouton: str) -> None:
    page.get_by_label(re.compile(r"^\s*Pour l'utilisateur")).select_option(label="FERRAND Paul")
    page.get_by_label(re.compile(r"^\s*Au rôle de")).select_option(label=role)
    page.locator("label", has_text=portee).click()
    page.get_by_role("button", name=re.compile(r"^\s*Afficher les")).click()  # htmx : la liste seule
    expect(page.locator("#portee label", has_text=cases[0])).to_be_visible()
    verifier_page(page)
    for case in cases:
        page.locator("#portee label", has_text=case).click()
    page.get_by_role("button", name=bouton, exact=True).click()
    verifier_page(page)


def test_parcours_habilitations_afas(navigateur, live_server):
    page = navigateur
    caf = factories.CafFactory()
    convention = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))
    agent = factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=caf)
    administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", convention=convention)
    factories.nommer_administrateur(convention, administrateur)
    declarant = factories.creer_utilisateur(nom="Ferrand", prenom="Paul", convention=convention)
    # L'ajout au groupe AFAS-DECLARER a son propre parcours (test_habilitations.py).
    factories.habiliter(declarant, convention, "AFAS-DECLARER", responsable=administrateur)
    lioujas = creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="EQ1")
    creer_activite(convention.organisme, "CLSH de Bozouls", numero="EQ2")
    creer_lieu(lioujas, "École de Lioujas")
    creer_lieu(lioujas, "Salle des fêtes de Lioujas")
    creer_activite(convention.organisme, "Crèche Les Lutins", numero="EQ3", type_activite=TypeActivite.EAJE)
    assert NatureActivite.EXTRASCOLAIRE == "EXTRA"

    # L'administrateur : FDA sur les deux lieux, puis approbateur sur les deux ALSH.
    connecter(page, administrateur)
    ouvrir_menu_afas(page, "Administration des profils")
    expect(page.get_by_role("heading", level=1)).to_have_text("HABILITATIONS D'ACTION SOCIALE")
    page.get_by_role("link", name="Affecter un rôle à un utilisateur habilité").click()
    verifier_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("HABILITER UN UTILISATEUR")
    habiliter(
        page,
        role="Fournisseur de données d'activité",
        portee="des lieux d'implantation",
        cases=["École de Lioujas", "Salle des fêtes de Lioujas"],
        bouton="Enregistrer",
    )
    expect(page.get_by_text("Les habilitations ont été créées avec succès.")).to_be_visible()
    page.get_by_label(re.compile(r"^\s*Type d'activité")).select_option(label="ALSH")
    habiliter(
        page,
        role="Approbateur",
        portee="des activités",
        cases=["Sélectionner toutes les activités"],
        bouton="Enregistrer et quitter",
    )
    for activite in ("Accueil de loisirs Lioujas", "CLSH de Bozouls"):
        expect(
            page.get_by_text(
                "L'habilitation de cet utilisateur au rôle d'approbateur pour l'équipement/service "
                f"{activite}, est en cours de validation par la Caf."
            )
        ).to_be_visible()
    rechercher(page, "Inactif")
    expect(page.get_by_text("(*) En attente de validation par votre CAF.")).to_be_visible()
    expect(page.get_by_role("cell", name=f"{aujourdhui():%d/%m/%Y}*")).to_have_count(2)
    assert HabilitationAfas.objects.en_attente().count() == 2

    # L'agent de la Caf valide les deux approbateurs, dans son propre navigateur.
    administrateur_page, page = (
        page,
        page.context.browser.new_context(
            base_url=live_server.url, locale="fr-FR", timezone_id="Europe/Paris"
        ).new_page(),
    )
    connecter(page, agent)
    ouvrir_menu_afas(page, "Approbateurs à valider")
    for _ in range(2):
        page.get_by_role("link", name="Valider", exact=True).first.click()
        verifier_page(page)
        page.locator("label", has_text="Je confirme la validation").click()
        page.get_by_role("button", name="Valider", exact=True).click()
        verifier_page(page)
        expect(page.get_by_text("est validé")).to_be_visible()
    expect(page.get_by_text("Aucun approbateur n'attend la validation de votre Caf.")).to_be_visible()

    # L'administrateur : tout est Actif ; un FDA supprimé passe en Historique, son lieu en Non attribué.
    page = administrateur_page
    ouvrir_menu_afas(page, "Administration des profils")
    rechercher(page, "Actif")
    expect(page.get_by_role("table", name="Activité : Accueil de loisirs Lioujas")).to_contain_text("Approbateur")
    expect(page.get_by_role("table", name="Activité : CLSH de Bozouls")).to_contain_text("Approbateur")
    salle = page.get_by_role("table", name="Lieu d'implantation : Salle des fêtes de Lioujas")
    expect(salle).to_contain_text("Fournisseur de données d'activité")
    expect(page.get_by_role("table", name="Lieu d'implantation : École de Lioujas")).to_be_visible()
    salle.get_by_role("link", name=re.compile("^Supprimer")).click()
    verifier_page(page)
    page.locator("label", has_text="Je confirme la suppression").click()
    page.get_by_role("button", name="Supprimer", exact=True).click()
    verifier_page(page)
    expect(page.get_by_text("elle figure désormais dans l'Historique")).to_be_visible()
    rechercher(page, "Historique")
    expect(page.get_by_role("table", name="Lieu d'implantation : Salle des fêtes de Lioujas")).to_contain_text(
        f"{aujourdhui():%d/%m/%Y}"
    )
    rechercher(page, "Non attribué")
    expect(page.get_by_role("table", name="Lieu d'implantation : Salle des fêtes de Lioujas")).to_contain_text(
        "Non attribué"
    )
    expect(page.get_by_role("table", name="Lieu d'implantation : École de Lioujas")).to_have_count(0)
    page.screenshot(path="/tmp/afas_non_attribue.png", full_page=True)
