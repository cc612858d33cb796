"""Qui peut quoi dans AFAS. Refus par défaut : chaque question relit les faits datés du jour.

- L'agent Caf gère les activités et lieux des organismes de sa Caf et valide les approbateurs
  dont sa Caf est la Caf pivot de la convention.
- L'administrateur partenaire, ou l'utilisateur au profil effectif AFAS-HABILITER, donne et
  retire les rôles AFAS dans sa convention ; jamais à lui-même.
- Le déclarant (profil effectif AFAS-DECLARER) voit le menu AFAS.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from afas.enums import SAISISSABLES, EtatDeclaration, RoleAfas
from afas.models import (
    PROFIL_DECLARER,
    PROFIL_HABILITER,
    Activite,
    AppelDeclaration,
    Declaration,
    DonneesActivite,
    HabilitationAfas,
    LieuImplantation,
    ParametreFinancement,
    Recepisse,
    ValidationApprobateur,
)
from conventions.enums import EtatConvention
from conventions.models import Convention, Organisme
from habilitations import perms as perms_habilitations
from habilitations.models import Appartenance
from portail.socle.dates import aujourdhui, q_ouvert
from portail.socle.listes import q_parmi
from portail.socle.requetes import RequeteCompilee, curseur_prepare

if TYPE_CHECKING:
    from django.http import HttpRequest

    from conventions.models import Profil
    from habilitations.models import Utilisateur


# --- Agent Caf : activités, lieux, validation des approbateurs -----------------------------------


def peut_gerer_activites(user: Utilisateur) -> bool:
    """Les écrans « Activités » et « Approbateurs à valider » : un agent Caf au compte ouvert."""
    return perms_habilitations.est_agent_caf(user)


def organismes_geres(user: Utilisateur) -> QuerySet[Organisme]:
    """Les organismes dont l'agent maintient les activités : ceux de sa Caf ; rien pour les autres."""
    if not perms_habilitations.est_agent_caf(user):
        return Organisme.objects.none()
    return Organisme.objects.filter(caf_id=user.caf_id)


def activites_gerees(user: Utilisateur) -> QuerySet[Activite]:
    """Activités que l'agent peut lire et modifier (404 pour les autres)."""
    if not perms_habilitations.est_agent_caf(user):
        return Activite.objects.none()
    return Activite.objects.filter(organisme__caf_id=user.caf_id)


def lieux_geres(user: Utilisateur) -> QuerySet[LieuImplantation]:
    if not perms_habilitations.est_agent_caf(user):
        return LieuImplantation.objects.none()
    return LieuImplantation.objects.filter(activite__organisme__caf_id=user.caf_id)


def validations_visibles(user: Utilisateur) -> QuerySet[ValidationApprobateur]:
    """Les demandes que l'agent peut décider : celles de sa Caf (Caf pivot de la convention)."""
    if not perms_habilitations.est_agent_caf(user):
        return ValidationApprobateur.objects.none()
    return ValidationApprobateur.objects.filter(caf_id=user.caf_id)


def peut_valider_approbateur(user: Utilisateur, validation: ValidationApprobateur) -> bool:
    """Valider ou refuser : un agent de la Caf pivot de la convention de l'habilitation."""
    return perms_habilitations.est_agent_caf(user) and validation.caf_id == user.caf_id


# --- Partenaire : habiliter ---------------------------------------------------------------------


def conventions_habilitables(user: Utilisateur, jour: datetime.date | None = None) -> QuerySet[Convention]:
    """Les conventions où l'utilisateur donne les rôles AFAS ce jour : celles qu'il administre, et
    celles où un groupe lui donne le profil effectif AFAS-HABILITER (appartenance, groupe, compte
    et convention ouverts ; profil accordé par la convention). Les deux doivent accorder le
    service AFAS (profil AFAS-DECLARER)."""
    jour = jour or aujourdhui()
    if not user.is_authenticated or user.caf_id or user.organisme_id is None or not user.est_ouvert(jour):
        return Convention.objects.none()
    habiliter = Appartenance.objects.filter(
        q_ouvert(jour),
        q_ouvert(jour, "groupe__"),
        utilisateur=user,
        groupe__convention=OuterRef("pk"),
        groupe__groupe_profils__profil__code=PROFIL_HABILITER,
    )
    administrees = perms_habilitations.conventions_administrees(user, jour).order_by().values("pk")
    par_profil = Convention.objects.effectives(jour).filter(Exists(habiliter), profils__code=PROFIL_HABILITER)
    # Union des deux ensembles de clés (quelques lignes chacun), pas « l'un OU l'autre » sur la
    # table : ce OU faisait lire les 70 000 conventions du pays (et hacher leurs 14 000 profils
    # AFAS-DECLARER) à chaque page de l'habilitateur et dans le menu.
    cles = administrees.union(par_profil.order_by().values("pk"))
    return Convention.objects.filter(pk__in=cles, profils__code=PROFIL_DECLARER)


