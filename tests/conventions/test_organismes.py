"""Organismes partenaires : types, liste filtrée et triée, enregistrement (SIRET contrôlé), détail."""

import datetime
import re

import pytest
from django.urls import reverse

from conventions.enums import EtatConvention
from conventions.models import Convention, Organisme, TypeOrganisme
from conventions.organismes.forms import OrganismeForm
from portail.models import EvenementAudit
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie
from tests.utils import texte

TYPES = reverse("conventions:types_organismes")
LISTE = reverse("conventions:organismes")
ENREGISTRER = reverse("conventions:organisme_enregistrer")
CONNEXION = reverse("habilitations:connexion")

# SIRET réels de forme valide : clé de Luhn correcte.
SIRET_VALIDE = factories.siret_valide(21_201_999)
SIRET_CLE_FAUSSE = SIRET_VALIDE[:-1] + str((int(SIRET_VALIDE[-1]) + 1) % 10)


def detail(organisme) -> str:
    return reverse("conventions:organisme", args=[organisme.pk])


def connecter(client, user) -> None:
    """Le déclarant n'est pas tenu à la double authentification ; les autres rôles si."""
    if user.caf_id or user.organisme_id is None or user.mandats.exists():
        connecter_verifie(client, user)
    else:
        client.force_login(user)


def raisons_sociales(reponse) -> list[str]:
    """Les raisons sociales de la liste, dans l'ordre affiché (liens vers le détail)."""
    return re.findall(r'href="/partenaires/organismes/\d+/">([^<]+)</a>', texte(reponse))


@pytest.fixture
def association(db):
    return factories.TypeOrganismeFactory(code="association", libelle="Association")


@pytest.fixture
def organisme_autre_caf(autre_caf):
    return factories.OrganismeFactory(caf=autre_caf, raison_sociale="Centre social de Menton")


# --- Qui voit quoi ------------------------------------------------------------------------

LISTES = [TYPES, LISTE]
REFUSES_LISTES = ["administrateur", "admin_autre_partenaire", "declarant"]


@pytest.mark.django_db
class TestAutorisations:
    @pytest.mark.parametrize("url", [*LISTES, ENREGISTRER], ids=["types", "liste", "enregistrer"])
    def test_anonyme_renvoye_a_la_connexion(self, client, url):
        reponse = client.get(url)
        assert reponse.status_code == 302
        assert reponse.url.startswith(CONNEXION)

    def test_anonyme_renvoye_a_la_connexion_pour_le_detail(self, client, convention):
        reponse = client.get(detail(convention.organisme))
        assert reponse.status_code == 302
        assert reponse.url.startswith(CONNEXION)

    @pytest.mark.parametrize("url", [*LISTES, ENREGISTRER], ids=["types", "liste", "enregistrer"])
    @pytest.mark.parametrize("persona", REFUSES_LISTES)
    def test_partenaires_refuses_sur_les_listes(self, client, request, url, persona):
        connecter(client, request.getfixturevalue(persona))
        assert client.get(url).status_code == 403

    @pytest.mark.parametrize("persona", [*REFUSES_LISTES, "agent_autre_caf"])
    def test_detail_hors_perimetre_404(self, client, request, convention, persona):
        """Même l'administrateur de l'organisme ne consulte pas la fiche gérée par la Caf."""
        connecter(client, request.getfixturevalue(persona))
        assert client.get(detail(convention.organisme)).status_code == 404

    def test_detail_inexistant_404_comme_hors_perimetre(self, client, agent_caf):
        connecter(client, agent_caf)
        assert client.get(reverse("conventions:organisme", args=[999_999])).status_code == 404

    @pytest.mark.parametrize("persona", ["agent_caf", "superviseur"])
    @pytest.mark.parametrize("url", LISTES, ids=["types", "liste"])
    def test_agent_et_superviseur_consultent(self, client, request, convention, persona, url):
        connecter(client, request.getfixturevalue(persona))
        assert client.get(url).status_code == 200

    @pytest.mark.parametrize("persona", ["agent_caf", "superviseur"])
    def test_agent_et_superviseur_consultent_le_detail(self, client, request, convention, persona):
        connecter(client, request.getfixturevalue(persona))
        reponse = client.get(detail(convention.organisme))
        assert reponse.status_code == 200
        assert convention.organisme.raison_sociale in texte(reponse)

    def test_superviseur_ne_peut_pas_enregistrer(self, client, superviseur):
        connecter(client, superviseur)
        assert client.get(ENREGISTRER).status_code == 403
        reponse = client.post(ENREGISTRER, {"raison_sociale": "X", "siret": SIRET_VALIDE, "type_organisme": "1"})
        assert reponse.status_code == 403
        assert not Organisme.objects.filter(siret=SIRET_VALIDE).exists()

    def test_agent_d_une_autre_caf_ne_voit_pas_les_organismes_de_la_caf(
        self, client, convention, agent_autre_caf, organisme_autre_caf
    ):
        connecter(client, agent_autre_caf)
        noms = raisons_sociales(client.get(LISTE))
        assert noms == ["Centre social de Menton"]
        assert convention.organisme.raison_sociale not in texte(client.get(LISTE))

    def test_agent_au_compte_cloture_renvoye_a_la_connexion(self, client, caf):
        ancien = factories.creer_utilisateur(caf=caf, date_cloture=aujourdhui())
        connecter(client, ancien)
        reponse = client.get(LISTE)
        assert reponse.status_code == 302
        assert reponse.url.startswith(CONNEXION)


