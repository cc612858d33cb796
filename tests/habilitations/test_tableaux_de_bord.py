"""« Mes tableaux de bord » d'une convention et leurs exports CSV : qui les voit, ce que chaque
tableau compte (et ne compte pas), le fichier CSV tel qu'un tableur le lit, le budget de requêtes.

L'arbre de groupes vient de tests/habilitations/conftest.py :
A (CDAP-T1, AFAS-DECLARER ; resp_a) > A1 (CDAP-T1 ; resp_a1, membre_a1) ; B (AFAS-DECLARER ;
resp_b, membre_b).
"""

import csv
import datetime
import io
import re

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from conventions.models import Profil
from habilitations import perms, services
from habilitations.administration.tableaux_de_bord import tableaux
from habilitations.models import Appartenance, Groupe, SyntheseGroupesOrphelins, SyntheseProfils, Utilisateur
from portail.models import EvenementAudit
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import analyser, connecter_verifie, transaction_partagee
from tests.habilitations.conftest import _groupe, _membre
from tests.utils import texte

pytestmark = pytest.mark.django_db

SLUGS = ("profils", "inactifs", "jamais-actives", "echeances", "groupes-orphelins")


def page_url(convention) -> str:
    return reverse("gestion:tableaux_de_bord", args=[convention.pk])


def csv_url(convention, slug: str) -> str:
    return reverse("gestion:tableau_csv", args=[convention.pk, slug])


def jours(n: int) -> datetime.date:
    return aujourdhui() + datetime.timedelta(days=n)


def lire_csv(reponse) -> list[list[str]]:
    """Le fichier tel qu'un tableur le lit : BOM UTF-8, puis des lignes séparées par « ; »."""
    assert reponse.status_code == 200
    contenu = b"".join(reponse.streaming_content)
    assert contenu.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(contenu.decode("utf-8-sig")), delimiter=";"))


def exporter(client, convention, slug: str) -> list[dict[str, str]]:
    """Les lignes d'un export, chacune comme {en-tête : valeur}."""
    entetes, *lignes = lire_csv(client.get(csv_url(convention, slug)))
    return [dict(zip(entetes, ligne, strict=True)) for ligne in lignes]


def colonne(lignes: list[dict[str, str]], nom: str) -> set[str]:
    return {ligne[nom] for ligne in lignes}


def section(page: str, slug: str) -> str:
    """Le HTML d'une section de la page (de son titre à la suivante)."""
    return re.search(rf'<section[^>]*id="{slug}">.*?</section>', page, re.S).group(0)


def rendre_inactif(user: Utilisateur, jours_: int = 400) -> None:
    """Dernière connexion il y a ``jours_`` jours (et compte créé avant)."""
    il_y_a = timezone.now() - datetime.timedelta(days=jours_)
    Utilisateur.objects.filter(pk=user.pk).update(last_login=il_y_a, cree_le=il_y_a - datetime.timedelta(days=1))


@pytest.fixture
def admin_connecte(client, administrateur, arbre):
    connecter_verifie(client, administrateur)
    # Tout le monde s'est connecté hier : chaque test rend inactif ou neuf ce qu'il veut.
    Utilisateur.objects.update(last_login=timezone.now() - datetime.timedelta(days=1))
    return administrateur


# --- Qui voit quoi ---------------------------------------------------------------------------

AUTORISES = ["administrateur", "agent_caf", "superviseur", "resp_a", "resp_a1", "resp_b"]
REFUSES = [
    "admin_autre_partenaire",
    "admin_autre_convention",
    "agent_autre_caf",
    "declarant",
    "membre_a1",
    "membre_b",
    "exterieur",
]


def adresses(convention) -> list[str]:
    return [page_url(convention), csv_url(convention, "inactifs"), csv_url(convention, "groupes-orphelins")]