def peut_habiliter(user: Utilisateur) -> bool:
    """La rubrique « Administration des profils »."""
    return conventions_habilitables(user).exists()


def habilitations_gerees(user: Utilisateur) -> QuerySet[HabilitationAfas]:
    """Les habilitations AFAS que l'utilisateur lit et supprime : celles de ses conventions."""
    return HabilitationAfas.objects.filter(convention__in=conventions_habilitables(user))


def activites_habilitables(user: Utilisateur) -> QuerySet[Activite]:
    """Les activités des organismes de ses conventions habilitables."""
    return Activite.objects.filter(organisme__conventions__in=conventions_habilitables(user)).distinct()


def peut_habiliter_utilisateur(user: Utilisateur, cible: Utilisateur, convention: Convention) -> bool:
    """Donner un rôle à ``cible`` dans ``convention`` : la convention est habilitable par
    ``user``, la cible y a son compte, et personne ne s'habilite soi-même."""
    return (
        cible.pk != user.pk
        and cible.convention_id == convention.pk
        and conventions_habilitables(user).filter(pk=convention.pk).exists()
    )


def peut_supprimer_habilitation(user: Utilisateur, habilitation: HabilitationAfas) -> bool:
    """Supprimer : dans une convention habilitable, jamais sa propre habilitation."""
    return habilitation.utilisateur_id != user.pk and habilitations_gerees(user).filter(pk=habilitation.pk).exists()


# --- Déclarant --------------------------------------------------------------------------------


def est_declarant(user: Utilisateur, jour: datetime.date | None = None) -> bool:
    """Profil effectif AFAS-DECLARER ce jour : le menu « Aides financières d'action sociale »."""
    return perms_habilitations.profils_effectifs(user, jour).filter(code=PROFIL_DECLARER).exists()


# Le menu d'un partenaire, posé sur chaque page : les règles de « est_gestionnaire_habilitations »
# (``conventions_administrees`` ou ``groupes_responsable``) et de « peut_habiliter »
# (``conventions_habilitables``) écrites en une requête SQL. Construite par l'ORM, la même
# question coûtait 10 à 12 ms de processeur Python à chaque page (des dizaines de sous-requêtes
# imbriquées à assembler puis compiler), plus que tout le reste de la page la plus nue ; le SQL
# lui-même s'exécute en moins d'une milliseconde. Le menu ne fait qu'afficher des liens : chaque
# page revérifie ses droits par les prédicats ci-dessus. Les deux écritures sont comparées dans
# tests/afas/test_menu_partenaire.py.