# --- Types d'organismes -------------------------------------------------------------------


@pytest.mark.django_db
class TestTypesOrganismes:
    def test_nombre_d_organismes_de_sa_caf_par_type(self, client, caf, agent_caf, association, organisme_autre_caf):
        factories.OrganismeFactory.create_batch(2, caf=caf, type_organisme=association)
        factories.OrganismeFactory(caf=caf)  # une commune
        factories.TypeOrganismeFactory(code="bailleur", libelle="Bailleur")
        connecter(client, agent_caf)
        page = texte(client.get(TYPES))
        # L'organisme de l'autre Caf (une commune) n'est pas compté.
        assert re.search(r"<td>association</td>\s*<td>Association</td>\s*<td><a[^>]*>2</a></td>", page)
        assert re.search(r"<td>commune</td>\s*<td>Commune</td>\s*<td><a[^>]*>1</a></td>", page)
        assert re.search(r"<td>bailleur</td>\s*<td>Bailleur</td>\s*<td>0</td>", page)

    def test_superviseur_compte_toutes_les_caf(self, client, caf, superviseur, organisme_autre_caf):
        factories.OrganismeFactory(caf=caf)
        connecter(client, superviseur)
        page = texte(client.get(TYPES))
        assert re.search(r"<td>commune</td>\s*<td>Commune</td>\s*<td><a[^>]*>2</a></td>", page)
        assert "de toutes les Caf" in page

    @pytest.mark.parametrize("nombre", [10, 5000])
    def test_budget_de_requetes(self, client, caf, agent_caf, nombre, django_assert_max_num_queries):
        types = TypeOrganisme.objects.bulk_create(
            TypeOrganisme(code=f"type-{i:05d}", libelle=f"Type {i:05d}") for i in range(nombre)
        )
        Organisme.objects.bulk_create(
            Organisme(raison_sociale=f"O{i}", siret=factories.siret_valide(50_000 + i), type_organisme=t, caf=caf)
            for i, t in enumerate(types)
        )
        connecter(client, agent_caf)
        client.get(TYPES)
        # 1 session, 2 utilisateur, 3 appareil de double authentification, 4 services du menu,
        # 5 comptage de la pagination, 6 page de types avec leur nombre d'organismes (un
        # COUNT filtré groupé), 7-9 enregistrement de la session (savepoint, update, release).
        with django_assert_max_num_queries(9):
            reponse = client.get(TYPES, {"tri": "-nombre_organismes", "page": 2})
        assert reponse.status_code == 200
        assert "Type 00" in texte(reponse)


# --- Liste des organismes -----------------------------------------------------------------


