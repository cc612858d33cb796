"""Requêtes de l'ORM compilées une fois par processus, pour les chemins où chaque milliseconde
compte (la connexion : ticket 11, 15 connexions par seconde et par cœur).

Construire une requête avec l'ORM (``filter``, ``Exists``, ``annotate``) puis la compiler en SQL
coûte du processeur Python à chaque appel : 2 ms pour la question « double authentification
activée, requise ? », soit plus que l'aller-retour vers PostgreSQL. Ici la requête reste écrite
avec l'ORM (une seule source de vérité, les mêmes ``QuerySet`` que partout ailleurs), mais n'est
compilée qu'une fois : avec deux jeux de valeurs témoins, pour repérer quels paramètres SQL
viennent des arguments ; ensuite seuls ces paramètres changent.

Garde-fou : si un argument se retrouve transformé dans le SQL (une date décalée, un texte mis en
forme…), les deux compilations ne diffèrent pas seulement là où les témoins sont attendus, et la
construction échoue au premier appel plutôt que de rendre une réponse fausse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

__all__ = ["RequeteCompilee", "curseur_prepare", "sql_insertion"]


# SQL, paramètres témoins, places des arguments, compilateur, convertisseurs de ses colonnes.
_Compilee = tuple[str, list[Any], dict[int, tuple[str, Callable[[Any], Any]]], SQLCompiler, dict[int, Any]]


def _adapte(adapter: Callable[[Any], Any], valeur: Any) -> Any:
    try:
        return adapter(valeur)
    except (TypeError, ValueError, AttributeError):
        return _INADAPTABLE


_INADAPTABLE = object()


class RequeteCompilee:
    """``construire(**arguments)`` rend un ``QuerySet`` (``values_list`` conseillé) ; ``temoins``
    donne, pour chaque argument, deux valeurs distinctes, que rien d'autre dans la requête ne
    vaut. ``preparee`` : sous PostgreSQL, une instruction préparée, planifiée une fois par
    connexion ; PostgreSQL peut alors garder un plan générique, qui ne voit plus les valeurs :
    à réserver aux lectures par clé (un compte, un identifiant), pas à celles dont le bon plan
    dépend de la taille du partenaire. ``lignes(**arguments)`` exécute le SQL compilé et rend les lignes brutes (sans les
    convertisseurs de l'ORM : un booléen peut revenir en 0 / 1 sous SQLite)."""

    def __init__(
        self,
        construire: Callable[..., QuerySet[Any]],
        temoins: Mapping[str, tuple[Any, Any]],
        *,
        using: str = "default",
        preparee: bool = False,
    ) -> None:
        self._construire = construire
        self._preparee = preparee
        self._temoins = dict(temoins)
        self._using = using
        self._compilees: dict[str, _Compilee] = {}

    def _compiler(self, vendeur: str) -> _Compilee:
        compilee = self._compilees.get(vendeur)
        if compilee is not None:
            return compilee
        premier = {nom: a for nom, (a, _b) in self._temoins.items()}
        second = {nom: b for nom, (_a, b) in self._temoins.items()}
        # Le compilateur de la première est gardé : il sait convertir les lignes (booléens de
        # SQLite, dates, décimaux) comme le ferait le QuerySet.
        compilateur = self._construire(**premier).query.get_compiler(using=self._using)
        sql_a, params_a = compilateur.as_sql()
        sql_b, params_b = self._construire(**second).query.get_compiler(using=self._using).as_sql()
        if sql_a != sql_b or len(params_a) != len(params_b):
            raise ValueError("la forme de la requête dépend de ses arguments : elle ne peut pas être compilée une fois")
        # Une valeur passe telle quelle (PostgreSQL) ou adaptée par le moteur comme le fait l'ORM
        # (SQLite écrit les dates en texte) : l'adaptation retenue doit rendre les deux témoins.
        ops = connections[self._using].ops
        adaptations: tuple[Callable[[Any], Any], ...] = (
            lambda v: v,
            ops.adapt_datefield_value,
            ops.adapt_datetimefield_value,
            ops.adapt_timefield_value,
        )
        places: dict[int, tuple[str, Callable[[Any], Any]]] = {}
        for i, (a, b) in enumerate(zip(params_a, params_b, strict=True)):
            if a == b:
                continue
            trouvees = [
                (nom, adapter)
                for nom in self._temoins
                for adapter in adaptations
                if _adapte(adapter, premier[nom]) == a and _adapte(adapter, second[nom]) == b
            ]
            if not trouvees:
                raise ValueError(f"le paramètre {i} de la requête ne vient tel quel d'aucun argument")
            places[i] = trouvees[0]
        if {nom for nom, _adapter in places.values()} != set(self._temoins):
            raise ValueError("un argument n'apparaît pas tel quel dans la requête")
        # Les convertisseurs des colonnes (booléens de SQLite, dates…), calculés une fois : le
        # compilateur les recalculerait à chaque appel (``results_iter``).
        colonnes = [s[0] for s in compilateur.select[0 : compilateur.col_count]]
        if compilateur.has_composite_fields(colonnes):
            raise ValueError("une clé composite dans les colonnes lues : non prise en charge")
        convertisseurs = compilateur.get_converters(colonnes)
        compilee = (sql_a, list(params_a), places, compilateur, convertisseurs)
        self._compilees[vendeur] = compilee
        return compilee

    def lignes(self, **arguments: Any) -> list[tuple[Any, ...]]:
        if set(arguments) != set(self._temoins):
            raise TypeError(f"arguments attendus : {sorted(self._temoins)}")
        connexion = connections[self._using]
        sql, params, places, compilateur, convertisseurs = self._compiler(connexion.vendor)
        valeurs = list(params)
        for i, (nom, adapter) in places.items():
            valeurs[i] = adapter(arguments[nom])
        with curseur_prepare(connexion) if self._preparee else connexion.cursor() as curseur:
            curseur.execute(sql, valeurs)
            lignes = curseur.fetchall()
        if not convertisseurs:
            return [tuple(ligne) for ligne in lignes]
        return [tuple(ligne) for ligne in compilateur.apply_converters(lignes, convertisseurs)]


_CURSEUR_PREPARE: list[type] = []


def _classe_du_curseur_prepare() -> type:
    if not _CURSEUR_PREPARE:
        from django.db.backends.postgresql.base import ServerBindingCursor

        class CurseurPrepare(ServerBindingCursor):
            def execute(self, query, params=None, *, prepare=None, binary=None):
                return super().execute(query, params, prepare=True, binary=binary)

        _CURSEUR_PREPARE.append(CurseurPrepare)
    return _CURSEUR_PREPARE[0]


def curseur_prepare(connexion: BaseDatabaseWrapper) -> CursorWrapper:
    """Sous PostgreSQL, un curseur qui lie les valeurs côté serveur et prépare l'instruction : le
    texte d'une requête compilée ne change pas d'un appel à l'autre, PostgreSQL la planifie une
    fois par connexion au lieu d'à chaque appel (0,5 ms pour la lecture de la connexion, dix fois
    son exécution). Pour des instructions au texte fixe (requêtes compilées, écriture combinée
    de la connexion) dont le plan ne dépend pas des valeurs. Les curseurs ordinaires de Django
    lient côté client et ne préparent rien.
    Le curseur passe par l'enveloppe de Django : les requêtes restent comptées et journalisées
    (``execute_wrapper``, ``CaptureQueriesContext``), les erreurs converties de même."""
    if connexion.vendor != "postgresql" or connexion.settings_dict["OPTIONS"].get("prepare_threshold") is None:
        return connexion.cursor()
    connexion.close_if_health_check_failed()
    connexion.ensure_connection()
    connexion.validate_thread_sharing()
    brut = _classe_du_curseur_prepare()(connexion.connection)
    return connexion.make_debug_cursor(brut) if connexion.queries_logged else connexion.make_cursor(brut)


_INSERTIONS: dict[tuple[type[Model], str], tuple[str, tuple[Any, ...]]] = {}


def sql_insertion(objet: Model, connexion: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
    """L'``INSERT`` d'un objet pas encore enregistré, à combiner avec d'autres écritures en une
    seule instruction (``WITH … AS (INSERT …)`` sous PostgreSQL) : les valeurs sont préparées
    comme le fait ``save()`` (``pre_save`` : valeurs par défaut, dates automatiques ; puis
    ``get_db_prep_save`` : adresses IP, JSON…) ; le texte, écrit d'après le modèle, est gardé
    par modèle. La clé primaire automatique est laissée à la base."""
    cle = (type(objet), connexion.alias)
    garde = _INSERTIONS.get(cle)
    if garde is None:
        champs = tuple(
            champ for champ in objet._meta.local_concrete_fields if not (champ.primary_key and champ.db_returning)
        )
        colonnes = ", ".join(connexion.ops.quote_name(champ.column) for champ in champs)
        marques = ", ".join(["%s"] * len(champs))
        table = connexion.ops.quote_name(objet._meta.db_table)
        # Noms pris au modèle et cités ; les valeurs passent en paramètres.
        garde = (f"INSERT INTO {table} ({colonnes}) VALUES ({marques})", champs)  # noqa: S608
        _INSERTIONS[cle] = garde
    sql, champs = garde
    return sql, [champ.get_db_prep_save(champ.pre_save(objet, True), connexion) for champ in champs]