_OUVERT = "{t}.date_ouverture <= %(jour)s AND ({t}.date_cloture IS NULL OR {t}.date_cloture > %(jour)s)"
_EFFECTIVE = _OUVERT + " AND {t}.etat = %(validee)s"
# Droit objet django-guardian sur la ligne {cle}, donné au compte ou à l'un de ses groupes Django
# (comme ``portail.socle.droits.q_droit_objet`` : ses clés d'objets lues une fois, pas de
# sous-requête corrélée).
_DROIT = """(
    CAST({cle} AS VARCHAR(255)) IN (
        SELECT d.object_pk FROM guardian_userobjectpermission d
        JOIN auth_permission dp ON dp.id = d.permission_id
        JOIN django_content_type dt ON dt.id = dp.content_type_id
        WHERE d.user_id = %(utilisateur)s AND dp.codename = '{codename}'
          AND dt.app_label = '{app}' AND dt.model = '{modele}')
    OR CAST({cle} AS VARCHAR(255)) IN (
        SELECT d.object_pk FROM guardian_groupobjectpermission d
        JOIN habilitations_utilisateur_groups ug ON ug.group_id = d.group_id
        JOIN auth_permission dp ON dp.id = d.permission_id
        JOIN django_content_type dt ON dt.id = dp.content_type_id
        WHERE ug.utilisateur_id = %(utilisateur)s AND dp.codename = '{codename}'
          AND dt.app_label = '{app}' AND dt.model = '{modele}')
)"""
# Une convention {c} que le compte administre ce jour (``conventions_administrees``).
# Texte fixe du module : les valeurs passent en paramètres (d'où les « noqa: S608 »).
_ADMINISTREE = (
    _EFFECTIVE.format(t="{c}")  # noqa: S608
    + """ AND EXISTS (SELECT 1 FROM conventions_mandat m WHERE m.convention_id = {c}.id
                  AND m.administrateur_id = %(utilisateur)s AND """
    + _OUVERT.format(t="m")
    + ") AND "
    + _DROIT.format(cle="{c}.id", codename="administrer_convention", app="conventions", modele="convention")
)
# Gestionnaire d'habilitations : administrateur d'une convention ou responsable d'un groupe, ce jour.
_GESTIONNAIRE = (
    "(EXISTS (SELECT 1 FROM conventions_convention ca WHERE "  # noqa: S608
    + _ADMINISTREE.format(c="ca")
    + """) OR EXISTS (
        SELECT 1 FROM habilitations_groupe g JOIN conventions_convention cg ON cg.id = g.convention_id
        WHERE g.responsable_id = %(utilisateur)s AND """
    + _OUVERT.format(t="g")
    + " AND "
    + _EFFECTIVE.format(t="cg")
    + " AND "
    + _DROIT.format(cle="g.id", codename="gerer_groupe", app="habilitations", modele="groupe")
    + "))"
)
_SQL_MENU = "SELECT " + _GESTIONNAIRE + " AS gestionnaire, ({habiliter}) AS habiliter"
# Une convention {c} qui accorde le service AFAS (profil AFAS-DECLARER).
_AFAS = """EXISTS (SELECT 1 FROM conventions_convention_profils cp JOIN conventions_profil p ON p.id = cp.profil_id
                  WHERE cp.convention_id = {c}.id AND p.code = %(declarer)s)"""
# Une convention {c} où un groupe donne ce jour au compte le profil AFAS-HABILITER, qu'elle accorde.
_PAR_PROFIL = (
    _EFFECTIVE.format(t="{c}")  # noqa: S608
    + """ AND EXISTS (SELECT 1 FROM conventions_convention_profils cp JOIN conventions_profil p ON p.id = cp.profil_id
                     WHERE cp.convention_id = {c}.id AND p.code = %(habiliter)s)
    AND EXISTS (SELECT 1 FROM habilitations_appartenance a
                JOIN habilitations_groupe ga ON ga.id = a.groupe_id
                JOIN habilitations_groupeprofil gp ON gp.groupe_id = ga.id
                JOIN conventions_profil pa ON pa.id = gp.profil_id
                WHERE a.utilisateur_id = %(utilisateur)s AND ga.convention_id = {c}.id
                  AND pa.code = %(habiliter)s AND """
    + _OUVERT.format(t="a")
    + " AND "
    + _OUVERT.format(t="ga")
    + ")"
)
# Les conventions où le compte habilite ce jour (``conventions_habilitables``) : administrées ou
# par profil, et accordant AFAS. Deux ensembles de clés, jamais « l'un OU l'autre » sur la table
# (ce OU faisait lire les 70 000 conventions du pays).
_ADMINISTREES_AFAS = "SELECT ca.id FROM conventions_convention ca WHERE " + (  # noqa: S608
    _ADMINISTREE + " AND " + _AFAS
).format(c="ca")
_PAR_PROFIL_AFAS = "SELECT cx.id FROM conventions_convention cx WHERE " + (  # noqa: S608
    _PAR_PROFIL + " AND " + _AFAS
).format(c="cx")
_SQL_MENU = _SQL_MENU.replace("{habiliter}", f"EXISTS ({_ADMINISTREES_AFAS}) OR EXISTS ({_PAR_PROFIL_AFAS})")
_SQL_HABILITABLES = f"{_ADMINISTREES_AFAS} UNION {_PAR_PROFIL_AFAS}"
# Les deux à la fois, pour les pages AFAS qui affichent le menu et lisent les conventions où l'on
# habilite : une ligne (NULL, gestionnaire), puis une ligne (clé, NULL) par convention habilitable.
_SQL_GESTIONNAIRE_ET_HABILITABLES = (
    f"SELECT NULL, {_GESTIONNAIRE} UNION ALL SELECT h.id, NULL FROM ({_SQL_HABILITABLES}) h"  # noqa: S608
)