@pytest.mark.django_db
class TestListeOrganismes:
    @pytest.fixture
    def trois(self, caf, association):
        return [
            factories.OrganismeFactory(
                caf=caf, raison_sociale="Mairie de Bozouls", commune="Bozouls", siret=factories.siret_valide(21_200_300)
            ),
            factories.OrganismeFactory(
                caf=caf,
                raison_sociale="Centre social Bozouls Comtal",
                commune="Bozouls",
                type_organisme=association,
                siret=factories.siret_valide(44_100_000),
            ),
            factories.OrganismeFactory(
                caf=caf, raison_sociale="Mairie de Rodez", commune="Rodez", siret=factories.siret_valide(21_200_400)
            ),
        ]

    def test_colonnes_et_lien_vers_le_detail(self, client, agent_caf, convention):
        organisme = convention.organisme
        Organisme.objects.filter(pk=organisme.pk).update(commune="Espalion", code_postal="12500")
        factories.ConventionFactory(organisme=organisme)
        connecter(client, agent_caf)
        reponse = client.get(LISTE)
        page = texte(reponse)
        assert f'href="{detail(organisme)}">{organisme.raison_sociale}</a>' in page
        assert re.search(
            rf"<td>{organisme.siret}</td>\s*<td>Commune</td>\s*<td>Espalion</td>\s*<td>12500</td>\s*<td>2</td>", page
        )
        assert "Enregistrer un organisme partenaire" in page
        assert '<th scope="col">Caf</th>' not in page

    def test_superviseur_voit_toutes_les_caf_sans_bouton_d_enregistrement(
        self, client, superviseur, convention, organisme_autre_caf
    ):
        connecter(client, superviseur)
        page = texte(client.get(LISTE))
        assert set(raisons_sociales(client.get(LISTE))) == {
            convention.organisme.raison_sociale,
            "Centre social de Menton",
        }
        assert "Caf des Alpes-Maritimes" in page and "Caf de l'Aveyron" in page
        assert "Enregistrer un organisme partenaire" not in page.split("<main", 1)[1]

    @pytest.mark.parametrize(
        ("filtres", "attendus"),
        [
            ({"raison_sociale": "mairie"}, ["Mairie de Bozouls", "Mairie de Rodez"]),
            ({"commune": "bozou"}, ["Centre social Bozouls Comtal", "Mairie de Bozouls"]),
            ({"siret": "0 0 0 0 0 2 1 2"}, ["Mairie de Bozouls", "Mairie de Rodez"]),
            ({"siret": factories.siret_valide(21_200_400)}, ["Mairie de Rodez"]),
        ],
        ids=["raison-sociale", "commune", "siret-prefixe-avec-espaces", "siret-complet"],
    )
    def test_filtres(self, client, agent_caf, trois, filtres, attendus):
        connecter(client, agent_caf)
        assert raisons_sociales(client.get(LISTE, filtres)) == attendus

    def test_superviseur_filtre_par_caf(self, client, superviseur, convention, organisme_autre_caf, autre_caf):
        connecter(client, superviseur)
        assert raisons_sociales(client.get(LISTE, {"caf": autre_caf.pk})) == ["Centre social de Menton"]

    def test_agent_n_a_pas_de_filtre_caf(self, client, agent_caf, convention, organisme_autre_caf, autre_caf):
        connecter(client, agent_caf)
        reponse = client.get(LISTE, {"caf": autre_caf.pk})
        assert 'name="caf"' not in texte(reponse)
        assert raisons_sociales(reponse) == [convention.organisme.raison_sociale]

    def test_filtre_par_type(self, client, agent_caf, trois, association):
        connecter(client, agent_caf)
        assert raisons_sociales(client.get(LISTE, {"type_organisme": association.pk})) == [
            "Centre social Bozouls Comtal"
        ]

    def test_aucun_resultat_le_dit(self, client, agent_caf, trois):
        connecter(client, agent_caf)
        page = texte(client.get(LISTE, {"raison_sociale": "introuvable"}))
        assert "Aucun résultat ne correspond à ces filtres" in page

    def test_liste_vide_le_dit(self, client, agent_caf):
        connecter(client, agent_caf)
        assert "Aucun organisme partenaire n'est enregistré." in texte(client.get(LISTE))

    @pytest.mark.parametrize(
        ("tri", "attendus"),
        [
            ("raison_sociale", ["Centre social Bozouls Comtal", "Mairie de Bozouls", "Mairie de Rodez"]),
            ("-raison_sociale", ["Mairie de Rodez", "Mairie de Bozouls", "Centre social Bozouls Comtal"]),
            # Deux organismes à Bozouls : l'ordre par défaut (raison sociale) les départage.
            ("-commune", ["Mairie de Rodez", "Centre social Bozouls Comtal", "Mairie de Bozouls"]),
            ("type_organisme__libelle", ["Centre social Bozouls Comtal", "Mairie de Bozouls", "Mairie de Rodez"]),
            ("siret", ["Mairie de Bozouls", "Mairie de Rodez", "Centre social Bozouls Comtal"]),
            ("caf__agents__password", ["Centre social Bozouls Comtal", "Mairie de Bozouls", "Mairie de Rodez"]),
        ],
        ids=["raison-sociale", "inverse", "commune-inverse", "type", "siret", "hors-liste-blanche-ignore"],
    )
    def test_tri(self, client, agent_caf, trois, tri, attendus):
        connecter(client, agent_caf)
        assert raisons_sociales(client.get(LISTE, {"tri": tri})) == attendus

    def test_en_tete_de_tri_garde_les_filtres(self, client, agent_caf, trois):
        connecter(client, agent_caf)
        page = texte(client.get(LISTE, {"commune": "Bozouls", "page": "1"}))
        assert 'href="?commune=Bozouls&tri=raison_sociale"' in page

    def test_pagination_par_25(self, client, caf, agent_caf):
        factories.OrganismeFactory.create_batch(26, caf=caf)
        connecter(client, agent_caf)
        assert len(raisons_sociales(client.get(LISTE))) == 25
        reponse = client.get(LISTE, {"page": 2})
        assert len(raisons_sociales(reponse)) == 1
        assert "26 organismes" in texte(reponse)

    @pytest.mark.parametrize("nombre", [10, 5000])
    def test_budget_de_requetes(self, client, caf, agent_caf, association, nombre, django_assert_max_num_queries):
        organismes = Organisme.objects.bulk_create(
            Organisme(
                raison_sociale=f"Organisme {i:05d}",
                siret=factories.siret_valide(60_000 + i),
                type_organisme=association,
                caf=caf,
                commune=f"Commune {i % 7}",
            )
            for i in range(nombre)
        )
        Convention.objects.bulk_create(
            Convention(caf=caf, organisme=o, libelle=f"C {o.pk}", date_ouverture=aujourdhui()) for o in organismes
        )
        connecter(client, agent_caf)
        client.get(LISTE)
        # 1 session, 2 utilisateur, 3 appareil de double authentification, 4 services du menu,
        # 5 comptage de la pagination, 6 page d'organismes (type, Caf et nombre de conventions
        # joints), 7 choix du filtre « Type d'organisme », 8-10 enregistrement de la session.
        with django_assert_max_num_queries(10):
            reponse = client.get(LISTE, {"type_organisme": association.pk, "tri": "-commune", "page": 1})
        assert reponse.status_code == 200
        assert len(raisons_sociales(reponse)) == min(nombre, 25)


