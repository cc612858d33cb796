"""« Détail de la convention » et « Télécharger PDF » : contenu, boutons de gestion, périmètre."""

import datetime
import io
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from pypdf import PdfReader

from conventions import services
from conventions.consultation import pdf
from conventions.enums import EtatConvention, TypeAvenant
from conventions.models import Avenant, Convention
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie
from tests.habilitations.test_limites_et_pannes import redis_arrete  # noqa: F401 (fixture)
from tests.utils import texte


def detail(convention: Convention) -> str:
    return reverse("conventions:convention", args=[convention.pk])


def telecharger(convention: Convention) -> str:
    return reverse("conventions:convention_pdf", args=[convention.pk])


def lu(reponse) -> str:
    """Le texte de la page sans balises, espaces resserrés : ce que l'utilisateur lit d'affilée."""
    return " ".join(re.sub(r"<[^>]+>", " ", texte(reponse)).split())


def texte_pdf(reponse) -> str:
    """Le texte que le lecteur du PDF voit, toutes pages."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(reponse.content)).pages)


@pytest.fixture
def organisme_complet(convention):
    organisme = convention.organisme
    organisme.raison_sociale = "Centre Social BOZOULS COMTAL"
    organisme.adresse = "2 place de la Mairie"
    organisme.code_postal = "12340"
    organisme.commune = "Bozouls"
    organisme.save()
    return organisme


@pytest.fixture
def agent(client, agent_caf):
    connecter_verifie(client, agent_caf)
    return agent_caf


@pytest.fixture
def successeur(agent_caf, convention, administrateur):
    """Changement d'administrateur par avenant, effectif aujourd'hui."""
    nouveau = factories.creer_utilisateur(nom="Bessière", prenom="Nora", organisme=convention.organisme)
    services.avenant_enregistrer(
        par=agent_caf,
        convention=convention,
        type_avenant=TypeAvenant.ADMINISTRATEUR,
        objet="Départ de M. Castan",
        date_effet=aujourdhui(),
        administrateur=nouveau,
    )
    return nouveau


@pytest.mark.django_db
class TestDetail:
    def test_parties_dates_et_etat(self, client, agent, convention, organisme_complet, administrateur):
        page = lu(client.get(detail(convention)))
        assert f"Convention sélectionnée : {convention.libelle} (état : Validée)" in page
        assert "Organisme partenaire : Centre Social BOZOULS COMTAL" in page
        assert "Caf de l'Aveyron (012)" in page
        assert organisme_complet.siret in page
        assert "Commune" in page
        assert "2 place de la Mairie, 12340 Bozouls" in page
        assert f"{convention.date_ouverture:%d/%m/%Y}" in page
        assert f"Validée le {convention.validee_le:%d/%m/%Y}" in page
        assert "Ouvert" in page
        assert "Retour à la liste des conventions" in page

    def test_profils_groupes_par_service(self, client, agent, convention, administrateur):
        page = texte(client.get(detail(convention)))
        assert "<td>Consulter dossier</td><td>CDAP T1</td>" in page
        assert "<td>Aide financière d'action sociale</td><td>AFAS-DECLARER, AFAS-HABILITER</td>" in page

    def test_administrateur_en_fonction_historique_et_avenants(
        self, client, agent, convention, administrateur, successeur
    ):
        services.avenant_enregistrer(
            par=agent,
            convention=convention,
            type_avenant=TypeAvenant.AUTRE,
            objet="Ajout du service Espace Bailleur",
            date_effet=aujourdhui(),
        )
        page = lu(client.get(detail(convention)))
        assert f"En fonction : BESSIÈRE Nora ({successeur.identifiant})" in page
        # L'historique garde le premier administrateur, arrêté à la date d'effet de l'avenant.
        assert f"CASTAN Hugo ({administrateur.identifiant})" in page
        assert "Convention initiale" in page
        assert "n° 1" in page
        assert "Changement d'administrateur" in page
        assert "Départ de M. Castan" in page
        assert "Autre modification" in page
        assert "Ajout du service Espace Bailleur" in page
        assert f"{aujourdhui():%d/%m/%Y}" in page

    def test_convention_pas_encore_ouverte_nomme_son_administrateur(self, client, agent, convention, administrateur):
        future = factories.ConventionFactory(
            organisme=convention.organisme,
            date_ouverture=aujourdhui() + datetime.timedelta(days=15),
            etat=EtatConvention.EN_COURS,
            validee_le=None,
        )
        factories.nommer_administrateur(future, administrateur)
        page = lu(client.get(detail(future)))
        assert "(état : En cours)" in page
        assert f"Administrateur nommé à l'ouverture, le {future.date_ouverture:%d/%m/%Y} : CASTAN Hugo" in page

    def test_convention_cloturee_sans_administrateur_en_fonction(self, client, agent, convention, administrateur):
        services.convention_cloturer(par=agent, convention=convention, date_cloture=aujourdhui())
        page = texte(client.get(detail(convention)))
        assert "Aucun administrateur en fonction : la convention est clôturée." in page
        assert "Clôturé" in page


@pytest.mark.django_db
class TestBoutonsDeGestion:
    BOUTONS = ("Valider la convention", "Enregistrer un avenant", "Clôturer la convention")

    def boutons(self, client, convention) -> set[str]:
        page = texte(client.get(detail(convention)))
        assert "Télécharger PDF" in page
        return {bouton for bouton in self.BOUTONS if bouton in page}

    def test_convention_validee(self, client, agent, convention):
        assert self.boutons(client, convention) == {"Enregistrer un avenant", "Clôturer la convention"}
        page = texte(client.get(detail(convention)))
        assert reverse("conventions:avenant_enregistrer", args=[convention.pk]) in page
        assert reverse("conventions:convention_cloturer", args=[convention.pk]) in page

    def test_convention_en_cours(self, client, agent, convention):
        Convention.objects.filter(pk=convention.pk).update(etat=EtatConvention.EN_COURS, validee_le=None)
        assert self.boutons(client, convention) == {"Valider la convention", "Clôturer la convention"}
        assert reverse("conventions:convention_valider", args=[convention.pk]) in texte(client.get(detail(convention)))

    def test_convention_cloturee(self, client, agent, convention):
        Convention.objects.filter(pk=convention.pk).update(date_cloture=aujourdhui())
        assert self.boutons(client, convention) == set()

    def test_cloture_future_laisse_gerer(self, client, agent, convention):
        Convention.objects.filter(pk=convention.pk).update(date_cloture=aujourdhui() + datetime.timedelta(days=3))
        assert self.boutons(client, convention) == {"Enregistrer un avenant", "Clôturer la convention"}

    @pytest.mark.parametrize("persona", ["superviseur", "administrateur"])
    def test_lecture_seule(self, client, request, convention, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        assert self.boutons(client, convention) == set()


@pytest.mark.django_db
class TestPdf:
    def test_document_telecharge(self, client, agent, convention, organisme_complet, administrateur):
        reponse = client.get(telecharger(convention))
        assert reponse.status_code == 200
        assert reponse["Content-Type"] == "application/pdf"
        assert reponse["Content-Disposition"] == f'attachment; filename="convention-{convention.pk}.pdf"'
        assert reponse.content.startswith(b"%PDF-")
        document = " ".join(texte_pdf(reponse).split())
        assert "Convention d'accès aux services en ligne Mon Compte Partenaire" in document
        assert "Caf de l'Aveyron" in document
        assert "Centre Social BOZOULS COMTAL" in document
        assert organisme_complet.siret in document
        assert "2 place de la Mairie, 12340 Bozouls" in document
        assert convention.libelle in document
        for profil in ("CDAP T1", "AFAS-DECLARER", "AFAS-HABILITER"):
            assert profil in document
        assert "Consulter dossier" in document
        assert f"CASTAN Hugo ({administrateur.identifiant})" in document
        assert f"Validée le {convention.validee_le:%d/%m/%Y}" in document
        assert f"{convention.date_ouverture:%d/%m/%Y}" in document
        assert "Règles d'usage du portail" in document
        assert "ne les partagez jamais" in document
        assert "Pour la Caf" in document
        assert "Pour l'organisme partenaire" in document
        assert "Qualité :" in document
        assert "Signature :" in document

    def test_historique_des_administrateurs_et_avenants(self, client, agent, convention, administrateur, successeur):
        document = " ".join(texte_pdf(client.get(telecharger(convention))).split())
        assert f"CASTAN Hugo ({administrateur.identifiant})" in document
        assert f"BESSIÈRE Nora ({successeur.identifiant})" in document
        assert "Départ de M. Castan" in document
        assert "Changement d'administrateur" in document

    def test_convention_en_cours(self, client, agent, convention):
        Convention.objects.filter(pk=convention.pk).update(etat=EtatConvention.EN_COURS, validee_le=None)
        assert "état : En cours" in texte_pdf(client.get(telecharger(convention)))

    @pytest.mark.parametrize("persona", ["superviseur", "administrateur"])
    def test_lecteurs_legitimes(self, client, request, convention, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        reponse = client.get(telecharger(convention))
        assert reponse.status_code == 200
        assert convention.libelle in texte_pdf(reponse)

    def test_aucune_ressource_exterieure(self, convention, monkeypatch):
        """Le rendu refuse toute URL : une ressource ajoutée par mégarde fait échouer le PDF
        au lieu d'appeler le réseau."""
        from weasyprint.urls import FatalURLFetchingError

        monkeypatch.setattr(pdf, "render_to_string", lambda *args, **kwargs: '<img src="https://exemple.test/a.png">')
        with pytest.raises(FatalURLFetchingError):
            pdf.convention_pdf(convention)


