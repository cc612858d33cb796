"""Listes paginées dans la base : une requête de comptage, une requête de page."""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Mapping, Sequence
from html import escape as echapper
from typing import Any

import django_filters
from django import forms
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connection, connections
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.forms.utils import flatatt
from django.utils.safestring import mark_safe

PAR_PAGE = 25
# Le paramètre d'adresse du tri (« ?tri=-date »), lu ici et écrit par les en-têtes de colonnes.
PARAMETRE_TRI = "tri"


class PaginateurParCles(Paginator):
    """Une page en deux temps dans une seule requête : les clés primaires de la page (sous-requête
    triée, ``LIMIT``/``OFFSET``, qu'un index qui couvre le tri lit sans toucher la table), puis
    les 25 lignes entières par leur clé. Sans cela, la page 1 000 d'une liste de 50 000 lignes
    lisait 25 000 lignes entières pour en jeter 24 975 (et PostgreSQL préférait alors les trier
    toutes, sur disque). Même ordre, mêmes lignes, même nombre de requêtes que ``Paginator``."""

    def page(self, number):
        number = self.validate_number(number)
        bas, haut = self._bornes(number)
        return self._get_page(self._parmi(self.object_list.values("pk")[bas:haut]), number, self)

    def _bornes(self, number: int) -> tuple[int, int]:
        """Rangs de la première ligne de la page et de la ligne qui suit sa dernière (orphelins
        compris), comme ``Paginator.page``."""
        bas = (number - 1) * self.per_page
        haut = bas + self.per_page
        if haut + self.orphans >= self.count:
            haut = self.count
        return bas, haut

    def _parmi(self, cles: QuerySet) -> QuerySet:
        return self.object_list.filter(pk__in=cles)


class PaginateurParTableauDeCles(PaginateurParCles):
    """``PaginateurParCles`` dont les clés de la page arrivent en tableau (``pk = ANY(ARRAY(…))``)
    et non en semi-jointure (``pk IN (…)``), sous PostgreSQL : pour une liste qui joint déjà huit
    tables (file des approbateurs : validation, habilitation, utilisateur, convention, partenaire,
    activité, demandeur, décideur), la semi-jointure en fait une neuvième, au-delà de
    ``join_collapse_limit`` (8) : PostgreSQL gardait alors l'ordre écrit et joignait les ~25 000
    validées de la Caf avant de n'en garder que les 25 de la page (200 ms). Le tableau est calculé
    une fois (InitPlan), puis les lignes sont lues par leur clé primaire. Même requête unique,
    mêmes lignes, même ordre. (Depuis la session 8, les lignes de la file ne joignent plus que les
    copies que porte la demande, six tables : la semi-jointure y resterait sous la limite.)"""

    def _parmi(self, cles: QuerySet) -> QuerySet:
        # Liste vide (tranche [0:0]) : la sous-requête s'écrirait NULL, et ARRAY(NULL) n'est pas du
        # SQL ; la semi-jointure, elle, se sait vide et ne coûte aucune requête.
        if connections[self.object_list.db].vendor != "postgresql" or cles.query.is_empty():
            return super()._parmi(cles)
        # ARRAY((SELECT …)) : le constructeur de tableau par sous-requête (parenthèses doublées
        # admises par la grammaire de PostgreSQL).
        parmi = Func(
            F("pk"),
            Subquery(cles),
            arg_joiner=" = ANY(ARRAY(",
            template="(%(expressions)s)))",
            output_field=BooleanField(),
        )
        return self.object_list.filter(parmi)


class PaginateurParLeBoutLePlusProche(PaginateurParCles):
    """``PaginateurParCles`` qui lit les clés d'une page de la seconde moitié depuis la fin : dans
    l'ordre inverse (``reverse()`` : sens et place des valeurs absentes inversés), avec le décalage
    compté depuis la dernière ligne ; la requête de la page les remet dans l'ordre de la liste.
    Une liste jointe que PostgreSQL parcourt dans l'ordre d'un index en s'arrêtant à la page
    (membres d'un grand groupe triés par nom : index des comptes, puis l'appartenance de chacun)
    coûte alors autant à la dernière page qu'à la première, au lieu de tout lire et tout trier.
    Une page du milieu coûte ce qu'elle coûtait. Le tri doit être total (``trier`` finit par la
    clé primaire), sans quoi les deux sens ne découperaient pas les mêmes pages."""

    def page(self, number):
        number = self.validate_number(number)
        bas, haut = self._bornes(number)
        if bas <= self.count - haut:
            cles = self.object_list.values("pk")[bas:haut]
        else:
            cles = self.object_list.reverse().values("pk")[self.count - haut : self.count - bas]
        return self._get_page(self._parmi(cles), number, self)