# --- Enregistrer un organisme -------------------------------------------------------------


def saisie(**valeurs) -> dict:
    type_commune = factories.TypeOrganismeFactory()
    return {
        "raison_sociale": "Mairie de Bozouls",
        "siret": SIRET_VALIDE,
        "type_organisme": type_commune.pk,
        "adresse": "1 place de la Mairie",
        "code_postal": "12340",
        "commune": "Bozouls",
        **valeurs,
    }


@pytest.mark.django_db
class TestFormulaireSiret:
    """La clé de Luhn et la forme du SIRET, contrôlées par le formulaire (message sous le champ)."""

    def test_siret_valide_accepte_et_normalise(self):
        espace = " ".join([SIRET_VALIDE[:3], SIRET_VALIDE[3:6], SIRET_VALIDE[6:9], SIRET_VALIDE[9:]])
        form = OrganismeForm(saisie(siret=espace))
        assert form.is_valid(), form.errors
        assert form.cleaned_data["siret"] == SIRET_VALIDE

    def test_cle_fausse_refusee(self):
        form = OrganismeForm(saisie(siret=SIRET_CLE_FAUSSE))
        assert not form.is_valid()
        assert form.errors["siret"] == [
            "Ce SIRET n'est pas valide (clé de contrôle incorrecte) : vérifiez les 14 chiffres."
        ]

    @pytest.mark.parametrize("siret", [SIRET_VALIDE[:13], SIRET_VALIDE + "0", "2120199900A18"])
    def test_pas_14_chiffres_refuse(self, siret):
        form = OrganismeForm(saisie(siret=siret))
        assert not form.is_valid()
        assert form.errors["siret"] == ["Le SIRET doit comporter exactement 14 chiffres."]

    @pytest.mark.parametrize("code_postal", ["1234", "123456", "12 34", "ABCDE"])
    def test_code_postal_de_5_chiffres(self, code_postal):
        form = OrganismeForm(saisie(code_postal=code_postal))
        assert not form.is_valid()
        assert form.errors["code_postal"] == ["Le code postal comporte 5 chiffres."]

    def test_champs_obligatoires(self):
        form = OrganismeForm({})
        assert not form.is_valid()
        assert set(form.errors) == {"raison_sociale", "siret", "type_organisme"}


