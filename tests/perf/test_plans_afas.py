"""Plans d'exécution des pages AFAS sur PostgreSQL (comme ``tests/perf/test_plans.py``) : une
grande commune aux centaines d'activités, des milliers de déclarants et des dizaines de milliers
d'habilitations AFAS générés une fois pour le module ; chaque SELECT d'une page du banc passe par
``EXPLAIN (ANALYZE, FORMAT JSON)``.

Deux contrôles :
- aucune lecture séquentielle d'une grande table, aucun tri sur disque (``defauts_du_plan``) ;
  une page qui en a encore est marquée ``xfail(strict=True)`` (elle échouera le jour où elle
  passe, pour qu'on enlève la marque) ;
- la taille des plans (nombre de tables lues par requête) : la recherche « Non attribué » et le
  tableau de l'habilitateur posaient un EXISTS par rôle et par lieu, chacun refaisant la
  jointure des droits effectifs, avec la liste des déclarants recopiée dans chacun (des milliers
  d'identifiants) : plus d'une seconde de planification par requête. Compter les tables du plan
  est stable d'une machine à l'autre, le temps de planification ne l'est pas.
"""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from afas.habilitations import tableau_de_bord
from afas.validation import views
from bench.banc import pages
from habilitations.administration.tableaux_de_bord import tableaux
from habilitations.models import Utilisateur
from portail import generation
from portail.generation import Echelle, EchelleAfas, GrandeCommune
from portail.socle.listes import PaginateurParCles, PaginateurParTableauDeCles
from tests.conftest import connecter_verifie
from tests.perf.test_plans import defauts_du_plan

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="plans d'exécution : PostgreSQL seulement"),
]

# Au plus tant de tables lues par une requête (jointures et sous-requêtes comprises).
TABLES_PAR_REQUETE = 24

GRANDE_AFAS = Echelle(
    nom="plans_afas",
    cafs=2,
    organismes=300,
    conventions=320,
    # Les proportions de l'échelle « nationale » pour les comptes (comme tests/perf/test_plans.py) :
    # la grande commune n'en a qu'une part ; avec 20 000 de 24 000 comptes, lire toute la table
    # était le bon plan pour elle, et le test le reprochait aux droits du jour.
    utilisateurs=120_000,
    appartenances=150_000,
    groupes=500,
    journal=5_000,
    grande_commune=GrandeCommune(
        utilisateurs=20_000, groupes=400, appartenances=36_000, journal=4_000, grand_groupe=4_000
    ),
    agents_par_caf=2,
    afas=EchelleAfas(
        activites=2_000, activites_caf_principale=1_200, grande_commune=400, persona=300, habilitations=30_000,
        appels_caf_principale=4, appels_autres=2,
    ),
)  # fmt: skip


@pytest.fixture(scope="module")
def grande_commune(django_db_setup, django_db_blocker):
    """Générée une fois pour le module, effacée à la fin (la base de test reste vide) ; les
    chiffres de profils de la nuit calculés (« Mes tableaux de bord » les lit, comme
    ``tests/perf/test_plans.py``), pas les lignes AFAS de la nuit : leurs requêtes à l'instant
    sont celles qu'on examine, la synthèse a son propre test."""
    with django_db_blocker.unblock():
        resume = generation.Generateur(GRANDE_AFAS, graine=5, progression=False).generer()
        # Comme l'autovacuum après un chargement en masse (tests/perf/test_plans.py) : carte de
        # visibilité et statistiques à jour. ANALYZE seul laissait le plan dépendre des tests
        # passés avant dans la même base (lecture séquentielle des habilitations sous xdist).
        with connection.cursor() as curseur:
            curseur.execute("VACUUM ANALYZE")
        tableaux.synthese_profils_calculer()
        yield resume
        generation.vider_donnees_generees()


def _tables(plan: dict) -> int:
    return int("Relation Name" in plan) + sum(_tables(p) for p in plan.get("Plans", []))


def _requetes_de_la_page(client, resume: dict, nom_page: str) -> list[str]:
    """Les lectures d'une page du banc, vue par sa persona (``_lecture``)."""
    personas = resume["personas"]
    (page,) = [p for p in pages(personas) if p.nom == nom_page]
    connecter_verifie(client, Utilisateur.objects.get(identifiant=personas["comptes"][page.persona]["identifiant"]))
    client.get("/")
    with CaptureQueriesContext(connection) as requetes:
        assert client.get(page.chemin).status_code == 200
    return [r["sql"] for r in requetes.captured_queries if _lecture(r["sql"])]


def _lecture(sql: str) -> bool:
    """Un SELECT, ou une requête en CTE qui ne fait que lire (les droits du jour vérifiés par
    titulaire : ``afas.habilitations.recherche._sql_effectives``) ; ni verrou ni écriture."""
    sql = sql.lstrip().upper()
    if "FOR UPDATE" in sql:
        return False
    return sql.startswith("SELECT") or (sql.startswith("WITH") and not re.search(r"\b(INSERT|UPDATE|DELETE)\b", sql))


def _plans(client, resume: dict, nom_page: str) -> tuple[list[str], list[tuple[int, str]]]:
    """(défauts des plans, [(tables lues, requête)]) des SELECT de la page."""
    requetes = _requetes_de_la_page(client, resume, nom_page)
    defauts, tailles = [], []
    with connection.cursor() as curseur:
        curseur.execute("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'")
        lignes_par_table = dict(curseur.fetchall())
        for sql in requetes:
            curseur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = curseur.fetchone()[0]
            plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
            defauts += [f"{d} — {sql[:160]}" for d in defauts_du_plan(plan, lignes_par_table)]
            tailles.append((_tables(plan), sql[:160]))
    return defauts, tailles


