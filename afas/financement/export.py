"""Le financement d'un appel écrit par PostgreSQL (ticket 11 : exports ≥ 50 000 lignes/s).

Le montant de chaque déclaration de l'appel est lu ou calculé dans la base, en une passe pour
tout l'appel (``montants_sql``) : figé s'il est transmis ou validé (``MontantEstime`` actuel,
comme ``views._estimations``), estimé sinon par les formules de ``calcul.py`` écrites en SQL
(droit seul, sans avances : comme la page). Ce calcul est joint à la requête des déclarations
(``avec_montants``), que ``portail.socle.csv.LignesSQL`` écrit par ``COPY`` ; le chemin Python
(``views._lignes_export``) reste la référence, et le chemin de SQLite :
``tests/afas/declarations/test_financement_export.py`` compare les deux fichiers octet pour octet.

Pourquoi le même nombre au centime : chaque étape arrondie en Python (``arrondir``, demi-centime
vers le haut) l'est ici par ``round(…, 2)`` (demi vers le haut, loin de zéro, comme
``ROUND_HALF_UP``) ; produits et taux sont exacts des deux côtés (``× 0,01`` plutôt que ``÷ 100``) ;
les deux divisions (prix de revient horaire, montant par heure) ont au moins seize chiffres
significatifs ici et vingt-huit en Python, bien plus que ce qui sépare leur quotient d'une demi
unité du dernier chiffre gardé pour des montants d'au plus douze chiffres. Le montant par heure
est arrondi à quatre décimales (comme ``indicateurs_calculer``) puis à deux pour l'écrire
(``nombre_fr``) : le double arrondi est gardé, il change parfois le centime.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import BooleanField, F, Func, QuerySet, Subquery, TextField
from django.db.models.expressions import RawSQL
from django.db.models.sql.constants import LOUTER

from afas.enums import FIGES, TypeActivite
from afas.models import (
    Activite,
    AppelDeclaration,
    Declaration,
    DonneesActivite,
    DonneesFinancieres,
    LabelPlanMercredi,
    MontantEstime,
    ParametreFinancement,
)
from conventions.models import Organisme
from portail.socle.csv import DEBUTS_DE_FORMULE, SansFormule

#: L'alias du calcul dans la requête des déclarations : ses colonnes ``montant``, ``par_heure``
#: (quatre décimales, NULL sans heure réalisée), ``fige``, et ce que l'export montre de
#: l'activité (``libelle``, ``numero_equipement``, ``type_activite``, ``nature``) et de son
#: partenaire (``raison_sociale``), lus par index comme le reste du calcul.
ALIAS = "montant_appel"

_CHARGES = " + ".join(f"coalesce(f.c{n}, 0)" for n in range(60, 69))


def montants_sql(appel: AppelDeclaration) -> tuple[str, list[Any]]:
    """Une ligne par déclaration de ``appel`` : ``id``, ``montant``, ``par_heure``, ``fige`` et
    les colonnes de l'activité et du partenaire (``ALIAS``).

    Figé : le montant actuel d'une déclaration transmise ou validée. Sinon l'estimation de
    ``services.estimer(…, avec_reglement=False)`` : paramètres de la Caf avant le barème
    national, nature exacte avant « toutes natures » (``parametres_resoudre``) ; ALSH par nature
    (celle de la ligne, sinon celle de l'activité), sans nature ou sans paramètre pour l'une
    d'elles : zéro ; EAJE (PSU) jamais négatif ; les autres à la fonction. Les lignes et données
    financières vides valent zéro, comme en Python."""
    t = {
        "declaration": Declaration._meta.db_table,
        "activite": Activite._meta.db_table,
        "lignes": DonneesActivite._meta.db_table,
        "financieres": DonneesFinancieres._meta.db_table,
        "montants": MontantEstime._meta.db_table,
        "parametres": ParametreFinancement._meta.db_table,
        "labels": LabelPlanMercredi._meta.db_table,
        "organisme": Organisme._meta.db_table,
    }
    figes = sorted(FIGES)
    # « LATERAL (… OFFSET 0) » : l'activité, son partenaire, le montant figé, les lignes et les
    # données financières sont lus par index, déclaration par déclaration de l'appel ; jointes à
    # plat, PostgreSQL lisait les tables entières (285 000 lignes, 193 000 données financières à
    # « nationale ») pour un appel de 6 000, deux fois plus lent (mesuré), et « NOT EXISTS » du
    # montant figé hachait les 136 000 montants du pays. Chaque déclaration de l'appel est lue une
    # fois (``d``), avec son activité, son partenaire et son montant figé : le calcul et le
    # fichier les reprennent de là (l'activité et le montant figé étaient lus deux fois).
    alsh, eaje = TypeActivite.ALSH.value, TypeActivite.EAJE.value
    sql = f"""
    WITH d AS MATERIALIZED (
        SELECT d.id, d.caf_id, d.exercice, d.activite_id, a.libelle, a.numero_equipement, a.type_activite,
            a.nature, o.raison_sociale, m.un IS NOT NULL AS fige, m.montant, m.montant_par_heure
        FROM {t["declaration"]} d
        CROSS JOIN LATERAL (
            SELECT libelle, numero_equipement, type_activite, nature, organisme_id FROM {t["activite"]}
            WHERE id = d.activite_id OFFSET 0
        ) a
        CROSS JOIN LATERAL (SELECT raison_sociale FROM {t["organisme"]} WHERE id = a.organisme_id OFFSET 0) o
        LEFT JOIN LATERAL (
            SELECT 1 AS un, montant, montant_par_heure FROM {t["montants"]}
            WHERE declaration_id = d.id AND actuel AND d.etat IN (%s, %s) OFFSET 0
        ) m ON true
        WHERE d.appel_id = %s
    ),
    n AS MATERIALIZED (
        SELECT s.*,
            CASE WHEN f.id IS NULL THEN 0 ELSE {_CHARGES} END AS charges,
            coalesce(f.taux_ressortissants, 0) AS tr,
            coalesce(f.participations_familiales, 0) AS pf,
            (s.activite_id, s.exercice) IN (
                SELECT activite_id, exercice FROM {t["labels"]} WHERE labellise
            ) AS label
        FROM (
            SELECT d.id, d.caf_id, d.exercice, d.activite_id, d.type_activite,
                CASE WHEN d.type_activite <> %s THEN ''
                     WHEN l.id IS NOT NULL THEN coalesce(nullif(l.nature, ''), d.nature) END AS nature,
                sum(coalesce(l.heures_realisees, 0)) AS h,
                sum(coalesce(l.heures_mercredi, 0)) AS hm,
                sum(sum(coalesce(l.heures_realisees, 0))) OVER (PARTITION BY d.id) AS heures
            FROM d
            LEFT JOIN LATERAL (
                SELECT id, nature, heures_realisees, heures_mercredi FROM {t["lignes"]}
                WHERE declaration_id = d.id OFFSET 0
            ) l ON true
            WHERE NOT d.fige
            GROUP BY d.id, d.caf_id, d.exercice, d.activite_id, d.type_activite, d.nature, 6
        ) s
        LEFT JOIN LATERAL (
            SELECT * FROM {t["financieres"]} WHERE declaration_id = s.id OFFSET 0
        ) f ON true
    ),
    -- Le paramètre qui vaut pour chaque clé (Caf, exercice, type, nature) de l'appel : une
    -- poignée de clés, résolues une fois (``parametres_resoudre``).
    resolus AS (
        SELECT DISTINCT ON (k.caf_id, k.exercice, k.type_activite, k.nature) k.*, p.taux, p.prix_plafond,
            p.bonus_mercredi
        FROM (SELECT DISTINCT caf_id, exercice, type_activite, nature FROM n) k
        LEFT JOIN {t["parametres"]} p
            ON p.exercice = k.exercice AND p.type_activite = k.type_activite
            AND (p.caf_id = k.caf_id OR p.caf_id IS NULL) AND p.nature IN (k.nature, '')
        ORDER BY k.caf_id, k.exercice, k.type_activite, k.nature, p.caf_id IS NULL, p.nature = ''
    ),
    e AS (
        SELECT g.id,
            CASE
                WHEN g.type_activite = %s THEN
                    CASE WHEN count(g.nature) = 0 OR bool_or(g.taux IS NULL) THEN 0
                    ELSE sum(
                        round(round(g.h * (g.taux * 0.01) * least(g.prh, g.plafond), 2) * (g.tr * 0.01), 2)
                        + CASE WHEN g.label AND g.bonus <> 0 AND g.hm <> 0 THEN round(g.hm * g.bonus, 2) ELSE 0 END
                    ) END
                WHEN bool_or(g.taux IS NULL) THEN 0
                WHEN g.type_activite = %s THEN
                    greatest(0, max(round(g.heures * (g.taux * 0.01) * least(g.prh, g.plafond), 2) - round(g.pf, 2)))
                ELSE max(round(least(round(g.charges, 2), g.plafond) * (g.taux * 0.01), 2))
            END AS montant,
            max(g.heures) AS heures
        FROM (
            SELECT n.*, r.taux, r.prix_plafond AS plafond, r.bonus_mercredi AS bonus,
                CASE WHEN n.heures <= 0 THEN 0 ELSE round(n.charges / n.heures, 2) END AS prh
            FROM n JOIN resolus r
                ON r.caf_id IS NOT DISTINCT FROM n.caf_id AND r.exercice IS NOT DISTINCT FROM n.exercice
                AND r.type_activite = n.type_activite AND r.nature IS NOT DISTINCT FROM n.nature
        ) g
        GROUP BY g.id, g.type_activite
    )
    SELECT d.id, d.libelle, d.numero_equipement, d.type_activite, d.nature, d.raison_sociale, d.fige,
        CASE WHEN d.fige THEN d.montant ELSE e.montant END AS montant,
        CASE WHEN d.fige THEN d.montant_par_heure WHEN e.heures <> 0 THEN round(e.montant / e.heures, 4) END
            AS par_heure
    FROM d LEFT JOIN e ON e.id = d.id
    """  # noqa: S608 (noms de tables des modèles ; toute valeur est un paramètre)
    return sql, [*figes, appel.pk, alsh, alsh, eaje]


class _Jointure:
    """« LEFT OUTER JOIN (<sql>) <alias> ON <alias>.id = <table principale>.id » dans la requête
    d'un ``QuerySet`` : l'ORM ne joint pas une table dérivée. Même interface que les jointures
    de Django (``django.db.models.sql.datastructures.Join``), pour le compilateur ; la requête
    qui la porte n'est jamais une sous-requête (elle n'est ni renommée ni promue)."""

    join_type = LOUTER
    nullable = True
    filtered_relation = None

    def __init__(self, sql: str, params: list[Any], alias: str, parent_alias: str) -> None:
        self.sql, self.params = sql, params
        self.table_name = self.table_alias = alias
        self.parent_alias = parent_alias

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        q = connection.ops.quote_name
        alias, parent = q(self.table_alias), q(self.parent_alias)
        return f"LEFT OUTER JOIN ({self.sql}) {alias} ON ({alias}.{q('id')} = {parent}.{q('id')})", list(self.params)

    def relabeled_clone(self, change_map: dict[str, str]) -> _Jointure:
        return self

    def promote(self) -> _Jointure:
        return self

    def demote(self) -> _Jointure:
        return self


def avec_montants(declarations: QuerySet[Declaration], appel: AppelDeclaration) -> QuerySet[Declaration]:
    """``declarations`` (celles de ``appel``) jointes à leur montant (``montants_sql``), sous
    l'alias ``ALIAS`` : des expressions ``RawSQL`` lisent ses colonnes."""
    declarations = declarations.all()
    requete = declarations.query
    sql, params = montants_sql(appel)
    requete.alias_map[ALIAS] = _Jointure(sql, params, ALIAS, requete.get_initial_alias())
    requete.alias_refcount[ALIAS] = 1
    return declarations


