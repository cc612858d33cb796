"""Gestion des conventions par l'agent de la Caf pivot : formaliser, valider, clôturer, avenants.

Les refus : anonyme renvoyé à la connexion ; tout autre que l'agent de la Caf pivot reçoit 404
sur les pages d'une convention (sans apprendre qu'elle existe) et 403 sur « Formaliser ».
"""

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from guardian.shortcuts import get_perms

from conventions import perms, services
from conventions.enums import EtatConvention, TypeAvenant
from conventions.models import Avenant, Convention, Mandat, Profil
from habilitations import perms as habilitations_perms
from habilitations import services as habilitations_services
from habilitations.models import Utilisateur
from portail.models import Courriel
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from tests import factories
from tests.conftest import connecter_verifie
from tests.utils import hors_resume_erreurs, texte

FORMALISER = reverse("conventions:convention_formaliser")
CONNEXION = reverse("habilitations:connexion")
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def url(nom: str, convention: Convention) -> str:
    return reverse(f"conventions:{nom}", args=[convention.pk])


def formaliser_url(organisme) -> str:
    return f"{FORMALISER}?organisme={organisme.pk}"


def messages_de(reponse) -> list[str]:
    return [str(m) for m in get_messages(reponse.wsgi_request)]


def a_midi(jour: datetime.date) -> datetime.datetime:
    """Un instant du jour donné à Paris, loin de minuit (la date locale ne peut pas glisser)."""
    return datetime.datetime.combine(jour, datetime.time(12), tzinfo=PARIS)


def jour_dans(jours: int) -> datetime.date:
    return aujourdhui() + datetime.timedelta(days=jours)


def jeton_de(client, organisme) -> str:
    """Le jeton à usage unique que la page du formulaire émet (comme le ferait le navigateur)."""
    return re.search(r'name="jeton" value="([^"]+)"', texte(client.get(formaliser_url(organisme)))).group(1)


def profils(*codes: str) -> list[str]:
    return [str(pk) for pk in Profil.objects.filter(code__in=codes).values_list("pk", flat=True)]


def donnees_formaliser(**surcharges) -> dict:
    donnees = {
        "libelle": "Convention Centre social Bozouls",
        "date_ouverture": aujourdhui().isoformat(),
        "date_cloture": "",
        "profils": profils("CDAP-T1", "AFAS-DECLARER"),
        "choix_administrateur": "nouveau",
        "administrateur": "",
        "nom": "Garrigues",
        "prenom": "Mélanie",
        "email": "melanie.garrigues@bozouls.test",
        "email_confirmation": "Melanie.Garrigues@bozouls.test",
        "telephone": "05 65 00 00 00",
    }
    donnees.update(surcharges)
    return donnees


@pytest.fixture
def organisme(caf):
    return factories.OrganismeFactory(caf=caf, raison_sociale="Centre Social BOZOULS COMTAL")


@pytest.fixture
def agent(client, agent_caf):
    connecter_verifie(client, agent_caf)
    return agent_caf


@pytest.fixture
def convention_en_cours(agent_caf, organisme):
    """Convention formalisée, pas encore validée ; son administrateur est un compte existant."""
    user = factories.creer_utilisateur(nom="Garrigues", prenom="Melanie", organisme=organisme)
    return services.convention_formaliser(
        par=agent_caf,
        organisme=organisme,
        libelle="Centre Social BOZOULS COMTAL",
        date_ouverture=aujourdhui(),
        profils=Profil.objects.filter(code__in=["CDAP-T1", "AFAS-DECLARER"]),
        administrateur=user,
    )


# --- Autorisations ------------------------------------------------------------------------

REFUSES_CONVENTION = ["agent_autre_caf", "superviseur", "administrateur", "admin_autre_partenaire", "declarant"]
PAGES_CONVENTION = ["convention_valider", "convention_cloturer", "avenant_enregistrer"]