@pytest.mark.parametrize(
    "nom_page",
    [
        "AFAS rôles non attribués",
        "AFAS accueil (habilitateur)",
        "AFAS habilitations actives",
        "AFAS habilitations inactives",
        "AFAS habilitations historiques",
    ],
)
def test_recherche_afas_en_requetes_de_taille_bornee(client, grande_commune, nom_page):
    _defauts, tailles = _plans(client, grande_commune, nom_page)
    # Les requêtes AFAS de la page (pas celles du menu et de la session, communes à toutes).
    trop = [(n, sql) for n, sql in tailles if n > TABLES_PAR_REQUETE and "afas_" in sql]
    assert not trop, "\n".join(f"{n} tables — {sql}" for n, sql in trop)


@pytest.mark.parametrize(
    "nom_page",
    [
        pytest.param("AFAS activités, page 1 (agent Caf)"),
        # Les dernières pages des activités et des lieux lues depuis la fin
        # (``PaginateurParLeBoutLePlusProche``) : organismes de la Caf, ou activités du pays, dans
        # l'ordre d'un index, à rebours ; lieux de la Caf comptés par l'index (organisme, clé)
        # des activités (``test_lieux_de_la_caf_comptes_et_lus_par_index``).
        pytest.param("AFAS activités, page 1 000 (agent Caf)"),
        pytest.param("AFAS lieux, page 1 (agent Caf)"),
        pytest.param("AFAS lieux, page 1 000 (agent Caf)"),
        pytest.param("AFAS activité à 30 lieux (agent Caf)"),
        pytest.param("AFAS approbateurs à valider (agent Caf)"),
        # La page 1 000 des validées : ses clés lues dans l'index (caf, décision, date, clé), puis
        # passées en tableau (``portail.socle.listes.PaginateurParTableauDeCles``).
        pytest.param("AFAS approbateurs validés, page 1 000 (agent Caf)"),
        # Les habilitations des activités de la page lues activité par activité par l'index des
        # activités (``LATERAL``), puis la règle du jour vérifiée par titulaire : le plan ne
        # dépend plus de la part de la table que porte la page. Ce jeu n'a qu'une page de
        # partenaires, qui porte 55 % des habilitations (celles de la grande commune) : lues en
        # une fois (``activite_id = ANY(…)``), elles l'étaient par une lecture de toute la table
        # (xfail jusqu'à la session 6). Forme des requêtes : plus bas
        # (``test_preparation_habilitations_activite_par_activite_puis_titulaires``).
        pytest.param("AFAS préparation des partenaires (agent Caf)"),
        pytest.param("AFAS préparation des partenaires, page 1 000 (agent Caf)"),
        # Organismes de la Caf lus en tableau, nombre de lieux pour les lignes de la page.
        pytest.param("AFAS activités, filtre libellé (agent Caf)"),
        pytest.param("AFAS déclarations reçues, page 1 000 (agent Caf)"),
        pytest.param("AFAS financement d'un appel (agent Caf)"),
        # Les droits du jour vont du compte à ses appartenances (plus par les groupes de la
        # convention, ni par un hachage de toute la table des comptes) : plus de xfail.
        pytest.param("AFAS rôles non attribués"),
        # Plus de xfail : aux proportions nationales, les droits du jour ne lisent plus toute la
        # table des comptes. Limite connue, invisible à cette échelle (moins de 10 000 activités
        # et de groupes) : à « nationale », la liste d'un partenaire hache encore toutes les
        # activités ouvertes (80 000) et lit les 50 000 groupes (la convention du groupe comparée
        # à travers une expression, voir ``afas.models._q_membre_declarer``), 2 à 3 ms chacun.
        pytest.param("AFAS habilitations actives"),
        # Historique compté par groupes (activité, lieu, rôle) : les libellés des groupes lus par
        # clé ; joints, sur une estimation fausse du nombre de groupes, ils hachaient toute la
        # table des lieux. Inactif : ses identifiants, complément des actives.
        pytest.param("AFAS habilitations historiques"),
        pytest.param("AFAS habilitations inactives"),
        pytest.param("AFAS accueil (déclarant)"),
        # Les activités du déclarant passées en un seul tableau (``q_parmi``), lues par l'index
        # des déclarations par activité ; la déclaration, ses rôles lus avec son périmètre.
        pytest.param("AFAS mes déclarations (déclarant)"),
        pytest.param("AFAS mes déclarations, page 1 000 (déclarant)"),
        pytest.param("AFAS déclaration à 30 lieux (déclarant)"),
        # Le rôle du déclarant lu sur la seule activité demandée (requête préparée, par clés).
        pytest.param("AFAS historique d'une activité (déclarant)"),
        pytest.param("AFAS statistiques d'une activité (déclarant)"),
        # Les lignes AFAS de l'habilitateur comptées à l'instant (sans synthèse de la nuit) : les
        # habilitations actives des activités du partenaire, droits du jour relus ligne par ligne
        # (appartenance AFAS-DECLARER par le compte, pas par les groupes de la convention), les
        # demandes en attente par leur index partiel.
        pytest.param("AFAS accueil (habilitateur)"),
    ],
)
def test_pages_afas_sans_lecture_sequentielle_ni_tri_sur_disque(client, grande_commune, nom_page):
    defauts, _tailles = _plans(client, grande_commune, nom_page)
    assert not defauts, "\n".join(defauts)


def _defauts_afas(client, resume: dict, nom_page: str) -> list[str]:
    """Les défauts des seules requêtes AFAS de la page. Dans « Mes tableaux de bord », les
    tableaux des comptes lisent toute la table : la grande commune de ce jeu a 20 000 de ses
    24 000 comptes (c'est alors le bon plan) ; ``tests/perf/test_plans.py`` les examine aux
    proportions nationales."""
    defauts, _tailles = _plans(client, resume, nom_page)
    return [d for d in defauts if "afas_" in d]