def colonne(nom: str) -> RawSQL:
    """Une colonne du calcul joint (``ALIAS``), pour les colonnes et le tri de l'export."""
    return RawSQL(f"{ALIAS}.{nom}", [], output_field=TextField())  # noqa: S611 (noms fixes)


# Les cellules de l'export mises en forme une seule fois par ligne. ``NeutraliserFormule`` écrit
# son expression trois fois (le texte, son premier caractère, le texte préfixé) : pour un libellé
# de choix ou un montant mis en forme, PostgreSQL les calculait trois fois par cellule (le
# cinquième du ``COPY`` d'un appel de 6 000 déclarations). Ici, seul ce qui vient tel quel de la
# base (une valeur hors des choix) est neutralisé ; le reste ne commence jamais par un début de
# formule, ou seulement par « - » pour un nombre négatif.
_DEBUTS_SQL = ", ".join(f"chr({ord(c)})" for c in DEBUTS_DE_FORMULE)
_APOSTROPHE = "''''"  # une apostrophe, en littéral SQL


class _TexteSansFormule(SansFormule, RawSQL):
    """Un texte SQL déjà neutralisé (``portail.socle.csv.SansFormule``), NULL pour une cellule vide
    (jamais un texte vide) : ``NeutraliserFormule`` l'écrit tel quel."""

    jamais_vide = True