@pytest.mark.django_db
class TestAutorisations:
    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize("page", PAGES_CONVENTION)
    def test_anonyme_renvoye_a_la_connexion(self, client, convention, page, methode):
        reponse = getattr(client, methode)(url(page, convention))
        assert reponse.status_code == 302
        assert reponse.url.startswith(CONNEXION)

    @pytest.mark.parametrize("methode", ["get", "post"])
    def test_anonyme_formaliser(self, client, organisme, methode):
        for adresse in (FORMALISER, formaliser_url(organisme)):
            reponse = getattr(client, methode)(adresse)
            assert reponse.status_code == 302
            assert reponse.url.startswith(CONNEXION)

    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize("page", PAGES_CONVENTION)
    @pytest.mark.parametrize("persona", REFUSES_CONVENTION)
    def test_pages_d_une_convention_en_404(self, client, request, convention, persona, page, methode):
        connecter_verifie(client, request.getfixturevalue(persona))
        donnees = {"date_cloture": aujourdhui().isoformat(), "confirmation": "on", "type_avenant": "autre"}
        reponse = getattr(client, methode)(url(page, convention), donnees if methode == "post" else None)
        assert reponse.status_code == 404
        assert convention.libelle not in texte(reponse)
        convention.refresh_from_db()
        assert convention.date_cloture is None
        assert not convention.avenants.exists()

    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize("persona", ["superviseur", "administrateur", "admin_autre_partenaire", "declarant"])
    def test_formaliser_refuse_en_403_a_qui_n_est_pas_agent(self, client, request, organisme, persona, methode):
        connecter_verifie(client, request.getfixturevalue(persona))
        for adresse in (FORMALISER, formaliser_url(organisme)):
            reponse = getattr(client, methode)(adresse, donnees_formaliser() if methode == "post" else None)
            assert reponse.status_code == 403
        assert not Convention.objects.filter(organisme=organisme).exists()

    @pytest.mark.parametrize("methode", ["get", "post"])
    def test_agent_d_une_autre_caf_ne_voit_pas_l_organisme(self, client, agent_autre_caf, organisme, methode):
        connecter_verifie(client, agent_autre_caf)
        page = client.get(FORMALISER)
        assert page.status_code == 200
        assert organisme.raison_sociale not in texte(page)
        reponse = getattr(client, methode)(
            formaliser_url(organisme), donnees_formaliser() if methode == "post" else None
        )
        assert reponse.status_code == 404
        assert not Convention.objects.filter(organisme=organisme).exists()

    @pytest.mark.parametrize("page", PAGES_CONVENTION)
    def test_agent_de_la_caf_pivot(self, client, agent, convention, page):
        reponse = client.get(url(page, convention))
        assert reponse.status_code == 200
        assert convention.libelle in texte(reponse)

    def test_agent_formaliser(self, client, agent, organisme):
        assert client.get(FORMALISER).status_code == 200
        assert client.get(formaliser_url(organisme)).status_code == 200

    def test_organisme_mal_forme_en_404(self, client, agent):
        assert client.get(f"{FORMALISER}?organisme=abc").status_code == 404
        assert client.get(f"{FORMALISER}?organisme=999999").status_code == 404

    def test_agent_au_compte_cloture_renvoye_a_la_connexion(self, client, caf, convention):
        ancien = factories.creer_utilisateur(caf=caf, date_cloture=aujourdhui())
        connecter_verifie(client, ancien)
        reponse = client.post(url("convention_cloturer", convention), {"date_cloture": aujourdhui().isoformat()})
        assert reponse.status_code == 302
        assert reponse.url.startswith(CONNEXION)
        convention.refresh_from_db()
        assert convention.date_cloture is None


# --- Formaliser : choisir l'organisme -----------------------------------------------------


@pytest.mark.django_db
class TestChoixOrganisme:
    def test_liste_les_organismes_de_sa_caf_avec_choisir(self, client, agent, organisme, autre_caf):
        ailleurs = factories.OrganismeFactory(caf=autre_caf, raison_sociale="Mairie de Nice")
        page = texte(client.get(FORMALISER))
        assert "Centre Social BOZOULS COMTAL" in page
        assert ailleurs.raison_sociale not in page
        assert f'href="{formaliser_url(organisme)}"' in page
        assert "Choisir" in page

    def test_recherche_par_raison_sociale_ou_siret(self, client, agent, caf, organisme):
        autre = factories.OrganismeFactory(
            caf=caf, raison_sociale="Mairie de Rodez", siret=factories.siret_valide(2112019990001)
        )
        page = texte(client.get(FORMALISER, {"recherche": "bozouls"}))
        assert organisme.raison_sociale in page and autre.raison_sociale not in page
        siret = autre.siret
        page = texte(client.get(FORMALISER, {"recherche": f"{siret[:3]} {siret[3:9]}"}))
        assert autre.raison_sociale in page and organisme.raison_sociale not in page
        page = texte(client.get(FORMALISER, {"recherche": "introuvable"}))
        assert "Aucun organisme de votre Caf ne correspond à cette recherche." in page

    def test_tri_et_pagination(self, client, agent, caf):
        factories.OrganismeFactory.create_batch(30, caf=caf)
        page = texte(client.get(FORMALISER, {"tri": "-raison_sociale", "page": "2"}))
        assert "30 organismes — page 2 sur 2" in page

    @pytest.mark.parametrize("nombre", [10, 5000])
    def test_budget_de_requetes(self, client, agent, caf, nombre, django_assert_max_num_queries):
        from conventions.models import Organisme, TypeOrganisme

        type_organisme = TypeOrganisme.objects.create(code="association", libelle="Association")
        Organisme.objects.bulk_create(
            Organisme(
                raison_sociale=f"Association {i:05d}",
                siret=factories.siret_valide(500000 + i),
                type_organisme=type_organisme,
                caf=caf,
            )
            for i in range(nombre)
        )
        # session, utilisateur, appareil OTP vérifié ; comptage puis page des organismes (type
        # joint) ; menu : services ouverts ; session réenregistrée (dernière activité) dans un
        # point de sauvegarde (3 requêtes).
        with django_assert_max_num_queries(9):
            reponse = client.get(FORMALISER, {"recherche": "Association"})
        assert reponse.status_code == 200
        assert f"{nombre} organismes" in texte(reponse)