@pytest.mark.parametrize("nuit", [False, True], ids=["a_l_instant", "synthese_de_la_nuit"])
@pytest.mark.parametrize("nom_page", ["AFAS accueil (habilitateur)", "tableaux de bord (administrateur)"])
def test_lignes_afas_sans_lecture_sequentielle_ni_tri_sur_disque(client, grande_commune, monkeypatch, nom_page, nuit):
    """Les lignes AFAS de l'habilitateur, comptées à l'instant ou lues dans la synthèse de la nuit
    (seuil abaissé à la grande commune de ce jeu) : par index, sans tri sur disque."""
    if nuit:
        monkeypatch.setattr(tableau_de_bord, "SEUIL_SYNTHESE", 1_000)
        assert tableau_de_bord.synthese_calculer() >= 1
    defauts = _defauts_afas(client, grande_commune, nom_page)
    assert not defauts, "\n".join(defauts)


def test_le_filtre_afas_garde_les_defauts_des_requetes_afas(client, grande_commune):
    """Sans index sur les demandes en attente ni sur les habilitations par activité, les lignes
    AFAS lisent toute leur table : le filtre les voit (sinon le test ci-dessus ne prouverait
    rien)."""
    with connection.cursor() as curseur:
        curseur.execute("DROP INDEX validation_en_attente")
        curseur.execute("DROP INDEX validation_caf_decision_tri")  # la file de la Caf, par où on les compte
        curseur.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'afas_habilitationafas' AND indexdef LIKE '%(activite_id%'"
        )
        for (index,) in curseur.fetchall():
            curseur.execute(f'DROP INDEX "{index}"')
    defauts = _defauts_afas(client, grande_commune, "tableaux de bord (administrateur)")
    assert any("afas_" in d and "lecture séquentielle" in d for d in defauts), defauts


def test_le_compteur_de_tables_voit_les_sous_plans():
    plan = {
        "Node Type": "Nested Loop",
        "Plans": [
            {"Node Type": "Seq Scan", "Relation Name": "afas_activite"},
            {"Node Type": "Hash", "Plans": [{"Node Type": "Index Scan", "Relation Name": "afas_habilitationafas"}]},
        ],
    }
    assert _tables(plan) == 2


def _requete_de_page_des_validees(client, resume: dict) -> list[str]:
    """Les défauts du plan de la requête des lignes de « approbateurs validés, page 1 000 »."""
    defauts, _tailles = _plans(client, resume, "AFAS approbateurs validés, page 1 000 (agent Caf)")
    return [d for d in defauts if "afas_validationapprobateur" in d]


def test_validees_page_1000_par_tableau_de_cles(client, grande_commune):
    """La requête clé de la page : aucune lecture séquentielle ni tri sur disque."""
    assert not _requete_de_page_des_validees(client, grande_commune)


# Les autres tris de la file, page 1 000 (les lignes du banc) : par les copies de l'habilitation
# que porte la demande, lues dans l'index de la file de la Caf.
PAGES_TRIEES = [
    f"AFAS approbateurs validés, page 1 000, par {tri} (agent Caf)"
    for tri in (
        "partenaire",
        "partenaire décroissant",
        "utilisateur",
        "utilisateur décroissant",
        "activité",
        "activité décroissante",
        "date de début",
        "date de début décroissante",
    )
]


def _requete_de_page_triee(client, resume: dict, nom_page: str) -> list[str]:
    defauts, _tailles = _plans(client, resume, nom_page)
    return [d for d in defauts if "afas_validationapprobateur" in d]


# Filtrées par partenaire ou par compte (copies de l'habilitation). Pas de témoin ici : le défaut
# du filtre d'avant (à travers l'habilitation) ne se voit qu'à « nationale » : nombre et page
# partaient des 17 855 partenaires du pays dont le nom contient « commune » (lecture séquentielle
# des 60 000 partenaires, ici 300) et lisaient leurs 316 000 habilitations (0,5 s chacune).
PAGES_FILTREES = [
    "AFAS approbateurs validés, filtre partenaire (agent Caf)",
    "AFAS approbateurs validés, filtre utilisateur (agent Caf)",
]


@pytest.mark.parametrize("nom_page", PAGES_TRIEES + PAGES_FILTREES)
def test_validees_page_1000_triees_par_les_copies(client, grande_commune, nom_page):
    """Aucune lecture séquentielle ni tri sur disque dans les requêtes de la page (nombre et
    lignes), quel que soit le tri ou le filtre."""
    assert not _requete_de_page_triee(client, grande_commune, nom_page)


@pytest.mark.parametrize("nom_page", PAGES_TRIEES[:4])
def test_validees_triees_a_travers_l_habilitation_lisent_toutes_les_habilitations(
    client, grande_commune, monkeypatch, nom_page
):
    """Témoin : triée par partenaire ou par utilisateur à travers l'habilitation (le tri d'avant
    les copies), la page joint les validées de la Caf à toute la table des habilitations. Le
    filtre le voit (sinon le test ci-dessus ne prouverait rien)."""
    monkeypatch.setattr(
        views,
        "TRI_VALIDATIONS",
        {
            **views.TRI_VALIDATIONS,
            "partenaire": ("habilitation__convention__organisme__raison_sociale",),
            "utilisateur": ("habilitation__utilisateur__nom", "habilitation__utilisateur__prenom"),
        },
    )
    # Et la page d'alors : clés lues depuis le début (la dernière page, lue depuis la fin, trie
    # moins mais joint toujours toutes les validées : ce n'est pas ce que ce témoin montre).
    monkeypatch.setattr(views, "PaginateurParTableauDeClesDepuisLeBout", PaginateurParTableauDeCles)
    defauts = _requete_de_page_triee(client, grande_commune, nom_page)
    assert any("lecture séquentielle de afas_habilitationafas" in d for d in defauts), defauts


