"""« Journal des actes » d'une convention et son export CSV : qui le lit (pas le responsable),
ce qu'il montre (acteur, acte en français, cible, adresse, avant/après lisibles), ses filtres,
son ordre, sa pagination, le budget de requêtes."""

import csv
import datetime
import io
import re
import tracemalloc
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from afas.declarations.etats import TRANSITIONS
from habilitations import services
from habilitations.administration.journal import journal as lecture
from habilitations.models import Utilisateur
from habilitations.perms import Perimetre
from portail.models import EvenementAudit
from portail.socle import csv as socle_csv
from portail.socle.csv import cellule_csv
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db


def journal_url(convention) -> str:
    return reverse("gestion:journal", args=[convention.pk])


def csv_url(convention) -> str:
    return reverse("gestion:journal_csv", args=[convention.pk])


def lire_csv(reponse) -> list[dict[str, str]]:
    assert reponse.status_code == 200
    contenu = b"".join(reponse.streaming_content)
    assert contenu.startswith(b"\xef\xbb\xbf")
    entetes, *lignes = csv.reader(io.StringIO(contenu.decode("utf-8-sig")), delimiter=";")
    assert tuple(entetes) == lecture.ENTETES_JOURNAL
    return [dict(zip(entetes, ligne, strict=True)) for ligne in lignes]


def lignes_affichees(reponse) -> list[list[str]]:
    """Les cellules de chaque ligne du tableau, balises ôtées, dans l'ordre affiché."""
    assert reponse.status_code == 200
    corps = re.search(r"<tbody>(.*?)</tbody>", texte(reponse), re.S)
    if corps is None:
        return []
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cellule)).strip()
            for cellule in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        ]
        for tr in re.findall(r"<tr>(.*?)</tr>", corps.group(1), re.S)
    ]


def a_paris(*args: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(*args))


@pytest.fixture
def admin_connecte(client, administrateur, arbre):
    connecter_verifie(client, administrateur)
    return administrateur


@pytest.fixture
def eleonore(convention, admin_connecte):
    """Un compte créé par l'administrateur depuis l'écran : l'acte porte son nom."""
    return services.utilisateur_creer_dans_convention(
        par=admin_connecte,
        convention=convention,
        nom="Lefèvre",
        prenom="Éléonore",
        email="eleonore.lefevre@exemple.test",
    )


# --- Qui lit le journal ----------------------------------------------------------------------

AUTORISES = ["administrateur", "agent_caf", "superviseur"]
REFUSES = [
    "resp_a",
    "resp_a1",
    "resp_b",
    "membre_a1",
    "declarant",
    "admin_autre_partenaire",
    "admin_autre_convention",
    "agent_autre_caf",
    "exterieur",
]