# --- Formaliser : le formulaire -----------------------------------------------------------


@pytest.mark.django_db
class TestFormaliserPage:
    def test_affiche_caf_partenaire_et_profils_groupes_par_service(self, client, agent, organisme, caf):
        page = texte(client.get(formaliser_url(organisme)))
        assert "Caf pivot" in page and caf.nom in page
        assert "Partenaire" in page and organisme.raison_sociale in page
        # Un fieldset par service, avec ses profils.
        assert re.search(r"<legend[^>]*>Consulter dossier</legend>", page)
        assert re.search(r"<legend[^>]*>Aide financière d'action sociale</legend>", page)
        assert "AFAS-DECLARER" in page and "CDAP T1" in page
        assert 'type="date"' in page
        assert f'value="{aujourdhui().isoformat()}"' in page  # date d'ouverture : aujourd'hui
        assert "Un utilisateur existant de l'organisme" in page and "Un nouveau compte" in page

    def test_ne_propose_que_les_comptes_ouverts_sans_cloture_de_l_organisme(self, client, agent, organisme, exterieur):
        ouvert = factories.creer_utilisateur(nom="Ouvert", prenom="Ana", organisme=organisme)
        cloture_prevue = factories.creer_utilisateur(
            nom="Partant", prenom="Leo", organisme=organisme, date_cloture=jour_dans(30)
        )
        page = texte(client.get(formaliser_url(organisme)))
        assert ouvert.identifiant in page
        assert cloture_prevue.identifiant not in page
        assert exterieur.identifiant not in page


