"""Parcours des guides dans Chromium : l'administrateur crée un groupe (responsable, profil CDAP T1),
y crée un utilisateur, qui se connecte pour la première fois et voit la tuile du service ; puis un
responsable d'habilitations se connecte et ne voit que son sous-arbre."""

import datetime
import re
from pathlib import Path

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from habilitations import services
from habilitations.models import Groupe, Utilisateur
from portail.socle.dates import aujourdhui
from tests import factories
from tests.e2e.test_premiere_connexion import (
    SUJET_IDENTIFIANT,
    SUJET_PROVISOIRE,
    choisir_mot_de_passe,
    lire_courriel,
    se_connecter,
)
from tests.e2e.verification import verifier_page, verifier_tableaux_entiers

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CAPTURES = Path("/tmp")
EMAIL_UTILISATEUR = "lea.marty@mairie-test.example"


def connecter_avec_double_authentification(page, user: Utilisateur) -> None:
    device = TOTPDevice.objects.get_or_create(user=user, confirmed=True, defaults={"name": "test"})[0]
    se_connecter(page, user.identifiant, factories.MOT_DE_PASSE)
    page.get_by_label(re.compile(r"^\s*Code à usage unique")).fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Valider", exact=True).click()


def ouvrir_la_convention(page, libelle: str, onglet: str) -> None:
    """Accueil → « Gestion des habilitations » → la convention → « Choisir… » → onglet."""
    page.locator("#tuiles").get_by_role("link", name="Gestion des habilitations", exact=True).click()
    ligne = page.get_by_role("row").filter(has_text=libelle)
    ligne.get_by_text("Choisir…").click()
    ligne.get_by_role("link", name=onglet, exact=True).click()


