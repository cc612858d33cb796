"""Plans d'exécution des pages clés sur PostgreSQL : aucune lecture séquentielle d'une grande
table, aucun tri qui déborde sur disque.

Le modèle à étendre : une page du banc (``bench/banc.py``), une persona ; chaque SELECT que la
page exécute passe par ``EXPLAIN (ANALYZE, FORMAT JSON)`` sur une grande commune générée
(20 000 comptes), et ``defauts_du_plan`` dit ce qui ne va pas. Une page pas encore optimisée se
marque ``xfail(strict=True)`` : le jour où elle passe, le test échoue tant que la marque reste,
pour qu'on l'enlève et que la page ne régresse plus.
"""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.banc import pages
from habilitations.administration.groupes import views as vues_groupes
from habilitations.administration.tableaux_de_bord import tableaux
from habilitations.models import SyntheseProfils, Utilisateur
from portail import generation
from portail.generation import Echelle, GrandeCommune
from portail.socle.listes import PaginateurParCles
from tests.conftest import connecter_verifie

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="plans d'exécution : PostgreSQL seulement"),
]

GRANDE_TABLE = 10_000  # lignes estimées (pg_class.reltuples) à partir desquelles un Seq Scan est refusé

# Les proportions de l'échelle « nationale » : la grande commune n'a qu'une part des comptes, des
# appartenances et du journal du pays (sinon lire toute la table serait le bon plan pour elle).
GRANDE = Echelle(
    nom="plans",
    cafs=2,
    organismes=300,
    conventions=320,
    utilisateurs=120_000,
    appartenances=150_000,
    groupes=500,
    journal=150_000,
    grande_commune=GrandeCommune(
        utilisateurs=20_000, groupes=400, appartenances=36_000, journal=20_000, grand_groupe=4_000
    ),
    agents_par_caf=2,
)


def defauts_du_plan(plan: dict, lignes_par_table: dict[str, float]) -> list[str]:
    """Les nœuds d'un plan (EXPLAIN ANALYZE, JSON) qui lisent toute une grande table ou trient sur disque."""
    defauts = []
    noeud_type = plan.get("Node Type")
    table = plan.get("Relation Name")
    if noeud_type == "Seq Scan" and lignes_par_table.get(table, 0) >= GRANDE_TABLE:
        lignes = f"{lignes_par_table[table]:,.0f}".replace(",", " ")
        defauts.append(f"lecture séquentielle de {table} ({lignes} lignes)")
    if plan.get("Sort Space Type") == "Disk":
        defauts.append(f"tri sur disque ({plan.get('Sort Method')}, {plan.get('Sort Space Used')} kB)")
    for sous_plan in plan.get("Plans", []):
        defauts.extend(defauts_du_plan(sous_plan, lignes_par_table))
    return defauts


@pytest.fixture(scope="module")
def grande_commune(django_db_setup, django_db_blocker):
    """Générée une fois pour le module, effacée à la fin (la base de test reste vide) ; les
    chiffres de la nuit des tableaux de bord calculés, comme la tâche de nuit le fait."""
    with django_db_blocker.unblock():
        resume = generation.Generateur(GRANDE, graine=5, progression=False).generer()
        # Statistiques d'abord, comme generer_donnees avant ses calculs de nuit : sans elles, le
        # compte des profils se planifiait sur celles du jeu précédent de la même base (sous
        # xdist, celui de test_plans_afas.py) et durait des minutes.
        generation.analyser()
        tableaux.synthese_profils_calculer()
        # Comme l'autovacuum après un chargement en masse : carte de visibilité à jour (les
        # comptages par index seul en dépendent) et statistiques.
        with connection.cursor() as curseur:
            curseur.execute("VACUUM ANALYZE")
        yield resume
        SyntheseProfils.objects.all().delete()
        generation.vider_donnees_generees()


def _plans_de_la_page(client, resume: dict, nom_page: str, detecteur=defauts_du_plan) -> list[str]:
    personas = resume["personas"]
    (page,) = [p for p in pages(personas) if p.nom == nom_page]
    connecter_verifie(client, Utilisateur.objects.get(identifiant=personas["comptes"][page.persona]["identifiant"]))
    client.get("/")
    with CaptureQueriesContext(connection) as requetes:
        assert client.get(page.chemin).status_code == 200
    with connection.cursor() as curseur:
        curseur.execute("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'")
        lignes_par_table = dict(curseur.fetchall())
        defauts = []
        for requete in requetes.captured_queries:
            sql = requete["sql"]
            # Un SELECT, ou une requête en CTE qui ne fait que lire (les comptes du sous-arbre d'un
            # responsable : ``utilisateurs.pagination``) ; ni verrou ni écriture.
            debut = sql.lstrip().upper()
            lecture = debut.startswith("SELECT") or (
                debut.startswith("WITH") and not re.search(r"\b(INSERT|UPDATE|DELETE)\b", debut)
            )
            if not lecture or "FOR UPDATE" in debut:
                continue
            curseur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = curseur.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            defauts += [f"{d} — {sql[:160]}" for d in detecteur(plan[0]["Plan"], lignes_par_table)]
    return defauts


