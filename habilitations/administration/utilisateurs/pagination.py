"""La pagination de la « LISTE DES UTILISATEURS » d'un responsable : les comptes de son sous-arbre,
trouvés par leurs appartenances, qu'aucun index ne compte ni ne parcourt dans l'ordre."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import connections
from django.db.models import F, OrderBy, QuerySet

from habilitations.models import Utilisateur
from portail.socle.listes import PaginateurCompteAvecLaPage


class PaginateurDuSousArbre(PaginateurCompteAvecLaPage):
    """Nombre et clés de la page en une lecture, puis les 25 comptes relus par leur clé seule.

    Sous PostgreSQL, les comptes de la liste (clé et colonnes du tri) sont lus une fois
    (CTE matérialisée), comptés, puis seules les lignes de la page sont triées (tri borné,
    « top-N »), depuis le bout le plus proche : la numérotation de toutes les lignes
    (``PaginateurCompteAvecLaPage``) triait les 5 000 comptes du sous-arbre d'une grande commune
    pour en garder 25 (11 ms, 7 à 8 ms ainsi pour la première et la dernière page ; une page du
    milieu coûte ce qu'elle coûtait). Même règle qu'elle : une page avant la première ou après la
    dernière donne la dernière. Ailleurs (SQLite), la numérotation.

    Les comptes de la page sont relus par leur clé seule : ces clés sortent de la liste filtrée
    par le périmètre, à l'instant. Y reposer la condition du sous-arbre faisait joindre à chacun
    des 25 comptes les 5 000 appartenances du sous-arbre (PostgreSQL croit le sous-arbre d'un
    groupe à une ligne ; 5 ms pour 25 lignes)."""

    def get_page(self, number):
        if connections[self.object_list.db].vendor != "postgresql":
            return super().get_page(number)
        bas = self._debut_demande(number)
        colonnes, ordre = self._colonnes()
        interne, parametres = self.object_list.order_by().values_list(*colonnes).query.sql_with_params()
        noms = ", ".join(f"c{i}" for i in range(len(colonnes)))
        # Ne s'écrivent dans le texte que la requête compilée par l'ORM (ses valeurs restent des
        # paramètres), des noms de colonnes « cN » et des mots-clés : d'où le « noqa: S608 ».
        sql = (
            f"WITH liste ({noms}) AS MATERIALIZED ({interne}), "  # noqa: S608
            "bornes AS MATERIALIZED (SELECT n, CASE WHEN n > %s THEN %s ELSE GREATEST(n - 1, 0) / %s * %s END AS debut "
            "FROM (SELECT COUNT(*) AS n FROM liste) compte) "
            "SELECT n, debut, 2 * debut + %s <= n, CASE WHEN 2 * debut + %s <= n "
            f"THEN ARRAY(SELECT c0 FROM liste ORDER BY {self._ordre_sql(ordre, inverse=False)} "
            "OFFSET (SELECT debut FROM bornes) LIMIT %s) "
            f"ELSE ARRAY(SELECT c0 FROM liste ORDER BY {self._ordre_sql(ordre, inverse=True)} "
            "OFFSET (SELECT GREATEST(n - debut - %s, 0) FROM bornes) LIMIT (SELECT LEAST(%s, n - debut) FROM bornes)) "
            "END FROM bornes"
        )
        par = self.per_page
        with connections[self.object_list.db].cursor() as curseur:
            curseur.execute(sql, [*parametres, bas, bas, par, par, par, par, par, par, par])
            total, debut, depuis_le_debut, cles = curseur.fetchone()
        if not depuis_le_debut:
            cles.reverse()
        self.__dict__["count"] = total
        return self._get_page(self._lignes(cles), debut // par + 1 if total else 1, self)

    def _lignes(self, cles: list[int]) -> QuerySet[Utilisateur]:
        return Utilisateur.objects.filter(pk__in=cles).order_by(*self.object_list.query.order_by)

    def _colonnes(self) -> tuple[list[str], list[tuple[int, bool, str | None]]]:
        """Les champs à lire (la clé d'abord) et l'ordre de la liste : (rang du champ, décroissant,
        place des valeurs absentes)."""
        colonnes = ["pk"]
        ordre = []
        for nom, decroissant, absentes in _ordre(self.object_list):
            if nom not in colonnes:
                colonnes.append(nom)
            ordre.append((colonnes.index(nom), decroissant, absentes))
        return colonnes, ordre

    @staticmethod
    def _ordre_sql(ordre: list[tuple[int, bool, str | None]], *, inverse: bool) -> str:
        """``ORDER BY`` sur les colonnes de la CTE ; ``inverse`` : l'ordre exactement renversé
        (sens et place des valeurs absentes)."""
        termes = []
        for rang, decroissant, absentes in ordre:
            if inverse:
                decroissant = not decroissant
                absentes = {"FIRST": "LAST", "LAST": "FIRST"}.get(absentes) if absentes else None
            termes.append(f"c{rang} {'DESC' if decroissant else 'ASC'}{f' NULLS {absentes}' if absentes else ''}")
        return ", ".join(termes)


def _ordre(liste: QuerySet) -> Iterator[tuple[str, bool, str | None]]:
    """L'ordre d'une liste triée par ``portail.socle.listes.trier`` : des noms de champs
    (« -nom ») ou des ``F(champ).asc/desc(nulls_…)``. Tout autre ordre est refusé."""
    if not liste.query.order_by:
        raise ValueError("PaginateurDuSousArbre veut un ordre explicite (order_by)")
    for terme in liste.query.order_by:
        if isinstance(terme, str):
            yield terme.removeprefix("-"), terme.startswith("-"), None
        elif isinstance(terme, OrderBy) and isinstance(terme.expression, F):
            absentes: Any = "FIRST" if terme.nulls_first else "LAST" if terme.nulls_last else None
            yield terme.expression.name, terme.descending, absentes
        else:
            raise ValueError(f"ordre non pris en charge : {terme!r}")