def _neutralise(sql: str) -> str:
    """Le texte ``sql`` (une colonne) comme ``cellule_csv`` l'écrit : préfixé d'une apostrophe
    s'il commence par un début de formule, NULL s'il est vide."""
    return f"NULLIF(CASE WHEN left({sql}, 1) IN ({_DEBUTS_SQL}) THEN {_APOSTROPHE} || {sql} ELSE {sql} END, '')"


def _libelle_sql(colonne_sql: str, choix: list[tuple[str, str]]) -> RawSQL:
    """Le libellé du choix de ``colonne_sql`` (``get_<champ>_display`` écrit par ``cellule_csv``) :
    le libellé, ou la valeur elle-même hors des choix, neutralisée. Les libellés sont des textes
    du code, vérifiés ici : aucun n'est vide ni ne commence par un début de formule."""
    paires = [(valeur, str(etiquette)) for valeur, etiquette in choix]
    if any(not etiquette or etiquette.startswith(DEBUTS_DE_FORMULE) for _valeur, etiquette in paires):
        raise ValueError("un libellé de choix vide ou qui commence par un début de formule")
    cas = " ".join("WHEN %s THEN %s" for _ in paires)
    params = [texte for paire in paires for texte in paire]
    sql = f"CASE {colonne_sql} {cas} ELSE {_neutralise(f'({colonne_sql})::text')} END"
    return _TexteSansFormule(sql, params, output_field=TextField())


