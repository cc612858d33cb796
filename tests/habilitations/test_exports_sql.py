"""Ticket 11 : le journal et les tableaux de bord exportés par PostgreSQL (``COPY``) donnent,
octet pour octet, le fichier que Python écrivait (``journal_lignes``, ``Tableau.toutes``), sur
des données hostiles : avant/après de toutes formes, actes inconnus, acteurs et noms qui
commencent par « = », heures autour de minuit et des changements d'heure. PostgreSQL seulement :
sous SQLite, l'export suit ces mêmes lignes Python."""

from __future__ import annotations

import datetime
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from habilitations import services
from habilitations.administration.journal import journal as lecture
from habilitations.administration.tableaux_de_bord import tableaux
from habilitations.models import Appartenance, Groupe, Utilisateur
from habilitations.perms import Perimetre
from portail.models import EvenementAudit
from portail.socle.csv import contenu_csv
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY : PostgreSQL seulement")

UTC = datetime.UTC
INSTANTS = [
    datetime.datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),
    datetime.datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),
    datetime.datetime(2026, 10, 25, 0, 59, 0, tzinfo=UTC),
    datetime.datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC),
    datetime.datetime(2026, 10, 24, 21, 59, 59, tzinfo=UTC),
    datetime.datetime(2026, 10, 24, 22, 0, 0, tzinfo=UTC),
    datetime.datetime(2026, 12, 31, 23, 0, 0, tzinfo=UTC),
    datetime.datetime(1900, 1, 1, 12, 0, 0, tzinfo=UTC),  # heure de Paris d'avant 1911 (PMT)
]

# Des valeurs avant/après : celles qu'écrit le portail, et d'autres qu'il n'écrit pas (encore).
VALEURS = [
    None,
    {},
    [],
    "",
    0,
    False,
    {"nom": "Ancien", "prenom": "Élodie"},
    {"identifiant": "MAS0000001", "date_ouverture": "2026-01-05"},
    {"date_cloture": "2028-02-29"},  # un 29 février : Python le met en forme (SQL n'est pas sûr)
    {"date_cloture": "2026-02-28", "jour": "0001-01-01", "x": "2026-04-30", "y": "2026-12-31"},
    {"suspendu_le": "2026-03-29T01:30:00+00:00", "derniere_activite": "2026-10-25T00:30:00Z"},
    {"validee_le": "2026-10-25T02:30:00", "decidee_le": "2026-10-25 02:30"},
    {"x": "2026-10-25T02:30:00.123456+02:00", "y": "2026-10-24T23:59:59.999-01:00"},
    {"x": "2026-13-45T99:99", "y": "2026-01-05T10:00:00+25:00"},  # pas des horodatages : tels quels
    {"x": "1234-ab", "y": "Léna-Rose", "z": "Jean-Pierre"},
    {"poste": "itinerant"},
    {"poste": "sedentaire", "telephone": "-33"},
    {"poste": "inconnu"},
    {"poste": ""},
    {"profils": ["A", "B"], "sous_groupes": []},
    {"x": [[1], 2]},
    {"x": [True, None, 3, "2026-01-05", ""]},
    {"x": 1.5, "y": 10, "z": -3, "w": 12345678901234567890},
    {"suspendu": True, "x": None, "vide": "", "faux": False},
    {"=formule": "v"},
    {"-moins": 1, "b": 2},
    {"clé_accentuée": "v"},
    {"Nom_Composé": "x", "Code_Postal": "75001"},
    {"Mixte_CASSE": "x", "": "clé vide"},
    {"nested": {"a": 1, "date_ouverture": "2026-01-05"}},
    {"x": 'ligne\nsuivante;"guillemets"', "y": "=1+2", "z": "\t"},
    ["a", "b"],
    "texte",
    3,
    True,
]

ACTIONS = [
    "utilisateur_creer",
    "connexion_reussie",
    "action_inconnue",
    "-moins_inconnu",
    "=formule",
    "acte_é",
    "",
]
CIBLES = ['=HYPERLINK("x")', "MASSE Élodie (MAS0000001)", "a;b", 'g"u', "ligne\nsuite", "", "@x", "+1", "\rCR"]
ADRESSES = ["192.0.2.1", "2001:db8::1", None, "10.0.0.1"]


@pytest.fixture
def journal(convention, administrateur):
    hostile = factories.creer_utilisateur(nom="=cmd|' /C calc'!A0", prenom="Ève", convention=convention)
    Utilisateur.objects.filter(pk=hostile.pk).update(identifiant="=EVIL")
    acteurs = [administrateur, hostile, None]
    nombre = len(VALEURS) * 2
    EvenementAudit.objects.bulk_create(
        EvenementAudit(
            convention=convention,
            acteur=acteurs[n % 3],
            action=ACTIONS[n % len(ACTIONS)],
            cible_type="essai",
            cible_id=str(n),
            cible_libelle=CIBLES[n % len(CIBLES)],
            adresse_ip=ADRESSES[n % len(ADRESSES)],
            avant=VALEURS[n % len(VALEURS)],
            apres=VALEURS[(n + 3) % len(VALEURS)],
            cree_le=INSTANTS[n % len(INSTANTS)],
        )
        for n in range(nombre)
    )
    return lecture.evenements(Perimetre(convention=convention, administrateur=True))