@pytest.fixture
def rendus(monkeypatch) -> list[str]:
    """Le HTML de chaque rendu WeasyPrint réellement fait (le vrai rendu, compté)."""
    appels: list[str] = []
    rendre = pdf.pdf_rendre

    def compter(html: str) -> bytes:
        appels.append(html)
        return rendre(html)

    monkeypatch.setattr(pdf, "pdf_rendre", compter)
    return appels


@pytest.mark.django_db
class TestPdfGarde:
    """Ticket 11 (PDF p95 ≤ 0,3 s) : un PDF est rendu une fois par contenu et resservi depuis le
    cache partagé ; le contenu reste exactement juste, sans rien à invalider."""

    def test_rendu_une_fois_et_identique_a_un_rendu_neuf(self, client, agent, convention, administrateur, rendus):
        premier = client.get(telecharger(convention))
        second = client.get(telecharger(convention))
        assert premier.status_code == second.status_code == 200
        assert len(rendus) == 1
        assert second.content == premier.content
        # Le PDF gardé est octet pour octet celui qu'un rendu neuf du même contenu donnerait.
        assert pdf.pdf_rendre(rendus[0]) == second.content

    def test_une_modification_de_la_convention_donne_le_nouveau_pdf(
        self, client, agent, agent_caf, convention, administrateur, rendus
    ):
        avant = " ".join(texte_pdf(client.get(telecharger(convention))).split())
        nouveau = factories.creer_utilisateur(nom="Bessière", prenom="Nora", organisme=convention.organisme)
        services.avenant_enregistrer(
            par=agent_caf,
            convention=convention,
            type_avenant=TypeAvenant.ADMINISTRATEUR,
            objet="Départ de M. Castan",
            date_effet=aujourdhui(),
            administrateur=nouveau,
        )
        apres = " ".join(texte_pdf(client.get(telecharger(convention))).split())
        assert len(rendus) == 2
        assert "BESSIÈRE Nora" not in avant
        assert f"BESSIÈRE Nora ({nouveau.identifiant})" in apres
        assert "Départ de M. Castan" in apres

    def test_le_lendemain_la_date_d_edition_change(self, client, agent, convention, rendus):
        aujourd_hui = " ".join(texte_pdf(client.get(telecharger(convention))).split())
        demain = aujourdhui() + datetime.timedelta(days=1)
        with time_machine.travel(
            datetime.datetime.combine(demain, datetime.time(12), tzinfo=ZoneInfo("Europe/Paris")), tick=False
        ):
            # (Hors de la session, que 24 heures auraient close : le service directement.)
            document = pdf.convention_pdf(Convention.objects.select_related("caf", "organisme").get(pk=convention.pk))
        lendemain = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(document)).pages).split())
        assert len(rendus) == 2
        assert f"Document édité le {aujourdhui():%d/%m/%Y}" in aujourd_hui
        assert f"Document édité le {demain:%d/%m/%Y}" in lendemain

    @pytest.mark.usefixtures("redis_arrete")
    def test_cache_arrete_le_pdf_est_rendu_quand_meme(self, client, agent, convention, rendus):
        for _ in range(2):
            reponse = client.get(telecharger(convention))
            assert reponse.status_code == 200
            assert convention.libelle in texte_pdf(reponse)
        assert len(rendus) == 2