# Les tables que la requête principale d'Inactif et d'Historique ne lit que par clé, ligne par
# ligne : à l'échelle nationale, les hacher en entier coûtait 150 à 200 ms par page (80 000
# activités, 57 000 lieux, 340 000 validations) pour trier ou filtrer les quelques milliers de
# lignes d'un partenaire.
LUES_PAR_CLE = ("afas_activite", "afas_lieuimplantation", "afas_validationapprobateur")


def _ctes(plan: dict) -> dict[str, dict]:
    """Les CTE du plan par leur nom (``CTE effectives`` : un sous-plan)."""
    nom = str(plan.get("Subplan Name", ""))
    ctes = {nom.removeprefix("CTE "): plan} if nom.startswith("CTE ") else {}
    for p in plan.get("Plans", []):
        ctes |= _ctes(p)
    return ctes


def _tables_lues(plan: dict, ctes: dict[str, dict] | None = None) -> set[str]:
    """Les tables que lit le plan, celles des CTE qu'il parcourt comprises."""
    tables = {plan.get("Relation Name")}
    if plan.get("Node Type") == "CTE Scan" and ctes and plan.get("CTE Name") in ctes:
        tables |= _tables_lues(ctes[plan["CTE Name"]], ctes)
    return tables | {t for p in plan.get("Plans", []) for t in _tables_lues(p, ctes)}


def _lectures_entieres(plan: dict, sous_plan: bool = False, ctes: dict[str, dict] | None = None) -> list[str]:
    """Dans la requête principale, les lectures d'une table de ``LUES_PAR_CLE`` autrement que
    par un index ; partout, les sous-requêtes hachées qui ne partent pas des habilitations du
    partenaire (NOT EXISTS au milieu d'un OU : toutes les appartenances AFAS-DECLARER du pays)."""
    ctes = _ctes(plan) if ctes is None else ctes
    nom = str(plan.get("Subplan Name", ""))
    if nom.startswith("hashed") and "afas_habilitationafas" not in _tables_lues(plan, ctes):
        return [f"{nom} sur {', '.join(sorted(t for t in _tables_lues(plan, ctes) if t))}"]
    sous_plan = sous_plan or bool(nom)
    table = plan.get("Relation Name")
    trouves = []
    if not sous_plan and table in LUES_PAR_CLE and plan["Node Type"] not in ("Index Scan", "Index Only Scan"):
        trouves.append(f"{plan['Node Type']} de {table}")
    for p in plan.get("Plans", []):
        trouves += _lectures_entieres(p, sous_plan, ctes)
    return trouves


@pytest.mark.parametrize("nom_page", ["AFAS habilitations inactives", "AFAS habilitations historiques"])
def test_inactives_et_historiques_lisent_activites_lieux_validations_par_cle(client, grande_commune, nom_page):
    """La requête qui lit toute la liste, les identifiants d'Inactif et les groupes (activité, lieu,
    rôle) d'Historique : activités, lieux, validations et appartenances lus par clé pour les seules
    lignes du partenaire (Inactif : complément des actives, NOT IN ; tri et décision de la Caf en
    sous-requêtes par clé primaire ; les libellés des groupes d'Historique aussi, joints ils
    faisaient hacher toute la table des lieux)."""
    personas = grande_commune["personas"]
    (page,) = [p for p in pages(personas) if p.nom == nom_page]
    connecter_verifie(client, Utilisateur.objects.get(identifiant=personas["comptes"][page.persona]["identifiant"]))
    client.get("/")
    with CaptureQueriesContext(connection) as requetes:
        assert client.get(page.chemin).status_code == 200
    liste = (
        r"SELECT g\.activite_id, "
        if "historiques" in nom_page
        # Inactif d'un partenaire : les droits du jour vérifiés par titulaire, en CTE
        # (``afas.habilitations.recherche._sql_effectives``).
        else r"\s*WITH\s+ouvertes AS MATERIALIZED"
    )
    (sql,) = [r["sql"] for r in requetes.captured_queries if re.match(liste, r["sql"])]
    with connection.cursor() as curseur:
        curseur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = curseur.fetchone()[0]
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    trouves = _lectures_entieres(plan)
    assert not trouves, "\n".join(trouves)


def test_une_sous_requete_hachee_hors_des_habilitations_du_partenaire_est_vue():
    """NOT EXISTS au milieu d'un OU : PostgreSQL hachait toutes les appartenances du pays."""
    appartenances = {"Node Type": "Seq Scan", "Relation Name": "habilitations_appartenance"}
    hachee = {"Node Type": "Hash Join", "Subplan Name": "hashed SubPlan 4", "Plans": [appartenances]}
    actives = {
        **hachee,
        "Plans": [appartenances, {"Node Type": "Index Scan", "Relation Name": "afas_habilitationafas"}],
    }
    cle = {"Node Type": "Index Scan", "Relation Name": "afas_activite", "Subplan Name": "SubPlan 1"}
    assert _lectures_entieres({"Node Type": "Sort", "Plans": [hachee]}) == [
        "hashed SubPlan 4 sur habilitations_appartenance"
    ]
    assert _lectures_entieres({"Node Type": "Sort", "Plans": [actives, cle]}) == []
    assert _lectures_entieres({"Node Type": "Seq Scan", "Relation Name": "afas_lieuimplantation"}) == [
        "Seq Scan de afas_lieuimplantation"
    ]
    # Une sous-requête hachée sur une CTE : jugée sur les tables que lit la CTE.
    for cte, trouve in ((actives, []), (appartenances, ["hashed SubPlan 5 sur habilitations_appartenance"])):
        plan = {
            "Node Type": "Sort",
            "Plans": [
                {"Node Type": "Hash Join", "Subplan Name": "CTE effectives", "Plans": [cte]},
                {
                    "Node Type": "Seq Scan",
                    "Subplan Name": "hashed SubPlan 5",
                    "Plans": [{"Node Type": "CTE Scan", "CTE Name": "effectives"}],
                },
            ],
        }
        assert _lectures_entieres(plan) == trouve