class TestJournal:
    def test_octet_pour_octet(self, journal):
        attendu = b"".join(contenu_csv(lecture.ENTETES_JOURNAL, lecture.journal_lignes(journal)))
        with CaptureQueriesContext(connection) as requetes:
            obtenu = b"".join(contenu_csv(lecture.ENTETES_JOURNAL, lecture.journal_export(journal)))
        # Les acteurs, leurs noms, puis la requête COPY : autant de requêtes qu'avant.
        assert len(requetes.captured_queries) == 3
        assert requetes.captured_queries[-1]["sql"].startswith("COPY (")
        assert obtenu.decode("utf-8").splitlines() == attendu.decode("utf-8").splitlines()
        assert obtenu == attendu
        assert "'=EVIL — Ève =CMD|' /C CALC'!A0".encode() in obtenu

    def test_sql_ecrit_lui_meme_les_valeurs_ordinaires(self, journal):
        """Les avant/après du portail (dates, horodatages, postes, listes, nombres entiers) sont
        mis en forme par PostgreSQL : seules les formes inhabituelles reviennent à Python."""
        cellules = journal.filter(apres__isnull=False).values_list(
            "apres", lecture.CelluleValeurs("apres", timezone.get_current_timezone_name())
        )
        ecrites_par_sql = {
            json.dumps(valeur, sort_keys=True)
            for valeur, texte in cellules
            if texte is None or not texte.startswith(lecture.REPRENDRE)
        }
        for valeur in (
            {"identifiant": "MAS0000001", "date_ouverture": "2026-01-05"},
            {"suspendu_le": "2026-03-29T01:30:00+00:00", "derniere_activite": "2026-10-25T00:30:00Z"},
            {"validee_le": "2026-10-25T02:30:00", "decidee_le": "2026-10-25 02:30"},
            {"poste": "itinerant"},
            {"profils": ["A", "B"], "sous_groupes": []},
            {"poste": "inconnu"},
            {},
        ):
            assert json.dumps(valeur, sort_keys=True) in ecrites_par_sql, valeur
        for valeur in ({"date_cloture": "2028-02-29"}, {"nested": {"a": 1, "date_ouverture": "2026-01-05"}}):
            assert json.dumps(valeur, sort_keys=True) not in ecrites_par_sql, valeur

    def test_par_la_vue(self, client, convention, administrateur, journal):
        connecter_verifie(client, administrateur)
        reponse = client.get(f"/partenaires/conventions/{convention.pk}/journal.csv")
        assert reponse.status_code == 200
        # La connexion a écrit son acte : le fichier suit le journal tel qu'il est maintenant.
        attendu = b"".join(contenu_csv(lecture.ENTETES_JOURNAL, lecture.journal_lignes(journal.all())))
        assert b"".join(reponse.streaming_content) == attendu


@pytest.fixture
def comptes(convention, administrateur, arbre):
    """Des comptes aux noms hostiles, connectés (ou jamais) autour de minuit et des changements
    d'heure, il y a plus d'un an."""
    noms = ["=SOMME(A1)", "Dupont;Durand", 'O"Brien', "Ligne\nDeux", "-Moins", "@Arobase", "Élodie", "+Plus"]
    utilisateurs = []
    for n, nom in enumerate(noms):
        user = factories.creer_utilisateur(nom=f"Nom{n}", prenom="Camille", convention=convention, mot_de_passe=None)
        instant = INSTANTS[n % len(INSTANTS)].replace(year=2024)
        Utilisateur.objects.filter(pk=user.pk).update(
            nom=nom,
            prenom=noms[-n - 1],
            email="" if n % 3 == 0 else f"=x{n}@exemple.fr",
            last_login=None if n % 2 else instant,
            cree_le=instant - datetime.timedelta(days=1),
            suspendu_le=instant if n % 4 == 1 else None,
        )
        utilisateurs.append(user)
        if n % 2:  # une appartenance qui se termine dans n jours (tableau des échéances)
            groupe = Groupe.objects.get(code="A1" if n % 4 == 1 else "B")
            appartenance = services.appartenance_ouvrir(
                par=None, utilisateur=user, groupe=groupe, date_ouverture=aujourdhui() - datetime.timedelta(days=3)
            )
            services.appartenance_cloturer(
                par=None, appartenance=appartenance, date_cloture=aujourdhui() + datetime.timedelta(days=n)
            )
    return utilisateurs


class TestTableaux:
    @pytest.mark.parametrize("slug", ["inactifs", "jamais-actives", "echeances"])
    def test_octet_pour_octet(self, convention, administrateur, comptes, slug):
        tableau = tableaux.TABLEAUX[slug](Perimetre(convention=convention, administrateur=True))
        attendu = b"".join(contenu_csv(tableau.entetes, tableau.toutes()))
        with CaptureQueriesContext(connection) as requetes:
            obtenu = b"".join(contenu_csv(tableau.entetes, tableau.export()))
        assert [q["sql"][:6] for q in requetes.captured_queries] == ["COPY ("]
        assert obtenu == attendu
        assert obtenu.count(b"\r\n") > len(comptes) // 2
        assert Appartenance.objects.filter(utilisateur__in=comptes).exists()
