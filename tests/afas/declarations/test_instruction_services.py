"""Transmission par l'approbateur et instruction par la Caf (afas.instruction.services) : qui peut
faire chaque passage, le contenu figé et son empreinte, le récépissé PDF, les courriels, le
double envoi."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core import mail
from pypdf import PdfReader

from afas import services as services_afas
from afas.declarations import etats
from afas.enums import EtatDeclaration, RoleAfas
from afas.instruction import recepisse as recepisse_module
from afas.instruction import services
from afas.models import Declaration, EvenementDeclaration, HabilitationAfas, MontantEstime, Recepisse
from portail.models import Courriel, EvenementAudit
from portail.socle.courriels import courriel_envoyer
from portail.socle.erreurs import ErreurMetier
from tests.afas.conftest import creer_activite, creer_lieu
from tests.afas.declarations.fabrique_instruction import creer_declaration, declarant_avec_role

pytestmark = pytest.mark.django_db
E = EtatDeclaration


@pytest.fixture
def activite(convention):
    activite = creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="EQ0001")
    creer_lieu(activite, "Lioujas école")
    creer_lieu(activite, "Lioujas salle des fêtes")
    return activite


@pytest.fixture
def approbateur(convention, activite, administrateur, agent_caf):
    return declarant_avec_role(
        convention, activite, RoleAfas.APPROBATEUR, administrateur=administrateur, agent_caf=agent_caf, nom="Approb"
    )


@pytest.fixture
def fda(convention, activite, administrateur):
    return declarant_avec_role(convention, activite, RoleAfas.FDA, administrateur=administrateur, nom="Fda")


@pytest.fixture
def fdf(convention, activite, administrateur):
    return declarant_avec_role(convention, activite, RoleAfas.FDF, administrateur=administrateur, nom="Fdf")


@pytest.fixture
def declaration(activite):
    return creer_declaration(activite)


def texte_pdf(contenu: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(contenu)).pages)


def _etat(declaration) -> str:
    return Declaration.objects.get(pk=declaration.pk).etat


# --- Transmettre -------------------------------------------------------------------------------


def test_transmettre_fige_le_contenu_son_empreinte_et_le_pdf(declaration, approbateur):
    Courriel.objects.all().delete()
    recepisse = services.declaration_transmettre(par=approbateur, declaration=declaration)

    assert _etat(declaration) == E.TRANSMISE
    recepisse = Recepisse.objects.get(pk=recepisse.pk)  # relu : le JSON tel que la base le rend
    assert recepisse.numero == 1 and recepisse.transmise_par == approbateur
    contenu = recepisse.contenu
    assert contenu["activite"]["numero_equipement"] == "EQ0001"
    assert contenu["partenaire"]["raison_sociale"] == declaration.activite.organisme.raison_sociale
    assert contenu["declaration"]["exercice"] == 2026 and contenu["declaration"]["type"] == "reel"
    assert [ligne["lieu"] for ligne in contenu["donnees_activite"]] == ["Lioujas salle des fêtes", "Lioujas école"]
    assert contenu["donnees_activite"][0]["heures_realisees"] == "12345.50"
    assert contenu["donnees_financieres"]["total_charges"] == "205743.31"  # 15000 + 4200.10 + 186543.21
    assert contenu["donnees_financieres"]["total_produits"] == "218765.43"
    assert contenu["transmission"]["par"]["identifiant"] == approbateur.identifiant
    # L'empreinte se recalcule depuis le contenu conservé, à l'identique (clés triées, sans espaces).
    attendu = hashlib.sha256(json.dumps(contenu, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    assert recepisse.empreinte == attendu.hexdigest() == recepisse_module.empreinte_calculer(contenu)
    assert len(recepisse.empreinte) == 64

    # Le PDF : qui, quoi, les chiffres et l'empreinte entière.
    texte = " ".join(texte_pdf(bytes(recepisse.pdf)).split())
    assert recepisse.empreinte in texte.replace(" ", "")
    assert recepisse.empreinte in texte
    for attendu_pdf in (approbateur.identifiant, "EQ0001", "12345.50", "186543.21", "205743.31", "Lioujas école"):
        assert attendu_pdf in texte

    # Historique et journal : À approuver → Transmise, par l'approbateur.
    dernier = EvenementDeclaration.objects.filter(declaration=declaration).last()
    assert (dernier.etat_avant, dernier.etat_apres, dernier.par) == (E.A_APPROUVER, E.TRANSMISE, approbateur)
    assert EvenementAudit.objects.filter(action="declaration_transmise", acteur=approbateur).count() == 1

    # Le courriel de l'approbateur : le lien du récépissé et l'empreinte.
    (courriel,) = Courriel.objects.all()
    assert courriel.destinataire == approbateur.email
    assert f"/afas/recepisses/{recepisse.pk}/pdf/" in courriel.corps
    assert recepisse.empreinte in courriel.corps

    # Le récépissé PDF part en pièce jointe, octet pour octet celui qui est conservé.
    mail.outbox.clear()
    assert courriel_envoyer(courriel_id=courriel.pk)
    ((nom, contenu, type_mime),) = mail.outbox[0].attachments
    assert (nom, type_mime) == (f"recepisse-EQ0001-2026-reel-{recepisse.numero}.pdf", "application/pdf")
    assert contenu == bytes(recepisse.pdf)


def test_transmettre_fige_le_montant_estime_une_fois_par_transmission(declaration, approbateur):
    assert not MontantEstime.objects.filter(declaration=declaration).exists()
    services.declaration_transmettre(par=approbateur, declaration=declaration)
    (montant,) = MontantEstime.objects.filter(declaration=declaration)
    assert montant.actuel and montant.calcule_par == approbateur
    # Un second clic ne fige rien de plus.
    with pytest.raises(ErreurMetier):
        services.declaration_transmettre(par=approbateur, declaration=declaration)
    assert MontantEstime.objects.filter(declaration=declaration).count() == 1


def test_un_contenu_modifie_ne_correspond_plus_a_l_empreinte(declaration, approbateur):
    recepisse = services.declaration_transmettre(par=approbateur, declaration=declaration)
    contenu = Recepisse.objects.get(pk=recepisse.pk).contenu
    contenu["donnees_financieres"]["total_charges"] = "1.00"
    assert recepisse_module.empreinte_calculer(contenu) != recepisse.empreinte


def test_double_transmission_rien_deux_fois(declaration, approbateur):
    services.declaration_transmettre(par=approbateur, declaration=declaration)
    courriels = Courriel.objects.count()
    with pytest.raises(
        ErreurMetier, match=r"a déjà été transmise à la Caf le \d\d/\d\d/\d{4} à \d\dh\d\d par .*récépissé n° 1"
    ):
        services.declaration_transmettre(par=approbateur, declaration=declaration)
    assert Recepisse.objects.count() == 1
    assert Courriel.objects.count() == courriels
    assert EvenementDeclaration.objects.filter(etat_apres=E.TRANSMISE).count() == 1


def test_incomplete_refusee_avec_ce_qui_manque(activite, approbateur):
    declaration = creer_declaration(activite, remplie=False, etat=E.EN_COURS)
    with pytest.raises(ErreurMetier, match=r"n'est pas complète.*Lioujas école.*heures réalisées.*Données financières"):
        services.declaration_transmettre(par=approbateur, declaration=declaration)
    assert _etat(declaration) == E.EN_COURS
    assert not Recepisse.objects.exists()


def test_complete_mais_en_cours_passe_par_a_approuver(activite, approbateur):
    declaration = creer_declaration(activite, etat=E.EN_COURS)
    services.declaration_transmettre(par=approbateur, declaration=declaration)
    assert list(declaration.evenements.values_list("etat_apres", flat=True)) == [
        E.EN_COURS,
        E.A_APPROUVER,
        E.TRANSMISE,
    ]


@pytest.mark.parametrize("role", ["fda", "fdf"])
def test_fda_et_fdf_ne_transmettent_pas(request, declaration, role):
    with pytest.raises(ErreurMetier, match="Seul un approbateur actif"):
        services.declaration_transmettre(par=request.getfixturevalue(role), declaration=declaration)
    assert _etat(declaration) == E.A_APPROUVER and not Recepisse.objects.exists()


def test_approbateur_en_attente_de_la_caf_inactif_refuse(convention, activite, administrateur, declaration):
    en_attente = declarant_avec_role(convention, activite, RoleAfas.APPROBATEUR, administrateur=administrateur)
    with pytest.raises(ErreurMetier, match="Seul un approbateur actif"):
        services.declaration_transmettre(par=en_attente, declaration=declaration)
    assert not Recepisse.objects.exists()


def test_approbateur_historique_refuse(administrateur, approbateur, declaration):
    habilitation = HabilitationAfas.objects.get(utilisateur=approbateur)
    services_afas.habilitation_afas_supprimer(par=administrateur, habilitation=habilitation)
    with pytest.raises(ErreurMetier, match="Seul un approbateur actif"):
        services.declaration_transmettre(par=approbateur, declaration=declaration)
    assert not Recepisse.objects.exists()


def test_approbateur_d_une_autre_activite_refuse(convention, administrateur, agent_caf, declaration):
    autre = creer_activite(convention.organisme, "CLSH de Bozouls", numero="EQ0002")
    approbateur_autre = declarant_avec_role(
        convention, autre, RoleAfas.APPROBATEUR, administrateur=administrateur, agent_caf=agent_caf
    )
    with pytest.raises(ErreurMetier, match="Seul un approbateur actif"):
        services.declaration_transmettre(par=approbateur_autre, declaration=declaration)


# --- Valider, renvoyer ---------------------------------------------------------------------------


@pytest.fixture
def transmise(declaration, approbateur):
    services.declaration_transmettre(par=approbateur, declaration=declaration)
    Courriel.objects.all().delete()
    return Declaration.objects.get(pk=declaration.pk)


def test_valider_previent_l_approbateur(transmise, agent_caf, approbateur, fda):
    Courriel.objects.all().delete()
    services.declaration_valider(par=agent_caf, declaration=transmise)
    assert _etat(transmise) == E.VALIDEE
    assert list(Courriel.objects.values_list("destinataire", flat=True)) == [approbateur.email]
    dernier = transmise.evenements.last()
    assert (dernier.etat_apres, dernier.par) == (E.VALIDEE, agent_caf)
    assert EvenementAudit.objects.filter(action="declaration_validee", acteur=agent_caf).exists()
    with pytest.raises(ErreurMetier, match="« Validée par la Caf » : seule une déclaration transmise"):
        services.declaration_valider(par=agent_caf, declaration=transmise)
    assert Courriel.objects.count() == 1


def test_renvoyer_commentaire_obligatoire_et_declarants_prevenus(transmise, agent_caf, approbateur, fda, fdf):
    Courriel.objects.all().delete()
    for vide in ("", "   \n"):
        with pytest.raises(ErreurMetier, match="Le commentaire est obligatoire") as refus:
            services.declaration_renvoyer(par=agent_caf, declaration=transmise, commentaire=vide)
        assert refus.value.champ == "commentaire"
    assert _etat(transmise) == E.TRANSMISE and not Courriel.objects.exists()

    services.declaration_renvoyer(par=agent_caf, declaration=transmise, commentaire="Heures facturées à revoir.")
    assert _etat(transmise) == E.RENVOYEE
    assert sorted(Courriel.objects.values_list("destinataire", flat=True)) == sorted(
        [approbateur.email, fda.email, fdf.email]
    )
    assert all("Heures facturées à revoir." in c.corps for c in Courriel.objects.all())
    dernier = transmise.evenements.last()
    assert (dernier.etat_apres, dernier.commentaire) == (E.RENVOYEE, "Heures facturées à revoir.")


def test_renvoyee_puis_corrigee_puis_retransmise_deuxieme_recepisse(transmise, agent_caf, approbateur, fda):
    services.declaration_renvoyer(par=agent_caf, declaration=transmise, commentaire="À corriger.")
    declaration = Declaration.objects.get(pk=transmise.pk)
    with pytest.raises(ErreurMetier, match="renvoyé cette déclaration pour correction"):
        services.declaration_transmettre(par=approbateur, declaration=declaration)
    # La saisie la remet « En cours » au premier enregistrement.
    etats.transitionner(declaration, E.EN_COURS, par=fda)
    declaration.donnees_activite.update(heures_facturees=11000)
    deuxieme = services.declaration_transmettre(par=approbateur, declaration=declaration)
    assert deuxieme.numero == 2
    premier = Recepisse.objects.get(declaration=declaration, numero=1)
    assert premier.empreinte != deuxieme.empreinte
    assert deuxieme.contenu["donnees_activite"][0]["heures_facturees"] == "11000.00"
    services.declaration_valider(par=agent_caf, declaration=declaration)
    assert _etat(declaration) == E.VALIDEE


def test_agent_d_une_autre_caf_n_instruit_pas(transmise, agent_autre_caf):
    with pytest.raises(ErreurMetier, match="Seul un agent de la Caf de la déclaration"):
        services.declaration_valider(par=agent_autre_caf, declaration=transmise)
    with pytest.raises(ErreurMetier, match="Seul un agent de la Caf de la déclaration"):
        services.declaration_renvoyer(par=agent_autre_caf, declaration=transmise, commentaire="Non.")
    assert _etat(transmise) == E.TRANSMISE


def test_un_declarant_n_instruit_pas(transmise, approbateur):
    with pytest.raises(ErreurMetier, match="Seul un agent de la Caf"):
        services.declaration_valider(par=approbateur, declaration=transmise)


@pytest.mark.parametrize("etat", [E.A_SAISIR, E.EN_COURS, E.A_APPROUVER])
def test_valider_ou_renvoyer_une_declaration_non_transmise_refuse(activite, agent_caf, etat):
    declaration = creer_declaration(activite, etat=etat)
    with pytest.raises(ErreurMetier, match="seule une déclaration transmise"):
        services.declaration_valider(par=agent_caf, declaration=declaration)
    with pytest.raises(ErreurMetier, match="seule une déclaration transmise"):
        services.declaration_renvoyer(par=agent_caf, declaration=declaration, commentaire="Non.")
    assert _etat(declaration) == etat