@pytest.mark.parametrize(
    "nom_page",
    [
        "utilisateurs, page 1",
        "utilisateurs, page 1 000",
        "utilisateurs, filtre nom",
        "utilisateurs, tri par date",
        "utilisateurs, filtre grand groupe",
        "utilisateurs, page 1 (agent Caf)",
        "utilisateurs, page 1 000 (agent Caf)",
        "utilisateurs, page 1 (responsable)",
        "utilisateurs, page 1 000 (responsable)",
        "utilisateur, détail",
        "utilisateur, appartenances",
    ],
)
def test_liste_des_utilisateurs_sans_lecture_sequentielle_ni_tri_sur_disque(client, grande_commune, nom_page):
    defauts = _plans_de_la_page(client, grande_commune, nom_page)
    assert not defauts, "\n".join(defauts)


@pytest.mark.parametrize(
    "nom_page",
    [
        "tableaux de bord (agent Caf)",
        "conventions (administrateur)",
        "conventions, page 1 000 (national)",
        "journal, page 1 000",
        "groupes, page 1 000",
        "grand groupe, membres p. 1",
        "grand groupe, membres p. 1 000",
        "groupe, membres (responsable)",
    ],
)
def test_tableaux_de_bord_conventions_journal_et_groupes(client, grande_commune, nom_page):
    """Les autres pages de listes clés : tableaux de bord (chiffres de profils de la nuit),
    conventions d'un administrateur, pages profondes du journal, des groupes et des membres."""
    defauts = _plans_de_la_page(client, grande_commune, nom_page)
    assert not defauts, "\n".join(defauts)


def test_le_detecteur_voit_une_lecture_sequentielle_et_un_tri_sur_disque():
    """Le détecteur lui-même, sur des plans écrits à la main (sans lui, les tests ci-dessus ne
    prouveraient rien)."""
    plan = {
        "Node Type": "Limit",
        "Plans": [
            {
                "Node Type": "Sort",
                "Sort Method": "external merge",
                "Sort Space Type": "Disk",
                "Sort Space Used": 18000,
                "Plans": [{"Node Type": "Seq Scan", "Relation Name": "habilitations_utilisateur"}],
            }
        ],
    }
    defauts = defauts_du_plan(plan, {"habilitations_utilisateur": 50_000.0})
    assert len(defauts) == 2
    assert defauts_du_plan(plan["Plans"][0]["Plans"][0], {"habilitations_utilisateur": 500.0}) == []


def tris_de_plus_de_mille_lignes(plan: dict, lignes_par_table: dict[str, float]) -> list[str]:
    """Les tris (complets ou incrémentaux) qui reçoivent au moins 1 000 lignes."""
    defauts = []
    if plan.get("Node Type") in ("Sort", "Incremental Sort"):
        recues = sum(p.get("Actual Rows", 0) * p.get("Actual Loops", 1) for p in plan.get("Plans", []))
        if recues >= 1_000:
            defauts.append(f"tri de {recues:.0f} lignes")
    for sous_plan in plan.get("Plans", []):
        defauts.extend(tris_de_plus_de_mille_lignes(sous_plan, lignes_par_table))
    return defauts


@pytest.mark.parametrize("nom_page", ["grand groupe, membres p. 1", "grand groupe, membres p. 1 000"])
def test_membres_du_grand_groupe_sans_trier_tout_le_groupe(client, grande_commune, nom_page):
    """Les membres d'un grand groupe (4 000) triés par nom : les clés de la page se lisent dans
    l'ordre de l'index des comptes (convention, nom, prénom), depuis la fin pour la dernière page
    (``PaginateurParLeBoutLePlusProche``), sans trier tout le groupe ; le membre est un compte du
    périmètre par la jointure (``q_membre_du_perimetre``), pas par une sous-requête des 20 000."""
    defauts = _plans_de_la_page(client, grande_commune, nom_page, tris_de_plus_de_mille_lignes)
    assert not defauts, "\n".join(defauts)


