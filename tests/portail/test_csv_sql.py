"""Ticket 11 : les exports écrits par PostgreSQL (``COPY … TO STDOUT``, ``portail.socle.csv.LignesSQL``)
sont octet pour octet ceux que Python écrit (``contenu_csv`` des mêmes valeurs), valeurs hostiles
comprises : guillemets, points-virgules, sauts de ligne, débuts de formule, accents, NULL, et les
heures de Paris autour de minuit et des changements d'heure. PostgreSQL seulement (sous SQLite,
``LignesSQL`` suit son repli Python : les autres tests d'export le couvrent)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.models import F, Func, TextField, Value
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portail.models import EvenementAudit
from portail.socle import csv as socle_csv
from portail.socle.csv import (
    DateTexte,
    HorodatageTexte,
    LignesSQL,
    contenu_csv,
    texte_cellule,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY : PostgreSQL seulement"),
]

UTC = datetime.UTC

# Des textes qu'un tableur ou un lecteur CSV prendrait de travers s'ils étaient mal écrits.
TEXTES_HOSTILES = [
    "=1+2",
    "+33 6 12 34 56 78",
    "-5",
    "@SOMME(A1)",
    "\tTabulation",
    "\rRetour",
    "a;b",
    'guillemet "dedans"',
    '"',
    ";",
    "ligne\nsuivante",
    "ligne\r\nWindows",
    "Élodie Ünïcode — crème brûlée €",
    "apostrophe'",
    "",
    " ",
    "\\.",
    "x\u2028y",
    "'=déjà neutralisée",
    "=",
    "Dupont",
]

# Des instants autour de minuit et des changements d'heure à Paris (UTC), et hors de l'heure légale.
INSTANTS = [
    datetime.datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),  # 01h59 heure d'hiver
    datetime.datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),  # 03h00 heure d'été
    datetime.datetime(2026, 10, 25, 0, 59, 0, tzinfo=UTC),  # 02h59 heure d'été
    datetime.datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC),  # 02h00 heure d'hiver (la seconde)
    datetime.datetime(2026, 10, 24, 21, 59, 59, tzinfo=UTC),  # 23h59 le 24
    datetime.datetime(2026, 10, 24, 22, 0, 0, tzinfo=UTC),  # minuit, le 25 à Paris
    datetime.datetime(2026, 12, 31, 23, 0, 0, tzinfo=UTC),  # le jour de l'an à Paris
    datetime.datetime(2026, 12, 31, 22, 59, 59, 999999, tzinfo=UTC),
    datetime.datetime(2026, 7, 1, 12, 30, tzinfo=UTC),
]


@pytest.fixture
def evenements(convention):
    EvenementAudit.objects.bulk_create(
        EvenementAudit(
            convention=convention,
            action="essai",
            cible_type="essai",
            cible_id=str(n),
            cible_libelle=TEXTES_HOSTILES[n % len(TEXTES_HOSTILES)],
            adresse_ip=None,
            cree_le=INSTANTS[n % len(INSTANTS)],
        )
        for n in range(len(TEXTES_HOSTILES) * len(INSTANTS))
    )
    return EvenementAudit.objects.filter(convention=convention).order_by("pk")


def lignes_sql(requete, fuseau: str = "Europe/Paris") -> LignesSQL:
    def repli():
        for cible, cree_le, pk in requete.values_list("cible_libelle", "cree_le", "pk"):
            yield (cible, cree_le, timezone.localdate(cree_le), pk, -pk, None)

    return LignesSQL(
        requete,
        [
            "cible_libelle",
            HorodatageTexte("cree_le", fuseau),
            DateTexte("cree_le", fuseau),
            "pk",
            # Un nombre négatif commence par « - » : neutralisé comme tout texte.
            Func(F("pk"), template="-%(expressions)s"),
            # Une cellule vide (NULL) : écrite vide, pas « "" ».
            Value(None, output_field=TextField()),
        ],
        repli=repli,
    )


ENTETES = ["Cible", "Le", "Jour", "Clé", "Négatif", "Vide"]


class TestCommePython:
    def test_octet_pour_octet(self, evenements):
        attendu = b"".join(contenu_csv(ENTETES, lignes_sql(evenements).repli()))
        with CaptureQueriesContext(connection) as requetes:
            obtenu = b"".join(contenu_csv(ENTETES, lignes_sql(evenements)))
        # C'est bien PostgreSQL qui a écrit les lignes (une requête COPY), pas le repli.
        assert [q["sql"][:5] for q in requetes.captured_queries] == ["COPY "]
        assert obtenu == attendu
        assert obtenu.count(b"\r\n") > len(TEXTES_HOSTILES) * len(INSTANTS)  # sauts de ligne des cellules

    def test_les_cas_qui_comptent(self, evenements):
        contenu = b"".join(contenu_csv(ENTETES, lignes_sql(evenements))).decode("utf-8")
        assert contenu.startswith("\ufeffCible;Le;Jour;Clé;Négatif;Vide\r\n")
        assert "\n'=1+2;" in contenu and "\n'@SOMME(A1);" in contenu and "\n'+33 6 12 34 56 78;" in contenu
        assert '"guillemet ""dedans""";' in contenu
        assert '"ligne\nsuivante";' in contenu
        assert "29/03/2026 à 01h59;" in contenu and "29/03/2026 à 03h00;" in contenu
        assert "25/10/2026 à 02h59;" in contenu and "25/10/2026 à 02h00;" in contenu
        assert "24/10/2026 à 23h59;24/10/2026;" in contenu and "25/10/2026 à 00h00;25/10/2026;" in contenu
        assert "01/01/2027 à 00h00;01/01/2027;" in contenu
        assert ";'-" in contenu  # les nombres négatifs
        assert ';"";' not in contenu and '\n"";' not in contenu  # une cellule vide n'est pas guillemetée

    def test_texte_cellule_est_la_reference(self, evenements):
        """Les heures écrites par SQL sont celles de ``texte_cellule`` (l'écran)."""
        contenu = b"".join(contenu_csv(ENTETES, lignes_sql(evenements))).decode("utf-8")
        for instant in INSTANTS:
            assert f";{texte_cellule(instant)};{texte_cellule(timezone.localdate(instant))};" in contenu


