"""Parcours du financement AFAS dans Chromium (issue 14) : un déclarant ouvre les statistiques
d'une activité et y voit le graphique (SVG, role="img", titre et description) et le tableau ;
puis le montant d'une déclaration et l'historique. L'agent de la Caf ouvre le financement de
l'appel, les paramètres (et en adapte un), le label Plan mercredi et les statistiques. Chaque
page passe ``verifier_page`` (axe-core sans violation grave ou critique à 1280 et 320 px, rien
ne déborde) ; les erreurs JavaScript sont relevées par la fixture ``navigateur``."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from afas import services as services_afas
from afas.enums import RoleAfas
from afas.financement import statistiques
from afas.models import ParametreFinancement
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.conftest import creer_activite
from tests.afas.declarations.fabriques_financement import creer_appel, creer_declaration, transmettre
from tests.e2e.test_afas import connecter, verifier_page

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIGNE = {
    "heures_realisees": "10000",
    "heures_mercredi": "800",
    "enfants_inscrits": 50,
    "jours_ouverture": 100,
    "amplitude_ouverture": "10",
}


def test_declarant_et_agent_lisent_le_financement(navigateur, live_server):
    page = navigateur
    caf = factories.CafFactory()
    convention = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))
    agent = factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=caf)
    administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", convention=convention)
    factories.nommer_administrateur(convention, administrateur)
    declarant = factories.creer_utilisateur(nom="Ferrand", prenom="Paul", convention=convention)
    factories.habiliter(declarant, convention, "AFAS-DECLARER", responsable=administrateur)
    lioujas = creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="EQ1")
    services_afas.habilitation_afas_affecter(
        par=administrateur, utilisateur=declarant, role=RoleAfas.FDF, date_ouverture=aujourdhui(), activites=[lioujas]
    )
    appel = creer_appel(caf)
    for i, charges in enumerate(("30000", "38000", "42000", "45000", "90000")):
        pair = creer_activite(convention.organisme, f"Accueil de loisirs {i}", numero=f"EQ-P{i}")
        transmettre(
            creer_declaration(pair, appel=appel, lignes=[LIGNE], charges=charges, ressortissants="85"), par=declarant
        )
    previsionnel = transmettre(
        creer_declaration(lioujas, appel=appel, lignes=[LIGNE], charges="40000", ressortissants="90"), par=declarant
    )
    creer_declaration(lioujas, exercice=2024, lignes=[LIGNE], charges="36000", ressortissants="90")
    statistiques.statistiques_calculer()

    # Le déclarant : statistiques (graphique et tableau), montant, historique.
    connecter(page, declarant)
    page.goto(f"/afas/activites/{lioujas.pk}/statistiques/")
    verifier_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Statistiques de Accueil de loisirs Lioujas")
    graphique = page.get_by_role("img", name=re.compile("Indicateurs de Accueil de loisirs Lioujas"))
    expect(graphique).to_be_visible()
    expect(graphique.locator("rect").first).to_be_attached()
    tableau = page.get_by_role("table", name="Indicateurs de l'activité, de sa Caf et de la nation")
    expect(tableau).to_be_visible()
    expect(tableau.get_by_role("row", name=re.compile("^Prix de revient horaire 4,00"))).to_be_visible()
    expect(page.get_by_text(re.compile("Références calculées le"))).to_be_visible()

    page.goto(f"/afas/declarations/{previsionnel.pk}/financement/")
    verifier_page(page)
    expect(page.get_by_text(re.compile("Figé à la transmission le"))).to_be_visible()
    expect(page.get_by_role("table", name="Calcul du droit, étape par étape")).to_be_visible()
    expect(page.get_by_role("table", name="Avances sur le droit prévisionnel")).to_be_visible()

    page.get_by_role("link", name="Historique de l'activité").click()
    verifier_page(page)
    expect(page.get_by_role("table", name="Comparaison annuelle de Accueil de loisirs Lioujas")).to_be_visible()
    expect(page.get_by_text(re.compile("SHA-256 [0-9a-f]{16}"))).to_be_visible()
    page.get_by_role("link", name="Statistiques de l'activité").click()
    verifier_page(page)

    # L'agent de la Caf : financement de l'appel, paramètres, Plan mercredi, statistiques.
    page.context.clear_cookies()
    connecter(page, agent)
    page.goto(reverse("afas:appel_financement", args=[appel.pk]))
    verifier_page(page)
    expect(page.get_by_text(re.compile("Total des montants figés"))).to_be_visible()
    expect(page.get_by_text("Hors norme").first).to_be_visible()
    page.locator("#contenu").get_by_role("link", name="Paramètres de financement").click()
    verifier_page(page)
    page.get_by_role("spinbutton", name="Exercice").fill("2025")
    page.get_by_label("Type d'activité", exact=True).select_option(label="EAJE")
    page.get_by_role("button", name="Filtrer").click()
    verifier_page(page)
    page.get_by_role("link", name="Adapter pour ma Caf").click()
    verifier_page(page)
    page.get_by_label(re.compile(r"^\s*Prix plafond")).fill("9,10")
    page.get_by_label(re.compile(r"^\s*Source")).fill("Délibération du conseil d'administration")
    page.get_by_role("button", name="Enregistrer").click()
    verifier_page(page)
    expect(page.get_by_text("Les paramètres EAJE 2025 de votre Caf sont enregistrés.")).to_be_visible()
    assert ParametreFinancement.objects.get(caf=caf).prix_plafond == Decimal("9.10")

    page.goto(f"/afas/activites/{lioujas.pk}/historique/")
    verifier_page(page)
    page.get_by_role("link", name="Label Plan mercredi").click()
    verifier_page(page)
    page.get_by_label("Exercice").select_option(str(aujourdhui().year))
    page.locator("label", has_text="Labellisée").first.click()
    page.get_by_role("button", name="Enregistrer").click()
    verifier_page(page)
    expect(page.get_by_text(re.compile("Label Plan mercredi posé"))).to_be_visible()
    page.get_by_role("link", name="Statistiques de l'activité").click()
    verifier_page(page)
    expect(page.get_by_role("img", name=re.compile("Indicateurs de"))).to_be_visible()
