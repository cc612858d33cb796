"""« Consulter les conventions » : périmètre de chaque rôle, filtres, tri, pagination, budget."""

import datetime
import re

import pytest
from django.urls import reverse

from conventions import services
from conventions.enums import EtatConvention
from conventions.models import Convention, Mandat, Organisme, Profil
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie
from tests.utils import texte

LISTE = reverse("conventions:conventions")


def libelles(reponse) -> list[str]:
    """Les libellés des lignes du tableau, dans l'ordre affiché (première colonne)."""
    assert reponse.status_code == 200
    return re.findall(r"<tr>\s*<td[^>]*>([^<]*)</td>", texte(reponse))


def jours(n: int) -> datetime.date:
    return aujourdhui() + datetime.timedelta(days=n)


@pytest.fixture
def agent(client, agent_caf):
    connecter_verifie(client, agent_caf)
    return agent_caf


@pytest.mark.django_db
class TestAffichage:
    def test_colonnes_comme_dans_les_guides(self, client, agent, convention):
        page = texte(client.get(LISTE))
        assert ">Conventions</h1>" in page
        assert "Filtrer convention par :" in page
        for colonne in ("Libellé", "CAF pivot", "Partenaire", "Date d'ouverture", "Date de clôture", "Statut"):
            assert colonne in page
        assert "Autres actions" in page
        ligne = re.search(rf"<tr>\s*<td[^>]*>{re.escape(convention.libelle)}</td>.*?</tr>", page, re.S).group(0)
        assert "Caf de l'Aveyron" in ligne
        assert convention.organisme.raison_sociale in ligne
        assert f"{convention.date_ouverture:%d/%m/%Y}" in ligne
        assert "Ouvert" in ligne

    def test_etat_validee_avec_sa_date_ou_en_cours(self, client, agent, convention):
        convention.validee_le = datetime.date(2019, 3, 7)
        convention.save(update_fields=["validee_le"])
        factories.ConventionFactory(
            organisme=convention.organisme, libelle="Projet", etat=EtatConvention.EN_COURS, validee_le=None
        )
        page = texte(client.get(LISTE))
        assert "Validée le 07/03/2019" in page
        assert re.search(r"<td[^>]*>Projet</td>.*?<td[^>]*>En cours</td>", page, re.S)

    def test_menu_choisir_comme_les_guides_sans_lien_mort(self, client, agent, convention):
        page = texte(client.get(LISTE))
        assert re.search(r'<details class="portail-choisir">\s*<summary[^>]*>Choisir…', page)
        assert reverse("conventions:convention", args=[convention.pk]) in page
        assert reverse("conventions:convention_pdf", args=[convention.pk]) in page
        assert "Détail de la convention" in page
        assert "Télécharger PDF" in page
        liens = re.findall(r'href="([^"]+)">(Utilisateurs|Groupes|Détail de la convention|Télécharger PDF)<', page)
        assert [libelle for _url, libelle in liens] == [
            "Utilisateurs",
            "Groupes",
            "Détail de la convention",
            "Télécharger PDF",
        ]
        # Chaque lien mène à une page que l'agent peut ouvrir.
        for adresse, _libelle in liens:
            assert client.get(adresse).status_code == 200, adresse

    def test_agent_peut_formaliser(self, client, agent, convention):
        page = texte(client.get(LISTE))
        assert "Formaliser une convention" in page
        assert reverse("conventions:convention_formaliser") in page

    def test_aucun_resultat_le_dit(self, client, agent, convention):
        page = texte(client.get(LISTE, {"libelle": "introuvable"}))
        assert "Aucune convention ne correspond à ces critères." in page
        assert "<table>" not in page


