"""Parcours des déclarants dans Chromium (issue 13, saisie) : l'Accueil AFAS des guides, « Mes
déclarations » filtrée, la page d'une déclaration ; le FDA du lieu École saisit sa ligne (un refus
sous son champ, puis un brouillon enregistré), le FDF les données financières, et l'approbateur voit
ce qui manque encore. ``verifier_page`` à chaque page (axe-core à 1280 et 320 px, débordements,
erreurs JavaScript)."""

import re

import pytest

from afas import services as services_afas
from afas.enums import EtatDeclaration, RoleAfas, TypeDeclaration
from afas.models import DonneesActivite, DonneesFinancieres
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.conftest import creer_activite, creer_lieu
from tests.afas.declarations.aides_saisie import creer_declaration
from tests.e2e.test_afas import connecter, verifier_page

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _declarant(convention, administrateur, nom, prenom):
    user = factories.creer_utilisateur(nom=nom, prenom=prenom, convention=convention)
    factories.habiliter(user, convention, "AFAS-DECLARER", responsable=administrateur)
    return user


def test_parcours_saisie_des_declarants(navigateur, live_server):
    page = navigateur
    caf = factories.CafFactory()
    convention = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))
    agent = factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=caf)
    administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", convention=convention)
    factories.nommer_administrateur(convention, administrateur)
    lioujas = creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="EQ1")
    ecole = creer_lieu(lioujas, "École de Lioujas")
    creer_lieu(lioujas, "Salle des fêtes de Lioujas")
    creche = creer_activite(convention.organisme, "Crèche Les Lutins", numero="EQ3", type_activite="EAJE")
    fda = _declarant(convention, administrateur, "Ferrand", "Paul")
    fdf = _declarant(convention, administrateur, "Albouy", "Céline")
    approbateur = _declarant(convention, administrateur, "Rouquette", "Anne")
    jour = aujourdhui()
    affecter = services_afas.habilitation_afas_affecter
    affecter(par=administrateur, utilisateur=fda, role=RoleAfas.FDA, date_ouverture=jour, lieux=[ecole])
    affecter(par=administrateur, utilisateur=fda, role=RoleAfas.FDA, date_ouverture=jour, activites=[creche])
    affecter(par=administrateur, utilisateur=fdf, role=RoleAfas.FDF, date_ouverture=jour, activites=[lioujas])
    (h,) = affecter(
        par=administrateur, utilisateur=approbateur, role=RoleAfas.APPROBATEUR, date_ouverture=jour, activites=[lioujas]
    )
    services_afas.approbateur_valider(par=agent, validation=h.validation)
    declaration = creer_declaration(lioujas)
    creer_declaration(creche, type_declaration=TypeDeclaration.REEL, exercice=jour.year - 1)

    # Le FDA : Accueil AFAS, Mes déclarations, filtres.
    connecter(page, fda)
    page.goto("/afas/")
    verifier_page(page)
    expect(page.get_by_role("heading", level=2, name="Bienvenue")).to_be_visible()
    expect(page.get_by_role("heading", name="Déclarer en trois étapes")).to_be_visible()
    page.get_by_role("heading", name="Accès direct").locator("..").get_by_role("link", name="Mes déclarations").click()
    verifier_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes déclarations")
    expect(page.get_by_text("2 déclarations — page 1 sur 1")).to_be_visible()
    page.get_by_label(re.compile(r"^\s*Type de déclaration")).select_option(label="Réel")
    page.get_by_role("button", name="Rechercher").click()
    verifier_page(page)
    expect(page.get_by_text("1 déclaration — page 1 sur 1")).to_be_visible()
    page.screenshot(path="/tmp/afas_mes_declarations.png", full_page=True)
    expect(page.get_by_role("cell", name="Crèche Les Lutins (EQ3)")).to_be_visible()
    page.get_by_role("link", name="Réinitialiser").click()
    verifier_page(page)
    page.get_by_label(re.compile(r"^\s*Nom de l'activité")).fill("Lioujas")
    page.get_by_role("button", name="Rechercher").click()
    verifier_page(page)
    page.get_by_role("link", name=re.compile("^Ouvrir")).click()
    verifier_page(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Déclaration — Prévisionnel")
    expect(page.get_by_role("table", name=re.compile("Données d'activité"))).to_contain_text("École de Lioujas")
    expect(page.get_by_role("table", name=re.compile("Données d'activité"))).not_to_contain_text("Salle des fêtes")

    # Sa ligne : un refus sous son champ, puis un brouillon enregistré.
    page.get_by_role("link", name=re.compile("^Saisir")).click()
    verifier_page(page)
    page.get_by_label(re.compile(r"^\s*Heures réalisées")).fill("100")
    page.get_by_label(re.compile(r"^\s*Heures du mercredi")).fill("150")
    page.get_by_role("button", name="Enregistrer").click()
    verifier_page(page)
    expect(page.locator("#id_heures_mercredi-desc-error")).to_contain_text("elles ne peuvent pas les dépasser")
    page.screenshot(path="/tmp/afas_saisie_activite.png", full_page=True)
    page.get_by_label(re.compile(r"^\s*Heures du mercredi")).fill("20,5")
    page.get_by_label(re.compile(r"^\s*Heures facturées")).fill("110")
    page.get_by_role("button", name="Enregistrer").click()
    verifier_page(page)
    expect(page.get_by_text("elles sont conservées même si vous fermez le navigateur")).to_be_visible()
    expect(
        page.get_by_role("table", name="Passages d'état de la déclaration, du plus ancien au plus récent")
    ).to_contain_text("À saisir → En cours de saisie")
    assert DonneesActivite.objects.get(declaration=declaration, lieu=ecole).heures_mercredi == 20.5

    # Le FDF, dans son propre navigateur : les données financières.
    fda_page, page = (
        page,
        page.context.browser.new_context(
            base_url=live_server.url, locale="fr-FR", timezone_id="Europe/Paris"
        ).new_page(),
    )
    connecter(page, fdf)
    page.goto(f"/afas/declarations/{declaration.pk}/")
    verifier_page(page)
    page.get_by_role("link", name="Saisir les données financières").click()
    verifier_page(page)
    page.get_by_label(re.compile(r"^\s*64 — Charges de personnel")).fill("50000")
    page.get_by_label(re.compile(r"^\s*70 — Ventes")).fill("20000")
    page.get_by_label(re.compile(r"^\s*Participations familiales")).fill("25000")
    page.get_by_label(re.compile(r"^\s*Taux de ressortissants")).fill("85")
    page.get_by_role("button", name="Enregistrer").click()
    verifier_page(page)
    expect(page.locator("#id_participations_familiales-desc-error")).to_contain_text("elles ne peuvent pas le dépasser")
    page.screenshot(path="/tmp/afas_saisie_financier.png", full_page=True)
    page.get_by_label(re.compile(r"^\s*Participations familiales")).fill("15000")
    page.get_by_role("button", name="Enregistrer").click()
    verifier_page(page)
    expect(page.get_by_role("table", name="Charges (comptes 60 à 68)")).to_contain_text("50")
    assert DonneesFinancieres.objects.get(declaration=declaration).participations_familiales == 15000
    page.context.close()

    # L'approbateur : tout en lecture, et ce qui manque encore (la Salle des fêtes).
    page = fda_page
    page.context.clear_cookies()
    connecter(page, approbateur)
    page.goto(f"/afas/declarations/{declaration.pk}/")
    verifier_page(page)
    manques = page.get_by_role("heading", name="Ce qui manque encore avant de transmettre à la Caf").locator("..")
    expect(manques).to_contain_text("Salle des fêtes de Lioujas")
    expect(page.get_by_role("link", name=re.compile("^Saisir"))).to_have_count(0)
    declaration.refresh_from_db()
    assert declaration.etat == EtatDeclaration.EN_COURS
    page.screenshot(path="/tmp/afas_declaration_approbateur.png", full_page=True)


def test_accueil_afas_d_un_declarant_aux_nombreux_roles(navigateur, live_server):
    """Un déclarant de grande commune tient des dizaines de rôles : l'accueil en montre 20 par page,
    avec leur nombre et la pagination du DSFR, qui passe la garde commune à 1 280 et 320 px."""
    page = navigateur
    convention = factories.ConventionFactory()
    administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", convention=convention)
    factories.nommer_administrateur(convention, administrateur)
    fdf = _declarant(convention, administrateur, "Albouy", "Céline")
    activites = [
        creer_activite(convention.organisme, f"Accueil de loisirs {i:02d}", numero=f"EQ{i}") for i in range(23)
    ]
    services_afas.habilitation_afas_affecter(
        par=administrateur, utilisateur=fdf, role=RoleAfas.FDF, date_ouverture=aujourdhui(), activites=activites
    )
    connecter(page, fdf)
    page.goto("/afas/")
    verifier_page(page)
    expect(page.get_by_text("23 rôles actifs — page 1 sur 2.")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Accueil de loisirs 19")).to_have_count(1)
    expect(page.get_by_role("listitem").filter(has_text="Accueil de loisirs 20")).to_have_count(0)
    page.screenshot(path="/tmp/afas_accueil_roles_p1.png", full_page=True)
    page.get_by_role("navigation", name="Pagination").get_by_role("link", name="Page suivante").click()
    verifier_page(page)
    expect(page.get_by_text("23 rôles actifs — page 2 sur 2.")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Accueil de loisirs 22")).to_have_count(1)
    page.set_viewport_size({"width": 320, "height": 800})
    page.screenshot(path="/tmp/afas_accueil_roles_p2_320.png", full_page=True)