class TestAutorisation:
    @pytest.fixture(autouse=True)
    def _arbre(self, arbre):
        return arbre

    @pytest.mark.parametrize("persona", AUTORISES)
    def test_administrateur_et_caf_lisent(self, client, request, convention, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        assert "Journal des actes" in texte(client.get(journal_url(convention)))
        assert client.get(csv_url(convention)).status_code == 200

    @pytest.mark.parametrize("persona", REFUSES)
    def test_les_autres_recoivent_404_responsable_compris(self, client, request, convention, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        assert client.get(journal_url(convention)).status_code == 404
        assert client.get(csv_url(convention)).status_code == 404

    def test_le_responsable_n_a_pas_l_onglet(self, client, convention, resp_a, administrateur):
        connecter_verifie(client, resp_a)
        page = texte(client.get(reverse("gestion:tableaux_de_bord", args=[convention.pk])))
        assert journal_url(convention) not in page
        connecter_verifie(client, administrateur)
        page = texte(client.get(reverse("gestion:tableaux_de_bord", args=[convention.pk])))
        assert journal_url(convention) in page

    def test_anonyme_renvoye_a_la_connexion(self, client, convention):
        for url in (journal_url(convention), csv_url(convention)):
            for reponse in (client.get(url), client.post(url)):
                assert reponse.status_code == 302
                assert reponse["Location"].startswith(reverse("habilitations:connexion"))

    @pytest.mark.parametrize("persona", AUTORISES + REFUSES)
    def test_post_refuse_et_rien_ne_change(self, client, request, convention, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        avant = EvenementAudit.objects.count()
        for url in (journal_url(convention), csv_url(convention)):
            assert client.post(url).status_code == 405
        assert EvenementAudit.objects.count() == avant

    def test_convention_inexistante(self, client, administrateur):
        connecter_verifie(client, administrateur)
        assert client.get(reverse("gestion:journal", args=[999_999])).status_code == 404


# --- Ce que le journal montre ----------------------------------------------------------------


class TestContenu:
    def test_colonnes_et_acte_lisible(self, client, convention, admin_connecte, eleonore):
        reponse = client.get(journal_url(convention), {"acte": "utilisateur_creer", "cible": "Éléonore"})
        page = texte(reponse)
        for entete in lecture.ENTETES_JOURNAL:
            assert f'<th scope="col">{entete}</th>' in page
        (ligne,) = lignes_affichees(reponse)
        date_heure, acteur, acte, cible, _ip, avant, apres = ligne
        evenement = EvenementAudit.objects.get(action="utilisateur_creer", cible_id=str(eleonore.pk))
        assert date_heure == f"{timezone.localtime(evenement.cree_le):%d/%m/%Y à %Hh%M}"
        assert acteur == f"{admin_connecte.identifiant} — Hugo CASTAN"
        assert acte == "Création d'un compte"
        assert cible == f"LEFÈVRE Éléonore ({eleonore.identifiant})"
        assert avant == ""
        assert f"Identifiant : {eleonore.identifiant}" in apres
        assert f"Date d'ouverture : {eleonore.date_ouverture:%d/%m/%Y}" in apres

    def test_acte_du_systeme_et_adresse_ip(self, client, convention, admin_connecte):
        EvenementAudit.objects.filter(action="groupe_creer", cible_libelle="A1 — Groupe A1").update(
            adresse_ip="192.0.2.17"
        )
        (ligne,) = lignes_affichees(client.get(journal_url(convention), {"acte": "groupe_creer", "cible": "A1 —"}))
        assert ligne[1] == "Système"
        assert ligne[2] == "Création d'un groupe"
        assert ligne[4] == "192.0.2.17"
        assert "Sous-groupe de : A" in ligne[6]
        assert "Responsable habilitations :" in ligne[6]

    def test_avant_et_apres_d_une_cloture(self, client, convention, admin_connecte, membre_a1):
        services.utilisateur_cloturer(
            par=admin_connecte, utilisateur=membre_a1, date_cloture=datetime.date(2099, 1, 31)
        )
        (ligne,) = lignes_affichees(client.get(journal_url(convention), {"acte": "utilisateur_cloturer"}))
        assert ligne[2] == "Clôture d'un compte"
        assert ligne[5] == "Date de clôture : —"
        assert ligne[6] == "Date de clôture : 31/01/2099"

    def test_un_texte_qui_ressemble_a_une_date_s_ecrit_tel_quel(self, client, convention, admin_connecte):
        """Un libellé saisi « 2026-02-30 » (ou une date suivie d'un retour à la ligne) n'est pas
        une date : la page et l'export l'écrivent tel quel au lieu d'échouer (erreur 500)."""
        EvenementAudit.objects.filter(action="groupe_creer", cible_libelle="A1 — Groupe A1").update(
            apres={"libelle": "2026-02-30", "code": "2026-01-05\n"}
        )
        (ligne,) = lignes_affichees(client.get(journal_url(convention), {"acte": "groupe_creer", "cible": "A1 —"}))
        assert "2026-02-30" in ligne[6] and "2026-01-05" in ligne[6]
        (exportee,) = [
            x
            for x in lire_csv(client.get(csv_url(convention), {"acte": "groupe_creer"}))
            if x["Cible"].startswith("A1 —")
        ]
        assert "2026-02-30" in exportee["Après"] and "2026-01-05" in exportee["Après"]

    def test_une_autre_convention_n_apparait_pas(
        self, client, convention, admin_connecte, autre_convention_meme_partenaire, admin_autre_convention
    ):
        intrus = services.utilisateur_creer_dans_convention(
            par=admin_autre_convention,
            convention=autre_convention_meme_partenaire,
            nom="Intrus",
            prenom="Igor",
            email="igor@exemple.test",
        )
        page = texte(client.get(journal_url(convention)))
        assert intrus.identifiant not in page and "INTRUS" not in page
        assert all("INTRUS" not in ligne["Cible"] for ligne in lire_csv(client.get(csv_url(convention))))
        # Et l'inverse : l'administrateur de l'autre convention y lit son acte.
        connecter_verifie(client, admin_autre_convention)
        assert "INTRUS" in texte(client.get(journal_url(autre_convention_meme_partenaire)))

    def test_du_plus_recent_au_plus_ancien_et_pagine(self, client, convention, admin_connecte):
        EvenementAudit.objects.filter(convention=convention).delete()
        EvenementAudit.objects.bulk_create(
            EvenementAudit(
                convention=convention,
                action="identifiant_renvoyer",
                cible_libelle=f"Cible {n:02d}",
                cree_le=a_paris(2026, 1, 1, 8) + datetime.timedelta(hours=n),
            )
            for n in range(30)
        )
        reponse = client.get(journal_url(convention))
        assert "30 actes — page 1 sur 2" in texte(reponse)
        cibles = [ligne[3] for ligne in lignes_affichees(reponse)]
        assert cibles == [f"Cible {n:02d}" for n in range(29, 4, -1)]
        cibles = [ligne[3] for ligne in lignes_affichees(client.get(journal_url(convention), {"page": 2}))]
        assert cibles == [f"Cible {n:02d}" for n in range(4, -1, -1)]

    def test_journal_vide(self, client, convention, admin_connecte):
        EvenementAudit.objects.filter(convention=convention).delete()
        page = texte(client.get(journal_url(convention)))
        assert "Aucun acte n'est encore enregistré pour cette convention." in page


# --- Filtres ----------------------------------------------------------------------------------


class TestFiltres:
    def test_par_acteur_identifiant_saisi_librement(self, client, convention, admin_connecte, eleonore):
        reponse = client.get(journal_url(convention), {"acteur": f"  {admin_connecte.identifiant.lower()} "})
        lignes = lignes_affichees(reponse)
        assert lignes and all(ligne[1].startswith(admin_connecte.identifiant) for ligne in lignes)
        assert {ligne[2] for ligne in lignes} >= {"Création d'un compte", "Envoi d'un mot de passe provisoire"}

    def test_le_choix_d_acte_ne_propose_que_les_actes_presents(self, client, convention, admin_connecte):
        page = texte(client.get(journal_url(convention)))
        choix = re.search(r'<select name="acte"[^>]*>(.*?)</select>', page, re.S).group(1)
        assert '<option value="groupe_creer">Création d\'un groupe</option>' in choix
        assert "convention_valider" not in choix
        # Une valeur forgée est refusée sous le champ.
        page = texte(client.get(journal_url(convention), {"acte": "convention_valider"}))
        assert "Sélectionnez un choix valide" in page

    def test_les_actes_presents_sont_ceux_du_distinct_de_la_convention(self, convention, convention_autre_partenaire):
        """``actes_presents`` saute d'acte en acte dans l'index (requête récursive) : mêmes actes
        qu'un DISTINCT sur la convention, actes inconnus du catalogue compris, rien d'une autre
        convention ni des actes sans convention ; aucun pour un journal vide."""
        EvenementAudit.objects.filter(convention=convention).delete()
        assert lecture.actes_presents(Perimetre(convention, administrateur=True)) == []
        for action in ("groupe_creer", "groupe_creer", "acte_inconnu_du_catalogue", "a", "zz_dernier", "connexion"):
            EvenementAudit.objects.create(convention=convention, action=action)
        EvenementAudit.objects.create(convention=convention_autre_partenaire, action="convention_valider")
        EvenementAudit.objects.create(convention=None, action="b_sans_convention")
        attendus = set(
            EvenementAudit.objects.filter(convention=convention).order_by().values_list("action", flat=True).distinct()
        )
        choix = lecture.actes_presents(Perimetre(convention, administrateur=True))
        assert (
            {code for code, _libelle in choix}
            == attendus
            == {
                "groupe_creer",
                "acte_inconnu_du_catalogue",
                "a",
                "zz_dernier",
                "connexion",
            }
        )
        assert [libelle for _code, libelle in choix] == sorted(lecture.libelle_acte(code) for code in attendus)

    def test_par_periode_en_heure_de_paris(self, client, convention, admin_connecte):
        EvenementAudit.objects.filter(convention=convention).delete()
        for libelle, moment in (
            ("veille tard", a_paris(2026, 3, 9, 23, 59)),
            ("premier jour", a_paris(2026, 3, 10, 0, 30)),  # 23 h 30 la veille en UTC
            ("dernier jour", a_paris(2026, 3, 12, 23, 30)),
            ("lendemain", a_paris(2026, 3, 13, 0, 1)),
        ):
            EvenementAudit.objects.create(
                convention=convention, action="groupe_creer", cible_libelle=libelle, cree_le=moment
            )
        parametres = {"du": "2026-03-10", "au": "2026-03-12"}
        cibles = [ligne[3] for ligne in lignes_affichees(client.get(journal_url(convention), parametres))]
        assert cibles == ["dernier jour", "premier jour"]
        assert [ligne["Cible"] for ligne in lire_csv(client.get(csv_url(convention), parametres))] == cibles
        cibles = [ligne[3] for ligne in lignes_affichees(client.get(journal_url(convention), {"du": "2026-03-13"}))]
        assert cibles == ["lendemain"]

    def test_periode_a_l_envers(self, client, convention, admin_connecte):
        page = texte(client.get(journal_url(convention), {"du": "2026-03-12", "au": "2026-03-10"}))
        assert "La date de fin doit être postérieure ou égale à la date de début." in page
        assert "Aucun résultat ne correspond à ces filtres." in page

    def test_par_cible(self, client, convention, admin_connecte, membre_a1, membre_b):
        lignes = lignes_affichees(client.get(journal_url(convention), {"cible": "cayrol"}))
        assert lignes and all("CAYROL Chloé" in ligne[3] for ligne in lignes)

    def test_l_export_garde_les_filtres(self, client, convention, admin_connecte, eleonore):
        parametres = {"acte": "utilisateur_creer", "acteur": admin_connecte.identifiant}
        page = texte(client.get(journal_url(convention), parametres | {"page": "1"}))
        # Le lien d'export reprend les filtres (pas la page).
        assert f'href="{csv_url(convention)}?acte=utilisateur_creer&acteur={admin_connecte.identifiant}"' in page
        (ligne,) = lire_csv(client.get(csv_url(convention), parametres))
        assert ligne["Acte"] == "Création d'un compte"
        assert ligne["Cible"] == f"LEFÈVRE Éléonore ({eleonore.identifiant})"
        assert ligne["Acteur"] == f"{admin_connecte.identifiant} — Hugo CASTAN"
        assert f"Identifiant : {eleonore.identifiant} ; " in ligne["Après"]
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4} à \d{2}h\d{2}", ligne["Date et heure"])


# --- Export et libellés ----------------------------------------------------------------------


class TestExport:
    def test_toutes_les_lignes_bom_et_nom_date(self, client, convention, admin_connecte):
        nombre = EvenementAudit.objects.filter(convention=convention).count()
        assert nombre > 25  # plus d'une page à l'écran
        reponse = client.get(csv_url(convention))
        assert reponse["Content-Disposition"] == (
            f'attachment; filename="journal-convention-{convention.pk}-{timezone.localdate():%Y-%m-%d}.csv"'
        )
        lignes = lire_csv(reponse)
        assert len(lignes) == nombre
        assert "Système" in {ligne["Acteur"] for ligne in lignes}
        assert "Ajout d'un utilisateur au groupe" in {ligne["Acte"] for ligne in lignes}


def actions_ecrites_par_le_code() -> set[str]:
    """Les codes d'acte que les services écrivent dans la piste d'audit (``action="…"``)."""
    racine = Path(settings.BASE_DIR)
    actions: set[str] = set()
    for dossier in ("portail", "habilitations", "conventions", "afas"):
        for fichier in (racine / dossier).rglob("*.py"):
            actions |= set(re.findall(r'\baction="([a-z_]+)"', fichier.read_text(encoding="utf-8")))
    return actions


def test_chaque_acte_ecrit_par_le_code_a_son_libelle_francais():
    actions = actions_ecrites_par_le_code()
    assert "utilisateur_creer" in actions  # la recherche trouve bien les actes
    assert actions - lecture.LIBELLES_ACTES.keys() == set()
    assert lecture.libelle_acte("utilisateur_creer") == "Création d'un compte"


def test_chaque_passage_d_etat_d_une_declaration_a_son_libelle_francais():
    # ``transitionner`` écrit ``declaration_<état d'arrivée>``, que la recherche ci-dessus ne voit pas.
    arrivees = {vers for _, vers in TRANSITIONS}
    assert {f"declaration_{etat}" for etat in arrivees} - lecture.LIBELLES_ACTES.keys() == set()


# --- Budget de requêtes ---------------------------------------------------------------------


def peupler(convention, acteur: Utilisateur, nombre: int) -> None:
    debut = timezone.now() - datetime.timedelta(days=60)
    actions = ("utilisateur_creer", "appartenance_ouvrir", "utilisateur_modifier")
    EvenementAudit.objects.bulk_create(
        EvenementAudit(
            convention=convention,
            acteur=acteur if n % 2 else None,
            action=actions[n % 3],
            cible_type="habilitations.Utilisateur",
            cible_id=str(n),
            cible_libelle=f"MASSE Élodie (MAS{n:07d})",
            adresse_ip="192.0.2.1",
            avant={"nom": "Ancien"} if n % 3 == 2 else None,
            apres={"identifiant": f"MAS{n:07d}", "date_ouverture": "2026-01-05"},
            cree_le=debut + datetime.timedelta(seconds=n),
        )
        for n in range(nombre)
    )


def exporter_en_flux(client, convention) -> tuple[int, int, int]:
    """Lit l'export paquet après paquet, comme un navigateur, sans le garder : (lignes, octets,
    pic de mémoire Python pendant la lecture, en octets)."""
    reponse = client.get(csv_url(convention))
    assert reponse.status_code == 200 and reponse.streaming
    lignes = octets = 0
    tracemalloc.start()
    try:
        for paquet in reponse.streaming_content:
            lignes += paquet.count(b"\r\n")
            octets += len(paquet)
        _, pic = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lignes - 1, octets, pic


class TestExportEnFlux:
    """Ticket 11 : l'export lit la base par un curseur, par lots, et écrit en flux : la mémoire ne
    grandit pas avec le nombre de lignes, et chaque ligne dit exactement ce que dit l'écran."""

    def test_memoire_constante_pour_dix_fois_plus_de_lignes(self, client, convention, administrateur, monkeypatch):
        # Des lots de 500 (chemin Python, SQLite) ou des paquets de 32 Ko (COPY, PostgreSQL) : dès
        # 2 000 lignes, l'export en tient plusieurs ; 10 fois plus de lignes n'en ajoute aucun en
        # mémoire, seulement en nombre.
        monkeypatch.setattr(lecture, "TAILLE_LOT", 500)
        monkeypatch.setattr(socle_csv, "OCTETS_PAR_PAQUET", 32 * 1024)
        connecter_verifie(client, administrateur)
        peupler(convention, administrateur, 2_000)
        base = EvenementAudit.objects.filter(convention=convention).count()
        lignes, octets, pic = exporter_en_flux(client, convention)
        assert lignes == base
        peupler(convention, administrateur, 18_000)
        lignes_x10, octets_x10, pic_x10 = exporter_en_flux(client, convention)
        assert lignes_x10 == base + 18_000
        assert octets_x10 > 8 * octets
        # Le contenu fait 10 fois plus ; la mémoire, au plus une fois et demie (un lot, un paquet).
        assert pic_x10 < 1.5 * pic, (pic, pic_x10)

    def test_chaque_ligne_dit_ce_que_dit_l_ecran(self, client, convention, admin_connecte, arbre):
        peupler(convention, admin_connecte, 300)
        # Des actes réels aussi : dates et horodatages dans avant/après, postes, listes, Système.
        autre = Utilisateur.objects.filter(convention=convention).exclude(pk=admin_connecte.pk).first()
        services.utilisateur_modifier(
            par=admin_connecte,
            utilisateur=autre,
            nom=autre.nom,
            prenom=autre.prenom,
            email=autre.email,
            poste="itinerant",
        )
        services.utilisateur_cloturer(
            par=admin_connecte, utilisateur=autre, date_cloture=timezone.localdate() + datetime.timedelta(days=30)
        )
        attendues = [
            [cellule_csv(valeur) for valeur in lecture.LigneJournal.de(evenement).valeurs_csv()]
            for evenement in lecture.evenements(Perimetre(convention=convention, administrateur=True))
        ]
        lignes = lire_csv(client.get(csv_url(convention)))
        assert [list(ligne.values()) for ligne in lignes] == attendues
        assert any("Poste : Itinérant" in ligne["Après"] for ligne in lignes)


class TestBudgetDeRequetes:
    @pytest.mark.parametrize("nombre", [10, 10_000])
    def test_page_filtree(self, client, convention, administrateur, arbre, nombre, django_assert_max_num_queries):
        peupler(convention, administrateur, nombre)
        connecter_verifie(client, administrateur)
        parametres = {"cible": "masse", "du": "2000-01-01"}
        client.get(journal_url(convention), parametres)
        # 1 session, 2 utilisateur, 3 appareil de double authentification, 4 convention, 5
        # administrateur ?, 6 actes présents (liste déroulante), 7 comptage, 8 page de 25 actes
        # avec leur acteur, 9-10 menu, 11-13 session enregistrée. Le nombre d'actes ne change rien.
        with django_assert_max_num_queries(13):
            reponse = client.get(journal_url(convention), parametres)
        assert len(lignes_affichees(reponse)) == min(nombre, 25)

    @pytest.mark.parametrize("nombre", [10, 10_000])
    def test_export(self, client, convention, administrateur, arbre, nombre, django_assert_max_num_queries):
        peupler(convention, administrateur, nombre)
        connecter_verifie(client, administrateur)
        # 1 session, 2 utilisateur, 3 appareil, 4 convention, 5 administrateur ?, 6 actes présents
        # (validation du filtre), 7-9 session enregistrée ; puis, pendant l'envoi, 10 les acteurs
        # distincts, 11 leurs noms, 12 tous les actes, lus par un itérateur.
        with django_assert_max_num_queries(12):
            lignes = lire_csv(client.get(csv_url(convention), {"cible": "masse"}))
        assert len(lignes) == nombre
        assert lignes[0]["Après"] == f"Identifiant : MAS{nombre - 1:07d} ; Date d'ouverture : 05/01/2026"