class TestAutorisation:
    @pytest.fixture(autouse=True)
    def _arbre(self, arbre):
        return arbre

    @pytest.mark.parametrize("persona", AUTORISES)
    def test_roles_legitimes(self, client, request, convention, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        for url in adresses(convention):
            assert client.get(url).status_code == 200, url

    @pytest.mark.parametrize("persona", REFUSES)
    def test_refuses_sans_reveler_la_convention(self, client, request, convention, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        for url in adresses(convention):
            assert client.get(url).status_code == 404, url
        # Une convention qui n'existe pas répond pareil : rien n'est révélé.
        assert client.get(reverse("gestion:tableaux_de_bord", args=[999_999])).status_code == 404

    def test_anonyme_renvoye_a_la_connexion(self, client, convention):
        connexion = reverse("habilitations:connexion")
        for url in adresses(convention):
            for reponse in (client.get(url), client.post(url)):
                assert reponse.status_code == 302
                assert reponse["Location"].startswith(connexion)

    @pytest.mark.parametrize("persona", AUTORISES + REFUSES)
    def test_post_refuse_et_rien_ne_change(self, client, request, convention, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        avant = (Utilisateur.objects.count(), Appartenance.objects.count(), EvenementAudit.objects.count())
        for url in adresses(convention):
            assert client.post(url).status_code == 405
        assert (Utilisateur.objects.count(), Appartenance.objects.count(), EvenementAudit.objects.count()) == avant

    def test_tableau_inconnu(self, client, convention, administrateur, admin_autre_partenaire):
        connecter_verifie(client, administrateur)
        assert client.get(csv_url(convention, "mots-de-passe")).status_code == 404
        # Hors périmètre, un nom inconnu ne se distingue pas d'un nom connu.
        connecter_verifie(client, admin_autre_partenaire)
        assert client.get(csv_url(convention, "mots-de-passe")).status_code == 404

    def test_la_caf_pivot_lit_sans_bouton_d_ecriture(self, client, convention, agent_caf):
        connecter_verifie(client, agent_caf)
        page = texte(client.get(page_url(convention)))
        assert "Consultation seulement" in page
        assert "Exporter en CSV" in page


# --- La page -------------------------------------------------------------------------------


class TestPage:
    def test_une_section_par_tableau_avec_son_export(self, client, convention, admin_connecte):
        page = texte(client.get(page_url(convention)))
        assert "Mes tableaux de bord" in page
        for slug, titre in (
            ("profils", "Utilisateurs par service et profil"),
            ("inactifs", "Comptes sans connexion depuis 12 mois"),
            ("jamais-actives", "Comptes créés mais jamais activés"),
            ("echeances", "Appartenances qui se terminent dans les 30 jours"),
            ("groupes-orphelins", "Groupes sans membre ou sans responsable"),
        ):
            bloc = section(page, slug)
            assert titre in bloc
            assert "Exporter en CSV" in bloc
            assert f'href="{csv_url(convention, slug)}"' in bloc

    def test_nombre_et_dix_premieres_lignes_seulement(self, client, convention, admin_connecte):
        for n in range(15):
            rendre_inactif(factories.creer_utilisateur(nom=f"Dormeur{n:02d}", prenom="Zoé", convention=convention))
        bloc = section(texte(client.get(page_url(convention))), "inactifs")
        assert "15 comptes" in bloc
        assert "les 10 premières lignes ci-dessous" in bloc
        assert len(re.findall(r"Dormeur\d\d", bloc)) == 10
        # Le lien de la première cellule mène au compte, pour le rouvrir ou le clôturer.
        dormeur = Utilisateur.objects.get(nom="Dormeur00")
        assert reverse("gestion:utilisateur", args=[convention.pk, dormeur.pk]) in bloc
        # L'export, lui, a toutes les lignes.
        assert len(exporter(client, convention, "inactifs")) == 15

    def test_dix_lignes_tout_est_a_l_ecran(self, client, convention, admin_connecte):
        for n in range(10):
            rendre_inactif(factories.creer_utilisateur(nom=f"Dormeur{n:02d}", prenom="Zoé", convention=convention))
        bloc = section(texte(client.get(page_url(convention))), "inactifs")
        assert "10 comptes" in bloc
        assert len(re.findall(r"Dormeur\d\d", bloc)) == 10
        assert "premières lignes" not in bloc

    def test_tableau_vide_le_dit(self, client, convention, admin_connecte):
        bloc = section(texte(client.get(page_url(convention))), "inactifs")
        assert "0 compte" in bloc
        assert "Tous les comptes ouverts ont été utilisés dans l'année." in bloc
        assert "<table>" not in bloc


# --- Ce que chaque tableau compte -----------------------------------------------------------


def par_profil(lignes: list[dict[str, str]]) -> dict[str, int]:
    return {ligne["Code du profil"]: int(ligne["Nombre d'utilisateurs"]) for ligne in lignes}


class TestUtilisateursParProfil:
    def test_comptes_par_profil_de_la_convention(self, client, convention, admin_connecte):
        lignes = exporter(client, convention, "profils")
        # CDAP-T1 : resp_a (A), resp_a1 et membre_a1 (A1) ; AFAS-DECLARER : resp_a (A), resp_b et
        # membre_b (B) ; AFAS-HABILITER, accordé mais donné à aucun groupe : zéro.
        assert par_profil(lignes) == {"CDAP-T1": 3, "AFAS-DECLARER": 3, "AFAS-HABILITER": 0}
        assert {ligne["Service"] for ligne in lignes} == {
            Profil.objects.get(code=c).service.libelle for c in ("CDAP-T1", "AFAS-DECLARER")
        }
        bloc = section(texte(client.get(page_url(convention))), "profils")
        assert "5 utilisateurs détiennent au moins un profil aujourd'hui" in bloc

    def test_seules_les_habilitations_effectives_aujourd_hui(
        self, client, convention, admin_connecte, arbre, membre_a1, membre_b, resp_b
    ):
        # Appartenance qui commence demain : pas encore effective.
        demain = factories.creer_utilisateur(nom="Demain", prenom="Denise", convention=convention)
        services.appartenance_ouvrir(par=None, utilisateur=demain, groupe=arbre["B"], date_ouverture=jours(1))
        # Compte clôturé aujourd'hui : plus rien.
        services.utilisateur_cloturer(par=None, utilisateur=membre_a1, date_cloture=aujourdhui())
        # Appartenance close aujourd'hui : plus rien.
        services.appartenance_cloturer(
            par=None, appartenance=Appartenance.objects.get(utilisateur=membre_b), date_cloture=aujourdhui()
        )
        assert par_profil(exporter(client, convention, "profils")) == {
            "CDAP-T1": 2,  # resp_a, resp_a1
            "AFAS-DECLARER": 2,  # resp_a, resp_b
            "AFAS-HABILITER": 0,
        }
        # Groupe clôturé : ses membres perdent ses profils.
        Groupe.objects.filter(pk=arbre["B"].pk).update(date_cloture=aujourdhui())
        assert par_profil(exporter(client, convention, "profils"))["AFAS-DECLARER"] == 1

    def test_profil_retire_de_la_convention_ne_compte_plus(self, client, convention, admin_connecte):
        convention.profils.remove(Profil.objects.get(code="CDAP-T1"))
        assert par_profil(exporter(client, convention, "profils")) == {"AFAS-DECLARER": 3, "AFAS-HABILITER": 0}

    def test_convention_cloturee_aucun_profil_effectif(self, client, convention, admin_connecte, agent_caf):
        type(convention).objects.filter(pk=convention.pk).update(date_cloture=aujourdhui())
        connecter_verifie(client, agent_caf)  # l'administrateur ne l'administre plus
        assert set(par_profil(exporter(client, convention, "profils")).values()) == {0}

    def test_meme_regle_que_les_profils_effectifs_de_chacun(
        self, client, convention, admin_connecte, arbre, membre_a1, membre_b
    ):
        """Le tableau applique à tous d'un coup la règle de ``perms.profils_effectifs`` : même
        résultat que de la demander compte par compte, cas limites compris."""
        services.utilisateur_cloturer(par=None, utilisateur=membre_a1, date_cloture=aujourdhui())
        futur = factories.creer_utilisateur(nom="Futur", prenom="Félix", convention=convention)
        services.appartenance_ouvrir(par=None, utilisateur=futur, groupe=arbre["A"], date_ouverture=jours(2))
        double = factories.creer_utilisateur(nom="Double", prenom="Dora", convention=convention)
        services.appartenance_ouvrir(par=None, utilisateur=double, groupe=arbre["A1"])
        services.appartenance_ouvrir(par=None, utilisateur=double, groupe=arbre["B"])
        attendu: dict[str, int] = {}
        for user in Utilisateur.objects.filter(convention=convention):
            for code in perms.profils_effectifs(user).values_list("code", flat=True):
                attendu[code] = attendu.get(code, 0) + 1
        obtenu = {code: n for code, n in par_profil(exporter(client, convention, "profils")).items() if n}
        assert obtenu == attendu

    def test_le_responsable_ne_compte_que_son_sous_arbre(self, client, convention, arbre, resp_a, resp_b):
        connecter_verifie(client, resp_a)
        assert par_profil(exporter(client, convention, "profils")) == {
            "CDAP-T1": 3,
            "AFAS-DECLARER": 1,  # resp_a seul : B n'est pas à lui
            "AFAS-HABILITER": 0,
        }
        connecter_verifie(client, resp_b)
        assert par_profil(exporter(client, convention, "profils")) == {
            "CDAP-T1": 0,
            "AFAS-DECLARER": 2,
            "AFAS-HABILITER": 0,
        }


class TestChiffresDeLaNuit:
    """Une grande convention (``SEUIL_SYNTHESE`` appartenances) montre les chiffres de profils
    calculés la nuit, datés ; l'export et le responsable comptent à l'instant."""

    @pytest.fixture
    def grande(self, monkeypatch):
        monkeypatch.setattr(tableaux, "SEUIL_SYNTHESE", 1)

    def test_la_page_montre_les_chiffres_dates_de_la_nuit(self, client, convention, admin_connecte, arbre, grande):
        hier = jours(-1)
        assert tableaux.synthese_profils_calculer(hier) == 1
        nouveau = factories.creer_utilisateur(nom="Nouveau", prenom="Noé", convention=convention)
        services.appartenance_ouvrir(par=None, utilisateur=nouveau, groupe=arbre["B"])
        bloc = section(texte(client.get(page_url(convention))), "profils")
        # Les chiffres d'hier (5 comptes), avec leur date ; l'export compte le nouveau.
        assert "5 utilisateurs détiennent au moins un profil aujourd'hui" in bloc
        assert f"chiffres au {hier:%d/%m/%Y}, calculés chaque nuit" in bloc
        assert re.search(r"AFAS-DECLARER</td>\s*<td[^>]*>3<", bloc)
        assert par_profil(exporter(client, convention, "profils"))["AFAS-DECLARER"] == 4
        # La nuit suivante les rattrape.
        tableaux.synthese_profils_calculer()
        bloc = section(texte(client.get(page_url(convention))), "profils")
        assert "6 utilisateurs détiennent au moins un profil" in bloc
        assert f"chiffres au {aujourdhui():%d/%m/%Y}" in bloc

    def test_memes_chiffres_que_le_compte_a_l_instant(self, client, convention, admin_connecte, arbre, grande):
        tableaux.synthese_profils_calculer()
        lignes = {
            code: int(n)
            for code, n in re.findall(
                r"<td[^>]*>([A-Z0-9-]+)</td>\s*<td[^>]*>(\d+)<",
                section(texte(client.get(page_url(convention))), "profils"),
            )
        }
        assert (
            lignes
            == par_profil(exporter(client, convention, "profils"))
            == {
                "CDAP-T1": 3,
                "AFAS-DECLARER": 3,
                "AFAS-HABILITER": 0,
            }
        )

    def test_le_responsable_compte_son_sous_arbre_a_l_instant(self, client, convention, arbre, resp_a, grande):
        tableaux.synthese_profils_calculer()
        connecter_verifie(client, resp_a)
        bloc = section(texte(client.get(page_url(convention))), "profils")
        assert "chiffres au" not in bloc
        assert "3 utilisateurs détiennent au moins un profil aujourd'hui" in bloc

    def test_sous_le_seuil_rien_n_est_calcule_et_l_ancien_s_efface(self, client, convention, admin_connecte, arbre):
        assert tableaux.synthese_profils_calculer() == 0
        assert "chiffres au" not in section(texte(client.get(page_url(convention))), "profils")
        SyntheseProfils.objects.create(convention=convention, jour=jours(-3), profil=None, nombre=99)
        tableaux.synthese_profils_calculer()
        assert not SyntheseProfils.objects.exists()

    def test_la_tache_de_nuit_les_calcule(self, convention, arbre, grande, settings):
        from habilitations import tasks

        assert settings.CELERY_BEAT_SCHEDULE["syntheses-tableaux-de-bord"]["task"] == (
            "habilitations.tasks.syntheses_tableaux_de_bord"
        )
        tasks.syntheses_tableaux_de_bord.delay()
        assert SyntheseProfils.objects.filter(convention=convention, jour=aujourdhui(), profil=None).get().nombre == 5


class TestComptesInactifs:
    def test_sans_connexion_depuis_douze_mois(self, client, convention, admin_connecte, membre_a1, membre_b):
        rendre_inactif(membre_a1)
        jamais = factories.creer_utilisateur(nom="Jamais", prenom="Jean", convention=convention)
        cree_il_y_a = timezone.now() - datetime.timedelta(days=366)
        Utilisateur.objects.filter(pk=jamais.pk).update(last_login=None, cree_le=cree_il_y_a)
        presque = factories.creer_utilisateur(nom="Presque", prenom="Paul", convention=convention)
        rendre_inactif(presque, 364)  # onze mois et des poussières : averti, pas encore inactif
        lignes = exporter(client, convention, "inactifs")
        assert colonne(lignes, "Identifiant") == {membre_a1.identifiant, jamais.identifiant}
        par_identifiant = {ligne["Identifiant"]: ligne for ligne in lignes}
        assert par_identifiant[jamais.identifiant]["Dernière connexion"] == "Jamais"
        assert (
            par_identifiant[jamais.identifiant]["Sans activité depuis le"]
            == f"{timezone.localtime(cree_il_y_a):%d/%m/%Y}"
        )
        derniere = timezone.localdate(timezone.now() - datetime.timedelta(days=400))
        assert par_identifiant[membre_a1.identifiant]["Dernière connexion"] == f"{derniere:%d/%m/%Y}"

    def test_compte_clos_exclu(self, client, convention, admin_connecte, membre_a1):
        rendre_inactif(membre_a1)
        services.utilisateur_cloturer(par=None, utilisateur=membre_a1, date_cloture=aujourdhui())
        assert exporter(client, convention, "inactifs") == []

    def test_compte_rouvert_recemment_n_est_pas_inactif(self, client, convention, admin_connecte, membre_a1):
        rendre_inactif(membre_a1)
        Utilisateur.objects.filter(pk=membre_a1.pk).update(suspendu_le=timezone.now() - datetime.timedelta(days=30))
        membre_a1.refresh_from_db()
        lignes = exporter(client, convention, "inactifs")
        assert [ligne["Suspendu le"] for ligne in lignes] == [
            f"{timezone.localdate() - datetime.timedelta(days=30):%d/%m/%Y}"
        ]
        services.utilisateur_rouvrir(par=admin_connecte, utilisateur=membre_a1)
        assert exporter(client, convention, "inactifs") == []

    def test_le_reglage_fixe_la_periode(self, client, convention, admin_connecte, membre_a1, settings):
        rendre_inactif(membre_a1, 100)
        assert exporter(client, convention, "inactifs") == []
        settings.INACTIVITE_SUSPENSION_JOURS = 90
        assert colonne(exporter(client, convention, "inactifs"), "Identifiant") == {membre_a1.identifiant}
        assert "Comptes sans connexion depuis 3 mois" in texte(client.get(page_url(convention)))

    def test_meme_reference_que_la_tache_de_suspension(
        self, client, convention, admin_connecte, membre_a1, membre_b, resp_b
    ):
        """Ceux que le tableau montre sont ceux que la tâche quotidienne suspend : une seule
        règle (``services.reference_activite``)."""
        rendre_inactif(membre_a1)
        rendre_inactif(membre_b, 364)
        rendre_inactif(resp_b)
        Utilisateur.objects.filter(pk=resp_b.pk).update(reouvert_le=timezone.now() - datetime.timedelta(days=3))
        montres = colonne(exporter(client, convention, "inactifs"), "Identifiant")
        assert montres == {membre_a1.identifiant}
        _avertis, suspendus = services.inactivite_traiter()
        assert suspendus == 1
        assert set(Utilisateur.objects.filter(suspendu_le__isnull=False).values_list("identifiant", flat=True)) == (
            montres
        )


class TestComptesJamaisActives:
    def test_jamais_connectes_hors_comptes_clos(self, client, convention, admin_connecte):
        neuf = factories.creer_utilisateur(nom="Neuf", prenom="Noé", convention=convention)
        a_venir = factories.creer_utilisateur(nom="Avenir", prenom="Ana", convention=convention)
        Utilisateur.objects.filter(pk=a_venir.pk).update(date_ouverture=jours(5))
        clos = factories.creer_utilisateur(nom="Clos", prenom="Cléo", convention=convention)
        services.utilisateur_cloturer(par=None, utilisateur=clos, date_cloture=aujourdhui())
        lignes = exporter(client, convention, "jamais-actives")
        assert colonne(lignes, "Identifiant") == {neuf.identifiant, a_venir.identifiant}
        ligne = next(ligne for ligne in lignes if ligne["Identifiant"] == a_venir.identifiant)
        assert ligne["Date d'ouverture"] == f"{jours(5):%d/%m/%Y}"
        assert ligne["Créé le"] == f"{timezone.localdate():%d/%m/%Y}"
        assert ligne["Prénom"] == "Ana"

    def test_une_premiere_connexion_le_retire(self, client, convention, admin_connecte):
        neuf = factories.creer_utilisateur(nom="Neuf", prenom="Noé", convention=convention)
        assert colonne(exporter(client, convention, "jamais-actives"), "Identifiant") == {neuf.identifiant}
        Utilisateur.objects.filter(pk=neuf.pk).update(last_login=timezone.now())
        assert exporter(client, convention, "jamais-actives") == []


class TestEcheances:
    @pytest.fixture
    def finissantes(self, convention, arbre, membre_a1, membre_b, resp_b):
        def finir(user, jours_: int) -> Appartenance:
            appartenance = Appartenance.objects.get(utilisateur=user)
            return services.appartenance_cloturer(par=None, appartenance=appartenance, date_cloture=jours(jours_))

        return {"30": finir(membre_a1, 30), "31": finir(membre_b, 31), "1": finir(resp_b, 1)}

    def test_dans_les_trente_jours_seulement(self, client, convention, admin_connecte, finissantes, membre_a1, resp_b):
        # Une appartenance close aujourd'hui est déjà finie ; une annulée avant de commencer
        # (période vide) ne se termine pas.
        services.appartenance_cloturer(
            par=None, appartenance=Appartenance.objects.get(utilisateur__nom="Aubin"), date_cloture=aujourdhui()
        )
        future = services.appartenance_ouvrir(
            par=None, utilisateur=membre_a1, groupe=Groupe.objects.get(code="A"), date_ouverture=jours(10)
        )
        services.appartenance_cloturer(par=None, appartenance=future, date_cloture=aujourdhui())
        lignes = exporter(client, convention, "echeances")
        assert [ligne["Identifiant"] for ligne in lignes] == [resp_b.identifiant, membre_a1.identifiant]
        assert lignes[0]["Jours restants"] == "1"
        assert lignes[1] == {
            "Identifiant": membre_a1.identifiant,
            "Nom": "Cayrol",
            "Prénom": "Chloé",
            "Code du groupe": "A1",
            "Libellé du groupe": "Groupe A1",
            "Date d'ouverture": f"{jours(-3):%d/%m/%Y}",
            "Date de clôture": f"{jours(30):%d/%m/%Y}",
            "Jours restants": "30",
        }

    def test_le_reglage_fixe_la_periode(self, client, convention, admin_connecte, finissantes, resp_b, settings):
        settings.ECHEANCE_TABLEAU_DE_BORD_JOURS = 7
        assert colonne(exporter(client, convention, "echeances"), "Identifiant") == {resp_b.identifiant}
        assert "Appartenances qui se terminent dans les 7 jours" in texte(client.get(page_url(convention)))


class TestGroupesOrphelins:
    def test_sans_membre_ou_sans_responsable_ouvert(
        self, client, convention, admin_connecte, arbre, resp_a1, resp_b, membre_b
    ):
        assert exporter(client, convention, "groupes-orphelins") == []
        services.groupe_creer(
            par=None, convention=convention, code="VIDE", libelle="Groupe vidé", responsable=resp_b, parent=arbre["B"]
        )
        services.utilisateur_cloturer(par=None, utilisateur=resp_a1, date_cloture=aujourdhui())
        Utilisateur.objects.filter(pk=resp_b.pk).update(suspendu_le=timezone.now())
        # Un groupe clôturé n'est plus à surveiller.
        ferme = services.groupe_creer(
            par=None, convention=convention, code="FERME", libelle="Fermé", responsable=resp_b, date_cloture=jours(1)
        )
        Groupe.objects.filter(pk=ferme.pk).update(date_ouverture=jours(-5), date_cloture=aujourdhui())
        lignes = {ligne["Code"]: ligne for ligne in exporter(client, convention, "groupes-orphelins")}
        assert set(lignes) == {"A1", "B", "VIDE"}
        assert lignes["A1"]["Motif"] == "Compte du responsable clôturé"
        assert lignes["B"]["Motif"] == "Compte du responsable suspendu"
        assert lignes["VIDE"]["Motif"] == "Aucun membre, Compte du responsable suspendu"
        assert lignes["VIDE"]["Sous-groupe de"] == "B"
        assert lignes["VIDE"]["Niveau"] == "2"
        assert lignes["VIDE"]["Responsable habilitations"] == f"{resp_b.identifiant} — Brice BASTIDE"

    def test_les_lignes_ecrites_par_la_vue_sont_echappees(self, client, convention, admin_connecte, resp_b):
        services.groupe_creer(
            par=None, convention=convention, code="X&Y", libelle='<script>alert("x")</script>', responsable=resp_b
        )
        brut = client.get(page_url(convention)).content.decode()
        bloc = re.search(r'<section[^>]*id="groupes-orphelins">.*?</section>', brut, re.S).group(0)
        assert "<script>" not in bloc
        assert '<td class="fr-cell--multiline">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</td>' in bloc
        groupe = Groupe.objects.get(code="X&Y")
        lien = reverse("gestion:groupe_appartenances", args=[convention.pk, groupe.pk])
        assert f'<td><a class="fr-link" href="{lien}">X&amp;Y</a></td>' in bloc

    def test_groupe_dont_le_dernier_membre_part(self, client, convention, admin_connecte, arbre, resp_b, membre_b):
        for appartenance in Appartenance.objects.filter(groupe=arbre["B"]):
            services.appartenance_cloturer(par=None, appartenance=appartenance, date_cloture=aujourdhui())
        lignes = exporter(client, convention, "groupes-orphelins")
        assert [(ligne["Code"], ligne["Motif"]) for ligne in lignes] == [("B", "Aucun membre")]


def lignes_affichees(bloc: str) -> list[tuple[str, ...]]:
    """Les lignes du tableau d'une section, cellules en texte, avec le lien de la première."""
    lignes = []
    for tr in re.findall(r"<tbody>(.*?)</tbody>", bloc, re.S)[0].split("</tr>")[:-1]:
        lien = re.search(r'href="([^"]*)"', tr)
        cellules = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        lignes.append((lien.group(1) if lien else "", *cellules))
    return lignes


class TestGroupesOrphelinsDeLaNuit:
    """Une grande convention montre le tableau des groupes sans membre ou sans responsable de la
    nuit (nombre et premières lignes), daté ; l'export et le responsable le calculent à l'instant."""

    @pytest.fixture
    def orphelins(self, convention, arbre, resp_a1, resp_b):
        """Douze groupes vides (B-00 à B-11, plus que l'aperçu) et A1 au responsable clôturé."""
        for n in range(12):
            services.groupe_creer(
                par=None, convention=convention, code=f"B-{n:02d}", libelle=f"Vide {n}", responsable=resp_b
            )
        services.utilisateur_cloturer(par=None, utilisateur=resp_a1, date_cloture=aujourdhui())

    def test_memes_lignes_dans_le_meme_ordre_qu_a_l_instant(
        self, client, convention, admin_connecte, orphelins, monkeypatch
    ):
        a_l_instant = section(texte(client.get(page_url(convention))), "groupes-orphelins")
        monkeypatch.setattr(tableaux, "SEUIL_SYNTHESE", 1)
        assert tableaux.synthese_profils_calculer() == 1
        de_la_nuit = section(texte(client.get(page_url(convention))), "groupes-orphelins")
        assert "<strong>13 groupes</strong> — les 10 premières lignes" in a_l_instant
        assert f"13 groupes (chiffres au {aujourdhui():%d/%m/%Y}, calculés chaque nuit" in de_la_nuit
        assert lignes_affichees(de_la_nuit) == lignes_affichees(a_l_instant)
        # Par niveau puis code : les douze groupes vides (niveau 1) avant A1 (niveau 2).
        assert [ligne[1] for ligne in lignes_affichees(de_la_nuit)] == [f"B-{n:02d}" for n in range(10)]
        premier = lignes_affichees(de_la_nuit)[0]
        assert premier[0] == reverse(
            "gestion:groupe_appartenances", args=[convention.pk, Groupe.objects.get(code="B-00").pk]
        )
        assert premier[-1] == "Aucun membre"

    def test_la_page_montre_la_nuit_l_export_et_le_responsable_l_instant(
        self, client, convention, admin_connecte, orphelins, resp_b, monkeypatch
    ):
        monkeypatch.setattr(tableaux, "SEUIL_SYNTHESE", 1)
        tableaux.synthese_profils_calculer()
        # Dans la journée, un groupe vide reçoit un membre : la page garde le chiffre de la nuit.
        nouveau = factories.creer_utilisateur(nom="Nouveau", prenom="Noé", convention=convention)
        services.appartenance_ouvrir(par=None, utilisateur=nouveau, groupe=Groupe.objects.get(code="B-00"))
        bloc = section(texte(client.get(page_url(convention))), "groupes-orphelins")
        nuit = f"13 groupes (chiffres au {aujourdhui():%d/%m/%Y}, calculés chaque nuit ; l'export compte à l'instant)"
        assert nuit in bloc and "B-00" in bloc
        assert len(exporter(client, convention, "groupes-orphelins")) == 12
        # Le responsable (son sous-arbre : B) compte à l'instant.
        connecter_verifie(client, resp_b)
        bloc = section(texte(client.get(page_url(convention))), "groupes-orphelins")
        assert "chiffres au" not in bloc and "11 groupes" in bloc and "B-00" not in bloc
        # La nuit suivante rattrape la page.
        connecter_verifie(client, admin_connecte)
        tableaux.synthese_profils_calculer()
        bloc = section(texte(client.get(page_url(convention))), "groupes-orphelins")
        assert f"12 groupes (chiffres au {aujourdhui():%d/%m/%Y}" in bloc and "B-00" not in bloc

    def test_sous_le_seuil_calcule_a_l_instant_et_l_ancien_s_efface(
        self, client, convention, admin_connecte, orphelins
    ):
        SyntheseGroupesOrphelins.objects.create(convention=convention, jour=jours(-3), nombre=99, lignes=[])
        assert tableaux.synthese_profils_calculer() == 0
        assert not SyntheseGroupesOrphelins.objects.exists()
        bloc = section(texte(client.get(page_url(convention))), "groupes-orphelins")
        assert "chiffres au" not in bloc and "13 groupes" in bloc

    def test_la_tache_de_nuit_l_ecrit(self, convention, orphelins, monkeypatch):
        from habilitations import tasks

        monkeypatch.setattr(tableaux, "SEUIL_SYNTHESE", 1)
        tasks.syntheses_tableaux_de_bord.delay()
        synthese = SyntheseGroupesOrphelins.objects.get(convention=convention, jour=aujourdhui())
        assert synthese.nombre == 13
        assert [cellules[0] for _cle, cellules in synthese.lignes] == [f"B-{n:02d}" for n in range(11)]


class TestSousArbreDuResponsable:
    def test_chaque_tableau_se_limite_a_son_sous_arbre(
        self, client, convention, administrateur, arbre, resp_a, resp_a1, resp_b, membre_a1, membre_b
    ):
        Utilisateur.objects.update(last_login=timezone.now())
        for user in (membre_a1, membre_b, administrateur):
            rendre_inactif(user)
        for user in (membre_a1, membre_b):
            services.appartenance_cloturer(
                par=None, appartenance=Appartenance.objects.get(utilisateur=user), date_cloture=jours(5)
            )
        neuf_a1 = factories.creer_utilisateur(nom="Neuf", prenom="Nina", convention=convention)
        services.appartenance_ouvrir(par=None, utilisateur=neuf_a1, groupe=arbre["A1"])
        neuf_b = factories.creer_utilisateur(nom="Neuf", prenom="Noah", convention=convention)
        services.appartenance_ouvrir(par=None, utilisateur=neuf_b, groupe=arbre["B"])
        services.groupe_creer(par=None, convention=convention, code="B-VIDE", libelle="Vide", responsable=resp_b)
        services.groupe_creer(
            par=None, convention=convention, code="A1-VIDE", libelle="Vide", responsable=resp_a1, parent=arbre["A1"]
        )

        connecter_verifie(client, resp_a)
        Utilisateur.objects.filter(pk=resp_a.pk).update(last_login=timezone.now())
        assert colonne(exporter(client, convention, "inactifs"), "Identifiant") == {membre_a1.identifiant}
        assert colonne(exporter(client, convention, "jamais-actives"), "Identifiant") == {neuf_a1.identifiant}
        assert colonne(exporter(client, convention, "echeances"), "Identifiant") == {membre_a1.identifiant}
        assert colonne(exporter(client, convention, "groupes-orphelins"), "Code") == {"A1-VIDE"}
        page = texte(client.get(page_url(convention)))
        assert membre_b.identifiant not in page and "B-VIDE" not in page
        assert administrateur.identifiant not in page

        connecter_verifie(client, resp_b)
        Utilisateur.objects.filter(pk=resp_b.pk).update(last_login=timezone.now())
        assert colonne(exporter(client, convention, "inactifs"), "Identifiant") == {membre_b.identifiant}
        assert colonne(exporter(client, convention, "jamais-actives"), "Identifiant") == {neuf_b.identifiant}
        assert colonne(exporter(client, convention, "echeances"), "Identifiant") == {membre_b.identifiant}
        assert colonne(exporter(client, convention, "groupes-orphelins"), "Code") == {"B-VIDE"}

        # L'administrateur, lui, voit tout (son propre compte compris).
        connecter_verifie(client, administrateur)
        rendre_inactif(administrateur)
        inactifs = colonne(exporter(client, convention, "inactifs"), "Identifiant")
        assert inactifs == {membre_a1.identifiant, membre_b.identifiant, administrateur.identifiant}

    def test_le_responsable_d_un_sous_groupe_ne_remonte_pas(
        self, client, convention, arbre, resp_a, resp_a1, membre_a1
    ):
        """resp_a1 ne voit ni le groupe A ni ses membres (resp_a), seulement A1."""
        Utilisateur.objects.update(last_login=timezone.now())
        rendre_inactif(resp_a)
        rendre_inactif(membre_a1)
        for appartenance in Appartenance.objects.filter(groupe=arbre["A"]):
            services.appartenance_cloturer(par=None, appartenance=appartenance, date_cloture=jours(3))
        connecter_verifie(client, resp_a1)
        assert colonne(exporter(client, convention, "inactifs"), "Identifiant") == {membre_a1.identifiant}
        assert exporter(client, convention, "echeances") == []
        assert par_profil(exporter(client, convention, "profils")) == {
            "CDAP-T1": 2,
            "AFAS-DECLARER": 0,
            "AFAS-HABILITER": 0,
        }
        assert resp_a.identifiant not in texte(client.get(page_url(convention)))


# --- Le fichier CSV -------------------------------------------------------------------------


class TestFichierCsv:
    def test_bom_point_virgule_accents_et_dates_francaises(self, client, convention, admin_connecte, membre_a1):
        rendre_inactif(membre_a1)
        reponse = client.get(csv_url(convention, "inactifs"))
        assert isinstance(reponse, StreamingHttpResponse)
        assert reponse["Content-Type"] == "text/csv; charset=utf-8"
        assert reponse["Content-Disposition"] == (
            f'attachment; filename="inactifs-convention-{convention.pk}-{timezone.localdate():%Y-%m-%d}.csv"'
        )
        entetes, ligne = lire_csv(reponse)
        assert entetes == [
            "Identifiant",
            "Nom",
            "Prénom",
            "Adresse mail",
            "Dernière connexion",
            "Sans activité depuis le",
            "Suspendu le",
        ]
        assert ligne[1:3] == ["Cayrol", "Chloé"]
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", ligne[4])

    def test_une_cellule_ne_devient_jamais_une_formule(self, client, convention, admin_connecte):
        piege = factories.creer_utilisateur(nom='=HYPERLINK("http://x")', prenom="+33", convention=convention)
        ligne = next(
            ligne
            for ligne in exporter(client, convention, "jamais-actives")
            if ligne["Identifiant"] == piege.identifiant
        )
        assert ligne["Nom"] == '\'=HYPERLINK("http://x")'
        assert ligne["Prénom"] == "'+33"

    @pytest.mark.parametrize("slug", SLUGS)
    def test_chaque_export_a_ses_en_tetes(self, client, convention, admin_connecte, slug):
        entetes, *_ = lire_csv(client.get(csv_url(convention, slug)))
        assert tuple(entetes) == tableaux.TABLEAUX[slug].entetes


# --- Budget de requêtes ---------------------------------------------------------------------


def peupler(convention, groupe: Groupe, nombre: int) -> None:
    """``nombre`` comptes par bulk_create : un tiers inactifs, tous jamais activés, chacun membre
    du groupe avec une appartenance qui finit dans 10 jours."""
    il_y_a_deux_ans = timezone.now() - datetime.timedelta(days=730)
    Utilisateur.objects.update(last_login=timezone.now())  # les comptes de l'arbre : actifs
    comptes = Utilisateur.objects.bulk_create(
        Utilisateur(
            identifiant=f"MAS{n:07d}",
            convention=convention,
            organisme_id=convention.organisme_id,
            nom=f"Masse{n:05d}",
            prenom="Élodie",
            email=f"masse{n}@exemple.test",
            date_ouverture=aujourdhui() - datetime.timedelta(days=800),
            cree_le=il_y_a_deux_ans if n % 3 == 0 else timezone.now(),
            password="!",
        )
        for n in range(nombre)
    )
    Appartenance.objects.bulk_create(
        Appartenance(utilisateur=u, groupe=groupe, date_ouverture=aujourdhui(), date_cloture=jours(10)) for u in comptes
    )
    analyser(Utilisateur, nombre)
    analyser(Appartenance, nombre)


@pytest.fixture(scope="class")
def masse(request, django_db_setup, django_db_blocker):
    """La convention, son administrateur, l'arbre de groupes (comme les fixtures du même nom) et
    ``request.param`` comptes dans A1 : créés une fois par taille pour les sept tests de la classe
    (transaction partagée, annulée à la fin ; chaque test est annulé dans son point de sauvegarde)."""
    with transaction_partagee(django_db_blocker):
        convention = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=factories.CafFactory()))
        administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", organisme=convention.organisme)
        factories.nommer_administrateur(convention, administrateur)
        resp_a, resp_a1, resp_b = (
            factories.creer_utilisateur(nom=nom, prenom=prenom, convention=convention)
            for nom, prenom in (("Aubrac", "Anne"), ("Aubin", "Alain"), ("Bastide", "Brice"))
        )
        groupe_a = _groupe(convention, "A", resp_a, ["CDAP-T1", "AFAS-DECLARER"])
        groupe_a1 = _groupe(convention, "A1", resp_a1, ["CDAP-T1"], parent=groupe_a)
        groupe_b = _groupe(convention, "B", resp_b, ["AFAS-DECLARER"])
        for responsable, groupe in ((resp_a, groupe_a), (resp_a1, groupe_a1), (resp_b, groupe_b)):
            _membre(responsable, groupe)
        _membre(factories.creer_utilisateur(nom="Cayrol", prenom="Chloé", convention=convention), groupe_a1)
        _membre(factories.creer_utilisateur(nom="Delpech", prenom="Denis", convention=convention), groupe_b)
        peupler(convention, groupe_a1, request.param)
        yield {"nombre": request.param, "convention": convention, "administrateur": administrateur, "resp_a": resp_a}


@pytest.mark.django_db
@pytest.mark.parametrize("masse", [10, 10_000], indirect=True, ids=["10", "10000"])
class TestBudgetDeRequetes:
    @pytest.mark.parametrize("persona", ["administrateur", "resp_a"])
    def test_page(self, client, masse, persona, django_assert_max_num_queries):
        convention, nombre = masse["convention"], masse["nombre"]
        connecter_verifie(client, masse[persona])
        client.get(page_url(convention))
        # 1 session, 2 utilisateur, 3 appareil de double authentification, 4 convention (avec Caf
        # et organisme), 5 administrateur ? (droit guardian et mandat en une requête) ; pour le
        # responsable, 6 ses groupes racines ; profils : nombre d'utilisateurs habilités,
        # comptes par profil, profils accordés (3) ; puis nombre et 10 premières lignes de
        # chacun des quatre autres tableaux (8) ; menu : gestionnaire ? et services ouverts (2) ;
        # session enregistrée (3) ; lignes AFAS (issue 12, composées par la coquille) : habilite-t-il
        # dans cette convention ? (1) ; pour l'administrateur, qui habilite, déclarants, rôles non
        # tenus, approbateurs en attente, fins prochaines (4) ; pour l'administrateur, les
        # chiffres de la nuit des profils et le tableau de la nuit des groupes sans membre ou sans
        # responsable, s'il y en a (2 ; le responsable compte son sous-arbre). Le nombre de comptes
        # ne change rien.
        with django_assert_max_num_queries(23 if persona == "resp_a" else 28):
            reponse = client.get(page_url(convention))
        page = texte(reponse)
        assert len(re.findall(r"Masse\d{5}", section(page, "jamais-actives"))) == 10
        assert f"{(nombre + 2) // 3} comptes" in section(page, "inactifs")

    @pytest.mark.parametrize("slug", SLUGS)
    def test_export(self, client, masse, slug, django_assert_max_num_queries):
        convention, nombre = masse["convention"], masse["nombre"]
        connecter_verifie(client, masse["administrateur"])
        # 1 session, 2 utilisateur, 3 appareil, 4 convention, 5 administrateur ?, 6-8 session
        # enregistrée ; puis, pendant l'envoi, 9 toutes les lignes lues par un itérateur
        # (profils : comptes par profil, puis profils accordés).
        with django_assert_max_num_queries(10 if slug == "profils" else 9):
            lignes = lire_csv(client.get(csv_url(convention, slug)))
        attendu = {
            "profils": 3,
            "inactifs": (nombre + 2) // 3,
            "jamais-actives": nombre,
            "echeances": nombre,
            "groupes-orphelins": 0,
        }
        assert len(lignes) == 1 + attendu[slug]