class PaginateurParTableauDeClesDepuisLeBout(PaginateurParLeBoutLePlusProche, PaginateurParTableauDeCles):
    """Les deux : clés de la page lues depuis le bout le plus proche, passées en tableau. Pour la
    file des approbateurs triée par utilisateur ou par activité (tri par une table jointe, qu'aucun
    index ne couvre) : la dernière page ne garde que ses quelques lignes les plus « grandes »
    (tri borné, « top-N ») au lieu de trier les 24 000 validées de la Caf pour sauter les premières."""


class PaginateurCompteAvecLaPage(PaginateurParCles):
    """Le nombre de lignes et les clés de la page en une seule lecture de la liste : chaque ligne
    numérotée dans l'ordre de la liste (``ROW_NUMBER() OVER (ORDER BY …)``) et comptée
    (``COUNT(*) OVER ()``), puis les numéros de la page gardés ; une page au-delà de la dernière
    (ou avant la première) donne la dernière, comme ``Paginator.get_page``. Puis les lignes par
    leurs clés. Pour une liste qu'aucun index ne compte ni ne parcourt dans l'ordre (les comptes
    du sous-arbre d'un responsable, trouvés par leurs appartenances) : ``Paginator`` la calculait
    deux fois, pour le nombre puis pour la page. Sans orphelins ; une liste vide ne coûte qu'une
    requête."""

    _RANG, _TOTAL = "_rang_dans_la_liste", "_lignes_de_la_liste"

    # Au-delà de toute liste : le début de « la dernière page », et la borne d'un numéro démesuré.
    _AU_DELA = 2**62

    def _debut_demande(self, number) -> int:
        """Le rang (depuis 0) de la première ligne de la page demandée, comme ``get_page`` la
        comprend : pas un numéro, la première ; avant la première, au-delà de tout (la dernière).
        Un numéro démesuré (« ?page=99999999999999999999 ») reste un entier de la base."""
        try:
            numero = self._validate_number(number, float("inf"))
        except PageNotAnInteger:
            return 0
        except EmptyPage:
            return self._AU_DELA  # avant la première : la dernière, comme Paginator.get_page
        return min((numero - 1) * self.per_page, self._AU_DELA)

    def get_page(self, number):
        if self.orphans:
            raise ValueError("PaginateurCompteAvecLaPage ne gère pas les orphelins")
        bas = self._debut_demande(number)
        lignes = self.object_list.order_by()  # l'ordre passe dans la numérotation
        lignes = lignes.annotate(
            **{self._RANG: Window(RowNumber(), order_by=self._ordre()), self._TOTAL: Window(Count("*"))}
        )
        # Le début de la page demandée, ou de la dernière si la liste s'arrête avant.
        debut = Case(
            When(**{f"{self._TOTAL}__gt": bas}, then=Value(bas)),
            default=(F(self._TOTAL) - 1) / self.per_page * self.per_page,
            output_field=IntegerField(),
        )
        cles = list(
            lignes.filter(**{f"{self._RANG}__gt": debut, f"{self._RANG}__lte": debut + self.per_page}).values_list(
                "pk", self._RANG, self._TOTAL
            )
        )
        self.__dict__["count"] = cles[0][2] if cles else 0
        numero = (cles[0][1] - 1) // self.per_page + 1 if cles else 1
        return self._get_page(self._lignes([cle for cle, _r, _t in cles]), numero, self)

    def _lignes(self, cles: list[Any]) -> QuerySet:
        """Les lignes de la page, par leurs clés, dans l'ordre de la liste."""
        return self.object_list.filter(pk__in=cles)

    def _ordre(self) -> list[Any]:
        if not self.object_list.query.order_by:
            raise ValueError("PaginateurCompteAvecLaPage veut un ordre explicite (order_by)")
        ordre = []
        for champ in self.object_list.query.order_by:
            if isinstance(champ, str):
                ordre.append(F(champ[1:]).desc() if champ.startswith("-") else F(champ).asc())
            else:
                ordre.append(champ)
        return ordre