def libelle(nom: str, choix: list[tuple[str, str]]) -> RawSQL:
    """La cellule du libellé du choix d'une colonne du calcul joint (``ALIAS``)."""
    return _libelle_sql(f"{ALIAS}.{nom}", choix)


def libelle_declaration(champ: str, choix: list[tuple[str, str]]) -> RawSQL:
    """La cellule du libellé du choix d'un champ de la déclaration (la table de la requête)."""
    table, colonne_bd = Declaration._meta.db_table, Declaration._meta.get_field(champ).column
    return _libelle_sql(f'"{table}"."{colonne_bd}"', choix)


def nombre(nom: str) -> RawSQL:
    """La cellule d'un nombre du calcul joint à deux décimales, virgule décimale (``calcul.nombre_fr``
    sans espace des milliers), un négatif préfixé d'une apostrophe (``cellule_csv``), vide pour
    NULL. ``round(…, 2)`` n'écrit jamais « -0.00 » : le texte commence par « - » si et seulement
    si le nombre arrondi est négatif."""
    arrondi = f"round({ALIAS}.{nom}, 2)"
    sql = f"CASE WHEN {arrondi} < 0 THEN {_APOSTROPHE} ELSE '' END || replace({arrondi}::text, '.', ',')"
    return _TexteSansFormule(sql, [], output_field=TextField())


def oui_non(nom: str) -> RawSQL:
    """« Oui » / « Non » d'une colonne booléenne du calcul joint (jamais NULL)."""
    return _TexteSansFormule(f"CASE WHEN {ALIAS}.{nom} THEN 'Oui' ELSE 'Non' END", [], output_field=TextField())


def parmi_l_appel(montants: QuerySet[MontantEstime], appel: AppelDeclaration) -> QuerySet[MontantEstime]:
    """``montants`` (déjà bornés à ``appel``) lus en partant des déclarations de l'appel : leurs
    clés d'abord, par l'index de l'appel, en tableau (``declaration_id = ANY(ARRAY(…))``), puis
    le montant de chacune par son index. Les hors norme de l'appel, lus autrement (en sous-requête
    de l'export ou seuls), parcouraient les 193 000 déclarations du pays par des processus
    parallèles (20 à 60 ms, le tiers de l'export d'un appel de 6 000). Même ensemble ; SQLite :
    ``montants`` tels quels."""
    if connections[montants.db].vendor != "postgresql":
        return montants
    cles = Subquery(Declaration.objects.filter(appel=appel).order_by().values("pk"))
    parmi = Func(
        F("declaration_id"),
        cles,
        arg_joiner=" = ANY(ARRAY(",
        template="(%(expressions)s)))",
        output_field=BooleanField(),
    )
    return montants.filter(parmi)
