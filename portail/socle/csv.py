"""Exports CSV du portail, lisibles tels quels par un tableur français.

UTF-8 avec BOM (sans lui, Excel lit les accents en Windows-1252), séparateur « ; » (la virgule
est le séparateur décimal en France), en-têtes en français, dates JJ/MM/AAAA. La réponse est
écrite en flux : les lignes sont lues de la base par un itérateur et envoyées par paquets, si
bien qu'un export de 10 000 lignes ne tient jamais tout entier en mémoire.

Sous PostgreSQL, un export décrit par ``LignesSQL`` est écrit par la base elle-même
(``COPY (SELECT …) TO STDOUT WITH (FORMAT csv)``) : les cellules y sont mises en forme en SQL
(``DateTexte``, ``HorodatageTexte``, ``OuiNon``) et neutralisées contre l'injection de formules
(``NeutraliserFormule``) ; Python ne fait que relayer les octets, par gros paquets (cinq à dix
fois moins de processeur par ligne). Le fichier est octet pour octet celui du chemin Python
(``LignesSQL.repli``, qui sert aussi sous SQLite) : ``tests/portail/test_csv_sql.py`` compare les
deux sur des valeurs hostiles.
"""

from __future__ import annotations

import csv
import datetime
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Case, CharField, Expression, F, Func, Q, QuerySet, TextField, Value, When
from django.http import StreamingHttpResponse
from django.utils import timezone

from portail.socle.dates import aujourdhui

BOM = "\ufeff"
SEPARATEUR = ";"
LIGNES_PAR_PAQUET = 500
# Octets envoyés à la fois par le chemin SQL : peu d'écritures sur le socket et de morceaux HTTP
# pour des millions d'octets, une mémoire bornée par cette taille quelle que soit la longueur.
OCTETS_PAR_PAQUET = 256 * 1024
# Une cellule qui commence par l'un de ces caractères serait exécutée comme une formule par le
# tableur (injection CSV) : on la préfixe d'une apostrophe, qu'il n'affiche pas.
DEBUTS_DE_FORMULE = ("=", "+", "-", "@", "\t", "\r")


def texte_cellule(valeur: Any) -> str:
    """Une valeur comme l'utilisateur la lit : date JJ/MM/AAAA, date et heure à Paris
    (« 30/11/2026 à 09h04 », le format des guides), Oui/Non, rien pour une valeur absente. Sert
    aussi aux tableaux HTML et au filtre de gabarit ``date_heure`` : l'écran et l'export disent pareil."""
    if valeur is None:
        return ""
    if isinstance(valeur, bool):
        return "Oui" if valeur else "Non"
    if isinstance(valeur, datetime.datetime):
        if timezone.is_aware(valeur):
            valeur = timezone.localtime(valeur)
        return horodatage_texte(valeur)
    if isinstance(valeur, datetime.date):
        return f"{valeur.day:02d}/{valeur.month:02d}/{valeur.year:04d}"  # sans strftime, plus lent
    return str(valeur)


def horodatage_texte(moment: datetime.datetime) -> str:
    """« 30/11/2026 à 09h04 », l'heure telle quelle (déjà à Paris). Sans ``strftime``, quatre fois
    plus lent, pour les exports qui en écrivent une par ligne."""
    return f"{moment.day:02d}/{moment.month:02d}/{moment.year:04d} à {moment.hour:02d}h{moment.minute:02d}"


def cellule_csv(valeur: Any) -> str:
    """``texte_cellule``, protégé contre l'injection de formules. Appelée pour chaque cellule des
    exports (des centaines de milliers) : un texte évite la chaîne de ``isinstance``."""
    texte = valeur if type(valeur) is str else texte_cellule(valeur)
    return f"'{texte}" if texte.startswith(DEBUTS_DE_FORMULE) else texte


class _Echo:
    """Pseudo-fichier : ``csv.writer`` y « écrit » une ligne, qu'on récupère aussitôt."""

    def write(self, valeur: str) -> str:
        return valeur


def _ecrire_ligne(ecrivain: Any, ligne: Sequence[Any]) -> str:
    # ``cellule_csv`` sans un appel de fonction par cellule (des centaines de milliers).
    textes = [v if type(v) is str else texte_cellule(v) for v in ligne]
    return ecrivain.writerow([f"'{t}" if t.startswith(DEBUTS_DE_FORMULE) else t for t in textes])


# --- Les cellules écrites par PostgreSQL --------------------------------------------------------

# Les débuts de formule en SQL : des littéraux fixes, jamais des paramètres.
_DEBUTS_SQL = ", ".join(f"chr({ord(c)})" for c in DEBUTS_DE_FORMULE)


class SansFormule:
    """Marque une mise en forme dont le texte ne commence jamais par un début de formule (date
    JJ/MM/AAAA, « Oui »/« Non ») : ``NeutraliserFormule`` ne l'écrit qu'une fois. Avec
    ``jamais_vide``, elle rend NULL plutôt qu'un texte vide : elle est écrite telle quelle."""

    sans_formule = True
    jamais_vide = False