@pytest.mark.parametrize("parallele", [True, False], ids=["plan_parallele", "un_seul_processus"])
def test_actives_d_un_partenaire_lisent_les_tables_du_pays_par_cle(client, grande_commune, parallele):
    """Actif d'un partenaire choisi (les identifiants de toute la liste) : activités, lieux,
    validations, comptes, groupes et appartenances lus par une condition d'index, jamais en
    entier, que PostgreSQL partage la requête entre processus ou non. L'appartenance AFAS-DECLARER
    se vérifie par titulaire (ses appartenances par l'index des comptes), ses
    activités par l'index des activités de son organisme : sans ce dernier, hors plan parallèle,
    PostgreSQL hachait les 80 000 activités et 86 000 lieux du pays (« nationale »). Lectures
    séquentielles découragées (``_plan_sql``) : le jeu de test est petit."""
    from django.db import transaction

    personas = grande_commune["personas"]
    (page,) = [p for p in pages(personas) if p.nom == "AFAS habilitations actives"]
    connecter_verifie(client, Utilisateur.objects.get(identifiant=personas["comptes"][page.persona]["identifiant"]))
    client.get("/")
    with CaptureQueriesContext(connection) as requetes:
        assert client.get(page.chemin).status_code == 200
    liste = r"\s*WITH\s+ouvertes AS MATERIALIZED"
    (sql,) = [r["sql"] for r in requetes.captured_queries if re.match(liste, r["sql"])]
    with transaction.atomic(), connection.cursor() as curseur:
        curseur.execute("SET LOCAL enable_seqscan = off")
        if not parallele:
            curseur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        curseur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = curseur.fetchone()[0]
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    tables = (*LUES_PAR_CLE, "habilitations_utilisateur", "habilitations_groupe", "habilitations_appartenance")
    entieres = [
        f"{n['Node Type']} de {n['Relation Name']}"
        for n in _noeuds(plan)
        if n.get("Relation Name") in tables and "Index Cond" not in n and "Recheck Cond" not in n
    ]
    assert not entieres, entieres


@pytest.mark.parametrize(
    "nom_page", ["AFAS habilitations actives", "AFAS habilitations inactives", "AFAS rôles non attribués"]
)
def test_droits_du_jour_verifies_par_titulaire(client, grande_commune, nom_page):
    """Les identifiants d'Actif et d'Inactif d'un partenaire, les rôles tenus de « Non attribué » :
    l'appartenance AFAS-DECLARER se vérifie une fois par couple (titulaire, convention)
    (``afas.habilitations.recherche._sql_effectives``), pas habilitation par habilitation : les
    appartenances sont lues au plus autant de fois qu'il y a de titulaires, moins qu'il n'y a
    d'habilitations ouvertes (la grande commune de ce jeu : quelques titulaires pour beaucoup
    d'habilitations), et jamais en entier (toutes celles des groupes du partenaire hachées)."""
    (sql,) = [
        r for r in _requetes_de_la_page(client, grande_commune, nom_page) if re.match(r"\s*WITH\s+ouvertes AS", r)
    ]
    noeuds = _noeuds(_plan_sql(sql))
    (ouvertes,) = [n for n in noeuds if n.get("Subplan Name") == "CTE ouvertes"]
    # Les couples (titulaire, convention) distincts des habilitations ouvertes.
    (paires,) = [
        n
        for n in noeuds
        if [cle.rsplit(".", 1)[-1] for cle in n.get("Group Key", [])] == ["utilisateur_id", "convention_id"]
    ]
    appartenances = [n for n in noeuds if n.get("Relation Name") == "habilitations_appartenance"]
    assert appartenances and all("Index Cond" in n for n in appartenances), appartenances
    lectures = max(n["Actual Loops"] for n in appartenances)
    assert lectures <= paires["Actual Rows"] < ouvertes["Actual Rows"], (lectures, paires["Actual Rows"])


def test_export_du_financement_d_un_appel_lit_par_index(grande_commune):
    """Le ``COPY`` de l'export du financement (``afas.financement.export``) : montants figés,
    lignes, données financières et activités des déclarations de l'appel lus par index, jamais
    des tables entières (un calcul à plat hachait les 285 000 lignes du pays) ; sans tri sur disque."""
    from afas.financement.views import lignes_export
    from afas.models import AppelDeclaration
    from portail.socle.csv import _copie_sql

    appel = AppelDeclaration.objects.get(pk=grande_commune["personas"]["afas"]["appel"])
    sql, params = _copie_sql(lignes_export(appel), connection)
    select = sql[len("COPY (") : sql.rindex(") TO STDOUT")]
    with connection.cursor() as curseur:
        curseur.execute("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'")
        lignes_par_table = dict(curseur.fetchall())
        # Au seuil des grandes tables, celles que lit le calcul (le jeu de ce module est petit).
        for table in ("afas_donneesactivite", "afas_donneesfinancieres", "afas_montantestime", "afas_declaration"):
            assert lignes_par_table[table] > 0
            lignes_par_table[table] = max(lignes_par_table[table], 10_000)
        curseur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + select, params)
        plan = curseur.fetchone()[0]
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    defauts = defauts_du_plan(plan, lignes_par_table)
    assert not defauts, "\n".join(defauts)