@pytest.mark.django_db
class TestFiltres:
    def test_statut_par_defaut_masque_les_cloturees_et_tous_les_montre(self, client, agent, convention):
        factories.ConventionFactory(organisme=convention.organisme, libelle="Ancienne", date_cloture=aujourdhui())
        factories.ConventionFactory(organisme=convention.organisme, libelle="Future", date_ouverture=jours(10))
        factories.ConventionFactory(organisme=convention.organisme, libelle="Close demain", date_cloture=jours(1))
        assert 'value="non_clotures" selected' in texte(client.get(LISTE))
        par_defaut = set(libelles(client.get(LISTE)))
        assert par_defaut == {convention.libelle, "Future", "Close demain"}
        assert set(libelles(client.get(LISTE, {"statut": "tous"}))) == par_defaut | {"Ancienne"}
        assert libelles(client.get(LISTE, {"statut": "clotures"})) == ["Ancienne"]

    def test_libelle_contient(self, client, agent, convention):
        factories.ConventionFactory(organisme=convention.organisme, libelle="Centre Social BOZOULS COMTAL")
        assert libelles(client.get(LISTE, {"libelle": "social bozouls"})) == ["Centre Social BOZOULS COMTAL"]

    def test_etat(self, client, agent, convention):
        factories.ConventionFactory(
            organisme=convention.organisme, libelle="Projet", etat=EtatConvention.EN_COURS, validee_le=None
        )
        assert libelles(client.get(LISTE, {"etat": "en_cours"})) == ["Projet"]
        assert libelles(client.get(LISTE, {"etat": "validee"})) == [convention.libelle]
        assert len(libelles(client.get(LISTE, {"etat": ""}))) == 2

    def test_type_de_partenaire(self, client, agent, caf, convention):
        association = factories.TypeOrganismeFactory(code="association", libelle="Association")
        organisme = factories.OrganismeFactory(caf=caf, type_organisme=association, raison_sociale="Les Amis")
        factories.ConventionFactory(organisme=organisme, libelle="Asso")
        page = texte(client.get(LISTE))
        assert "Type de partenaire" in page
        assert f'<option value="{association.pk}">Association</option>' in page
        assert libelles(client.get(LISTE, {"type_organisme": association.pk})) == ["Asso"]

    def test_partenaire_contient(self, client, agent, caf, convention):
        organisme = factories.OrganismeFactory(caf=caf, raison_sociale="Centre social du Clos des Potiers")
        factories.ConventionFactory(organisme=organisme, libelle="Potiers")
        assert libelles(client.get(LISTE, {"partenaire": "clos des pot"})) == ["Potiers"]

    def test_caf_pivot_pour_la_supervision(self, client, superviseur, convention, autre_caf):
        factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=autre_caf), libelle="Nice")
        connecter_verifie(client, superviseur)
        page = texte(client.get(LISTE))
        assert "CAF pivot" in page
        assert f'<option value="{autre_caf.pk}">Caf des Alpes-Maritimes</option>' in page
        assert libelles(client.get(LISTE, {"caf": autre_caf.pk})) == ["Nice"]
        assert libelles(client.get(LISTE, {"caf": convention.caf_id})) == [convention.libelle]

    def test_pas_de_filtre_caf_pour_l_agent(self, client, agent, convention, autre_caf):
        assert 'name="caf"' not in texte(client.get(LISTE))
        # Un paramètre forgé n'élargit rien : la liste reste celle de sa Caf.
        factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=autre_caf), libelle="Nice")
        assert libelles(client.get(LISTE, {"caf": autre_caf.pk})) == [convention.libelle]

    def test_valeur_invalide_signalee_sous_le_champ(self, client, agent, convention):
        page = texte(client.get(LISTE, {"etat": "inconnu"}))
        assert "Sélectionnez un choix valide" in page
        assert libelles(client.get(LISTE, {"etat": "inconnu"})) == [convention.libelle]


@pytest.mark.django_db
class TestTri:
    @pytest.fixture
    def trois(self, caf):
        organisme = factories.OrganismeFactory(caf=caf, raison_sociale="Zèbre")
        factories.ConventionFactory(organisme=organisme, libelle="Bravo", date_ouverture=jours(-10))
        factories.ConventionFactory(organisme=organisme, libelle="Alpha", date_ouverture=jours(-300))
        factories.ConventionFactory(organisme=organisme, libelle="Charlie", date_ouverture=jours(-100))

    def test_par_defaut_la_plus_recente_d_abord(self, client, agent, trois):
        assert libelles(client.get(LISTE)) == ["Bravo", "Charlie", "Alpha"]

    def test_en_tete_trie_puis_inverse(self, client, agent, trois):
        page = texte(client.get(LISTE))
        assert 'href="?tri=libelle"' in page
        assert libelles(client.get(LISTE, {"tri": "libelle"})) == ["Alpha", "Bravo", "Charlie"]
        assert libelles(client.get(LISTE, {"tri": "-libelle"})) == ["Charlie", "Bravo", "Alpha"]
        assert libelles(client.get(LISTE, {"tri": "date_ouverture"})) == ["Alpha", "Charlie", "Bravo"]

    def test_tri_garde_les_filtres(self, client, agent, trois):
        page = texte(client.get(LISTE, {"libelle": "a", "tri": "libelle"}))
        assert 'href="?libelle=a&tri=-libelle"' in page
        assert '<input type="hidden" name="tri" value="libelle">' in page

    def test_champ_hors_liste_blanche_ignore(self, client, agent, trois):
        assert libelles(client.get(LISTE, {"tri": "organisme__siret"})) == ["Bravo", "Charlie", "Alpha"]