class NeutraliserFormule(Expression):
    """La cellule telle que ``cellule_csv`` l'écrit : préfixée d'une apostrophe si elle commence
    par ``= + - @``, une tabulation ou un retour chariot ; vide, elle devient NULL, que ``COPY``
    écrit vide comme le module ``csv`` (un texte vide, il l'écrirait ``""``). L'expression est
    écrite trois fois dans le SQL : à réserver aux colonnes et aux mises en forme peu coûteuses."""

    def __init__(self, expression: Any) -> None:
        super().__init__(output_field=TextField())
        self.expression = F(expression) if isinstance(expression, str) else expression

    def get_source_expressions(self) -> list[Any]:
        return [self.expression]

    def set_source_expressions(self, expressions: list[Any]) -> None:
        (self.expression,) = expressions

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.expression)
        if getattr(self.expression, "sans_formule", False):
            return (sql if self.expression.jamais_vide else f"NULLIF({sql}, '')"), list(params)
        texte = f"({sql})::text"
        quote = "''''"  # une apostrophe, en littéral SQL
        return (
            f"NULLIF(CASE WHEN left({texte}, 1) IN ({_DEBUTS_SQL}) THEN {quote} || {texte} ELSE {texte} END, '')",
            [*params, *params, *params],
        )


def _dans_le_fuseau(expression: Any, fuseau: str) -> Func:
    """L'horodatage ``expression`` en heure locale de ``fuseau`` (``AT TIME ZONE``)."""
    return Func(Value(fuseau), expression, function="timezone", output_field=TextField())


class DateTexte(SansFormule, Func):
    """Une date « JJ/MM/AAAA » (``texte_cellule``) ; avec ``fuseau``, un horodatage ramené au
    jour dans ce fuseau (``timezone.localdate``)."""

    function = "to_char"
    output_field = CharField()

    def __init__(self, expression: Any, fuseau: str | None = None) -> None:
        expression = F(expression) if isinstance(expression, str) else expression
        if fuseau is not None:
            expression = _dans_le_fuseau(expression, fuseau)
        super().__init__(expression, Value("DD/MM/YYYY"))


class HorodatageTexte(SansFormule, Func):
    """« 30/11/2026 à 09h04 » à l'heure de ``fuseau`` (``texte_cellule`` d'un horodatage)."""

    function = "to_char"
    output_field = CharField()

    def __init__(self, expression: Any, fuseau: str) -> None:
        expression = F(expression) if isinstance(expression, str) else expression
        super().__init__(_dans_le_fuseau(expression, fuseau), Value('DD/MM/YYYY "à" HH24"h"MI'))


class OuiNon(SansFormule, Case):
    """« Oui », « Non » (``texte_cellule`` d'un booléen) : d'un champ (rien pour NULL), ou d'une
    condition (``Q``, jamais vide)."""

    def __init__(self, champ: str | Q) -> None:
        if isinstance(champ, Q):
            super().__init__(When(champ, then=Value("Oui")), default=Value("Non"), output_field=CharField())
            return
        super().__init__(
            When(**{champ: True}, then=Value("Oui")),
            When(**{champ: False}, then=Value("Non")),
            output_field=CharField(),
        )


class LibelleChoix(Case):
    """Le libellé d'un champ à choix (``get_<champ>_display``) : le libellé du choix, ou la
    valeur elle-même hors des choix."""

    def __init__(self, champ: str, choix: Iterable[tuple[Any, Any]]) -> None:
        super().__init__(
            *(When(**{champ: valeur}, then=Value(str(libelle))) for valeur, libelle in choix),
            default=F(champ),
            output_field=CharField(),
        )


@dataclass(frozen=True)
class LignesSQL:
    """Les lignes d'un export que PostgreSQL écrit lui-même : ``requete`` (filtrée, triée, bornée
    au périmètre) et ``colonnes``, une expression par cellule qui rend son texte (NULL pour une
    cellule vide). ``repli`` rend les mêmes lignes en valeurs Python, écrites par ``contenu_csv`` :
    c'est le chemin de SQLite, et la référence à laquelle les tests comparent le fichier.

    ``colonnes`` peut être une fonction, appelée seulement au moment d'écrire (après la fin de
    la vue, comme un itérateur) : ce qu'elle lit de la base ne se paie qu'à l'envoi.

    ``reprendre`` : pour les lignes que SQL ne sait pas écrire à l'identique (au journal, des
    valeurs avant/après peu ordinaires), SQL écrit la valeur brute derrière l'octet ``marque`` ;
    une ligne qui contient cet octet est relue (ses cellules en texte) et ``reprendre`` rend
    ses cellules, écrites par Python (celles que SQL a écrites y restent telles quelles)."""

    requete: QuerySet
    colonnes: Sequence[Any] | Callable[[], Sequence[Any]]
    repli: Callable[[], Iterable[Sequence[Any]]]
    reprendre: Callable[[list[str]], Sequence[Any]] | None = None
    marque: bytes = b"\x01"