@pytest.mark.django_db
class TestEnregistrer:
    def test_agent_enregistre_et_arrive_sur_le_detail(self, client, caf, agent_caf):
        connecter(client, agent_caf)
        reponse = client.post(ENREGISTRER, saisie(siret=f" {SIRET_VALIDE[:9]} {SIRET_VALIDE[9:]}"))
        organisme = Organisme.objects.get(siret=SIRET_VALIDE)
        assert reponse.status_code == 302
        assert reponse.url == detail(organisme)
        assert organisme.caf == caf
        assert (organisme.raison_sociale, organisme.code_postal, organisme.commune) == (
            "Mairie de Bozouls",
            "12340",
            "Bozouls",
        )
        page = texte(client.get(reponse.url))
        assert "L'organisme Mairie de Bozouls est enregistré." in page
        assert "1 place de la Mairie" in page

    def test_formulaire_affiche(self, client, agent_caf):
        factories.TypeOrganismeFactory()
        connecter(client, agent_caf)
        page = texte(client.get(ENREGISTRER))
        assert "Raison sociale" in page and "SIRET" in page and "Code postal" in page
        assert '<option value="' in page and ">Commune</option>" in page

    def test_cle_fausse_message_sous_le_champ_et_rien_cree(self, client, agent_caf):
        connecter(client, agent_caf)
        reponse = client.post(ENREGISTRER, saisie(siret=SIRET_CLE_FAUSSE))
        assert reponse.status_code == 200
        assert re.search(r'id="id_siret".*clé de contrôle incorrecte', texte(reponse), re.DOTALL)
        assert not Organisme.objects.exists()

    def test_doublon_refuse_sous_le_champ_siret(self, client, caf, agent_caf, organisme_autre_caf):
        connecter(client, agent_caf)
        reponse = client.post(ENREGISTRER, saisie(siret=organisme_autre_caf.siret))
        assert reponse.status_code == 200
        assert re.search(r'id="id_siret".*Un organisme est déjà enregistré avec ce SIRET', texte(reponse), re.DOTALL)
        assert Organisme.objects.count() == 1

    def test_double_soumission_ne_cree_pas_de_doublon(self, client, agent_caf):
        connecter(client, agent_caf)
        assert client.post(ENREGISTRER, saisie()).status_code == 302
        reponse = client.post(ENREGISTRER, saisie())
        assert reponse.status_code == 200
        assert "Un organisme est déjà enregistré avec ce SIRET" in texte(reponse)
        assert Organisme.objects.filter(siret=SIRET_VALIDE).count() == 1

    def test_audit_enregistre_l_acteur_et_les_valeurs(self, client, agent_caf):
        connecter(client, agent_caf)
        client.post(ENREGISTRER, saisie())
        organisme = Organisme.objects.get()
        evenement = EvenementAudit.objects.get(action="organisme_enregistrer")
        assert evenement.acteur == agent_caf
        assert evenement.cible_id == str(organisme.pk)
        assert evenement.apres == {
            "raison_sociale": "Mairie de Bozouls",
            "siret": SIRET_VALIDE,
            "type_organisme": "commune",
            "caf": "012",
            "adresse": "1 place de la Mairie",
            "code_postal": "12340",
            "commune": "Bozouls",
        }


# --- Détail d'un organisme ----------------------------------------------------------------


