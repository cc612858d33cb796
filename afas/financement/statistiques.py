"""Statistiques de référence : quartiles et médiane de chaque indicateur, par Caf et pour la
nation, calculés DANS LA BASE chaque nuit (tâche beat ``afas.tasks.statistiques_calculer``) et
gardés dans ``StatistiqueReference``.

Choix mesuré (voir le rapport et ``tests/afas/declarations/test_financement_echelle.py``) : un
``percentile_cont`` au moment de la page sur 200 000 déclarations coûte plusieurs centaines de
millisecondes et grandit avec les données ; la table résumée se lit par index en temps constant,
et la page dit la date du calcul. Sous PostgreSQL les quartiles sont un agrégat SQL
(``percentile_cont(…) WITHIN GROUP (ORDER BY …)``, une requête par niveau) ; sous SQLite (mode
embarqué, sans cet agrégat), le même calcul d'interpolation linéaire se fait en Python, groupe par
groupe, sur les seules valeurs de l'indicateur.

Les déclarations comptées : celles transmises ou validées (leur montant figé ``actuel``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Aggregate, Count, F, FloatField, Q
from django.utils import timezone

from afas.enums import FIGES
from afas.models import MontantEstime, StatistiqueReference


@dataclass(frozen=True)
class Indicateur:
    code: str
    libelle: str
    unite: str


INDICATEURS: tuple[Indicateur, ...] = (
    Indicateur("prix_revient_horaire", "Prix de revient horaire", "€/h"),
    Indicateur("heures_par_enfant", "Heures par enfant inscrit", "h"),
    Indicateur("taux_remplissage", "Taux de remplissage", "%"),
    Indicateur("montant_par_heure", "Montant estimé par heure", "€/h"),
)
GROUPE = ("exercice", "type_declaration", "type_activite", "nature")


class PercentileCont(Aggregate):
    """``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)`` (PostgreSQL) : le quantile
    par interpolation linéaire, les valeurs NULL ignorées."""

    function = "percentile_cont"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction entre 0 et 1")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def quantile(valeurs: list[Decimal], fraction: float) -> Decimal:
    """Le repli SQLite : même définition que ``percentile_cont`` (valeurs triées, rang
    ``fraction × (n − 1)``, interpolation linéaire entre les deux voisins)."""
    valeurs = sorted(valeurs)
    rang = Decimal(str(fraction)) * (len(valeurs) - 1)
    bas = int(rang)
    haut = min(bas + 1, len(valeurs) - 1)
    return valeurs[bas] + (valeurs[haut] - valeurs[bas]) * (rang - bas)


def _source():
    return MontantEstime.objects.filter(actuel=True, declaration__etat__in=FIGES)


def _lignes_postgresql(maintenant) -> list[StatistiqueReference]:
    lignes = []
    for niveau in (("caf",), ()):
        agregats = {}
        for ind in INDICATEURS:
            valeur = F(ind.code)
            agregats[f"{ind.code}__n"] = Count(ind.code)
            for nom, fraction in (("q1", 0.25), ("mediane", 0.5), ("q3", 0.75)):
                agregats[f"{ind.code}__{nom}"] = PercentileCont(valeur, fraction)
        for groupe in _source().values(*GROUPE, *niveau).order_by().annotate(**agregats):
            for ind in INDICATEURS:
                if not groupe[f"{ind.code}__n"]:
                    continue
                lignes.append(
                    StatistiqueReference(
                        caf_id=groupe.get("caf"),
                        **{c: groupe[c] for c in GROUPE},
                        indicateur=ind.code,
                        effectif=groupe[f"{ind.code}__n"],
                        **{
                            nom: Decimal(str(groupe[f"{ind.code}__{nom}"])).quantize(Decimal("0.0001"))
                            for nom in ("q1", "mediane", "q3")
                        },
                        calculee_le=maintenant,
                    )
                )
    return lignes


def _lignes_python(maintenant) -> list[StatistiqueReference]:
    valeurs: dict[tuple, list[Decimal]] = defaultdict(list)
    champs = [ind.code for ind in INDICATEURS]
    for ligne in _source().values_list("caf_id", *GROUPE, *champs).iterator(chunk_size=5000):
        caf_id, cle = ligne[0], ligne[1:5]
        for ind, valeur in zip(INDICATEURS, ligne[5:], strict=True):
            if valeur is not None:
                valeurs[(caf_id, *cle, ind.code)].append(valeur)
                valeurs[(None, *cle, ind.code)].append(valeur)
    return [
        StatistiqueReference(
            caf_id=cle[0],
            **dict(zip(GROUPE, cle[1:5], strict=True)),
            indicateur=cle[5],
            effectif=len(vs),
            q1=quantile(vs, 0.25).quantize(Decimal("0.0001")),
            mediane=quantile(vs, 0.5).quantize(Decimal("0.0001")),
            q3=quantile(vs, 0.75).quantize(Decimal("0.0001")),
            calculee_le=maintenant,
        )
        for cle, vs in valeurs.items()
    ]


def statistiques_calculer() -> int:
    """Recalcule toutes les statistiques de référence, en une transaction (la page lit soit
    l'ancien résumé, soit le nouveau, jamais un mélange). Rend le nombre de lignes écrites."""
    maintenant = timezone.now()
    lignes = _lignes_postgresql(maintenant) if connection.vendor == "postgresql" else _lignes_python(maintenant)
    with transaction.atomic():
        StatistiqueReference.objects.all().delete()
        StatistiqueReference.objects.bulk_create(lignes, batch_size=2000)
    return len(lignes)


def references(*, caf_id: int, exercice: int, type_declaration: str, type_activite: str, nature: str) -> dict:
    """{indicateur: {"caf": ligne | None, "nation": ligne | None}} pour un groupe : une requête
    par index, quel que soit le nombre de déclarations."""
    resultat: dict[str, dict] = {ind.code: {"caf": None, "nation": None} for ind in INDICATEURS}
    for ligne in StatistiqueReference.objects.filter(
        Q(caf_id=caf_id) | Q(caf__isnull=True),
        exercice=exercice,
        type_declaration=type_declaration,
        type_activite=type_activite,
        nature=nature,
    ):
        if ligne.indicateur in resultat:
            resultat[ligne.indicateur]["nation" if ligne.caf_id is None else "caf"] = ligne
    return resultat


def hors_norme(valeur: Decimal | None, reference: StatistiqueReference | None) -> bool:
    """Hors de [Q1 − 1,5 × écart interquartile, Q3 + 1,5 × écart interquartile] (règle de Tukey),
    avec au moins 4 déclarations comparables ; à examiner, pas une erreur."""
    if valeur is None or reference is None or reference.effectif < 4:
        return False
    ecart = reference.q3 - reference.q1
    return valeur < reference.q1 - Decimal("1.5") * ecart or valeur > reference.q3 + Decimal("1.5") * ecart
