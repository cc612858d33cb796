"""Les statistiques d'une activité coûtent le même nombre de requêtes, et répondent dans le même
temps, avec 100 ou 200 000 déclarations transmises (PostgreSQL seulement, comme les plans de
``tests/perf/test_plans.py``) : la page lit le résumé calculé la nuit (``StatistiqueReference``)
par index, jamais les déclarations des autres.

Les lignes sont écrites par ``INSERT … SELECT generate_series`` (quelques secondes pour 200 000
déclarations et leurs montants figés), puis le calcul de la nuit est chronométré."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from afas import services as services_afas
from afas.enums import RoleAfas
from afas.financement import statistiques
from afas.models import AppelDeclaration, MontantEstime, StatistiqueReference
from portail.socle.dates import aujourdhui
from tests.afas.conftest import creer_activite
from tests.afas.declarations.fabriques_financement import creer_declaration, transmettre
from tests.conftest import connecter_verifie

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="génération par generate_series : PostgreSQL"),
]

TYPES = ("previsionnel", "actualise_juin", "actualise_septembre", "reel")


def _generer(organisme_id: int, caf_id: int, debut: int, activites: int) -> None:
    """``activites`` ALSH extrascolaires numérotées à partir de ``debut``, chacune avec ses quatre
    déclarations 2025 transmises et leur montant figé (valeurs étalées de façon déterministe)."""
    fin = debut + activites - 1
    with connection.cursor() as c:
        c.execute(
            """
            INSERT INTO afas_activite (organisme_id, numero_equipement, libelle, type_activite, nature, date_ouverture)
            SELECT %s, 'G' || lpad(i::text, 8, '0'), 'Accueil généré ' || i, 'ALSH', 'EXTRA', DATE '2020-01-01'
            FROM generate_series(%s, %s) AS i
            """,
            [organisme_id, debut, fin],
        )
        for type_declaration in TYPES:
            # Un appel par type, repris d'une génération à l'autre : ses déclarations s'ajoutent.
            c.execute(
                "SELECT id FROM afas_appeldeclaration WHERE caf_id = %s AND exercice = 2025 AND type_declaration = %s",
                [caf_id, type_declaration],
            )
            existant = c.fetchone()
            if existant is None:
                c.execute(
                    """
                    INSERT INTO afas_appeldeclaration (caf_id, cle, exercice, type_declaration, type_activite,
                        nature, date_ouverture, date_limite, lance_le, etat_lancement, total, creees)
                    VALUES (%s, gen_random_uuid(), 2025, %s, '', '', DATE '2025-01-01', DATE '2025-12-31', now(),
                        'termine', 0, 0)
                    RETURNING id
                    """,
                    [caf_id, type_declaration],
                )
                existant = c.fetchone()
            (appel_id,) = existant
            c.execute(
                """
                INSERT INTO afas_declaration (appel_id, activite_id, caf_id, exercice, type_declaration, etat,
                    date_ouverture, date_limite, creee_le, modifiee_le, commentaire_ecart)
                SELECT %s, a.id, %s, 2025, %s, 'transmise', DATE '2025-01-01', DATE '2025-12-31', now(), now(), ''
                FROM afas_activite a WHERE a.numero_equipement BETWEEN %s AND %s
                """,
                [appel_id, caf_id, type_declaration, f"G{debut:08d}", f"G{fin:08d}"],
            )
        c.execute(
            """
            INSERT INTO afas_montantestime (declaration_id, calcule_le, actuel, parametres, etapes, montant, caf_id,
                exercice, type_declaration, type_activite, nature, heures_realisees, total_charges,
                prix_revient_horaire, heures_par_enfant, taux_remplissage, montant_par_heure)
            SELECT d.id, now(), true, '[]'::jsonb, '{}'::jsonb, 10000 + (d.id %% 997) * 10, d.caf_id, 2025,
                d.type_declaration, 'ALSH', 'EXTRA', 10000, 40000 + (d.id %% 991) * 20,
                4 + (d.id %% 991) * 0.002, 150 + (d.id %% 89), 40 + (d.id %% 53), 1 + (d.id %% 997) * 0.001
            FROM afas_declaration d JOIN afas_activite a ON a.id = d.activite_id
            WHERE a.numero_equipement BETWEEN %s AND %s
            """,
            [f"G{debut:08d}", f"G{fin:08d}"],
        )
        c.execute("ANALYZE afas_activite; ANALYZE afas_declaration; ANALYZE afas_montantestime")


def _mesurer(client, url: str) -> tuple[int, float]:
    client.get(url)  # échauffement (caches du processus)
    durees = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as requetes:
            debut = time.perf_counter()
            reponse = client.get(url)
            durees.append(time.perf_counter() - debut)
        assert reponse.status_code == 200
    return len(requetes), sorted(durees)[2]


def test_statistiques_meme_cout_de_100_a_200_000_declarations(client, convention, declarant, administrateur, agent_caf):
    activite = creer_activite(convention.organisme, numero="EQ-ECHELLE")
    services_afas.habilitation_afas_affecter(
        par=administrateur, utilisateur=declarant, role=RoleAfas.FDF, date_ouverture=aujourdhui(), activites=[activite]
    )
    ligne = {"heures_realisees": "10000", "enfants_inscrits": 60, "jours_ouverture": 100, "amplitude_ouverture": "10"}
    transmettre(creer_declaration(activite, lignes=[ligne], charges="45000"), par=declarant)
    organisme_id, caf_id = convention.organisme_id, convention.organisme.caf_id
    url = reverse("afas:activite_statistiques", args=[activite.pk])
    connecter_verifie(client, declarant)

    _generer(organisme_id, caf_id, 1, 25)  # 100 déclarations générées
    statistiques.statistiques_calculer()
    requetes_petite, duree_petite = _mesurer(client, url)
    appel_id = AppelDeclaration.objects.filter(type_declaration="reel").values_list("pk", flat=True).get()
    url_appel = reverse("afas:appel_financement", args=[appel_id])
    connecter_verifie(client, agent_caf)
    appel_petit, duree_appel_petit = _mesurer(client, url_appel)
    connecter_verifie(client, declarant)

    _generer(organisme_id, caf_id, 26, 49_975)  # 200 000 déclarations en tout
    debut = time.perf_counter()
    lignes = statistiques.statistiques_calculer()
    duree_nuit = time.perf_counter() - debut
    nation = StatistiqueReference.objects.get(
        caf__isnull=True, indicateur="prix_revient_horaire", type_declaration="previsionnel"
    )
    assert nation.effectif == 50_001
    requetes_grande, duree_grande = _mesurer(client, url)
    connecter_verifie(client, agent_caf)
    appel_grand, duree_appel_grand = _mesurer(client, url_appel)  # 50 000 déclarations dans l'appel

    # L'autre choix, mesuré pour mémoire : les quartiles nationaux du groupe calculés à la demande.
    debut = time.perf_counter()
    MontantEstime.objects.filter(
        actuel=True, exercice=2025, type_declaration="previsionnel", type_activite="ALSH", nature="EXTRA"
    ).aggregate(
        **{
            f"{ind.code}_{f}": statistiques.PercentileCont(ind.code, f)
            for ind in statistiques.INDICATEURS
            for f in (0.25, 0.5, 0.75)
        }
    )
    duree_a_la_demande = time.perf_counter() - debut

    print(
        f"\nstatistiques : {requetes_petite} requêtes, {duree_petite * 1000:.0f} ms (100) ; "
        f"{requetes_grande} requêtes, {duree_grande * 1000:.0f} ms (200 000) ; "
        f"calcul de la nuit {duree_nuit:.1f} s, {lignes} lignes ; "
        f"quartiles nationaux à la demande {duree_a_la_demande * 1000:.0f} ms ; "
        f"financement d'un appel : {appel_petit} requêtes, {duree_appel_petit * 1000:.0f} ms (25 déclarations), "
        f"{appel_grand} requêtes, {duree_appel_grand * 1000:.0f} ms (50 000)"
    )
    assert appel_grand == appel_petit
    assert requetes_grande == requetes_petite
    # Même temps, au bruit près d'une machine partagée : au plus le double, ou 50 ms de plus.
    assert duree_grande <= max(2 * duree_petite, duree_petite + 0.05)