def test_administrateur_cree_groupe_et_utilisateur_qui_voit_son_service(navigateur, live_server):
    page = navigateur
    convention = factories.ConventionFactory(profils=["CDAP-T1", "AFAS-DECLARER"])
    administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", convention=convention)
    factories.nommer_administrateur(convention, administrateur)
    responsable = factories.creer_utilisateur(nom="Lacombe", prenom="Ines", convention=convention)

    connecter_avec_double_authentification(page, administrateur)
    ouvrir_la_convention(page, convention.libelle, "Groupes")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Groupes utilisateurs")
    verifier_page(page)

    # Créer un groupe : code, libellé, responsable habilitations existant.
    page.get_by_role("link", name="Créer un groupe").click()
    page.get_by_label(re.compile(r"^\s*Code")).fill("T1")
    page.get_by_label(re.compile(r"^\s*Libellé")).fill("CDAP T1")
    page.get_by_label("Un utilisateur de la convention", exact=True).check()
    page.get_by_label(re.compile(r"^\s*Utilisateur")).select_option(label=f"LACOMBE Ines ({responsable.identifiant})")
    page.get_by_role("button", name="Créer le groupe").click()
    expect(page.get_by_text(re.compile(r"Le groupe « T1 — CDAP T1 » est créé \(niveau 1\)"))).to_be_visible()
    verifier_page(page)
    groupe = Groupe.objects.get(convention=convention, code="T1")

    # Habilitations du groupe : le profil CDAP T1, « Assigner rôle » puis « Enregistrer ».
    page.goto(f"/partenaires/conventions/{convention.pk}/groupes/{groupe.pk}/habilitations/")
    page.get_by_label(re.compile(r"Service et profil")).select_option(label="CDAP T1")
    page.get_by_role("button", name="Assigner rôle").click()
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(page.get_by_role("cell", name="CDAP T1", exact=True)).to_be_visible()
    verifier_page(page)
    assert list(groupe.profils.values_list("code", flat=True)) == ["CDAP-T1"]

    # Créer un utilisateur dans ce groupe ; une adresse mal confirmée est d'abord refusée.
    page.get_by_role("link", name="Utilisateurs", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Liste des utilisateurs")
    page.set_viewport_size({"width": 1280, "height": 900})
    verifier_tableaux_entiers(page)  # toutes les colonnes visibles à 1280 px, « Choisir… » compris
    page.get_by_role("link", name="Créer un utilisateur").click()
    page.get_by_label(re.compile(r"^\s*Nom\b")).fill("Marty")
    page.get_by_label(re.compile(r"^\s*Prénom")).fill("Léa")
    page.get_by_label(re.compile(r"^\s*Adresse mail")).fill(EMAIL_UTILISATEUR)
    page.get_by_label(re.compile(r"^\s*Confirmer l'adresse mail")).fill("lea.marty@mairie-test.exemple")
    page.get_by_label(re.compile(r"^\s*Groupe d'habilitation")).select_option(label="T1 — CDAP T1")
    page.get_by_role("button", name="Valider", exact=True).click()
    expect(page.locator("#resume-erreurs")).to_contain_text("Les deux adresses mail ne sont pas identiques.")
    expect(page.locator("#resume-erreurs")).to_be_focused()
    verifier_page(page)
    assert not Utilisateur.objects.filter(email=EMAIL_UTILISATEUR).exists()
    page.get_by_label(re.compile(r"^\s*Confirmer l'adresse mail")).fill(EMAIL_UTILISATEUR)
    page.get_by_role("button", name="Valider", exact=True).click()
    expect(page.get_by_text(re.compile(r"Le compte \w+ est créé"))).to_be_visible()
    verifier_page(page)
    page.screenshot(path=str(CAPTURES / "e2e-utilisateur-cree.png"), full_page=True)
    page.get_by_role("button", name="Déconnexion").click()

    # Le nouvel utilisateur : courriels, première connexion, tuile « Consulter dossier ».
    page.goto("/dev/courriels/")
    corps = lire_courriel(page, destinataire=EMAIL_UTILISATEUR, sujet=SUJET_IDENTIFIANT)
    identifiant = re.search(r"Votre identifiant : (\S+)", corps).group(1)
    page.go_back()
    corps = lire_courriel(page, destinataire=EMAIL_UTILISATEUR, sujet=SUJET_PROVISOIRE)
    provisoire = re.search(r"Votre mot de passe provisoire : (\S+)", corps).group(1)
    se_connecter(page, identifiant, provisoire)
    choisir_mot_de_passe(page, "la lune se lève sur le causse")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Bienvenue Léa MARTY\b"))
    tuiles = page.locator("#tuiles")
    expect(tuiles.get_by_role("link", name="Consulter dossier", exact=True)).to_be_visible()
    expect(tuiles.get_by_role("link", name="Aide financière d'action sociale", exact=True)).to_have_count(0)
    page.screenshot(path=str(CAPTURES / "e2e-premiere-connexion-tuile.png"), full_page=True)


def test_le_responsable_ne_voit_que_son_sous_arbre(navigateur, live_server):
    page = navigateur
    convention = factories.ConventionFactory(profils=["CDAP-T1", "AFAS-DECLARER"])
    administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", convention=convention)
    factories.nommer_administrateur(convention, administrateur)
    responsable = factories.creer_utilisateur(nom="Aubrac", prenom="Anne", convention=convention)
    autre = factories.creer_utilisateur(nom="Bastide", prenom="Brice", convention=convention)
    debut = aujourdhui() - datetime.timedelta(days=2)

    def groupe(code, resp, parent=None):
        g = services.groupe_creer(
            par=None, convention=convention, code=code, libelle=f"Groupe {code}", responsable=resp, parent=parent
        )
        services.appartenance_ouvrir(par=None, utilisateur=resp, groupe=g, date_ouverture=max(debut, g.date_ouverture))
        return g

    a = groupe("A", responsable)
    a1 = groupe("A1", factories.creer_utilisateur(nom="Aubin", prenom="Alain", convention=convention), parent=a)
    groupe("B", autre)
    membre = factories.creer_utilisateur(nom="Cayrol", prenom="Chloe", convention=convention)
    services.appartenance_ouvrir(par=None, utilisateur=membre, groupe=a1)

    connecter_avec_double_authentification(page, responsable)
    ouvrir_la_convention(page, convention.libelle, "Groupes")
    tableau = page.locator("table")
    expect(tableau.get_by_role("cell", name="A", exact=True)).to_be_visible()
    expect(tableau.get_by_role("cell", name="A1", exact=True)).to_be_visible()
    verifier_page(page)
    expect(tableau.get_by_role("cell", name="B", exact=True)).to_have_count(0)
    page.screenshot(path=str(CAPTURES / "e2e-responsable-groupes.png"), full_page=True)

    page.get_by_role("link", name="Utilisateurs", exact=True).first.click()
    tableau = page.locator("table")
    expect(tableau).to_contain_text(membre.identifiant)
    expect(tableau).not_to_contain_text(autre.identifiant)
    expect(tableau).not_to_contain_text(administrateur.identifiant)
    verifier_page(page)

    # Une page hors de son sous-arbre répond comme si elle n'existait pas.
    b = Groupe.objects.get(convention=convention, code="B")
    reponse = page.goto(f"/partenaires/conventions/{convention.pk}/groupes/{b.pk}/habilitations/")
    assert reponse.status == 404