def paginer(
    request,
    queryset: QuerySet,
    par_page: int = PAR_PAGE,
    *,
    par_cles: bool = False,
    paginateur: type[Paginator] | None = None,
) -> Page:
    """La page demandée (``?page=``) ; une page hors limites donne la dernière, pas une erreur.
    ``pages_list`` sert au gabarit de pagination DSFR (numéros avec ellipses). ``par_cles`` : lire
    la page par ses clés primaires (``PaginateurParCles``), pour les longues listes dont un index
    couvre le tri ; le queryset ne doit alors être ni ``distinct()`` ni ``values()``. ``paginateur``
    : une autre classe (``PaginateurParTableauDeCles``, ``PaginateurParLeBoutLePlusProche``,
    ``PaginateurCompteAvecLaPage``)."""
    paginateur = (paginateur or (PaginateurParCles if par_cles else Paginator))(queryset, par_page)
    page = paginateur.get_page(request.GET.get("page"))
    page.pages_list = list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
    return page


def trier(
    request, queryset: QuerySet, champs: Mapping[str, Sequence[str]] | Sequence[str], defaut: Sequence[str]
) -> QuerySet:
    """L'ordre demandé par l'en-tête cliqué (``?tri=cle`` ou ``?tri=-cle``) si la clé est dans la
    liste blanche ``champs`` (une clé peut trier sur plusieurs colonnes), sinon ``defaut``. L'ordre
    par défaut puis la clé primaire départagent les égalités : la pagination reste stable. Une
    valeur absente (date de clôture vide : jamais close) vient après les autres en ordre croissant."""
    tri = request.GET.get(PARAMETRE_TRI, "")
    cle = tri.removeprefix("-")
    if cle not in champs:
        return queryset.order_by(*defaut, "pk")
    colonnes = champs[cle] if isinstance(champs, Mapping) else (cle,)
    if tri.startswith("-"):
        ordre = [F(c).desc(nulls_first=True) for c in colonnes]
    else:
        ordre = [F(c).asc(nulls_last=True) for c in colonnes]
    return queryset.order_by(*ordre, *defaut, "pk")


def cle_primaire(valeur: str) -> int | None:
    """Une clé primaire reçue dans l'adresse (``?organisme=12``), ou None si ce n'en est pas une.
    Chiffres ASCII seulement : ``"²".isdigit()`` est vrai mais ``int("²")`` échoue, et 19 chiffres
    ou plus dépassent un entier de la base."""
    if valeur.isascii() and valeur.isdigit() and len(valeur) <= 18:
        return int(valeur)
    return None


def _option(cle: Any, libelle: Any, choisies: set[str]) -> str:
    """Une balise ``<option>``, comme ``forms.Select`` l'écrit. Échappement de la bibliothèque
    standard (mêmes caractères que django.utils.html.escape), une chaîne par option : format_html
    par option coûtait encore 20 ms pour 2 000 groupes. Une clé faite de chiffres (clé primaire)
    n'a rien à échapper : la moitié des appels."""
    cle = str(cle)
    return (
        f'<option value="{cle if cle.isdigit() else echapper(cle)}"{" selected" if cle in choisies else ""}>'
        f"{echapper(str(libelle))}</option>"
    )


class ChoixLongs(tuple):
    """Des choix (clé, libellé) en chaînes, jamais modifiés, partagés entre les requêtes d'un
    processus (voir le cache des groupes de la liste des utilisateurs) : leurs balises
    ``<option>`` sont écrites une fois (``options``), et la valeur reçue est cherchée dans
    l'ensemble des clés (``cles``) au lieu de parcourir les 2 000 choix."""

    @functools.cached_property
    def cles(self) -> frozenset[str]:
        return frozenset(cle for cle, _libelle in self)

    @functools.cached_property
    def _options(self) -> str:
        return "".join(_option(cle, libelle, set()) for cle, libelle in self)

    def options(self, choisies: set[str]) -> str:
        """Les balises ``<option>``, les ``choisies`` marquées ``selected`` (une clé n'y paraît
        qu'une fois : les clés sont uniques et la valeur est entre guillemets)."""
        html = self._options
        for cle in choisies & self.cles:
            avant = _option(cle, "", set()).removesuffix("</option>")
            html = html.replace(avant, avant.removesuffix(">") + " selected>", 1)
        return html


def _choix_longs(choix: Any) -> ChoixLongs | None:
    """Les ``ChoixLongs`` d'un champ ou d'une liste déroulante, directs ou enveloppés dans
    l'itérateur de django-filter (qui ajoute devant le choix vide)."""
    longs = getattr(choix, "choices", choix)
    return longs if isinstance(longs, ChoixLongs) else None