@pytest.mark.django_db
class TestDetail:
    def test_informations_et_conventions(self, client, agent_caf, convention):
        organisme = convention.organisme
        en_cours = factories.ConventionFactory(
            organisme=organisme,
            libelle="Convention ALSH 2026",
            etat=EtatConvention.EN_COURS,
            validee_le=None,
            date_ouverture=datetime.date(2026, 1, 1),
            date_cloture=datetime.date(2026, 12, 31),
        )
        connecter(client, agent_caf)
        page = texte(client.get(detail(organisme)))
        assert organisme.siret in page and "Caf de l'Aveyron" in page
        assert f'href="{reverse("conventions:convention", args=[convention.pk])}">{convention.libelle}</a>' in page
        assert f"Validée le {convention.validee_le:%d/%m/%Y}" in page
        assert f'href="{reverse("conventions:convention", args=[en_cours.pk])}">Convention ALSH 2026</a>' in page
        assert re.search(r"01/01/2026</td>\s*<td>31/12/2026</td>\s*<td>(Ouvert|Clôturé)</td>\s*<td>En cours</td>", page)

    def test_agent_peut_formaliser_une_convention(self, client, agent_caf, convention):
        connecter(client, agent_caf)
        page = texte(client.get(detail(convention.organisme)))
        lien = f"{reverse('conventions:convention_formaliser')}?organisme={convention.organisme.pk}"
        assert f'href="{lien}"' in page
        assert "Formaliser une convention" in page

    def test_superviseur_lit_sans_formaliser(self, client, superviseur, convention):
        connecter(client, superviseur)
        page = texte(client.get(detail(convention.organisme))).split("<main", 1)[1]
        assert convention.libelle in page
        assert "Formaliser une convention" not in page

    def test_sans_convention_le_dit(self, client, caf, agent_caf):
        organisme = factories.OrganismeFactory(caf=caf)
        connecter(client, agent_caf)
        assert "Aucune convention n'est formalisée avec cet organisme." in texte(client.get(detail(organisme)))

    @pytest.mark.parametrize("nombre", [1, 40])
    def test_budget_de_requetes(self, client, caf, agent_caf, nombre, django_assert_max_num_queries):
        organisme = factories.OrganismeFactory(caf=caf)
        Convention.objects.bulk_create(
            Convention(caf=caf, organisme=organisme, libelle=f"C {i}", date_ouverture=aujourdhui())
            for i in range(nombre)
        )
        connecter(client, agent_caf)
        client.get(detail(organisme))
        # 1 session, 2 utilisateur, 3 appareil de double authentification, 4 services du menu,
        # 5 organisme (type et Caf joints), 6 ses conventions, 7-9 enregistrement de la session.
        with django_assert_max_num_queries(9):
            reponse = client.get(detail(organisme))
        assert reponse.status_code == 200
        assert texte(reponse).count("/partenaires/conventions/") >= nombre


ARABES_INDIENS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
PLEINE_CHASSE = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.django_db
class TestChiffresAscii:
    """Issue 10, point 4 : un identifiant est fait de chiffres ASCII après normalisation."""

    def test_le_meme_siret_en_chiffres_arabes_indiens_ne_cree_pas_un_second_organisme(self, client, caf, agent_caf):
        connecter(client, agent_caf)
        assert client.post(ENREGISTRER, saisie()).status_code == 302
        reponse = client.post(ENREGISTRER, saisie(siret=SIRET_VALIDE.translate(ARABES_INDIENS)))
        assert reponse.status_code == 200
        assert "Le SIRET doit comporter exactement 14 chiffres." in texte(reponse)
        assert Organisme.objects.count() == 1

    def test_pleine_chasse_normalisee(self):
        form = OrganismeForm(saisie(siret=SIRET_VALIDE.translate(PLEINE_CHASSE)))
        assert form.is_valid(), form.errors
        assert form.cleaned_data["siret"] == SIRET_VALIDE

    def test_code_postal_et_telephone(self):
        from django.core.exceptions import ValidationError

        from habilitations.validators import telephone_normaliser

        form = OrganismeForm(saisie(code_postal="١٢٣٤٠"))
        assert form.errors["code_postal"] == ["Le code postal comporte 5 chiffres."]
        with pytest.raises(ValidationError):
            telephone_normaliser("٠٥٦٥٤٨٣٣٥٦")
        assert telephone_normaliser("０５ ６５ ４８ ３３ ５６") == "0565483356"

    def test_la_base_refuse_aussi(self, caf):
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            factories.OrganismeFactory(caf=caf, siret=SIRET_VALIDE.translate(ARABES_INDIENS))


def test_page_de_la_supervision_avec_le_nombre_de_conventions_de_chacun(client, caf, autre_caf, superviseur):
    """La supervision nationale lit les organismes du pays par page : la page 2 montre les bons
    organismes, dans l'ordre des raisons sociales (égalités départagées par la clé), chacun avec
    son nombre de conventions, compté pour les seuls organismes de la page."""
    organismes = [
        factories.OrganismeFactory(caf=caf if i % 2 else autre_caf, raison_sociale=f"Commune {i // 2:02d}")
        for i in range(30)
    ]
    for i, organisme in enumerate(organismes[:28]):
        for _ in range(i % 3):
            factories.ConventionFactory(organisme=organisme)
    attendus = sorted(organismes, key=lambda o: (o.raison_sociale, o.pk))[25:]
    connecter(client, superviseur)
    reponse = client.get(LISTE, {"page": 2})
    assert raisons_sociales(reponse) == [o.raison_sociale for o in attendus]
    nombres = [o.nombre_conventions for o in reponse.context["page"].object_list]
    assert nombres == [Convention.objects.filter(organisme=o).count() for o in attendus]
    assert "30 organismes" in texte(reponse)