def _copie_sql(lignes: LignesSQL, connexion: Any) -> tuple[str, list[Any]] | None:
    """La requête ``COPY``, ou None quand Django sait d'avance qu'elle ne rendrait aucune ligne
    (un filtre « parmi une liste vide »)."""
    colonnes = lignes.colonnes() if callable(lignes.colonnes) else lignes.colonnes
    requete = lignes.requete.values_list(*(NeutraliserFormule(c) for c in colonnes))
    try:
        sql, params = requete.query.get_compiler(connection=connexion).as_sql()
    except EmptyResultSet:
        return None
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, DELIMITER '{SEPARATEUR}')", list(params)


def _contenu_copie(entete: str, lignes: LignesSQL, connexion: Any) -> Iterator[bytes]:
    """Les lignes telles que ``COPY`` les écrit, une par message ; seule la fin de ligne change
    (``\\n`` de PostgreSQL, ``\\r\\n`` du module ``csv`` ; un saut de ligne dans une cellule
    guillemetée reste tel quel chez l'un comme chez l'autre). Envoyées par paquets d'environ
    ``OCTETS_PAR_PAQUET`` octets."""
    copie_sql = _copie_sql(lignes, connexion)
    if copie_sql is None:
        yield entete.encode("utf-8")
        return
    sql, params = copie_sql
    ecrivain = csv.writer(_Echo(), delimiter=SEPARATEUR, lineterminator="\r\n")
    reprendre, marque = lignes.reprendre, lignes.marque

    def joindre(paquet: list[Any]) -> bytes:
        paquet.append(b"")
        octets = b"\r\n".join(paquet)
        if reprendre is None or marque not in octets:
            return octets
        # Rare : une ligne au moins est à reprendre ; le paquet est relu ligne à ligne.
        lignes_reprises = []
        for ligne in paquet[:-1]:
            if marque in (ligne := bytes(ligne)):
                cellules = next(csv.reader([ligne.decode("utf-8")], delimiter=SEPARATEUR))
                ligne = _ecrire_ligne(ecrivain, reprendre(cellules)).encode("utf-8")[:-2]
            lignes_reprises.append(ligne)
        lignes_reprises.append(b"")
        return b"\r\n".join(lignes_reprises)

    paquet: list[Any] = []
    taille = 0
    debut = time.monotonic()
    with connexion.cursor() as curseur, curseur.cursor.copy(sql, params) as copie:
        yield entete.encode("utf-8")
        for ligne in copie:
            paquet.append(ligne[:-1])
            taille += len(ligne)
            if taille >= OCTETS_PAR_PAQUET:
                yield joindre(paquet)
                paquet, taille = [], 0
        if paquet:
            yield joindre(paquet)
    if connexion.queries_logged:  # comptée comme toute requête (budgets des tests, débogage)
        connexion.queries_log.append({"sql": sql, "time": f"{time.monotonic() - debut:.3f}"})


def contenu_csv(entetes: Sequence[str], lignes: Iterable[Sequence[Any]] | LignesSQL) -> Iterator[bytes]:
    """Le fichier, paquet par paquet : le BOM et les en-têtes, puis les lignes (écrites par
    PostgreSQL pour ``LignesSQL`` sous PostgreSQL, par Python sinon)."""
    ecrivain = csv.writer(_Echo(), delimiter=SEPARATEUR, lineterminator="\r\n")
    entete = BOM + ecrivain.writerow(entetes)
    if isinstance(lignes, LignesSQL):
        connexion = connections[lignes.requete.db]
        if connexion.vendor == "postgresql":
            yield from _contenu_copie(entete, lignes, connexion)
            return
        lignes = lignes.repli()
    paquet = [entete]
    for ligne in lignes:
        paquet.append(_ecrire_ligne(ecrivain, ligne))
        if len(paquet) >= LIGNES_PAR_PAQUET:
            yield "".join(paquet).encode("utf-8")
            paquet = []
    if paquet:
        yield "".join(paquet).encode("utf-8")


def reponse_csv(
    nom: str,
    entetes: Sequence[str],
    lignes: Iterable[Sequence[Any]] | LignesSQL,
    *,
    jour: datetime.date | None = None,
) -> StreamingHttpResponse:
    """Le téléchargement « <nom>-AAAA-MM-JJ.csv ». ``nom`` est un nom de fichier sûr (lettres,
    chiffres, tirets), choisi par le code et jamais par l'utilisateur. ``lignes`` n'est lu
    qu'au moment de l'envoi : c'est à l'appelant d'avoir vérifié l'accès avant."""
    nom_fichier = f"{nom}-{(jour or aujourdhui()):%Y-%m-%d}.csv"
    return StreamingHttpResponse(
        contenu_csv(entetes, lignes),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{nom_fichier}"',
            # Des données personnelles : ni cache partagé, ni copie gardée par le navigateur.
            "Cache-Control": "private, no-store",
        },
    )