@pytest.mark.django_db
class TestPagination:
    def test_vingt_cinq_par_page_filtres_gardes(self, client, agent, caf):
        organisme = factories.OrganismeFactory(caf=caf)
        for n in range(30):
            factories.ConventionFactory(organisme=organisme, libelle=f"Convention {n:02d}", profils=[])
        premiere = client.get(LISTE, {"tri": "libelle", "libelle": "Convention"})
        assert libelles(premiere) == [f"Convention {n:02d}" for n in range(25)]
        assert "30 conventions — page 1 sur 2" in texte(premiere)
        assert "?tri=libelle&libelle=Convention&page=2" in texte(premiere)
        seconde = client.get(LISTE, {"tri": "libelle", "libelle": "Convention", "page": 2})
        assert libelles(seconde) == [f"Convention {n:02d}" for n in range(25, 30)]


@pytest.mark.django_db
class TestAdministrateur:
    def test_voit_ses_conventions_et_seulement_elles(
        self, client, administrateur, convention, convention_autre_partenaire
    ):
        connecter_verifie(client, administrateur)
        reponse = client.get(LISTE)
        assert libelles(reponse) == [convention.libelle]
        assert "Formaliser une convention" not in texte(reponse)
        assert 'name="caf"' not in texte(reponse)

    def test_convention_en_cours_invisible_pour_son_futur_administrateur(
        self, client, agent_caf, administrateur, convention
    ):
        nouvelle = services.convention_formaliser(
            par=agent_caf,
            organisme=convention.organisme,
            libelle="Avenir",
            date_ouverture=aujourdhui(),
            profils=Profil.objects.filter(code="CDAP-T1"),
            administrateur=administrateur,
        )
        connecter_verifie(client, administrateur)
        assert libelles(client.get(LISTE)) == [convention.libelle]
        assert client.get(reverse("conventions:convention", args=[nouvelle.pk])).status_code == 404
        # Le droit objet n'est accordé qu'à la validation.
        services.convention_valider(par=agent_caf, convention=nouvelle)
        assert set(libelles(client.get(LISTE))) == {convention.libelle, "Avenir"}

    def test_convention_cloturee_disparait_de_sa_liste(self, client, agent_caf, administrateur, convention):
        seconde = factories.ConventionFactory(organisme=convention.organisme, libelle="Seconde")
        factories.nommer_administrateur(seconde, administrateur)
        connecter_verifie(client, administrateur)
        assert set(libelles(client.get(LISTE))) == {convention.libelle, "Seconde"}
        services.convention_cloturer(par=agent_caf, convention=seconde, date_cloture=aujourdhui())
        assert libelles(client.get(LISTE, {"statut": "tous"})) == [convention.libelle]

    def test_cloture_atteinte_suffit_meme_sans_la_tache_de_nuit(self, client, administrateur, convention):
        """Le droit guardian n'est pas encore retiré : les dates relues suffisent à fermer."""
        seconde = factories.ConventionFactory(organisme=convention.organisme, libelle="Seconde")
        factories.nommer_administrateur(seconde, administrateur)
        Convention.objects.filter(pk=seconde.pk).update(date_cloture=aujourdhui())
        connecter_verifie(client, administrateur)
        assert libelles(client.get(LISTE, {"statut": "tous"})) == [convention.libelle]