def _executer(sql: str, user: Utilisateur, jour: datetime.date, *, preparee: bool = False) -> list[tuple]:
    """``preparee`` : en instruction préparée (``curseur_prepare``), planifiée une fois par
    connexion ; le texte est fixe et la lecture part de la clé du compte."""
    with curseur_prepare(connection) if preparee else connection.cursor() as curseur:
        curseur.execute(
            sql,
            {
                "utilisateur": user.pk,
                "jour": jour,
                "validee": EtatConvention.VALIDEE,
                "declarer": PROFIL_DECLARER,
                "habiliter": PROFIL_HABILITER,
            },
        )
        return curseur.fetchall()


def conventions_habilitables_cles(user: Utilisateur) -> list[int]:
    """Les clés de ``conventions_habilitables(user)`` ce jour, en une requête SQL écrite à la main
    (voir ``_SQL_MENU`` : 4 à 8 ms de Python épargnés à chaque page de l'habilitateur) ; aucune
    requête pour un compte qui n'est pas d'un partenaire ou pas ouvert ce jour."""
    jour = aujourdhui()
    if not user.is_authenticated or user.organisme_id is None or user.caf_id or not user.est_ouvert(jour):
        return []
    return [cle for (cle,) in _executer(_SQL_HABILITABLES, user, jour)]


def menu_partenaire(user: Utilisateur) -> tuple[bool, bool]:
    """(gestionnaire d'habilitations, habilitateur AFAS) pour le menu d'un partenaire, en une
    seule requête SQL écrite à la main (voir ``_SQL_MENU``) : mêmes réponses que
    ``est_gestionnaire_habilitations`` et ``peut_habiliter``. (False, False) sans requête pour
    les autres comptes et pour un compte qui n'est pas ouvert ce jour."""
    jour = aujourdhui()
    if not user.is_authenticated or user.organisme_id is None or user.caf_id or not user.est_ouvert(jour):
        return False, False
    ((gestionnaire, habiliter),) = _executer(_SQL_MENU, user, jour)
    return bool(gestionnaire), bool(habiliter)


def _roles_du_jour(utilisateur: int, jour: datetime.date) -> QuerySet[HabilitationAfas]:
    return (
        HabilitationAfas.objects.filter(utilisateur_id=utilisateur)
        .actives(jour)
        .order_by()
        .values_list("activite_id", "role", "lieu_id")
    )


# Compilée une fois par processus (``portail.socle.requetes``) : assembler les droits du jour
# (compte, appartenance AFAS-DECLARER, convention, activité, lieu, validation) coûtait 2 à 3 ms
# de processeur à chaque page d'un déclarant.
_ROLES_DU_JOUR = RequeteCompilee(
    _roles_du_jour, {"utilisateur": (-1001, -1002), "jour": (datetime.date(1901, 2, 3), datetime.date(1902, 3, 4))}
)