@pytest.mark.django_db
class TestFormaliser:
    def test_avec_un_nouvel_administrateur(self, client, agent, organisme):
        reponse = client.post(formaliser_url(organisme), donnees_formaliser(jeton=jeton_de(client, organisme)))
        convention = Convention.objects.get(organisme=organisme)
        assert reponse.status_code == 302
        assert reponse.url == url("convention", convention)
        assert convention.etat == EtatConvention.EN_COURS
        assert convention.get_etat_complet() == "En cours"
        assert convention.caf_id == agent.caf_id
        assert set(convention.profils.values_list("code", flat=True)) == {"CDAP-T1", "AFAS-DECLARER"}
        administrateur = Utilisateur.objects.get(email="melanie.garrigues@bozouls.test")
        assert administrateur.organisme == organisme
        assert re.fullmatch(r"CEN012\d{4}", administrateur.identifiant)
        assert convention.mandats.get().administrateur == administrateur
        courriels = Courriel.objects.filter(destinataire=administrateur.email)
        assert set(courriels.values_list("modele", flat=True)) == {"identifiant", "mot_de_passe_provisoire"}
        assert administrateur.identifiant in courriels.get(modele="identifiant").corps
        (message,) = messages_de(reponse)
        assert "La convention « Convention Centre social Bozouls » est formalisée (état : En cours)." in message
        assert "Un courriel a été envoyé à melanie.garrigues@bozouls.test" in message
        # Pas encore validée : l'administrateur n'a aucun accès.
        assert not perms.conventions_administrees(administrateur).exists()

    def test_avec_un_compte_existant_de_l_organisme(self, client, agent, organisme):
        existant = factories.creer_utilisateur(nom="Roques", prenom="Jean", organisme=organisme)
        avant = Courriel.objects.count()
        donnees = donnees_formaliser(
            jeton=jeton_de(client, organisme), choix_administrateur="existant", administrateur=str(existant.pk)
        )
        reponse = client.post(formaliser_url(organisme), donnees)
        convention = Convention.objects.get(organisme=organisme)
        assert reponse.status_code == 302
        assert convention.mandats.get().administrateur == existant
        assert Courriel.objects.count() == avant  # aucun compte créé, aucun courriel
        assert not Utilisateur.objects.filter(email="melanie.garrigues@bozouls.test").exists()

    def test_la_partie_non_choisie_est_ignoree(self, client, agent, organisme):
        existant = factories.creer_utilisateur(nom="Roques", prenom="Jean", organisme=organisme)
        donnees = donnees_formaliser(
            jeton=jeton_de(client, organisme),
            choix_administrateur="existant",
            administrateur=str(existant.pk),
            email="pas-une-adresse",
        )
        assert client.post(formaliser_url(organisme), donnees).status_code == 302
        assert Convention.objects.get().mandats.get().administrateur == existant
        assert not Utilisateur.objects.filter(nom="Garrigues").exists()

    @pytest.mark.parametrize("persona", ["exterieur", "admin_autre_partenaire", "agent_caf"])
    def test_compte_d_un_autre_organisme_refuse(self, client, agent, request, organisme, persona):
        ailleurs = request.getfixturevalue(persona)
        donnees = donnees_formaliser(
            jeton=jeton_de(client, organisme), choix_administrateur="existant", administrateur=str(ailleurs.pk)
        )
        reponse = client.post(formaliser_url(organisme), donnees)
        assert reponse.status_code == 200
        assert "Choisissez un compte ouvert de l'organisme partenaire." in texte(reponse)
        assert not Convention.objects.filter(organisme=organisme).exists()

    def test_sans_profil_refuse(self, client, agent, organisme):
        nombre = Utilisateur.objects.count()
        reponse = client.post(
            formaliser_url(organisme), donnees_formaliser(jeton=jeton_de(client, organisme), profils=[])
        )
        assert reponse.status_code == 200
        assert "Accordez au moins un profil d'un service." in texte(reponse)
        assert not Convention.objects.exists()
        assert Utilisateur.objects.count() == nombre

    def test_confirmation_d_adresse_differente_rien_n_est_cree(self, client, agent, organisme):
        nombre, courriels = Utilisateur.objects.count(), Courriel.objects.count()
        donnees = donnees_formaliser(jeton=jeton_de(client, organisme), email_confirmation="autre@bozouls.test")
        reponse = client.post(formaliser_url(organisme), donnees)
        assert reponse.status_code == 200
        page = hors_resume_erreurs(texte(reponse))
        assert "Les deux adresses mail ne sont pas identiques." in page
        # Le message est sous la confirmation.
        assert page.index("Les deux adresses mail ne sont pas identiques.") > page.index(
            "Confirmation de l'adresse mail"
        )
        assert not Convention.objects.exists()
        assert (Utilisateur.objects.count(), Courriel.objects.count()) == (nombre, courriels)

    def test_champs_requis_selon_le_choix(self, client, agent, organisme):
        jeton = jeton_de(client, organisme)
        reponse = client.post(
            formaliser_url(organisme),
            donnees_formaliser(jeton=jeton, nom="", prenom="", email="", email_confirmation=""),
        )
        assert hors_resume_erreurs(texte(reponse)).count("Ce champ est obligatoire pour un nouveau compte.") == 4
        reponse = client.post(
            formaliser_url(organisme), donnees_formaliser(jeton=jeton, choix_administrateur="existant")
        )
        assert "Choisissez le compte de l'administrateur." in texte(reponse)
        reponse = client.post(formaliser_url(organisme), donnees_formaliser(jeton=jeton, choix_administrateur=""))
        assert "Choisissez un utilisateur existant ou un nouveau compte." in texte(reponse)
        reponse = client.post(formaliser_url(organisme), donnees_formaliser(jeton=jeton, libelle="", date_ouverture=""))
        assert hors_resume_erreurs(texte(reponse)).count("Ce champ est obligatoire.") == 2
        assert not Convention.objects.exists()

    def test_date_de_cloture_posterieure_a_l_ouverture(self, client, agent, organisme):
        donnees = donnees_formaliser(jeton=jeton_de(client, organisme), date_cloture=aujourdhui().isoformat())
        reponse = client.post(formaliser_url(organisme), donnees)
        assert "La date de clôture doit être postérieure à la date d'ouverture." in texte(reponse)
        assert not Convention.objects.exists()

    def test_avec_une_date_de_cloture(self, client, agent, organisme):
        donnees = donnees_formaliser(jeton=jeton_de(client, organisme), date_cloture=jour_dans(365).isoformat())
        client.post(formaliser_url(organisme), donnees)
        convention = Convention.objects.get()
        assert convention.date_cloture == jour_dans(365)
        assert convention.mandats.get().date_cloture == jour_dans(365)

    def test_double_envoi_une_seule_convention(self, client, agent, organisme):
        donnees = donnees_formaliser(jeton=jeton_de(client, organisme))
        premiere = client.post(formaliser_url(organisme), donnees)
        seconde = client.post(formaliser_url(organisme), donnees)
        convention = Convention.objects.get()  # une seule
        assert premiere.url == seconde.url == url("convention", convention)
        assert "Ce formulaire a déjà été envoyé" in " ".join(messages_de(seconde))
        assert Utilisateur.objects.filter(email="melanie.garrigues@bozouls.test").count() == 1

    def test_un_envoi_refuse_peut_etre_corrige_et_renvoye(self, client, agent, organisme):
        jeton = jeton_de(client, organisme)
        client.post(formaliser_url(organisme), donnees_formaliser(jeton=jeton, profils=[]))
        reponse = client.post(formaliser_url(organisme), donnees_formaliser(jeton=jeton))
        assert reponse.status_code == 302
        assert Convention.objects.count() == 1

    def test_sans_jeton_rien_n_est_cree(self, client, agent, organisme):
        reponse = client.post(formaliser_url(organisme), donnees_formaliser(jeton="invente"))
        assert reponse.status_code == 302
        assert reponse.url == formaliser_url(organisme)
        assert "Ce formulaire a déjà été envoyé" in " ".join(messages_de(reponse))
        assert not Convention.objects.exists()

    def test_le_jeton_d_une_autre_session_ne_sert_pas(self, client, agent, organisme, caf):
        from django.test import Client

        jeton = jeton_de(client, organisme)
        collegue = factories.creer_utilisateur(nom="Collegue", prenom="Eve", caf=caf)
        autre_client = Client()
        connecter_verifie(autre_client, collegue)
        autre_client.post(formaliser_url(organisme), donnees_formaliser(jeton=jeton))
        assert not Convention.objects.exists()