# --- Conventions consultables d'un partenaire (session 4) --------------------------------------
#
# L'administrateur de la grande commune est aussi responsable de centaines de groupes : l'union
# de ses droits (conventions administrées, conventions de ses groupes) se lit une fois, en
# tableau, et les conventions par leur clé. En semi-jointure, PostgreSQL croyait l'union grande
# et lisait les 70 000 conventions du pays. Le jeu de test n'a que quelques centaines de
# conventions (les lire en entier y est le bon plan) : lectures séquentielles découragées
# (``enable_seqscan = off``), on vérifie la forme du plan. Le menu et les conventions où il
# habilite (``afas.perms._SQL_MENU``) ne se vérifient pas ici : à cette taille, PostgreSQL y
# préfère parfois parcourir un index entier, même découragé ; leurs plans à l'échelle nationale
# sont dans le README (session 4).


def _plan_sql(sql: str, params=None) -> dict:
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as curseur:
        curseur.execute("SET LOCAL enable_seqscan = off")
        curseur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = curseur.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def _administrateur(resume: dict) -> Utilisateur:
    return Utilisateur.objects.get(identifiant=resume["personas"]["comptes"]["administrateur"]["identifiant"])


def test_conventions_consultables_par_tableau_de_cles(grande_commune):
    """Les conventions d'un administrateur responsable de groupes : l'union de ses droits lue une
    fois en tableau (InitPlan), puis les conventions par leur clé primaire (``id = ANY``). En
    semi-jointure, PostgreSQL estimait l'union à 470 conventions et lisait les 70 000 du pays ;
    à la taille du jeu de test, seule la forme du plan se vérifie."""
    from habilitations import perms as perms_habilitations

    admin = _administrateur(grande_commune)
    qs = perms_habilitations.conventions_consultables(admin).values("pk", "caf_id")
    sql, params = qs.query.sql_with_params()
    plan = _plan_sql(sql, params)
    exterieures = [p for p in [plan, *plan.get("Plans", [])] if p.get("Relation Name") == "conventions_convention"]
    assert exterieures, plan
    assert all("ANY" in p.get("Index Cond", "") for p in exterieures), exterieures


# --- Pages de l'agent Caf (session 5) -----------------------------------------------------------
#
# À « nationale » (README, ticket 11, session 5) : la dernière page de la file de la Caf calculait
# le retard (sous-requête des récépissés) de ses 3 000 transmises avant l'OFFSET ; le filtre
# libellé des activités parcourait les 80 000 activités du pays ; le financement d'un appel lisait
# le montant de chacune de ses 6 000 déclarations. Formes de plans vérifiées ici (le jeu de test
# est petit : lectures séquentielles découragées, comme ``_plan_sql``).


def _noeuds(plan: dict) -> list[dict]:
    return [plan, *(n for p in plan.get("Plans", []) for n in _noeuds(p))]


def _lectures(plan: dict, table: str) -> list[str]:
    """« type de nœud / index » de chaque lecture de ``table`` dans le plan."""
    return [f"{n['Node Type']} / {n.get('Index Name', '')}" for n in _noeuds(plan) if n.get("Relation Name") == table]


def test_file_de_la_caf_derniere_page_retard_des_seules_lignes_de_la_page(client, grande_commune):
    """Le retard (EXISTS sur les récépissés) n'est calculé que pour les lignes de la page : clés
    d'abord, lignes ensuite (``paginer(..., par_cles=True)``)."""
    (requete,) = [
        sql
        for sql in _requetes_de_la_page(client, grande_commune, "AFAS déclarations reçues, page 1 000 (agent Caf)")
        if "afas_recepisse" in sql
    ]
    plan = _plan_sql(requete)
    boucles = [n["Actual Loops"] for n in _noeuds(plan) if n.get("Relation Name") == "afas_recepisse"]
    assert boucles and max(boucles) <= 25, boucles


def test_file_de_la_caf_temoin_sans_les_cles_d_abord(client, grande_commune, monkeypatch):
    """Témoin : paginée entière, la dernière page calcule le retard de toutes les transmises."""
    from afas.instruction import views as vues_instruction
    from portail.socle import listes

    monkeypatch.setattr(vues_instruction, "paginer", lambda request, qs, **_options: listes.paginer(request, qs))
    (requete,) = [
        sql
        for sql in _requetes_de_la_page(client, grande_commune, "AFAS déclarations reçues, page 1 000 (agent Caf)")
        if "afas_recepisse" in sql
    ]
    boucles = [n["Actual Loops"] for n in _noeuds(_plan_sql(requete)) if n.get("Relation Name") == "afas_recepisse"]
    assert max(boucles) > 25, boucles


def test_activites_filtre_libelle_par_les_organismes_de_la_caf(client, grande_commune):
    """Le nombre et les clés de la page en une lecture (``PaginateurCompteAvecLaPage``) : les
    activités lues par l'index (organisme, …) avec les organismes de la Caf en tableau, jamais la
    table entière filtrée sur le libellé ; puis les lignes de la page par leur clé."""
    requetes = [
        sql
        for sql in _requetes_de_la_page(client, grande_commune, "AFAS activités, filtre libellé (agent Caf)")
        if '"afas_activite"' in sql and "UPPER" in sql
    ]
    assert len(requetes) == 2  # nombre et clés, puis les lignes
    (cles,) = [sql for sql in requetes if "_rang_dans_la_liste" in sql]
    noeuds = _noeuds(_plan_sql(cles))
    conditions = [n.get("Index Cond", "") + n.get("Recheck Cond", "") for n in noeuds]
    assert any("organisme_id = ANY" in c for c in conditions), conditions
    # Les autres lectures des activités : par clé.
    autres = [
        n.get("Index Name")
        for n, c in zip(noeuds, conditions, strict=True)
        if n.get("Relation Name") == "afas_activite" and "organisme_id = ANY" not in c
    ]
    assert all(nom == "afas_activite_pkey" for nom in autres), autres
    (lignes,) = [sql for sql in requetes if sql is not cles]
    lectures = [n.get("Index Name") for n in _noeuds(_plan_sql(lignes)) if n.get("Relation Name") == "afas_activite"]
    assert lectures and all(nom == "afas_activite_pkey" for nom in lectures), lectures