@pytest.mark.django_db
class TestAutorisation:
    @pytest.mark.parametrize("url", [detail, telecharger], ids=["detail", "pdf"])
    def test_anonyme_renvoye_a_la_connexion(self, client, convention, url):
        reponse = client.get(url(convention))
        assert reponse.status_code == 302
        assert reponse.url.startswith(reverse("habilitations:connexion"))

    @pytest.mark.parametrize("url", [detail, telecharger], ids=["detail", "pdf"])
    @pytest.mark.parametrize("persona", ["agent_autre_caf", "admin_autre_partenaire", "declarant", "exterieur"])
    def test_hors_perimetre_404_sans_rien_reveler(self, client, request, convention, organisme_complet, url, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        reponse = client.get(url(convention))
        assert reponse.status_code == 404
        assert convention.libelle not in texte(reponse)
        assert organisme_complet.raison_sociale not in texte(reponse)

    @pytest.mark.parametrize("url", [detail, telecharger], ids=["detail", "pdf"])
    def test_convention_d_une_autre_caf_404(self, client, agent, autre_caf, url):
        ailleurs = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=autre_caf))
        assert client.get(url(ailleurs)).status_code == 404

    @pytest.mark.parametrize("url", [detail, telecharger], ids=["detail", "pdf"])
    def test_convention_inexistante_404(self, client, agent, url):
        assert client.get(url(Convention(pk=999_999))).status_code == 404

    def test_administrateur_d_une_convention_close_404(self, client, administrateur, convention):
        Convention.objects.filter(pk=convention.pk).update(date_cloture=aujourdhui())
        connecter_verifie(client, administrateur)
        assert client.get(detail(convention)).status_code == 404
        assert client.get(telecharger(convention)).status_code == 404

    def test_post_refuse(self, client, agent, convention):
        assert client.post(detail(convention)).status_code == 405