# --- Valider ------------------------------------------------------------------------------


@pytest.mark.django_db
class TestValider:
    def test_page_de_confirmation_recapitulative(self, client, agent, convention_en_cours):
        page = texte(client.get(url("convention_valider", convention_en_cours)))
        administrateur = convention_en_cours.mandats.get().administrateur
        assert "Centre Social BOZOULS COMTAL" in page
        assert "En cours" in page
        assert administrateur.identifiant in page
        assert "Consulter dossier : CDAP T1" in page
        assert "Valider la convention" in page

    def test_valider_ouvre_l_acces_de_l_administrateur(self, client, agent, convention_en_cours):
        administrateur = convention_en_cours.mandats.get().administrateur
        reponse = client.post(url("convention_valider", convention_en_cours))
        assert reponse.status_code == 302
        assert reponse.url == url("convention", convention_en_cours)
        convention_en_cours.refresh_from_db()
        assert convention_en_cours.etat == EtatConvention.VALIDEE
        assert convention_en_cours.validee_le == aujourdhui()
        assert "administrer_convention" in get_perms(administrateur, convention_en_cours)
        assert list(perms.conventions_administrees(administrateur)) == [convention_en_cours]
        assert messages_de(reponse) == [
            f"La convention est validée le {aujourdhui():%d/%m/%Y} ; l'administrateur "
            f"{administrateur.get_full_name()} ({administrateur.identifiant}) y a désormais accès."
        ]

    def test_deja_validee_rien_ne_change(self, client, agent, convention):
        validee_le = convention.validee_le
        reponse = client.post(url("convention_valider", convention))
        assert reponse.status_code == 200
        assert f"Cette convention est déjà validée (validée le {validee_le:%d/%m/%Y})." in texte(reponse)
        convention.refresh_from_db()
        assert convention.validee_le == validee_le
        assert "Valider la convention</button>" not in texte(client.get(url("convention_valider", convention)))


# --- Clôturer -----------------------------------------------------------------------------