def test_financement_d_un_appel_montants_par_l_index_de_la_caf(client, grande_commune):
    """Le total et les hors norme de l'appel lisent les montants par ``montant_actuel_par_caf``
    (Caf, exercice, type ; plages du montant par heure) et les déclarations de l'appel par
    ``declaration_appel_etat_cle`` ; jamais le montant de chaque déclaration de l'appel."""
    from afas.financement import statistiques

    # Les bornes des hors norme : les références de la nuit (dans la transaction du test).
    assert statistiques.statistiques_calculer()
    requetes = _requetes_de_la_page(client, grande_commune, "AFAS financement d'un appel (agent Caf)")
    (total,) = [sql for sql in requetes if 'SUM("afas_montantestime"."montant")' in sql]
    (cles,) = [sql for sql in requetes if '"montant_par_heure" DESC' in sql and "LIMIT 50" in sql]
    for requete in (total, cles):
        noeuds = _noeuds(_plan_sql(requete))
        index = {n.get("Index Name") for n in noeuds} - {None}
        assert "montant_actuel_par_caf" in index and "montant_un_seul_actuel" not in index, index
        declarations = [n for n in noeuds if n.get("Relation Name") == "afas_declaration"]
        assert declarations and all(
            n.get("Index Name") in ("declaration_appel_etat_cle", "afas_declaration_pkey") for n in declarations
        ), [(n["Node Type"], n.get("Index Name")) for n in declarations]


def test_preparation_habilitations_activite_par_activite_puis_titulaires(client, grande_commune):
    """L'état de préparation : les activités ouvertes de la page, leurs lieux ouverts et leurs
    habilitations ouvertes et validées en une requête, lieux et habilitations activité par activité
    (``LATERAL``), chacun par l'index des activités ; puis les couples (titulaire, convention) de
    ces habilitations vérifiés en une requête, par les comptes (``utilisateur_id = ANY(…)``).
    Aucune sous-requête corrélée par habilitation."""
    requetes = _requetes_de_la_page(client, grande_commune, "AFAS préparation des partenaires (agent Caf)")
    habilitations = [sql for sql in requetes if "afas_habilitationafas" in sql]
    assert len(habilitations) == 1, habilitations
    (sql,) = habilitations
    assert "CROSS JOIN LATERAL" in sql and "EXISTS" not in sql.upper(), sql[:300]
    assert not [sql for sql in requetes if 'FROM "afas_lieuimplantation"' in sql]
    (titulaires,) = [sql for sql in requetes if 'AS "groupe__convention_id"' in sql]
    assert '"habilitations_appartenance"."utilisateur_id" = ANY(' in titulaires, titulaires[:300]
    noeuds = _noeuds(_plan_sql(sql))
    for table in ("afas_habilitationafas", "afas_lieuimplantation"):
        lectures = [n for n in noeuds if n.get("Relation Name") == table]
        assert lectures and all(n["Node Type"] in ("Index Scan", "Index Only Scan") for n in lectures), [
            (n["Node Type"], n.get("Index Name")) for n in lectures
        ]


# --- File triée par activité, financement d'un appel : dernières pages (session 6) ---------------
#
# À « nationale » : triée par activité, la dernière page de la file hachait les 80 000 activités du
# pays pour trier les 24 000 validées de la Caf (plan parallèle, 60-100 ms) ; la dernière page du
# financement d'un appel joignait les 6 000 déclarations de l'appel aux 80 000 activités et les
# triait toutes pour garder les dix dernières. Lues depuis la fin, par l'index qui donne l'ordre,
# elles ne lisent plus que quelques lignes de plus que la page. Ce qu'on compte ici : les lignes
# lues de la liste (demandes, déclarations), très en dessous de son nombre ; sans l'ordre d'un index,
# quel que soit le plan, il faut toutes les lire pour les trier (témoins).


def _lignes_lues(plan: dict, table: str) -> int:
    return sum(
        int(n.get("Actual Rows", 0) * n.get("Actual Loops", 1))
        for n in _noeuds(plan)
        if n.get("Relation Name") == table
    )


def _requete_des_cles(client, resume: dict, nom_page: str, marque: str) -> str:
    (requete,) = [sql for sql in _requetes_de_la_page(client, resume, nom_page) if marque in sql]
    return requete


VALIDEES_PAR_ACTIVITE = PAGES_TRIEES[4:6]


@pytest.mark.parametrize("nom_page", VALIDEES_PAR_ACTIVITE)
def test_validees_par_activite_derniere_page_par_l_index_du_libelle(client, grande_commune, nom_page):
    """Les clés de la dernière page : les activités parcourues dans l'ordre du libellé
    (``activite_libelle_tri``), les demandes de chacune par ``validation_activite_tri``, arrêt à
    la page ; pas les 2 000 activités du jeu lues pour un hachage."""
    assert "activité" in nom_page
    plan = _plan_sql(_requete_des_cles(client, grande_commune, nom_page, "ANY(ARRAY("))
    assert any("activite_libelle_tri" in lecture for lecture in _lectures(plan, "afas_activite")), plan
    assert any("validation_activite_tri" in lecture for lecture in _lectures(plan, "afas_validationapprobateur"))
    assert _lignes_lues(plan, "afas_activite") <= 200
    assert _lignes_lues(plan, "afas_validationapprobateur") <= 200