@pytest.mark.django_db
class TestBudgetDeRequetes:
    @pytest.fixture
    def avenants(self, request, convention):
        """``nombre`` avenants sur la convention (paramètre du test)."""
        Avenant.objects.bulk_create(
            Avenant(
                convention=convention,
                numero=n + 1,
                type_avenant=TypeAvenant.AUTRE,
                objet=f"Modification {n}",
                date_effet=convention.date_ouverture,
            )
            for n in range(request.getfixturevalue("nombre"))
        )

    @pytest.mark.parametrize("nombre", [1, 30])
    def test_detail(self, client, agent, convention, administrateur, nombre, avenants, django_assert_max_num_queries):
        client.get(detail(convention))
        # 1 session, 2 utilisateur, 3 appareil, 4 convention (Caf, organisme, type), 5 profils
        # accordés et leurs services, 6 administrateur en fonction, 7 mandats, 8 avenants,
        # 9 services ouverts (menu), 10-12 session enregistrée. Autant d'avenants qu'on veut.
        with django_assert_max_num_queries(12):
            reponse = client.get(detail(convention))
        assert texte(reponse).count("Modification ") == nombre

    @pytest.mark.parametrize("nombre", [1, 30])
    def test_pdf(self, client, agent, convention, administrateur, nombre, avenants, django_assert_max_num_queries):
        client.get(telecharger(convention))
        # Les mêmes lectures que le détail, sans le menu : 11.
        with django_assert_max_num_queries(11):
            reponse = client.get(telecharger(convention))
        assert texte_pdf(reponse).count("Modification ") == nombre