class DroitsDeLaRequete:
    """Les droits AFAS du compte d'une requête, lus au plus une fois chacun pendant la requête : la
    vue (l'accès à l'accueil, les conventions où l'on habilite) et le menu du gabarit
    (``portail.context_processors``) posent les mêmes questions ; chacune coûtait sa requête, et
    la même question deux ou trois fois. Rien n'est gardé d'une requête à l'autre : chaque page
    relit les faits du jour. Mêmes réponses que ``profils_effectifs``, ``est_declarant``,
    ``menu_partenaire`` et ``conventions_habilitables_cles`` (tests/afas/test_menu_partenaire.py)."""

    def __init__(self, user: Utilisateur) -> None:
        self.user = user

    @cached_property
    def profils(self) -> list[Profil]:
        """Les profils effectifs du jour, avec leur service (une requête ; aucune hors connexion)."""
        return list(perms_habilitations.profils_effectifs(self.user).select_related("service"))

    @property
    def est_declarant(self) -> bool:
        """``est_declarant`` : un profil effectif AFAS-DECLARER."""
        return any(profil.code == PROFIL_DECLARER for profil in self.profils)

    @cached_property
    def _partenaire(self) -> tuple[bool, list[int]]:
        # Une requête (``_SQL_GESTIONNAIRE_ET_HABILITABLES``) ; aucune pour les autres comptes.
        # Préparée : sa planification coûtait 2 à 3 ms pour 0,3 ms d'exécution à chaque page AFAS
        # de l'habilitateur et à chaque « Mes tableaux de bord » (ticket 11).
        jour = aujourdhui()
        user = self.user
        if not user.is_authenticated or user.organisme_id is None or user.caf_id or not user.est_ouvert(jour):
            return False, []
        gestionnaire, cles = False, []
        for cle, est_gestionnaire in _executer(_SQL_GESTIONNAIRE_ET_HABILITABLES, user, jour, preparee=True):
            if cle is None:
                gestionnaire = bool(est_gestionnaire)
            else:
                cles.append(cle)
        return gestionnaire, cles

    @cached_property
    def menu(self) -> tuple[bool, bool]:
        """``menu_partenaire`` : lu avec les conventions habilitables si la vue les a déjà
        demandées (pages AFAS, tableaux de bord), sinon par sa propre requête (les autres pages :
        ``_SQL_MENU`` s'arrête au premier droit trouvé, sans lire toutes les conventions)."""
        if "_partenaire" in self.__dict__:
            gestionnaire, cles = self._partenaire
            return gestionnaire, bool(cles)
        return menu_partenaire(self.user)

    @property
    def gestionnaire(self) -> bool:
        """Le premier terme de ``menu_partenaire`` : gestionnaire d'habilitations."""
        return self._partenaire[0]

    @property
    def conventions_habilitables(self) -> list[int]:
        """``conventions_habilitables_cles`` : les conventions où il donne les rôles AFAS."""
        return self._partenaire[1]

    @cached_property
    def roles_du_jour(self) -> list[tuple[int, str, int | None]]:
        """(activité, rôle, lieu) de chacune de ses habilitations actives ce jour, en une requête :
        la page d'une déclaration y lit le périmètre (``activites_declarees``) et ses rôles sur
        la déclaration (``roles_sur_declaration``), deux lectures des droits du jour sinon."""
        user = self.user
        if _hors_des_partenaires(user):
            return []
        return _ROLES_DU_JOUR.lignes(utilisateur=user.pk, jour=aujourdhui())

    @property
    def activites_declarees(self) -> list[int]:
        """``activites_declarees``, lues dans ``roles_du_jour``."""
        return sorted({activite for activite, _role, _lieu in self.roles_du_jour})

    def declarations_du_declarant(self) -> QuerySet[Declaration]:
        """``declarations_du_declarant`` (« Mes déclarations »), lues dans ``roles_du_jour``."""
        return _declarations_parmi(self.activites_declarees)

    def declarations_lisibles(self) -> QuerySet[Declaration]:
        """``declarations_lisibles``, les activités du déclarant lues dans ``roles_du_jour``."""
        if perms_habilitations.est_agent_caf(self.user):
            return declarations_caf(self.user)
        return self.declarations_du_declarant()

    def roles_sur_declaration(self, declaration: Declaration) -> RolesDeclaration:
        """``roles_sur_declaration``, lus dans ``roles_du_jour``."""
        return _roles_tenus(
            [(role, lieu) for activite, role, lieu in self.roles_du_jour if activite == declaration.activite_id]
        )


def droits_de_la_requete(request: HttpRequest) -> DroitsDeLaRequete:
    """Les droits AFAS de ``request.user``, gardés sur la requête (voir ``DroitsDeLaRequete``)."""
    droits = getattr(request, "_droits_afas", None)
    if droits is None:
        droits = request._droits_afas = DroitsDeLaRequete(request.user)
    return droits


# --- Déclarations ------------------------------------------------------------------------------
#
# Un déclarant voit les déclarations des activités où il tient ce jour un rôle « Actif » (sur
# l'activité ou sur l'un de ses lieux) ; chaque rôle n'écrit que sa part : le FDA les données
# d'activité (toutes, ou celles de son lieu), le FDF les données financières ; l'approbateur lit
# tout et transmet. L'agent Caf voit les déclarations des activités des organismes de sa Caf,
# lance les appels et instruit ce qui est transmis. Les déclarations des autres : 404.