def test_validees_par_activite_temoin_sans_les_index(client, grande_commune):
    """Témoin : sans les deux index, la même requête lit toutes les validées de la Caf (le compte
    ci-dessus le verrait)."""
    with connection.cursor() as curseur:
        curseur.execute("DROP INDEX activite_libelle_tri")
        curseur.execute("DROP INDEX validation_activite_tri")
    plan = _plan_sql(_requete_des_cles(client, grande_commune, VALIDEES_PAR_ACTIVITE[0], "ANY(ARRAY("))
    assert _lignes_lues(plan, "afas_validationapprobateur") >= 1_000


FINANCEMENT_DERNIERE_PAGE = "AFAS financement d'un appel, page 1 000 (agent Caf)"


def _cles_du_financement(client, resume: dict) -> dict:
    requete = _requete_des_cles(client, resume, FINANCEMENT_DERNIERE_PAGE, '"conventions_organisme"."raison_sociale"')
    return _plan_sql(requete)


def test_financement_derniere_page_lue_depuis_la_fin(client, grande_commune):
    """La dernière page du financement d'un appel : les partenaires parcourus à rebours dans
    l'ordre de leur raison sociale, arrêt à la page ; pas les 1 200 déclarations de l'appel."""
    plan = _cles_du_financement(client, grande_commune)
    assert any("organisme_raison_sociale_tri" in lecture for lecture in _lectures(plan, "conventions_organisme")), plan
    assert _lignes_lues(plan, "afas_declaration") <= 100


def test_financement_derniere_page_temoin_lue_depuis_le_debut(client, grande_commune, monkeypatch):
    """Témoin : les clés lues depuis le début (``PaginateurParCles``, décalage), la dernière page
    lit toutes les déclarations de l'appel (le compte ci-dessus le verrait)."""
    from afas.financement import views as vues_financement

    monkeypatch.setattr(vues_financement, "PaginateurParLeBoutLePlusProche", PaginateurParCles)
    assert _lignes_lues(_cles_du_financement(client, grande_commune), "afas_declaration") >= 1_000


# Les listes « Activités » et « Lieux d'implantation » de l'agent Caf (issue 11, session 7) : les
# clés de la page parcourues dans l'ordre d'un index (organismes de la Caf par raison sociale,
# activités du pays par libellé), à rebours pour les dernières pages, et arrêt à la page (tri
# incrémental) ; pas toutes les lignes de la Caf jointes puis triées.
LISTES_CAF = {
    "AFAS activités, page 1 (agent Caf)": ("afas_activite", "conventions_caf_id_e33adc_idx"),
    "AFAS activités, page 1 000 (agent Caf)": ("afas_activite", "conventions_caf_id_e33adc_idx"),
    "AFAS lieux, page 1 (agent Caf)": ("afas_lieuimplantation", "activite_libelle_tri"),
    "AFAS lieux, page 1 000 (agent Caf)": ("afas_lieuimplantation", "activite_libelle_tri"),
}


def _cles_de_la_liste(client, resume: dict, nom_page: str) -> tuple[dict, int]:
    """Le plan de la requête de la page (clés en sous-requête ``LIMIT``) et le nombre de lignes de
    la liste (celui de la pagination)."""
    table, _index = LISTES_CAF[nom_page]
    requetes = [sql for sql in _requetes_de_la_page(client, resume, nom_page) if f'FROM "{table}"' in sql]
    (compte,) = [sql for sql in requetes if sql.startswith("SELECT COUNT(*)")]
    (page,) = [sql for sql in requetes if " LIMIT " in sql]
    with connection.cursor() as curseur:
        curseur.execute(compte)
        (nombre,) = curseur.fetchone()
    return _plan_sql(page), nombre


@pytest.mark.parametrize("nom_page", list(LISTES_CAF))
def test_activites_et_lieux_de_la_caf_cles_dans_l_ordre_d_un_index(client, grande_commune, nom_page):
    plan, nombre = _cles_de_la_liste(client, grande_commune, nom_page)
    _table, index = LISTES_CAF[nom_page]
    assert nombre >= 900  # la Caf principale du jeu : 1 200 activités, 1 349 lieux
    (limite,) = [n for n in _noeuds(plan) if n["Node Type"] == "Limit"]
    sous_limite = list(_noeuds(limite))[1:]
    assert not [n for n in sous_limite if n["Node Type"] == "Sort"], plan
    assert any(n.get("Index Name") == index for n in sous_limite), plan
    # Au plus quelques centaines de lignes lues sous la limite, jamais toute la liste.
    assert max(n["Actual Rows"] for n in sous_limite) < nombre // 2, plan


def test_lieux_page_1000_temoin_lue_depuis_le_debut(client, grande_commune, monkeypatch):
    """Témoin : les clés lues depuis le début (``PaginateurParCles``, décalage), la dernière page
    des lieux parcourt toute la liste (le test ci-dessus le verrait)."""
    from afas.activites import views as vues_activites

    monkeypatch.setattr(vues_activites, "PaginateurParLeBoutLePlusProche", PaginateurParCles)
    plan, nombre = _cles_de_la_liste(client, grande_commune, "AFAS lieux, page 1 000 (agent Caf)")
    (limite,) = [n for n in _noeuds(plan) if n["Node Type"] == "Limit"]
    assert max(n["Actual Rows"] for n in list(_noeuds(limite))[1:]) >= nombre, plan
