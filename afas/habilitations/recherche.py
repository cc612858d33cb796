"""La recherche HABILITATIONS D'ACTION SOCIALE : les habilitations dans un état (Actif, Inactif,
Historique), ou les rôles que personne ne tient (Non attribué), groupées sous « Activité : … » et
« Lieu d'implantation : … ». Tout est filtré et paginé dans la base : une page coûte le même
nombre de requêtes quel que soit le volume."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import F, FilteredRelation, OuterRef, Q, QuerySet, Subquery

from afas.attribution import roles_manquants
from afas.enums import DecisionCaf, EtatHabilitation, RoleAfas
from afas.models import Activite, HabilitationAfas, LieuImplantation, q_effective
from conventions.models import Convention
from habilitations.models import Utilisateur
from portail.socle.dates import q_ouvert


@dataclass
class Groupe:
    """Un titre (« Activité : … » ou « Lieu d'implantation : … ») et ses lignes."""

    titre: str
    lignes: list = field(default_factory=list)


def _filtrer_activites(qs: QuerySet, criteres: dict, prefixe: str = "") -> QuerySet:
    if criteres.get("activite"):
        qs = qs.filter(**{f"{prefixe}libelle__icontains": criteres["activite"]})
    if criteres.get("type_activite"):
        qs = qs.filter(**{f"{prefixe}type_activite": criteres["type_activite"]})
    if criteres.get("nature"):
        qs = qs.filter(**{f"{prefixe}nature": criteres["nature"]})
    return qs


def habilitations(
    conventions: QuerySet[Convention], criteres: dict, jour: datetime.date, membres: list[int]
) -> QuerySet[HabilitationAfas]:
    """Les habilitations des conventions dans l'état demandé, dans l'ordre d'affichage."""
    qs = HabilitationAfas.objects.filter(convention__in=conventions).dans_etat(criteres["etat"], jour, membres)
    if criteres.get("partenaire"):
        qs = qs.filter(convention=criteres["partenaire"])
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
    qs = qs.select_related("utilisateur", "activite", "lieu", "validation")
    if criteres["etat"] != EtatHabilitation.ACTIF:
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


def habilitations_de_la_page(ids: list[int]) -> list[tuple[Ligne, int, str, int | None, str | None]]:
    """Les habilitations d'une page de ``habilitations(...)`` lue en identifiants, dans cet ordre :
    chacune en ``Ligne`` avec son activité et son lieu (identifiant, libellé) pour les titres.

    La page n'est pas demandée à PostgreSQL avec son ORDER BY … LIMIT : pour un état qui a peu
    de lignes (Inactif), il parcourait alors toutes les activités du pays dans l'ordre des
    libellés en espérant trouver vite les 50 premières (2,7 s à l'échelle nationale). Sans LIMIT,
    la liste ordonnée des identifiants se calcule par jointures et tri en mémoire, puis la page
    se lit par clé primaire, en valeurs (sans instancier quatre modèles par ligne). Page vide :
    l'identifiant 0 n'existe pas, mais la requête part."""
    ids = list(ids)
    lues = {}
    for pk, compte, role, nom, prenom, debut, fin, decision, activite, activite_libelle, lieu, lieu_libelle in (
        HabilitationAfas.objects.filter(pk__in=ids or [0]).order_by().values_list(*_CHAMPS_LIGNE)
    ):
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
        lues[pk] = (ligne, activite, activite_libelle, lieu, lieu_libelle)
    return [lues[pk] for pk in ids if pk in lues]


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
    # jointure, PostgreSQL lisait toutes les habilitations ouvertes avant de les trier.
    tenus = set(
        HabilitationAfas.objects.filter(q_effective(jour), activite_id__in=activites or [0])
        .order_by()
        .values_list("activite_id", "lieu_id", "role")
        .distinct()
    )
    cles_des_lieux = {a: [pk for pk, _libelle in ls] for a, ls in lieux.items()}
    return NonAttribues(activites_sans_titulaire(activites, cles_des_lieux, tenus, criteres), libelles, lieux, tenus)


def _activites_et_lieux(
    conventions: QuerySet[Convention], criteres: dict, jour: datetime.date, champs: tuple, ordre_des_lieux: tuple
) -> QuerySet:
    """Les activités ouvertes des partenaires de ``conventions`` (ou du partenaire choisi),
    filtrées, dans l'ordre d'affichage, chacune avec ses lieux ouverts (jointure externe : une
    ligne par lieu, dans ``ordre_des_lieux``), en ``values_list(*champs)``."""
    organismes = conventions.values("organisme_id")
    if criteres.get("partenaire"):
        organismes = Convention.objects.filter(pk=criteres["partenaire"].pk).values("organisme_id")
    return (
        _filtrer_activites(Activite.objects.ouverts(jour).filter(organisme__in=organismes), criteres)
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