@dataclass(frozen=True)
class RolesDeclaration:
    """Les rôles actifs ce jour d'un utilisateur sur l'activité d'une déclaration."""

    approbateur: bool = False
    fdf: bool = False
    fda_activite: bool = False
    fda_lieux: frozenset[int] = field(default_factory=frozenset)

    @property
    def fda(self) -> bool:
        return self.fda_activite or bool(self.fda_lieux)

    @property
    def aucun(self) -> bool:
        return not (self.approbateur or self.fdf or self.fda)


def _hors_des_partenaires(user: Utilisateur) -> bool:
    """Anonyme, agent d'une Caf ou compte sans organisme : aucun rôle de déclarant possible."""
    return not user.is_authenticated or bool(user.caf_id) or user.organisme_id is None


def activites_declarees(user: Utilisateur, jour: datetime.date | None = None) -> list[int]:
    """Les activités où l'utilisateur tient ce jour au moins un rôle actif (lues une fois)."""
    if _hors_des_partenaires(user):
        return []
    return list(
        HabilitationAfas.objects.filter(utilisateur=user)
        .actives(jour)
        .order_by()  # sans l'ordre du modèle, qui entrerait dans le DISTINCT (doublons)
        .values_list("activite_id", flat=True)
        .distinct()
    )


def declarations_du_declarant(user: Utilisateur, jour: datetime.date | None = None) -> QuerySet[Declaration]:
    """« Mes déclarations » : celles des activités où il tient un rôle actif ce jour. Les
    activités passent en un seul tableau sous PostgreSQL (``q_parmi``) : un déclarant de grande
    commune en tient des centaines, et chaque requête de la page (nombre, page) recopiait puis
    adaptait autant de paramètres."""
    return _declarations_parmi(activites_declarees(user, jour))


def _declarations_parmi(activites: list[int]) -> QuerySet[Declaration]:
    if not activites:
        return Declaration.objects.none()
    return Declaration.objects.filter(q_parmi("activite_id", activites))


def roles_sur_declaration(
    user: Utilisateur, declaration: Declaration, jour: datetime.date | None = None
) -> RolesDeclaration:
    """Les rôles actifs ce jour de ``user`` sur l'activité de ``declaration`` (une requête)."""
    if _hors_des_partenaires(user):
        return RolesDeclaration()
    tenus = list(
        HabilitationAfas.objects.filter(utilisateur=user, activite_id=declaration.activite_id)
        .actives(jour)
        .values_list("role", "lieu_id")
    )
    return _roles_tenus(tenus)


def _roles_tenus(tenus: list[tuple[str, int | None]]) -> RolesDeclaration:
    """Les rôles (rôle, lieu) tenus sur une activité, rangés par part de la déclaration."""
    return RolesDeclaration(
        approbateur=any(r == RoleAfas.APPROBATEUR for r, _ in tenus),
        fdf=any(r == RoleAfas.FDF for r, _ in tenus),
        fda_activite=any(r == RoleAfas.FDA and lieu is None for r, lieu in tenus),
        fda_lieux=frozenset(lieu for r, lieu in tenus if r == RoleAfas.FDA and lieu is not None),
    )


def declarations_caf(user: Utilisateur) -> QuerySet[Declaration]:
    """Les déclarations que l'agent Caf suit et instruit : celles des organismes de sa Caf."""
    if not perms_habilitations.est_agent_caf(user):
        return Declaration.objects.none()
    return Declaration.objects.filter(caf_id=user.caf_id)


def appels_visibles(user: Utilisateur) -> QuerySet[AppelDeclaration]:
    """Les appels de déclaration de la Caf de l'agent ; rien pour les autres."""
    if not perms_habilitations.est_agent_caf(user):
        return AppelDeclaration.objects.none()
    return AppelDeclaration.objects.filter(caf_id=user.caf_id)


def peut_lancer_appel(user: Utilisateur) -> bool:
    return perms_habilitations.est_agent_caf(user)


def saisie_ouverte(declaration: Declaration, jour: datetime.date | None = None) -> bool:
    """La saisie est ouverte : la date d'ouverture de l'appel est atteinte et la déclaration
    n'est ni transmise ni validée."""
    return declaration.etat in SAISISSABLES and declaration.date_ouverture <= (jour or aujourdhui())


def peut_saisir_ligne(roles: RolesDeclaration, declaration: Declaration, ligne: DonneesActivite) -> bool:
    """Une ligne de données d'activité : le FDA de l'activité, ou celui du lieu de la ligne."""
    return saisie_ouverte(declaration) and (
        roles.fda_activite or (ligne.lieu_id is not None and ligne.lieu_id in roles.fda_lieux)
    )


