"""Parcours de l'agent Caf dans Chromium : « Appels de déclaration » depuis le menu, lancer un
appel (date limite passée refusée sous son champ, aperçu des activités pas prêtes, confirmation),
suivre l'appel (décomptes, filtre), et la barre de progression relue par htmx pendant un lancement,
qui cesse d'être relue quand il est terminé. ``verifier_page`` après chaque navigation (axe-core à
1280 et 320 px, débordements, erreurs JavaScript et de politique de sécurité par ``navigateur``)."""

import datetime
import re

import pytest

from afas.enums import EtatLancement, TypeActivite
from afas.models import AppelDeclaration, Declaration
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.conftest import creer_activite
from tests.afas.declarations.outils_campagnes import donner_les_roles, partenaire_pret
from tests.e2e.test_afas import connecter, ouvrir_menu_afas, verifier_page

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_parcours_appel_de_declaration(navigateur, live_server):
    page = navigateur
    jour = aujourdhui()
    caf = factories.CafFactory()
    agent = factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=caf)
    convention, admin, declarant = partenaire_pret(caf, agent)
    pretes = [
        creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="ALSH120001"),
        creer_activite(convention.organisme, "Multi-accueil Les Lutins", numero="EAJE120003", type_activite="EAJE"),
    ]
    donner_les_roles(admin, declarant, agent, pretes)
    autre = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf, raison_sociale="Centre social"))
    creer_activite(autre.organisme, "Accueil jeunes du Lévézou", numero="ALSH120010", type_activite=TypeActivite.ALSH)

    connecter(page, agent)
    ouvrir_menu_afas(page, "Appels de déclaration")
    expect(page.get_by_text("Votre Caf n'a lancé aucun appel de déclaration.")).to_be_visible()
    page.get_by_role("link", name="Lancer un appel de déclaration").click()
    verifier_page(page)

    # Une date limite passée : refusée sous son champ, rien n'est lancé.
    page.get_by_label(re.compile(r"^\s*Type de déclaration")).select_option(label="Prévisionnel")
    page.get_by_label(re.compile(r"^\s*Date limite de transmission")).fill(
        (jour - datetime.timedelta(days=1)).isoformat()
    )
    page.get_by_role("button", name="Voir les activités concernées").click()
    expect(page.locator("#id_date_limite-desc-error")).to_contain_text("La date limite ne peut pas être passée.")
    verifier_page(page)

    # L'aperçu : trois activités, celle du Lévézou sans aucun rôle.
    page.get_by_label(re.compile(r"^\s*Date limite de transmission")).fill(
        (jour + datetime.timedelta(days=30)).isoformat()
    )
    page.get_by_role("button", name="Voir les activités concernées").click()
    expect(page.get_by_role("heading", name="AVANT DE CONFIRMER")).to_be_visible()
    non_pretes = page.get_by_role("table", name=re.compile("pas prêt"))
    expect(non_pretes.get_by_role("row").filter(has_text="Accueil jeunes du Lévézou")).to_have_count(1)
    verifier_page(page)
    page.get_by_role("button", name=re.compile(r"^Confirmer le lancement \(3 déclarations\)")).click()

    # Le suivi : lancement terminé (tâche sur place), trois déclarations « À saisir ».
    expect(page.get_by_text(re.compile("est lancé"))).to_be_visible()
    expect(page.get_by_text("Lancement terminé")).to_be_visible()
    assert Declaration.objects.count() == 3
    verifier_page(page)
    expect(page.get_by_role("link", name="Exporter les déclarations (CSV)")).to_be_visible()
    page.get_by_label(re.compile(r"^\s*Partenaire")).fill("Centre social")
    page.get_by_role("button", name="Filtrer", exact=True).click()
    lignes = page.get_by_role("table", name="Déclarations de l'appel", exact=True).locator("tbody tr")
    expect(lignes).to_have_count(1)
    expect(lignes.first).to_contain_text("Accueil jeunes du Lévézou")
    verifier_page(page)
    ouvrir_menu_afas(page, "Appels de déclaration")
    expect(page.get_by_role("link", name=f"Prévisionnel {jour.year}")).to_be_visible()

    # Un lancement en cours : la barre de progression, relue par htmx jusqu'à la fin.
    appel = AppelDeclaration.objects.get()
    AppelDeclaration.objects.filter(pk=appel.pk).update(
        etat_lancement=EtatLancement.EN_COURS, creees=1, termine_le=None
    )
    page.get_by_role("link", name=f"Prévisionnel {jour.year}").click()
    barre = page.locator("#progression-appel progress")
    expect(barre).to_have_attribute("value", "1")
    verifier_page(page)
    AppelDeclaration.objects.filter(pk=appel.pk).update(creees=2)
    expect(barre).to_have_attribute("value", "2")
    AppelDeclaration.objects.filter(pk=appel.pk).update(
        etat_lancement=EtatLancement.TERMINE, creees=3, termine_le=appel.termine_le
    )
    expect(page.locator("#progression-appel")).to_contain_text("Lancement terminé")
    expect(page.locator("#progression-appel")).not_to_have_attribute("hx-get", re.compile("."))
    verifier_page(page)