@pytest.mark.django_db
class TestCloturer:
    def test_formulaire(self, client, agent, convention):
        page = texte(client.get(url("convention_cloturer", convention)))
        assert 'type="date"' in page
        assert f'value="{aujourdhui().isoformat()}"' in page
        assert (
            "Je confirme la clôture : à cette date, tous les accès ouverts par cette convention seront fermés" in page
        )

    def test_cloturer_aujourd_hui_ferme_tous_les_acces(self, client, agent, convention, administrateur, declarant):
        assert perms.conventions_administrees(administrateur).exists()
        assert habilitations_perms.profils_effectifs(declarant).exists()
        reponse = client.post(
            url("convention_cloturer", convention), {"date_cloture": aujourdhui().isoformat(), "confirmation": "on"}
        )
        assert reponse.status_code == 302
        assert reponse.url == url("convention", convention)
        convention.refresh_from_db()
        assert convention.date_cloture == aujourdhui()
        assert not perms.conventions_administrees(administrateur).exists()
        assert not habilitations_perms.profils_effectifs(declarant).exists()
        assert not get_perms(administrateur, convention)
        assert "est clôturée ce jour" in messages_de(reponse)[0]

    def test_sans_confirmation_rien_ne_change(self, client, agent, convention):
        reponse = client.post(url("convention_cloturer", convention), {"date_cloture": aujourdhui().isoformat()})
        assert reponse.status_code == 200
        assert "Cochez la case pour confirmer la clôture." in texte(reponse)
        convention.refresh_from_db()
        assert convention.date_cloture is None

    def test_date_passee_refusee_sous_le_champ(self, client, agent, convention):
        reponse = client.post(
            url("convention_cloturer", convention), {"date_cloture": jour_dans(-1).isoformat(), "confirmation": "on"}
        )
        page = hors_resume_erreurs(texte(reponse))
        assert "La date de clôture ne peut pas être passée." in page
        assert page.index("La date de clôture ne peut pas être passée.") > page.index('name="date_cloture"')
        convention.refresh_from_db()
        assert convention.date_cloture is None

    def test_date_anterieure_a_l_ouverture_refusee(self, client, agent, caf):
        future = factories.ConventionFactory(
            organisme=factories.OrganismeFactory(caf=caf), date_ouverture=jour_dans(10)
        )
        reponse = client.post(
            url("convention_cloturer", future), {"date_cloture": jour_dans(5).isoformat(), "confirmation": "on"}
        )
        assert "La date de clôture doit être postérieure à la date d'ouverture de la convention." in texte(reponse)
        future.refresh_from_db()
        assert future.date_cloture is None

    def test_cloture_future_les_acces_restent_jusqu_a_la_date(self, client, agent, convention, administrateur):
        demain = jour_dans(1)
        reponse = client.post(
            url("convention_cloturer", convention), {"date_cloture": demain.isoformat(), "confirmation": "on"}
        )
        assert f"sera clôturée le {demain:%d/%m/%Y}" in messages_de(reponse)[0]
        assert perms.conventions_administrees(administrateur).exists()
        with time_machine.travel(a_midi(demain), tick=False):
            assert not perms.conventions_administrees(administrateur).exists()

    def test_deja_cloturee(self, client, agent, convention):
        Convention.objects.filter(pk=convention.pk).update(date_cloture=jour_dans(-2))
        page = texte(client.get(url("convention_cloturer", convention)))
        assert f"Cette convention est déjà clôturée depuis le {jour_dans(-2):%d/%m/%Y}." in page
        reponse = client.post(
            url("convention_cloturer", convention), {"date_cloture": aujourdhui().isoformat(), "confirmation": "on"}
        )
        assert reponse.status_code == 200
        convention.refresh_from_db()
        assert convention.date_cloture == jour_dans(-2)


# --- Avenants -----------------------------------------------------------------------------


def donnees_avenant(**surcharges) -> dict:
    donnees = {
        "type_avenant": TypeAvenant.ADMINISTRATEUR,
        "objet": "Départ à la retraite de l'administrateur",
        "date_effet": aujourdhui().isoformat(),
        "choix_administrateur": "existant",
        "administrateur": "",
        "nom": "",
        "prenom": "",
        "email": "",
        "email_confirmation": "",
        "telephone": "",
    }
    donnees.update(surcharges)
    return donnees


@pytest.fixture
def successeur(convention):
    return factories.creer_utilisateur(nom="Vidal", prenom="Claire", organisme=convention.organisme)


@pytest.mark.django_db
class TestAvenantPage:
    def test_affiche_l_administrateur_actuel_et_les_successeurs_possibles(
        self, client, agent, convention, administrateur, successeur, exterieur
    ):
        page = texte(client.get(url("avenant_enregistrer", convention)))
        assert "Administrateur actuel" in page
        assert administrateur.get_full_name() in page
        assert "Changement d'administrateur" in page and "Autre modification" in page
        assert f'<option value="{successeur.pk}"' in page
        assert f'<option value="{administrateur.pk}"' not in page  # pas l'administrateur actuel
        assert f'<option value="{exterieur.pk}"' not in page

    def test_convention_en_cours_n_accepte_pas_d_avenant(self, client, agent, convention_en_cours):
        page = texte(client.get(url("avenant_enregistrer", convention_en_cours)))
        assert "n'est pas encore validée" in page
        assert "Enregistrer l'avenant</button>" not in page
        client.post(url("avenant_enregistrer", convention_en_cours), donnees_avenant(type_avenant="autre"))
        assert not Avenant.objects.exists()

    def test_convention_cloturee_n_accepte_pas_d_avenant(self, client, agent, convention):
        Convention.objects.filter(pk=convention.pk).update(date_cloture=aujourdhui())
        assert "elle n'accepte plus d'avenant" in texte(client.get(url("avenant_enregistrer", convention)))
        reponse = client.post(url("avenant_enregistrer", convention), donnees_avenant(type_avenant="autre"))
        assert reponse.status_code == 200
        assert not Avenant.objects.exists()