def peut_saisir_financier(roles: RolesDeclaration, declaration: Declaration) -> bool:
    """Les données financières : le FDF seulement."""
    return saisie_ouverte(declaration) and roles.fdf


def peut_transmettre(roles: RolesDeclaration, declaration: Declaration) -> bool:
    """« Transmettre à la Caf » : l'approbateur, sur une déclaration « À approuver » (complète ;
    le service le vérifie encore sous verrou)."""
    return roles.approbateur and declaration.etat == EtatDeclaration.A_APPROUVER


def peut_instruire(user: Utilisateur, declaration: Declaration) -> bool:
    """« Valider » ou « Renvoyer pour correction » : un agent de la Caf de la déclaration, quand
    elle est transmise."""
    return (
        perms_habilitations.est_agent_caf(user)
        and declaration.caf_id == user.caf_id
        and declaration.etat == EtatDeclaration.TRANSMISE
    )


# --- Déclarations : écrans des déclarants (afas/declarations) ------------------------------------
#
# La page d'une déclaration : le déclarant qui tient ce jour un rôle actif sur son activité, ou
# un agent de la Caf de la déclaration (lecture seule) ; les autres : 404. Dans une déclaration
# qu'il voit, chacun voit sa part : le FDA les données d'activité (toutes, ou celles de ses lieux),
# le FDF les données financières, l'approbateur et la Caf tout. Écrire une part qui n'est pas la
# sienne dans une déclaration qu'on voit : 403 (l'existence de la déclaration n'est pas un secret
# pour qui y tient un rôle).


def declarations_lisibles(user: Utilisateur) -> QuerySet[Declaration]:
    """Les déclarations dont ``user`` peut ouvrir la page : les siennes (rôle actif ce jour) ou,
    pour un agent Caf, celles de sa Caf."""
    if perms_habilitations.est_agent_caf(user):
        return declarations_caf(user)
    return declarations_du_declarant(user)


def lit_toute_la_declaration(user: Utilisateur, roles: RolesDeclaration) -> bool:
    """L'approbateur et l'agent de la Caf lisent les deux parts, toutes les lignes."""
    return roles.approbateur or perms_habilitations.est_agent_caf(user)


def peut_voir_ligne(user: Utilisateur, roles: RolesDeclaration, ligne: DonneesActivite) -> bool:
    """Une ligne d'activité : le FDA de l'activité, celui du lieu de la ligne, l'approbateur, la Caf."""
    return (
        lit_toute_la_declaration(user, roles)
        or roles.fda_activite
        or (ligne.lieu_id is not None and ligne.lieu_id in roles.fda_lieux)
    )


def peut_voir_financier(user: Utilisateur, roles: RolesDeclaration) -> bool:
    """Les données financières : le FDF, l'approbateur, la Caf (pas le FDA)."""
    return lit_toute_la_declaration(user, roles) or roles.fdf


def lit_en_caf(user: Utilisateur, declaration: Declaration) -> bool:
    """Un agent de la Caf de la déclaration : il la lit sans rien y saisir."""
    return perms_habilitations.est_agent_caf(user) and declaration.caf_id == user.caf_id


# --- Financement (issue 14) ---------------------------------------------------------------------
#
# L'historique et les statistiques d'une activité : le déclarant qui y tient ce jour un rôle actif
# et les agents de la Caf de l'activité ; le montant d'une déclaration : qui voit la déclaration
# (``declarations_lisibles``).
# Les paramètres de financement : les agents Caf lisent le barème national et celui de leur Caf,
# et n'écrivent que celui de leur Caf ; le label Plan mercredi : les agents de la Caf de
# l'activité. Tout autre : 404 sur un objet, 403 sur une page de rôle.


def activites_consultables(user: Utilisateur) -> QuerySet[Activite]:
    """Les activités dont l'utilisateur lit l'historique et les statistiques."""
    if perms_habilitations.est_agent_caf(user):
        return Activite.objects.filter(organisme__caf_id=user.caf_id)
    return Activite.objects.filter(pk__in=activites_declarees(user))


def _un_role_sur_activite(utilisateur: int, activite: int, jour: datetime.date) -> QuerySet[HabilitationAfas]:
    return (
        HabilitationAfas.objects.filter(utilisateur_id=utilisateur, activite_id=activite)
        .actives(jour)
        .order_by()
        .values_list("pk")[:1]
    )


