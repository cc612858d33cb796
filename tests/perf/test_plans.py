"""Plans d'exécution des pages clés sur PostgreSQL : aucune lecture séquentielle d'une grande
table, aucun tri qui déborde sur disque.

Le modèle à étendre : une page du banc (``bench/banc.py``), une persona ; chaque SELECT que la
page exécute passe par ``EXPLAIN (ANALYZE, FORMAT JSON)`` sur une grande commune générée
(20 000 comptes), et ``defauts_du_plan`` dit ce qui ne va pas. Une page pas encore optimisée est
marquée ``xfail(strict=True)`` : le jour où elle passe, le test échoue tant que la marque reste,
pour qu'on l'enlève et que la page ne régresse plus.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.banc import pages
from habilitations.models import Utilisateur
from portail import generation
from portail.generation import Echelle, GrandeCommune
from tests.conftest import connecter_verifie

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="plans d'exécution : PostgreSQL seulement"),
]

GRANDE_TABLE = 10_000  # lignes estimées (pg_class.reltuples) à partir desquelles un Seq Scan est refusé

GRANDE = Echelle(
    nom="plans",
    cafs=2,
    organismes=300,
    conventions=320,
    utilisateurs=24_000,
    appartenances=40_000,
    groupes=500,
    journal=25_000,
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
    """Générée une fois pour le module, effacée à la fin (la base de test reste vide)."""
    with django_db_blocker.unblock():
        resume = generation.Generateur(GRANDE, graine=5, progression=False).generer()
        generation.analyser()
        yield resume
        generation.vider_donnees_generees()


def _plans_de_la_page(client, resume: dict, nom_page: str) -> list[str]:
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
            if not sql.lstrip().upper().startswith("SELECT") or "FOR UPDATE" in sql.upper():
                continue
            curseur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = curseur.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            defauts += [f"{d} — {sql[:160]}" for d in defauts_du_plan(plan[0]["Plan"], lignes_par_table)]
    return defauts


A_OPTIMISER = pytest.mark.xfail(
    strict=True, reason="issue 11 : liste pas encore optimisée (lecture de toute la convention, tri)"
)


@pytest.mark.parametrize(
    "nom_page",
    [
        pytest.param("utilisateurs, page 1", marks=A_OPTIMISER),
        pytest.param("utilisateurs, page 1 000", marks=A_OPTIMISER),
        pytest.param("utilisateurs, tri par date", marks=A_OPTIMISER),
    ],
)
def test_liste_des_utilisateurs_sans_lecture_sequentielle_ni_tri_sur_disque(client, grande_commune, nom_page):
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