class ListeDeroulanteLongue(forms.Select):
    """Une liste déroulante de filtre aux milliers de choix (les 2 000 groupes d'une grande
    commune), au même balisage que ``forms.Select`` : les options sont écrites directement au
    lieu de rendre un gabarit par option (une page de la liste des utilisateurs passait sinon
    les deux tiers de son temps dans ces 2 000 petits gabarits). Choix sans groupes d'options.
    Des ``ChoixLongs`` arrivent avec leurs options déjà écrites : seules celles qui les précèdent
    (le choix vide) le sont ici."""

    def render(self, name, value, attrs=None, renderer=None):
        choisies = {str(v) for v in self.format_value(value)}
        longs = _choix_longs(self.choices)
        if longs is None:
            options = "".join(_option(cle, libelle, choisies) for cle, libelle in self.choices)
        else:
            # Les choix de tête seuls (l'itérateur ne lit les longs qu'après eux).
            tete = itertools.islice(self.choices, len(self.choices) - len(longs))
            options = "".join(_option(cle, libelle, choisies) for cle, libelle in tete) + longs.options(choisies)
        attributs = flatatt(self.build_attrs(self.attrs, attrs))
        return mark_safe(f'<select name="{echapper(name)}"{attributs}>{options}</select>')  # noqa: S308 (tout est échappé ci-dessus)


class ChampChoixLongs(django_filters.fields.ChoiceField):
    """Le champ d'un filtre aux milliers de choix : Django recopie chaque champ à chaque formulaire
    (``deepcopy``), choix compris, soit 2 000 tuples par affichage de la liste des utilisateurs
    d'une grande commune (le cinquième du processeur de la page). Les choix (tuples de chaînes,
    jamais modifiés, relus pour chaque requête par le filtre) sont partagés par la copie."""

    def __deepcopy__(self, memo: dict[int, Any]) -> ChampChoixLongs:
        resultat = forms.Field.__deepcopy__(self, memo)
        choix = self._choices
        if isinstance(choix, django_filters.fields.ChoiceIterator):
            resultat._choices = django_filters.fields.ChoiceIterator(resultat, choix.choices)
        else:
            resultat._choices = copy.copy(choix)
        return resultat

    def valid_value(self, value: Any) -> bool:
        """Des ``ChoixLongs`` : la clé cherchée dans leur ensemble ; sinon (ou absente : choix de
        tête, valeur forgée) le parcours de ``ChoiceField``."""
        longs = _choix_longs(self._choices)
        return (longs is not None and str(value) in longs.cles) or super().valid_value(value)


class FiltreChoixLongs(django_filters.ChoiceFilter):
    """``ChoiceFilter`` au champ ``ChampChoixLongs`` (avec ``ListeDeroulanteLongue`` pour widget)."""

    field_class = ChampChoixLongs


def q_parmi(champ: str, cles: Sequence[int]) -> Q:
    """« ``champ`` est l'une des ``cles`` » (``champ__in``). Sous PostgreSQL, les clés passent en
    un seul tableau (``champ = ANY('{…}')``) et non en une liste de littéraux : 20 000 clés
    répétées dans les sous-requêtes d'une page coûtaient dix fois plus de planification."""
    if connection.vendor != "postgresql":
        return Q(**{f"{champ}__in": cles})
    # Le tableau écrit une fois en texte (« {1,2,3} », des entiers) : adapter 20 000 valeurs une à
    # une, à chaque sous-requête, coûtait plus que la requête elle-même.
    tableau = Value("{" + ",".join(str(int(cle)) for cle in cles) + "}", output_field=CharField())
    return Q(
        Func(
            F(champ),
            tableau,
            arg_joiner=" = ANY(",
            template="(%(expressions)s::bigint[]))",
            output_field=BooleanField(),
        )
    )


class _SousRequeteJamaisVide(Subquery):
    """Une sous-requête qui ne se remplace pas par NULL quand elle ne peut rien rendre (un
    ``.none()``) : la condition qui la contient ne retient alors aucune ligne, comme ``__in``
    (« ARRAY » suivi de NULL ne serait pas du SQL)."""

    empty_result_set_value = NotImplemented


def q_parmi_requete(champ: str, requete: QuerySet) -> Q:
    """« ``champ`` est l'une des clés que rend ``requete`` » (``champ__in=requete``), quand
    ``requete`` rend quelques lignes que PostgreSQL ne sait pas estimer (une union de droits) :
    les clés sont lues une fois en un tableau (``champ = ANY(ARRAY(…))``) et la table extérieure
    se lit par son index. En semi-jointure, PostgreSQL croyait l'union des droits d'un
    administrateur à 470 conventions et lisait les 70 000 du pays pour en garder une."""
    if connection.vendor != "postgresql":
        return Q(**{f"{champ}__in": requete})
    return Q(
        Func(
            F(champ),
            _SousRequeteJamaisVide(requete.order_by()),
            arg_joiner=" = ANY(ARRAY",
            template="(%(expressions)s))",
            output_field=BooleanField(),
        )
    )