# Compilée une fois par processus, comme ``_ROLES_DU_JOUR`` (droits du jour d'une seule activité),
# et préparée : une lecture par clés (compte, activité), dont PostgreSQL passait 3 ms à planifier
# les onze tables des droits effectifs pour 0,2 ms d'exécution.
_UN_ROLE_SUR_ACTIVITE = RequeteCompilee(
    _un_role_sur_activite,
    {
        "utilisateur": (-1001, -1002),
        "activite": (-2001, -2002),
        "jour": (datetime.date(1901, 2, 3), datetime.date(1902, 3, 4)),
    },
    preparee=True,
)


def activite_consultable(user: Utilisateur, pk: int) -> QuerySet[Activite]:
    """``activites_consultables`` réduites à l'activité ``pk`` (vide si elle n'en est pas) : pour
    un déclarant, son rôle actif ce jour sur cette seule activité, par une requête compilée une
    fois, au lieu de lire les centaines d'activités où il en tient un puis de chercher ``pk``
    parmi elles (historique et statistiques d'une activité : 5 ms de requête et 3 à 4 ms de
    processeur de moins par page). Mêmes réponses (tests/afas/declarations/test_financement.py)."""
    if perms_habilitations.est_agent_caf(user):
        return activites_consultables(user).filter(pk=pk)
    # Une clé au-delà des entiers de la base (l'adresse n'a que des chiffres) : aucune activité,
    # comme l'ORM le répond, sans l'envoyer en paramètre brut.
    if _hors_des_partenaires(user) or pk >= 2**63:
        return Activite.objects.none()
    if not _UN_ROLE_SUR_ACTIVITE.lignes(utilisateur=user.pk, activite=pk, jour=aujourdhui()):
        return Activite.objects.none()
    return Activite.objects.filter(pk=pk)


def peut_gerer_parametres(user: Utilisateur) -> bool:
    """L'écran des paramètres de financement : un agent Caf au compte ouvert."""
    return perms_habilitations.est_agent_caf(user)


def parametres_visibles(user: Utilisateur) -> QuerySet[ParametreFinancement]:
    """Le barème national et les paramètres de la Caf de l'agent ; rien pour les autres."""
    if not perms_habilitations.est_agent_caf(user):
        return ParametreFinancement.objects.none()
    return ParametreFinancement.objects.filter(Q(caf__isnull=True) | Q(caf_id=user.caf_id))


def peut_labelliser_plan_mercredi(user: Utilisateur, activite: Activite) -> bool:
    """Poser ou retirer le label Plan mercredi : un agent de la Caf de l'activité."""
    return perms_habilitations.est_agent_caf(user) and activite.organisme.caf_id == user.caf_id


# --- Instruction : transmission, récépissés, file de la Caf (afas.instruction) -----------------
#
# Le récépissé d'une transmission se lit par les déclarants actifs de l'activité (tout rôle) et
# par les agents de la Caf de la déclaration ; personne d'autre (404).


def est_agent_de_la_declaration(user: Utilisateur, declaration: Declaration) -> bool:
    """Un agent (compte ouvert) de la Caf de la déclaration : il la lit, et l'instruit quand elle
    est transmise (``peut_instruire``)."""
    return perms_habilitations.est_agent_caf(user) and declaration.caf_id == user.caf_id


def recepisses_visibles(user: Utilisateur) -> QuerySet[Recepisse]:
    """Les récépissés des déclarations de l'agent Caf (sa Caf) ou du déclarant (ses activités
    ce jour) ; rien pour les autres."""
    if perms_habilitations.est_agent_caf(user):
        return Recepisse.objects.filter(declaration__caf_id=user.caf_id)
    return Recepisse.objects.filter(declaration__activite_id__in=activites_declarees(user))


def peut_demander_transmission(roles: RolesDeclaration) -> bool:
    """Le bouton « Transmettre à la Caf » et son envoi : l'approbateur actif de l'activité ; l'état
    et la complétude se vérifient dans le service, sous verrou (un FDA ou un FDF : 403)."""
    return roles.approbateur


def peut_recevoir_declarations(user: Utilisateur) -> bool:
    """La file « Déclarations reçues » : un agent Caf au compte ouvert (il n'y voit que sa Caf)."""
    return perms_habilitations.est_agent_caf(user)