@pytest.mark.django_db
class TestAvenant:
    def test_autre_modification(self, client, agent, convention, administrateur):
        reponse = client.post(
            url("avenant_enregistrer", convention),
            donnees_avenant(type_avenant="autre", objet="Ajout du service Adonis", choix_administrateur=""),
        )
        assert reponse.status_code == 302
        assert reponse.url == url("convention", convention)
        avenant = Avenant.objects.get()
        assert (avenant.numero, avenant.type_avenant, avenant.objet) == (1, "autre", "Ajout du service Adonis")
        assert avenant.nouvel_administrateur is None
        assert avenant.cree_par == agent
        assert services.mandat_ouvert(convention).administrateur == administrateur
        assert messages_de(reponse) == [f"L'avenant n° 1 est enregistré (date d'effet : {aujourdhui():%d/%m/%Y})."]

    def test_changement_sans_successeur_refuse(self, client, agent, convention, administrateur):
        reponse = client.post(url("avenant_enregistrer", convention), donnees_avenant())
        assert "Choisissez le compte de l'administrateur." in texte(reponse)
        assert not Avenant.objects.exists()

    def test_changement_a_une_date_passee_refuse_sous_la_date(
        self, client, agent, convention, administrateur, successeur
    ):
        donnees = donnees_avenant(administrateur=str(successeur.pk), date_effet=jour_dans(-1).isoformat())
        page = hors_resume_erreurs(texte(client.post(url("avenant_enregistrer", convention), donnees)))
        message = "Un changement d'administrateur prend effet aujourd'hui ou à une date future."
        assert message in page
        assert page.index(message) > page.index('name="date_effet"')
        assert not Avenant.objects.exists()

    def test_changement_aujourd_hui_vers_un_nouveau_compte(self, client, agent, convention, administrateur):
        donnees = donnees_avenant(
            choix_administrateur="nouveau",
            nom="Vidal",
            prenom="Claire",
            email="claire.vidal@exemple.test",
            email_confirmation="claire.vidal@exemple.test",
        )
        reponse = client.post(url("avenant_enregistrer", convention), donnees)
        assert reponse.status_code == 302
        nouveau = Utilisateur.objects.get(email="claire.vidal@exemple.test")
        assert nouveau.organisme == convention.organisme
        assert list(perms.conventions_administrees(nouveau)) == [convention]
        assert not perms.conventions_administrees(administrateur).exists()
        modeles = set(Courriel.objects.filter(destinataire=nouveau.email).values_list("modele", flat=True))
        assert modeles == {"identifiant", "mot_de_passe_provisoire", "administrateur_nomme"}
        remplace = Courriel.objects.get(destinataire=administrateur.email, modele="administrateur_remplace")
        assert "Claire VIDAL" in remplace.corps and f"{aujourdhui():%d/%m/%Y}" in remplace.corps
        assert "administre la convention dès aujourd'hui" in messages_de(reponse)[0]

    def test_courriels_en_texte_sans_echappement(self, client, agent, convention, administrateur, successeur):
        Convention.objects.filter(pk=convention.pk).update(libelle="Convention d'accès de l'Aveyron")
        client.post(url("avenant_enregistrer", convention), donnees_avenant(administrateur=str(successeur.pk)))
        nomme = Courriel.objects.get(destinataire=successeur.email, modele="administrateur_nomme")
        assert nomme.sujet == (
            "Portail Partenaires : vous êtes nommé administrateur de la convention « Convention d'accès de l'Aveyron »"
        )
        assert "&#x27;" not in nomme.corps
        assert "http://" in nomme.corps or "https://" in nomme.corps
        assert "avenant n° 1" in nomme.corps

    def test_changement_a_une_date_future(self, client, agent, convention, administrateur, successeur):
        effet = jour_dans(10)
        reponse = client.post(
            url("avenant_enregistrer", convention),
            donnees_avenant(administrateur=str(successeur.pk), date_effet=effet.isoformat()),
        )
        assert reponse.status_code == 302
        assert f"à partir du {effet:%d/%m/%Y}" in messages_de(reponse)[0]
        # Avant la date d'effet : l'ancien administre, le nouveau pas encore.
        assert list(perms.conventions_administrees(administrateur)) == [convention]
        assert not perms.conventions_administrees(successeur).exists()
        page = texte(client.get(url("avenant_enregistrer", convention)))
        assert f"Changement d'administrateur programmé : Claire VIDAL ({successeur.identifiant})" in page
        with time_machine.travel(a_midi(effet - datetime.timedelta(days=1)), tick=False):
            assert list(perms.conventions_administrees(administrateur)) == [convention]
        with time_machine.travel(a_midi(effet), tick=False):
            # Même si la tâche quotidienne n'est pas encore passée, l'ancien n'administre plus.
            assert not perms.conventions_administrees(administrateur).exists()
            services.droits_reconcilier()  # la tâche quotidienne
            assert list(perms.conventions_administrees(successeur)) == [convention]
            assert not perms.conventions_administrees(administrateur).exists()
        historique = list(convention.mandats.order_by("date_ouverture").values_list("administrateur", "date_cloture"))
        assert historique == [(administrateur.pk, effet), (successeur.pk, None)]

    def test_cloture_du_compte_de_l_administrateur_exige_un_avenant(
        self, client, agent, convention, administrateur, successeur
    ):
        effet = jour_dans(10)
        with pytest.raises(ErreurMetier, match="Demandez d'abord à la Caf un avenant"):
            habilitations_services.utilisateur_cloturer(par=None, utilisateur=administrateur, date_cloture=effet)
        administrateur.refresh_from_db()
        assert administrateur.date_cloture is None
        client.post(
            url("avenant_enregistrer", convention),
            donnees_avenant(administrateur=str(successeur.pk), date_effet=effet.isoformat()),
        )
        with pytest.raises(ErreurMetier, match="avenant"):
            habilitations_services.utilisateur_cloturer(
                par=None, utilisateur=administrateur, date_cloture=effet - datetime.timedelta(days=1)
            )
        habilitations_services.utilisateur_cloturer(par=None, utilisateur=administrateur, date_cloture=effet)
        administrateur.refresh_from_db()
        assert administrateur.date_cloture == effet
        assert Mandat.objects.filter(convention=convention).count() == 2

    def test_second_changement_avant_le_premier_refuse(self, client, agent, convention, administrateur, successeur):
        troisieme = factories.creer_utilisateur(nom="Bru", prenom="Tom", organisme=convention.organisme)
        client.post(
            url("avenant_enregistrer", convention),
            donnees_avenant(administrateur=str(successeur.pk), date_effet=jour_dans(10).isoformat()),
        )
        reponse = client.post(
            url("avenant_enregistrer", convention),
            donnees_avenant(administrateur=str(troisieme.pk), date_effet=jour_dans(5).isoformat()),
        )
        assert "Un changement d'administrateur est déjà programmé" in texte(reponse)
        assert Avenant.objects.count() == 1
        # Après le premier, un second changement s'enchaîne : l'historique garde les trois.
        client.post(
            url("avenant_enregistrer", convention),
            donnees_avenant(administrateur=str(troisieme.pk), date_effet=jour_dans(20).isoformat()),
        )
        historique = list(convention.mandats.order_by("date_ouverture").values_list("administrateur", "date_cloture"))
        assert historique == [
            (administrateur.pk, jour_dans(10)),
            (successeur.pk, jour_dans(20)),
            (troisieme.pk, None),
        ]


