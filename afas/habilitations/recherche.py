"""La recherche HABILITATIONS D'ACTION SOCIALE : les habilitations dans un état (Actif, Inactif,
Historique), ou les rôles que personne ne tient (Non attribué), groupées sous « Activité : … » et
« Lieu d'implantation : … ». Tout est filtré et paginé dans la base : une page coûte le même
nombre de requêtes quel que soit le volume."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection, connections
from django.db.models import Count, F, FilteredRelation, OuterRef, Q, QuerySet, Subquery

from afas.attribution import roles_manquants
from afas.enums import DecisionCaf, EtatHabilitation, RoleAfas
from afas.models import (
    PROFIL_DECLARER,
    Activite,
    HabilitationAfas,
    LieuImplantation,
    ValidationApprobateur,
    q_effective,
)
from conventions.enums import EtatConvention
from conventions.models import Convention, Profil
from habilitations import models as comptes
from habilitations.models import Utilisateur
from portail.socle.dates import q_ouvert
from portail.socle.requetes import RequeteCompilee


@dataclass
class Groupe:
    """Un titre (« Activité : … » ou « Lieu d'implantation : … ») et ses lignes."""

    titre: str
    lignes: list = field(default_factory=list)
    # Les lignes en HTML, écrites par la vue (habilitations dans un état).
    corps: str = ""


def _filtrer_activites(qs: QuerySet, criteres: dict, prefixe: str = "") -> QuerySet:
    if criteres.get("activite"):
        qs = qs.filter(**{f"{prefixe}libelle__icontains": criteres["activite"]})
    if criteres.get("type_activite"):
        qs = qs.filter(**{f"{prefixe}type_activite": criteres["type_activite"]})
    if criteres.get("nature"):
        qs = qs.filter(**{f"{prefixe}nature": criteres["nature"]})
    return qs


def _selection(
    conventions: QuerySet[Convention],
    criteres: dict,
    jour: datetime.date,
    membres: list[int] | None,
    activites: list[int] | None = None,
) -> QuerySet[HabilitationAfas]:
    """Les habilitations des conventions dans l'état demandé et selon les critères, sans ordre ;
    parmi ``activites`` seulement si elles sont données (avant l'état : « Inactif » ne relit
    alors les actives que de ces activités)."""
    qs = HabilitationAfas.objects.filter(convention__in=conventions)
    if activites is not None:
        qs = qs.filter(activite_id__in=activites)
    # Un partenaire choisi : ses habilitations seules, dont les droits du jour se vérifient
    # contre les membres de ses groupes lus une fois (``q_effective``).
    partenaire = criteres.get("partenaire") or None
    qs = qs.dans_etat(criteres["etat"], jour, membres, convention=partenaire)
    if partenaire is not None:
        qs = qs.filter(convention=partenaire)
    for mot in (criteres.get("utilisateur") or "").split():
        qs = qs.filter(
            Q(utilisateur__nom__icontains=mot)
            | Q(utilisateur__prenom__icontains=mot)
            | Q(utilisateur__identifiant__icontains=mot)
        )
    if criteres.get("role"):
        qs = qs.filter(role=criteres["role"])
    qs = _filtrer_activites(qs, criteres, "activite__")
    if criteres.get("lieux") == "non":
        qs = qs.filter(lieu__isnull=True)
    return qs


def _ordonner(qs: QuerySet[HabilitationAfas], etat: str) -> QuerySet[HabilitationAfas]:
    """L'ordre d'affichage : activité (libellé, clé), lieu (sans lieu d'abord), rôle, nom, clé."""
    if etat != EtatHabilitation.ACTIF:
        # Inactif, Historique : les libellés du tri lus ligne par ligne, par clé primaire. En
        # jointures, PostgreSQL hachait les 80 000 activités et 57 000 lieux du pays pour trier
        # les quelques milliers de lignes d'une grande commune (Actif les joint déjà pour ses
        # droits du jour, par index).
        qs = qs.alias(
            activite_libelle=_libelle(Activite, "activite_id", "libelle"),
            lieu_libelle=_libelle(LieuImplantation, "lieu_id", "libelle"),
            utilisateur_nom=_libelle(Utilisateur, "utilisateur_id", "nom"),
        )
        return qs.order_by(
            "activite_libelle",
            "activite_id",
            F("lieu_libelle").asc(nulls_first=True),
            "lieu_id",
            "role",
            "utilisateur_nom",
            "pk",
        )
    return qs.order_by(
        "activite__libelle",
        "activite_id",
        F("lieu__libelle").asc(nulls_first=True),
        "lieu_id",
        "role",
        "utilisateur__nom",
        "pk",
    )


def habilitations(
    conventions: QuerySet[Convention], criteres: dict, jour: datetime.date, membres: list[int] | None
) -> QuerySet[HabilitationAfas]:
    """Les habilitations des conventions dans l'état demandé, dans l'ordre d'affichage (la liste
    entière : la page, elle, se lit par ``HabilitationsDansLEtat``)."""
    return _ordonner(_selection(conventions, criteres, jour, membres), criteres["etat"])


def _libelle(modele, cle: str, champ: str) -> Subquery:
    """Le ``champ`` de la ligne de ``modele`` désignée par la clé étrangère ``cle`` (NULL sans elle)."""
    return Subquery(modele.objects.filter(pk=OuterRef(cle)).order_by().values(champ))


@dataclass(slots=True)
class Ligne:
    """Une habilitation du tableau, ses textes déjà formés : le gabarit ne fait que les écrire
    (résoudre ``h.utilisateur.nom|upper``, ``h.get_role_display``, deux dates et l'adresse de
    suppression dans le gabarit coûtait une vingtaine de résolutions par ligne, le tiers du
    processeur de la page)."""

    pk: int
    utilisateur_id: int
    role: str
    nom_prenom: str
    prenom_nom: str
    debut: str
    fin: str
    en_attente_caf: bool
    suppression: str = ""


_CHAMPS_LIGNE = (
    "pk",
    "utilisateur_id",
    "role",
    "utilisateur__nom",
    "utilisateur__prenom",
    "date_ouverture",
    "date_cloture",
    "validation__decision",
    "activite_id",
    "activite__libelle",
    "lieu_id",
    "lieu__libelle",
)


def _jjmmaaaa(jour: datetime.date | None) -> str:
    return jour.strftime("%d/%m/%Y") if jour else ""


class HabilitationsDansLEtat(Sequence):
    """La liste d'un état (Actif, Inactif, Historique) pour ``Paginator`` : sa longueur et ses
    tranches, chacune de ses lignes en ``(Ligne, activité, libellé, lieu, libellé)``, dans
    l'ordre de ``habilitations(...)``. Deux requêtes, quel que soit le volume ; une tranche vide
    lit quand même (un nombre de requêtes constant).

    Historique : lu par groupes. Une requête compte les habilitations de l'état par
    (activité, lieu, rôle), groupes rangés dans l'ordre d'affichage (libellés de l'activité et du
    lieu lus pour chaque groupe, pas pour chaque ligne) ; une tranche se lit ensuite parmi les
    seules activités des groupes qu'elle touche, triée comme la liste, avec ce que la page
    affiche. Trier toutes les lignes de l'état (7 600 habilitations historiques d'une grande
    commune, le nom de chaque titulaire lu pour le tri) coûtait l'essentiel de la page.

    Actif, Inactif : la liste ordonnée de leurs identifiants, puis la tranche par clé primaire.
    Ce qui coûte y est de vérifier les droits du jour de chaque habilitation ouverte, que les
    groupes ne changent pas ; lue par groupes, la tranche les revérifiait pour ses activités (et,
    pour Inactif, complément des actives, relisait les actives) : 4 à 8 ms de plus, mesurés."""

    def __init__(
        self, conventions: QuerySet[Convention], criteres: dict, jour: datetime.date, membres: list[int] | None
    ) -> None:
        self._etat = criteres["etat"]
        self._arguments = (conventions, criteres, jour, membres)
        self._groupes: list[tuple[int, int | None, str, int]] | None = None
        self._ids: list[int] | None = None

    def _par_identifiants(self) -> bool:
        """Actif et Inactif : lus par identifiants (voir plus haut)."""
        return self._etat != EtatHabilitation.HISTORIQUE

    def groupes(self) -> list[tuple[int, int | None, str, int]]:
        """(activité, lieu, rôle, nombre d'habilitations de l'état), dans l'ordre d'affichage."""
        if self._groupes is None:
            self._groupes = _groupes_ordonnes(_selection(*self._arguments))
        return self._groupes

    def identifiants(self) -> list[int]:
        """Les identifiants de l'état, dans l'ordre d'affichage."""
        if self._ids is None:
            _conventions, criteres, jour, membres = self._arguments
            if _recherche_du_partenaire(criteres) and membres is None:
                partenaire = criteres["partenaire"]
                if connection.vendor == "postgresql":
                    self._ids = _identifiants_du_partenaire_postgresql(self._etat, jour, partenaire)
                else:
                    lignes = _IDENTIFIANTS_DU_PARTENAIRE[self._etat].lignes(
                        jour=jour, convention=partenaire.pk, organisme=partenaire.organisme_id
                    )
                    self._ids = [pk for (pk,) in lignes]
            else:
                self._ids = list(_ordonner(_selection(*self._arguments), self._etat).values_list("pk", flat=True))
        return self._ids

    def __len__(self) -> int:
        if self._par_identifiants():
            return len(self.identifiants())
        return sum(n for *_cle, n in self.groupes())

    def __getitem__(self, tranche: int | slice):
        if not isinstance(tranche, slice):
            return self[tranche : tranche + 1][0]
        debut, fin, _pas = tranche.indices(len(self))
        if self._par_identifiants():
            return _lignes_par_cles(self.identifiants()[debut:fin])
        touches, premier, position = set(), None, 0
        for activite, lieu, role, n in self.groupes():
            if position < fin and position + n > debut:
                touches.add((activite, lieu, role))
                premier = position if premier is None else premier
            position += n
        activites = sorted({a for a, _lieu, _role in touches}) or [0]
        # Les lignes des activités touchées, gardées si leur groupe l'est : (activité, lieu, rôle)
        # aux places 8, 10 et 2 de ``_CHAMPS_LIGNE``.
        lignes = [
            _ligne(*valeurs)
            for valeurs in _ordonner(_selection(*self._arguments, activites), self._etat).values_list(*_CHAMPS_LIGNE)
            if (valeurs[8], valeurs[10], valeurs[2]) in touches
        ]
        return lignes[debut - premier : fin - premier] if premier is not None else []


_AUTRES_CRITERES = ("utilisateur", "role", "activite", "type_activite", "nature")


def _recherche_du_partenaire(criteres: dict) -> bool:
    """Actif ou Inactif d'un partenaire choisi, sans autre critère (la recherche que propose la
    page après « Enregistrer et quitter », celle du banc) : ses identifiants se lisent par une
    requête compilée une fois (``_IDENTIFIANTS_DU_PARTENAIRE``)."""
    return (
        criteres["etat"] in (EtatHabilitation.ACTIF, EtatHabilitation.INACTIF)
        and bool(criteres.get("partenaire"))
        and not any(criteres.get(nom) for nom in _AUTRES_CRITERES)
        and criteres.get("lieux") != "non"
    )


def _identifiants_du_partenaire(etat: str) -> RequeteCompilee:
    """Les identifiants d'``etat`` d'un partenaire dans l'ordre d'affichage (SQLite ; sous
    PostgreSQL : ``_identifiants_du_partenaire_postgresql``), la requête de
    ``_selection`` puis ``_ordonner`` compilée une fois par processus : la construire avec
    l'ORM à chaque page (droits du jour, une dizaine de jointures et sous-requêtes) coûtait
    2 à 3 ms de processeur. Sans la restriction aux conventions de l'habilitateur : le
    partenaire en est une, le formulaire le vérifie (``RechercheForm.partenaire``)."""

    def construire(jour: datetime.date, convention: int, organisme: int) -> QuerySet:
        partenaire = Convention(pk=convention, organisme_id=organisme)
        qs = HabilitationAfas.objects.filter(convention=convention).dans_etat(etat, jour, None, convention=partenaire)
        return _ordonner(qs, etat).values_list("pk")

    # Des valeurs qu'aucune autre partie de la requête ne prend.
    temoins = {
        "jour": (datetime.date(2101, 1, 1), datetime.date(2101, 1, 2)),
        "convention": (987_654_321_001, 987_654_321_002),
        "organisme": (987_654_321_003, 987_654_321_004),
    }
    return RequeteCompilee(construire, temoins)


_IDENTIFIANTS_DU_PARTENAIRE = {
    etat: _identifiants_du_partenaire(etat) for etat in (EtatHabilitation.ACTIF, EtatHabilitation.INACTIF)
}


# --- Les droits du jour vérifiés par titulaire (PostgreSQL) ------------------------------------
#
# ``q_effective`` vérifie l'appartenance AFAS-DECLARER du titulaire habilitation par habilitation :
# pour les 1 870 habilitations ouvertes d'une grande commune, le compte, ses appartenances, leur
# groupe et ses profils lus par index pour chacune, 33 000 pages de tampon, 17 à 19 ms, la moitié
# de la page. PostgreSQL n'en estime que 8 (les habilitations d'une convention et les activités
# d'un organisme ne se croisent pas au hasard) et garde cette boucle. Ici la règle se vérifie une
# fois par couple (titulaire, convention) distinct, 1 340 pour cette commune, et la décision de
# la Caf n'est lue que pour les approbateurs : 11 à 12 ms. Chaque étape est une CTE matérialisée,
# et la vérification d'un couple une sous-requête qui ne se remonte pas en jointure
# (``OFFSET 0``) : jointe, sur des CTE qu'il estime à une ligne, PostgreSQL hachait les 25 000
# membres des groupes AFAS-DECLARER de la commune (35 ms). Essayé et écarté : les groupes
# AFAS-DECLARER lus une fois puis hachés (1 ms de moins à cette taille, mais le plan dépend de
# l'estimation d'une CTE).


def _ouvert(t: str) -> str:
    """``q_ouvert(jour)`` sur l'alias ``t`` (le jour en paramètre nommé)."""
    return f"{t}.date_ouverture <= %(jour)s AND ({t}.date_cloture IS NULL OR {t}.date_cloture > %(jour)s)"


def _table(modele) -> str:
    return connection.ops.quote_name(modele._meta.db_table)


@functools.cache
def _sql_effectives(source: str) -> str:
    """Les CTE ``ouvertes`` (habilitations ouvertes et validées de ``source`` : un ``FROM`` sur
    ``h``, des jointures et un ``WHERE``, qui en garantit l'activité ouverte) puis ``effectives``
    (celles qui passent le reste de ``q_effective`` : compte ouvert, convention ouverte, validée et
    qui accorde AFAS-DECLARER, appartenance ouverte du compte à un groupe ouvert de cette
    convention qui donne ce profil, lieu ouvert), avec le nom du titulaire et le libellé du lieu
    (pour le tri). Comparé à ``q_effective`` : tests/afas/test_droits_par_titulaire.py."""
    validation = _table(ValidationApprobateur)
    convention, profils_convention = _table(Convention), _table(Convention.profils.through)
    groupe, groupe_profil, profil = _table(comptes.Groupe), _table(comptes.GroupeProfil), _table(Profil)
    appartenance, utilisateur, lieu = _table(comptes.Appartenance), _table(Utilisateur), _table(LieuImplantation)
    return f"""
        ouvertes AS MATERIALIZED (
            SELECT h.id, h.utilisateur_id, h.convention_id, h.activite_id, h.lieu_id, h.role{source}
              AND {_ouvert("h")}
              AND (h.role <> %(approbateur)s OR EXISTS (
                  SELECT 1 FROM {validation} v WHERE v.habilitation_id = h.id AND v.decision = %(validee)s))
        ),
        conventions_declarer AS MATERIALIZED (
            SELECT c.id FROM {convention} c
            WHERE c.id IN (SELECT o.convention_id FROM ouvertes o) AND {_ouvert("c")} AND c.etat = %(etat_validee)s
              AND EXISTS (SELECT 1 FROM {profils_convention} cp JOIN {profil} p ON p.id = cp.profil_id
                          WHERE cp.convention_id = c.id AND p.code = %(declarer)s)
        ),
        titulaires AS MATERIALIZED (
            SELECT d.utilisateur_id, d.convention_id, u.nom
            FROM (SELECT DISTINCT o.utilisateur_id, o.convention_id FROM ouvertes o) d
            JOIN conventions_declarer c ON c.id = d.convention_id
            JOIN {utilisateur} u ON u.id = d.utilisateur_id
            WHERE {_ouvert("u")} AND EXISTS (
                SELECT 1 FROM {appartenance} ap JOIN {groupe} g ON g.id = ap.groupe_id
                WHERE ap.utilisateur_id = d.utilisateur_id AND {_ouvert("ap")}
                  AND g.convention_id = d.convention_id AND {_ouvert("g")}
                  AND EXISTS (SELECT 1 FROM {groupe_profil} gp WHERE gp.groupe_id = g.id
                              AND gp.profil_id = (SELECT p.id FROM {profil} p WHERE p.code = %(declarer)s))
                OFFSET 0)
        ),
        effectives AS MATERIALIZED (
            SELECT o.*, t.nom AS utilisateur_nom, l.libelle AS lieu_libelle
            FROM ouvertes o
            JOIN titulaires t ON t.utilisateur_id = o.utilisateur_id AND t.convention_id = o.convention_id
            LEFT JOIN {lieu} l ON l.id = o.lieu_id
            WHERE o.lieu_id IS NULL OR ({_ouvert("l")})
        )"""  # noqa: S608 (noms de tables du modèle ; valeurs passées en paramètres)


def _parametres_effectives(jour: datetime.date, **autres) -> dict:
    return {
        "jour": jour,
        "approbateur": RoleAfas.APPROBATEUR.value,
        "validee": DecisionCaf.VALIDEE.value,
        "etat_validee": EtatConvention.VALIDEE.value,
        "declarer": PROFIL_DECLARER,
        **autres,
    }


@functools.cache
def _sql_identifiants_du_partenaire(etat: str) -> str:
    """Actif : les effectives du partenaire (ses habilitations sur les activités ouvertes de son
    organisme, comme ``_q_membre_declarer_de``) dans l'ordre de ``_ordonner``. Inactif : le
    complément des effectives parmi ses habilitations ni finies ni refusées (``inactives``), la
    décision de la Caf et les libellés du tri lus par clé primaire, comme ``_avec_decision_caf``
    et ``_ordonner`` (en NOT EXISTS, PostgreSQL hachait les 34 000 validations refusées du pays)."""
    hab, activite = _table(HabilitationAfas), _table(Activite)
    source = f""", a.libelle AS activite_libelle
            FROM {hab} h JOIN {activite} a ON a.id = h.activite_id + 0
            WHERE h.convention_id = %(convention)s AND a.organisme_id = %(organisme)s AND {_ouvert("a")}"""
    # ``h.activite_id + 0`` : les habilitations lues par l'index de la convention, les activités
    # de l'organisme hachées ; par l'index des activités, PostgreSQL relisait celui de la
    # convention (9 000 entrées) pour chacune des 400 activités de la grande commune.
    avec = f"WITH {_sql_effectives(source)}"
    if etat == EtatHabilitation.ACTIF:
        return f"""{avec}
            SELECT e.id FROM effectives e
            ORDER BY e.activite_libelle, e.activite_id, e.lieu_libelle NULLS FIRST, e.lieu_id, e.role,
                     e.utilisateur_nom, e.id"""  # noqa: S608
    validation, lieu, utilisateur = _table(ValidationApprobateur), _table(LieuImplantation), _table(Utilisateur)
    return f"""{avec}
        SELECT x.id FROM {hab} x
        WHERE x.convention_id = %(convention)s
          AND NOT (x.date_cloture IS NOT NULL AND (x.date_cloture <= %(jour)s OR x.date_cloture <= x.date_ouverture))
          AND COALESCE((SELECT v.decision FROM {validation} v WHERE v.habilitation_id = x.id), '') <> %(refusee)s
          AND x.id NOT IN (SELECT e.id FROM effectives e)
        ORDER BY (SELECT a.libelle FROM {activite} a WHERE a.id = x.activite_id), x.activite_id,
                 (SELECT l.libelle FROM {lieu} l WHERE l.id = x.lieu_id) NULLS FIRST, x.lieu_id, x.role,
                 (SELECT u.nom FROM {utilisateur} u WHERE u.id = x.utilisateur_id), x.id"""  # noqa: S608


def _identifiants_du_partenaire_postgresql(etat: str, jour: datetime.date, partenaire: Convention) -> list[int]:
    """Les identifiants d'``etat`` (Actif, Inactif) du partenaire dans l'ordre d'affichage, les
    droits du jour vérifiés par titulaire (``_sql_effectives``). Une requête, comme
    ``_IDENTIFIANTS_DU_PARTENAIRE``, dont elle rend les mêmes lignes dans le même ordre
    (tests/afas/test_droits_par_titulaire.py)."""
    parametres = _parametres_effectives(
        jour, convention=partenaire.pk, organisme=partenaire.organisme_id, refusee=DecisionCaf.REFUSEE.value
    )
    with connection.cursor() as curseur:
        curseur.execute(_sql_identifiants_du_partenaire(etat), parametres)
        return [pk for (pk,) in curseur.fetchall()]


def _tableau(cles: Iterable[int]) -> str:
    """Des clés en un seul paramètre, tableau écrit en texte (comme ``q_parmi``)."""
    return "{" + ",".join(str(int(cle)) for cle in cles) + "}"


@functools.cache
def _sql_roles_tenus() -> str:
    hab = _table(HabilitationAfas)
    source = f"""
            FROM {hab} h
            WHERE h.activite_id = ANY(%(activites)s::bigint[]) AND h.convention_id = ANY(%(conventions)s::bigint[])"""
    return f"""WITH {_sql_effectives(source)}
        SELECT DISTINCT e.activite_id, e.lieu_id, e.role FROM effectives e"""  # noqa: S608


def _roles_tenus(activites: list[int], conventions: list[int], jour: datetime.date) -> set[tuple[int, int | None, str]]:
    """(activité, lieu, rôle) tenus ce jour par une habilitation effective (``q_effective``) de
    ``conventions`` sur ces ``activites``, qui doivent être ouvertes ce jour. Sous PostgreSQL, les
    droits vérifiés par titulaire (``_sql_effectives``) ; une requête dans les deux cas."""
    if connection.vendor != "postgresql":
        return set(
            HabilitationAfas.objects.filter(
                q_effective(jour), activite_id__in=activites or [0], convention_id__in=conventions or [0]
            )
            .order_by()
            .values_list("activite_id", "lieu_id", "role")
            .distinct()
        )
    parametres = _parametres_effectives(jour, activites=_tableau(activites), conventions=_tableau(conventions))
    with connection.cursor() as curseur:
        curseur.execute(_sql_roles_tenus(), parametres)
        return {(activite, lieu, role) for activite, lieu, role in curseur.fetchall()}


def _lignes_par_cles(ids: list[int]) -> list[tuple[Ligne, int, str, int | None, str | None]]:
    """Les habilitations ``ids`` en lignes, dans cet ordre, lues par clé primaire. La page n'est
    pas demandée à PostgreSQL avec son ORDER BY … LIMIT : pour un état qui a peu de lignes, il
    parcourait alors toutes les activités du pays dans l'ordre des libellés en espérant trouver
    vite les 50 premières (2,7 s à l'échelle nationale). Page vide : l'identifiant 0 n'existe
    pas, mais la requête part."""
    lues = {
        valeurs[0]: _ligne(*valeurs)
        for valeurs in HabilitationAfas.objects.filter(pk__in=ids or [0]).order_by().values_list(*_CHAMPS_LIGNE)
    }
    return [lues[pk] for pk in ids if pk in lues]


def _groupes_ordonnes(selection: QuerySet[HabilitationAfas]) -> list[tuple[int, int | None, str, int]]:
    """Une requête : les habilitations de ``selection`` comptées par (activité, lieu, rôle), puis
    les groupes rangés par libellé d'activité, activité, libellé de lieu (sans lieu d'abord), lieu
    et rôle : l'ordre de ``_ordonner`` sans le nom ni la clé. Les libellés sont lus pour les
    groupes déjà comptés (quelques centaines), pas pour chaque ligne."""
    comptes = selection.order_by().values("activite_id", "lieu_id", "role").annotate(n=Count("pk"))
    sql, params = comptes.query.sql_with_params()
    q = connections[selection.db].ops.quote_name
    activites, lieux = q(Activite._meta.db_table), q(LieuImplantation._meta.db_table)
    # Les colonnes de l'agrégat sont nommées par l'ORM comme ses champs (activite_id, lieu_id, role,
    # n). Les libellés par sous-requête, lue pour chaque groupe par clé primaire : en jointures,
    # sur une estimation fausse du nombre de groupes (1 100 pour 41, vu sur l'état Inactif),
    # PostgreSQL lisait et hachait les 80 000 activités et 86 000 lieux du pays.
    with connections[selection.db].cursor() as curseur:
        curseur.execute(
            f"SELECT g.activite_id, g.lieu_id, g.role, g.n FROM ({sql}) g ORDER BY "  # noqa: S608 — noms du modèle, valeurs en paramètres
            f"(SELECT a.libelle FROM {activites} a WHERE a.id = g.activite_id), g.activite_id, "
            f"(SELECT l.libelle FROM {lieux} l WHERE l.id = g.lieu_id) NULLS FIRST, g.lieu_id, g.role",
            params,
        )
        return [tuple(ligne) for ligne in curseur.fetchall()]


def _ligne(
    pk, compte, role, nom, prenom, debut, fin, decision, activite, activite_libelle, lieu, lieu_libelle
) -> tuple[Ligne, int, str, int | None, str | None]:
    ligne = Ligne(
        pk=pk,
        utilisateur_id=compte,
        role=RoleAfas(role).label,
        nom_prenom=f"{nom.upper()} {prenom}",
        prenom_nom=f"{prenom} {nom.upper()}",
        debut=_jjmmaaaa(debut),
        fin=_jjmmaaaa(fin),
        # La règle de ``HabilitationAfas.en_attente_caf`` : un approbateur sans décision de la Caf.
        en_attente_caf=role == RoleAfas.APPROBATEUR and decision in (None, DecisionCaf.EN_ATTENTE),
    )
    return ligne, activite, activite_libelle, lieu, lieu_libelle


def grouper_habilitations(lignes: list[tuple[Ligne, int, str, int | None, str | None]]) -> list[Groupe]:
    """Les lignes sous « Activité : … » ou « Lieu d'implantation : … », un titre par suite de
    lignes de la même activité et du même lieu."""
    groupes: list[Groupe] = []
    cle_courante = None
    for ligne, activite, activite_libelle, lieu, lieu_libelle in lignes:
        cle = (activite, lieu)
        if cle != cle_courante:
            titre = f"Lieu d'implantation : {lieu_libelle}" if lieu else f"Activité : {activite_libelle}"
            groupes.append(Groupe(titre))
            cle_courante = cle
        groupes[-1].lignes.append(ligne)
    return groupes


@dataclass
class NonAttribues:
    """« Non attribué » lu une fois : les activités où un rôle manque (dans l'ordre d'affichage),
    et de quoi écrire leurs lignes sans relire la base (libellés, lieux ouverts, rôles tenus)."""

    activites: list[int]
    libelles: dict[int, str]
    lieux: dict[int, list[tuple[int, str]]]
    tenus: set[tuple[int, int | None, str]]


def non_attribues(conventions: QuerySet[Convention], criteres: dict, jour: datetime.date) -> NonAttribues:
    """Les activités ouvertes où un rôle n'est tenu par personne ce jour (ou, avec les lieux,
    dont un lieu ouvert n'a pas de fournisseur de données d'activité), dans l'ordre d'affichage.

    Deux requêtes simples (les activités filtrées avec leurs lieux ouverts et leurs libellés, les
    rôles tenus ce jour sur ces activités), puis la règle en Python ; la page s'écrit avec ces
    mêmes lignes (les relire pour les vingt activités de la page coûtait trois requêtes de plus,
    dont les droits du jour une seconde fois). Écrite en SQL (un EXISTS par rôle et par lieu,
    chacun refaisant la jointure des droits effectifs), la même question coûtait plus d'une
    seconde de planification à PostgreSQL pour une grande commune (EXPLAIN :
    tests/perf/test_plans_afas.py)."""
    libelles: dict[int, str] = {}
    lieux: dict[int, list[tuple[int, str]]] = {}
    # Les lieux d'une activité dans l'ordre de la page (libellé, clé).
    for activite, libelle, lieu, lieu_libelle in _activites_et_lieux(
        conventions,
        criteres,
        jour,
        ("pk", "libelle", "lieux_ouverts__pk", "lieux_ouverts__libelle"),
        ("lieux_ouverts__libelle", "lieux_ouverts__pk"),
    ):
        libelles[activite] = libelle
        if lieu is not None:
            lieux.setdefault(activite, []).append((lieu, lieu_libelle))
    activites = list(libelles)
    # Bornées par les activités lues (index par activité) : filtrées par partenaire à travers la
    # jointure, PostgreSQL lisait toutes les habilitations ouvertes avant de les trier. Et par
    # les conventions de leurs partenaires, en liste (une habilitation est dans la convention du
    # partenaire de son activité : ``afas.services``) : sans elle, « la convention est ouverte et
    # accorde AFAS-DECLARER » se vérifiait pour chacune des ~1 900 habilitations ouvertes d'une
    # grande commune, le tiers de la requête ; avec une convention connue, une fois.
    conventions_des_partenaires = list(
        Convention.objects.filter(organisme__in=_organismes(conventions, criteres)).values_list("pk", flat=True)
    )
    tenus = _roles_tenus(activites, conventions_des_partenaires, jour)
    cles_des_lieux = {a: [pk for pk, _libelle in ls] for a, ls in lieux.items()}
    return NonAttribues(activites_sans_titulaire(activites, cles_des_lieux, tenus, criteres), libelles, lieux, tenus)


def _organismes(conventions: QuerySet[Convention], criteres: dict) -> QuerySet:
    """Les partenaires de ``conventions``, ou celui du partenaire choisi (sous-requête)."""
    if criteres.get("partenaire"):
        return Convention.objects.filter(pk=criteres["partenaire"].pk).values("organisme_id")
    return conventions.values("organisme_id")


def _activites_et_lieux(
    conventions: QuerySet[Convention], criteres: dict, jour: datetime.date, champs: tuple, ordre_des_lieux: tuple
) -> QuerySet:
    """Les activités ouvertes des partenaires de ``conventions`` (ou du partenaire choisi),
    filtrées, dans l'ordre d'affichage, chacune avec ses lieux ouverts (jointure externe : une
    ligne par lieu, dans ``ordre_des_lieux``), en ``values_list(*champs)``."""
    return (
        _filtrer_activites(
            Activite.objects.ouverts(jour).filter(organisme__in=_organismes(conventions, criteres)), criteres
        )
        .alias(lieux_ouverts=FilteredRelation("lieux", condition=q_ouvert(jour, "lieux__")))
        .order_by("libelle", "pk", *ordre_des_lieux)
        .values_list(*champs)
    )


def activites_et_lieux_ouverts(
    conventions: QuerySet[Convention], criteres: dict, jour: datetime.date
) -> tuple[list[int], dict[int, list[int]]]:
    """Une requête : les activités ouvertes des partenaires de ``conventions`` (ou du partenaire
    choisi), filtrées, dans l'ordre d'affichage, et les lieux ouverts de chacune."""
    lignes = _activites_et_lieux(conventions, criteres, jour, ("pk", "lieux_ouverts__pk"), ("lieux_ouverts__pk",))
    activites: list[int] = []
    lieux: dict[int, list[int]] = {}
    for activite, lieu in lignes:
        if not activites or activites[-1] != activite:
            activites.append(activite)
        if lieu is not None:
            lieux.setdefault(activite, []).append(lieu)
    return activites, lieux


def activites_sans_titulaire(
    activites: list[int],
    lieux: dict[int, list[int]],
    tenus: Iterable[tuple[int, int | None, str]],
    criteres: dict,
) -> list[int]:
    """La règle de « Non attribué », sans requête : parmi ``activites`` (et leurs ``lieux``
    ouverts), celles où manque un rôle (ou le rôle cherché) d'après ``tenus``, les triplets
    (activité, lieu ou None, rôle) tenus ce jour."""
    sur_activite: dict[int, set[str]] = {}
    lieux_avec_fda: set[int] = set()
    for activite, lieu, r in tenus:
        if lieu is None:
            sur_activite.setdefault(activite, set()).add(r)
        elif r == RoleAfas.FDA:
            lieux_avec_fda.add(lieu)
    role = criteres.get("role") or ""
    avec_lieux = criteres.get("lieux") != "non" and role in ("", RoleAfas.FDA)
    resultat = []
    for activite in activites:
        roles = sur_activite.get(activite, set())
        sans_fda = RoleAfas.FDA not in roles and activite not in lieux
        manque = {
            "": RoleAfas.APPROBATEUR not in roles or RoleAfas.FDF not in roles or sans_fda,
            RoleAfas.APPROBATEUR: RoleAfas.APPROBATEUR not in roles,
            RoleAfas.FDF: RoleAfas.FDF not in roles,
            RoleAfas.FDA: sans_fda,
        }[role]
        if not manque and avec_lieux and RoleAfas.FDA not in roles:
            manque = any(lieu not in lieux_avec_fda for lieu in lieux.get(activite, []))
        if manque:
            resultat.append(activite)
    return resultat


def grouper_non_attribues(activites: list[int], na: NonAttribues, criteres: dict) -> list[Groupe]:
    """Pour les ``activites`` de la page (prises dans ``na``) : une ligne par rôle manquant sous
    l'activité, puis une ligne « Fournisseur de données d'activité » sous chaque lieu ouvert qui
    n'en a pas. Sans requête : tout est dans ``na``."""
    role = criteres.get("role") or ""
    avec_lieux = criteres.get("lieux") != "non" and role in ("", RoleAfas.FDA)
    roles_sur: dict[int, set[str]] = {}
    for a, lieu, r in na.tenus:
        if lieu is None:
            roles_sur.setdefault(a, set()).add(r)
    groupes = []
    for activite in activites:
        roles = roles_sur.get(activite, set())
        lieux = na.lieux.get(activite, [])
        manquants = [r for r in roles_manquants(roles, bool(lieux)) if not role or r == RoleAfas(role).label]
        if manquants:
            groupes.append(Groupe(f"Activité : {na.libelles[activite]}", manquants))
        if avec_lieux and RoleAfas.FDA not in roles:
            for lieu, libelle in lieux:
                if (activite, lieu, RoleAfas.FDA) not in na.tenus:
                    groupes.append(Groupe(f"Lieu d'implantation : {libelle}", [RoleAfas.FDA.label]))
    return groupes


ETATS_HABILITATIONS = (EtatHabilitation.ACTIF, EtatHabilitation.INACTIF, EtatHabilitation.HISTORIQUE)