@pytest.mark.django_db
class TestAutorisation:
    def test_anonyme_renvoye_a_la_connexion(self, client, convention):
        reponse = client.get(LISTE)
        assert reponse.status_code == 302
        assert reponse.url.startswith(reverse("habilitations:connexion"))

    def test_agent_d_une_autre_caf_ne_voit_pas_la_convention(self, client, agent_autre_caf, convention):
        connecter_verifie(client, agent_autre_caf)
        reponse = client.get(LISTE, {"statut": "tous"})
        assert libelles(reponse) == []
        assert convention.libelle not in texte(reponse)

    def test_administrateur_d_un_autre_partenaire_ne_voit_pas_la_convention(
        self, client, admin_autre_partenaire, convention, convention_autre_partenaire
    ):
        connecter_verifie(client, admin_autre_partenaire)
        assert libelles(client.get(LISTE, {"statut": "tous"})) == [convention_autre_partenaire.libelle]

    @pytest.mark.parametrize("persona", ["declarant", "exterieur"])
    def test_sans_role_refuse(self, client, request, persona):
        user = request.getfixturevalue(persona)
        connecter_verifie(client, user)
        assert client.get(LISTE).status_code == 403

    def test_responsable_d_un_groupe_voit_sa_convention_sans_la_gerer(
        self, client, responsable, convention, convention_autre_partenaire
    ):
        # Le responsable d'habilitations y entre par « Utilisateurs » et « Groupes ».
        connecter_verifie(client, responsable)
        reponse = client.get(LISTE)
        assert libelles(reponse) == [convention.libelle]
        assert "Formaliser une convention" not in texte(reponse)

    def test_responsable_d_un_groupe_clos_refuse(self, client, responsable, convention):
        responsable.groupes_responsable.update(date_cloture=aujourdhui())
        connecter_verifie(client, responsable)
        assert client.get(LISTE).status_code == 403

    def test_administrateur_dont_la_convention_est_close_refuse(self, client, administrateur, convention):
        Convention.objects.filter(pk=convention.pk).update(date_cloture=aujourdhui())
        connecter_verifie(client, administrateur)
        assert client.get(LISTE).status_code == 403

    def test_superviseur_lit_tout_sans_gerer(self, client, superviseur, convention, autre_caf):
        factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=autre_caf), libelle="Nice")
        connecter_verifie(client, superviseur)
        reponse = client.get(LISTE)
        assert set(libelles(reponse)) == {convention.libelle, "Nice"}
        assert "Formaliser une convention" not in texte(reponse)


def creer_conventions(organisme: Organisme, nombre: int) -> list[Convention]:
    debut = aujourdhui() - datetime.timedelta(days=nombre + 1)
    return Convention.objects.bulk_create(
        Convention(
            caf_id=organisme.caf_id,
            organisme=organisme,
            libelle=f"Convention en masse {n:05d}",
            date_ouverture=debut + datetime.timedelta(days=n),
            etat=EtatConvention.VALIDEE,
            validee_le=debut,
        )
        for n in range(nombre)
    )


@pytest.mark.django_db
class TestBudgetDeRequetes:
    @pytest.mark.parametrize("nombre", [10, 5000])
    def test_agent(self, client, agent, caf, nombre, django_assert_max_num_queries):
        creer_conventions(factories.OrganismeFactory(caf=caf), nombre)
        parametres = {"libelle": "masse", "type_organisme": factories.TypeOrganismeFactory().pk, "tri": "caf__nom"}
        client.get(LISTE, parametres)
        # 1 session, 2 utilisateur, 3 appareil de double authentification, 4 type d'organisme
        # (validation du filtre), 5 comptage, 6 services ouverts (menu), 7 types d'organismes
        # (liste déroulante), 8 page de 25 conventions avec Caf et organisme, 9-11 session
        # enregistrée (savepoint, update, release). Le nombre de conventions ne change rien.
        with django_assert_max_num_queries(11):
            reponse = client.get(LISTE, parametres)
        assert len(libelles(reponse)) == min(nombre, 25)

    @pytest.mark.parametrize("nombre", [10, 5000])
    def test_administrateur(self, client, administrateur, convention, nombre, django_assert_max_num_queries):
        conventions = creer_conventions(convention.organisme, nombre)
        Mandat.objects.bulk_create(
            Mandat(convention=c, administrateur=administrateur, date_ouverture=c.date_ouverture) for c in conventions
        )
        services.droits_reconcilier()
        connecter_verifie(client, administrateur)
        client.get(LISTE)
        # 1 session, 2 utilisateur, 3 appareil, 4 Caf pivots des conventions administrées
        # (accès et filtre), 5 comptage, 6 menu (administrateur ?), 7 services ouverts, 8 types
        # d'organismes, 9 page de 25 conventions (droit guardian et mandat en sous-requêtes),
        # 10-12 session enregistrée. (Un compte partenaire n'est jamais interrogé sur la
        # supervision nationale.)
        with django_assert_max_num_queries(12):
            reponse = client.get(LISTE)
        assert len(libelles(reponse)) == min(nombre + 1, 25)