# --- Budgets de requêtes des formulaires --------------------------------------------------


@pytest.mark.django_db
class TestBudgets:
    """Le nombre de requêtes ne dépend ni du nombre de profils ni du nombre de comptes proposés."""

    @pytest.mark.parametrize("nombre", [1, 50])
    def test_formulaire_formaliser(self, client, agent, organisme, nombre, django_assert_max_num_queries):
        for i in range(nombre):
            factories.creer_utilisateur(nom=f"Compte{i}", organisme=organisme)
        # session, utilisateur, appareil OTP ; organisme ; Caf de l'agent ; menu ; profils
        # (service joint) ; comptes proposés ; session réenregistrée (jeton émis ; 3 requêtes
        # avec le point de sauvegarde).
        with django_assert_max_num_queries(11):
            reponse = client.get(formaliser_url(organisme))
        assert reponse.status_code == 200

    @pytest.mark.parametrize("nombre", [1, 50])
    def test_formulaire_avenant(self, client, agent, convention, administrateur, nombre, django_assert_max_num_queries):
        for i in range(nombre):
            factories.creer_utilisateur(nom=f"Compte{i}", organisme=convention.organisme)
        # session, utilisateur, appareil OTP ; convention (Caf et organisme joints) ; mandat
        # ouvert (administrateur joint) ; profils accordés (service joint) ; menu ; changements
        # programmés ; comptes proposés ; session réenregistrée (3 avec le point de sauvegarde).
        with django_assert_max_num_queries(12):
            reponse = client.get(url("avenant_enregistrer", convention))
        assert reponse.status_code == 200


@pytest.mark.django_db
class TestCasParticuliers:
    def test_valider_une_convention_qui_ouvre_plus_tard(self, client, agent, organisme):
        compte = factories.creer_utilisateur(nom="Roques", prenom="Jean", organisme=organisme)
        convention = services.convention_formaliser(
            par=agent,
            organisme=organisme,
            libelle="Convention future",
            date_ouverture=jour_dans(15),
            profils=Profil.objects.filter(code="CDAP-T1"),
            administrateur=compte,
        )
        reponse = client.post(url("convention_valider", convention))
        assert f"y aura accès à partir du {jour_dans(15):%d/%m/%Y}" in messages_de(reponse)[0]
        assert not perms.conventions_administrees(compte).exists()

    def test_envoyer_le_choix_de_l_organisme_n_est_pas_permis(self, client, agent, organisme):
        assert client.post(FORMALISER, donnees_formaliser()).status_code == 405
        assert not Convention.objects.exists()

    def test_methode_non_permise(self, client, agent, convention):
        assert client.put(url("convention_valider", convention)).status_code == 405