class TestFlux:
    def test_par_paquets_bornes(self, convention, monkeypatch):
        monkeypatch.setattr(socle_csv, "OCTETS_PAR_PAQUET", 4096)
        EvenementAudit.objects.bulk_create(
            EvenementAudit(
                convention=convention,
                action="essai",
                cible_type="essai",
                cible_libelle="x" * 200,
                cree_le=INSTANTS[0],
            )
            for _n in range(500)
        )
        requete = EvenementAudit.objects.filter(convention=convention).order_by("pk")
        paquets = list(contenu_csv(ENTETES, lignes_sql(requete)))
        assert len(paquets) > 20
        assert max(len(p) for p in paquets) < 4096 + 400  # un paquet, au plus une ligne de plus
        assert b"".join(paquets) == b"".join(contenu_csv(ENTETES, lignes_sql(requete).repli()))

    @pytest.mark.django_db(transaction=True)
    def test_telechargement_interrompu(self, convention, monkeypatch):
        """Le navigateur coupe au milieu : le flux est fermé (COPY interrompu par psycopg), la
        connexion sert encore. Hors transaction, comme l'envoi d'une réponse en flux (la vue a
        rendu la main ; dans une transaction, l'interruption l'annulerait)."""
        monkeypatch.setattr(socle_csv, "OCTETS_PAR_PAQUET", 4096)
        EvenementAudit.objects.bulk_create(
            EvenementAudit(convention=convention, action="essai", cible_type="essai", cible_libelle="y" * 200)
            for _n in range(20_000)  # 4 Mo : plus que les tampons du socket, COPY est encore en cours
        )
        requete = EvenementAudit.objects.filter(convention=convention).order_by("pk")
        flux = contenu_csv(ENTETES, lignes_sql(requete))
        next(flux)
        next(flux)
        flux.close()
        assert EvenementAudit.objects.filter(convention=convention).count() == 20_000

    def test_aucune_ligne_connue_d_avance(self, evenements):
        """Un filtre « parmi une liste vide » : Django sait qu'il n'y a rien, sans requête."""
        vide = evenements.filter(pk__in=[])
        with CaptureQueriesContext(connection) as requetes:
            obtenu = b"".join(contenu_csv(ENTETES, lignes_sql(vide)))
        assert obtenu == "\ufeffCible;Le;Jour;Clé;Négatif;Vide\r\n".encode()
        assert requetes.captured_queries == []