def test_membres_du_grand_groupe_temoin_l_ancienne_page_triait_tout(client, grande_commune, monkeypatch):
    """Témoin : la page 1 000 lue par ``PaginateurParCles`` (clés depuis le début, comme avant)
    trie les 4 000 membres ; le détecteur ci-dessus le voit."""
    monkeypatch.setattr(vues_groupes, "PaginateurParLeBoutLePlusProche", PaginateurParCles)
    defauts = _plans_de_la_page(client, grande_commune, "grand groupe, membres p. 1 000", tris_de_plus_de_mille_lignes)
    assert any(d.startswith("tri de ") for d in defauts), defauts


# --- « Mes tableaux de bord » et journal d'une grande convention (session 5) --------------------


def _noeuds(plan: dict) -> list[dict]:
    return [plan, *(n for sous in plan.get("Plans", []) for n in _noeuds(sous))]


def _plan(requete_ou_sql, params=None) -> dict:
    if params is None:
        requete_ou_sql, params = requete_ou_sql.query.sql_with_params()
    with connection.cursor() as curseur:
        curseur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + requete_ou_sql, params)
        plan = curseur.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def test_tableaux_de_bord_comptent_dans_leurs_index(grande_commune):
    """Comptes sans connexion depuis un an et jamais activés : leurs lignes et leur nombre lus dans
    les index partiels (``utilisateur_conv_inactivite``, ``utilisateur_conv_jamais_active``), sans
    toucher la table (avant : les 20 000 comptes de la grande commune relus par l'index de la
    convention, pour chaque tableau). Échéances : les appartenances lues dans l'index couvrant
    (``appartenance_cloture_groupe``) et chaque compte une seule fois (avant : deux fois, jointure
    puis sous-requête). Sans ces index (schéma d'avant), ce test échoue."""
    from django.db.models import Count, Window

    from conventions.models import Convention
    from habilitations import perms

    convention = perms.conventions_pour_perimetre(Convention.objects).get(pk=grande_commune["personas"]["convention"])
    perimetre = perms.Perimetre(convention, administrateur=True)

    def cles(slug: str):
        requete = tableaux.TABLEAUX[slug](perimetre).requete()
        return requete.annotate(n=Window(Count("*"))).values_list("pk", "n")[: tableaux.APERCU + 1]

    for slug, index in (
        ("inactifs", "utilisateur_conv_inactivite"),
        ("jamais-actives", "utilisateur_conv_jamais_active"),
    ):
        # La section en une requête (``Tableau.ordre_indexe``) : le nombre dans l'index seul, les
        # onze premières lignes dans l'ordre de l'index, sans tri.
        with CaptureQueriesContext(connection) as requetes:
            section = tableaux.TABLEAUX[slug](perimetre).section()
        assert section.nombre > tableaux.APERCU, slug
        (requete,) = requetes.captured_queries
        noeuds = _noeuds(_plan(requete["sql"], []))
        lectures = [n for n in noeuds if n.get("Relation Name") == "habilitations_utilisateur"]
        assert sorted((n["Node Type"], n.get("Index Name")) for n in lectures) == [
            ("Index Only Scan", index),
            ("Index Scan", index),
        ], slug
        assert not [n for n in noeuds if n["Node Type"] == "Sort"], slug
    noeuds = _noeuds(_plan(cles("echeances")))
    assert {n.get("Index Name") for n in noeuds if n.get("Relation Name") == "habilitations_appartenance"} == {
        "appartenance_cloture_groupe"
    }
    assert len([n for n in noeuds if n.get("Relation Name") == "habilitations_utilisateur"]) == 1


def test_actes_du_journal_lus_par_sauts_dans_l_index(grande_commune):
    """Le choix « Acte » du journal : une descente de l'index (convention, acte) par acte, pas les
    20 000 lignes du journal de la grande commune (un DISTINCT les lisait toutes, à chaque page)."""
    from conventions.models import Convention
    from habilitations import perms
    from habilitations.administration.journal import journal as lecture
    from portail.models import EvenementAudit

    convention = Convention.objects.get(pk=grande_commune["personas"]["convention"])
    actes = lecture.actes_presents(perms.Perimetre(convention, administrateur=True))
    assert len(actes) >= 2
    lignes_du_journal = EvenementAudit.objects.filter(convention=convention).count()
    assert lignes_du_journal >= 10_000
    plan = _plan(lecture._SQL_ACTES, {"convention": convention.pk})
    lues = sum(
        n["Actual Rows"] * n.get("Actual Loops", 1)
        for n in _noeuds(plan)
        if n.get("Relation Name") == "portail_evenementaudit"
    )
    assert lues <= 2 * (len(actes) + 1), f"{lues} lignes du journal lues pour {len(actes)} actes"
