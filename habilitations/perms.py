"""Le module d'autorisation : toute vue et tout queryset lui demandent « qui peut quoi ».

Refus par défaut. Les faits datés (conventions, groupes, appartenances, comptes) font foi et
sont relus à chaque question, à la date du jour : une tâche en retard ou en échec ne peut
jamais prolonger un accès.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django_otp.plugins.otp_totp.models import TOTPDevice

from conventions.enums import EtatConvention
from conventions.models import Convention, Mandat, Profil, Service
from conventions.perms import conventions_administrees, conventions_visibles, est_agent_caf, est_superviseur_national
from habilitations.models import Appartenance, CodeSecoursDevice, Groupe, ImportUtilisateurs, Utilisateur
from portail.socle.dates import aujourdhui, q_ouvert, q_pas_encore_cloture
from portail.socle.droits import q_droit_objet
from portail.socle.listes import q_parmi_requete
from portail.socle.requetes import RequeteCompilee


def profils_effectifs(user: Utilisateur, jour: datetime.date | None = None) -> QuerySet[Profil]:
    """Les profils effectifs d'un utilisateur ce jour : ceux de chaque groupe où son appartenance
    est ouverte, le groupe ouvert, le compte ouvert et la convention validée et ouverte ; et
    seulement si la convention du groupe accorde bien ce profil."""
    jour = jour or aujourdhui()
    if not user.is_authenticated or not user.est_ouvert(jour):
        return Profil.objects.none()
    # Une seule chaîne de jointures, partant des appartenances de l'utilisateur (index sur
    # utilisateur) : quelques lignes lues par clé, quel que soit le nombre de membres ou de
    # groupes, et quelles que soient les statistiques du moment (des sous-requêtes imbriquées
    # faisaient choisir à PostgreSQL des boucles sur toutes les appartenances de chaque groupe).
    groupe = "groupe_profils__groupe__"
    return Profil.objects.filter(
        q_ouvert(jour, f"{groupe}appartenances__"),
        q_ouvert(jour, groupe),
        q_ouvert(jour, f"{groupe}convention__"),
        **{
            f"{groupe}appartenances__utilisateur": user,
            f"{groupe}convention__etat": EtatConvention.VALIDEE,
            # Le profil doit être accordé par la convention du groupe.
            "conventions": F(f"{groupe}convention"),
        },
    ).distinct()


def services_ouverts(user: Utilisateur, jour: datetime.date | None = None) -> QuerySet[Service]:
    """Les services dont l'utilisateur détient au moins un profil effectif ce jour."""
    return Service.objects.filter(profils__in=profils_effectifs(user, jour)).distinct()


def peut_ouvrir_service(user: Utilisateur, service: Service, jour: datetime.date | None = None) -> bool:
    """Un service ne s'ouvre qu'avec un profil effectif de ce service."""
    return profils_effectifs(user, jour).filter(service=service).exists()


def double_authentification_requise(user: Utilisateur) -> bool:
    """Obligatoire pour les agents Caf, les comptes nationaux, les administrateurs partenaires et
    les responsables d'habilitations ; pour tous si DOUBLE_AUTHENTIFICATION_POUR_TOUS est vrai. Le résultat est
    mémorisé sur l'objet le temps d'une requête."""
    if settings.DOUBLE_AUTHENTIFICATION_POUR_TOUS:
        return True
    cache = getattr(user, "_double_authentification_requise", None)
    if cache is None:
        # Comptes nationaux (ni Caf ni organisme : supervision, administration technique)
        # compris : ils lisent toutes les conventions.
        cache = user.est_agent_caf or user.organisme_id is None or _administrateur_ou_responsable(user)
        user._double_authentification_requise = cache
    return cache


def _q_administrateur_ou_responsable(jour: datetime.date) -> Q:
    """Sur ``Utilisateur`` : administrateur d'une convention effective ou responsable d'un groupe
    effectif ce jour."""
    return Q(
        Exists(
            Mandat.objects.filter(
                q_ouvert(jour),
                administrateur=OuterRef("pk"),
                convention__in=Convention.objects.effectives(jour),
            )
        )
    ) | Q(Exists(Groupe.objects.effectifs(jour).filter(responsable=OuterRef("pk"))))


def _etat_double_authentification(pk: int, jour: datetime.date) -> QuerySet[Utilisateur]:
    """(application d'authentification confirmée, administrateur ou responsable ce jour) d'un
    compte, en une requête."""
    totp = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    return (
        Utilisateur.objects.filter(pk=pk)
        .order_by()
        .annotate(activee=Exists(totp), gestionnaire=_q_administrateur_ou_responsable(jour))
        .values_list("activee", "gestionnaire")
    )


# Compilée une fois par processus (portail.socle.requetes) : la connexion et, pour un compte sans
# double authentification, chaque page la posent ; construire la requête coûtait 2 ms de
# processeur, plus que PostgreSQL pour y répondre (ticket 11).
_ETAT_DOUBLE_AUTHENTIFICATION = RequeteCompilee(
    _etat_double_authentification,
    {"pk": (-1001, -1002), "jour": (datetime.date(1901, 2, 3), datetime.date(1902, 3, 4))},
    preparee=True,  # lecture par clé du compte, à chaque page : planifiée une fois par connexion
)


def _compte_a_la_connexion(identifiant: str, jour: datetime.date, seuil: datetime.datetime) -> QuerySet[Utilisateur]:
    """Le compte d'un identifiant et, dans la même requête, ce que la connexion demande ensuite :
    ses échecs récents comptés comme axes les compte (tentatives de cet identifiant depuis
    ``seuil``), puis les deux réponses de ``_etat_double_authentification``."""
    totp = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    echecs = (
        AccessAttempt.objects.filter(username=OuterRef("identifiant"), attempt_time__gte=seuil)
        .order_by()
        .values("username")
        .annotate(total=Sum("failures_since_start"))
        .values("total")
    )
    return Utilisateur._default_manager.filter(identifiant=identifiant).annotate(
        da_echecs=Coalesce(Subquery(echecs), 0),
        da_activee=Exists(totp),
        da_gestionnaire=_q_administrateur_ou_responsable(jour),
    )


# Compilée une fois par processus : une connexion lisait les échecs (axes), le compte, puis la
# double authentification, en trois requêtes construites par l'ORM ; c'est une requête, construite
# une fois (ticket 11, 15 connexions par seconde et par cœur).
_COMPTE_A_LA_CONNEXION = RequeteCompilee(
    _compte_a_la_connexion,
    {
        "identifiant": ("\x01TEMOIN-A", "\x01TEMOIN-B"),
        "jour": (datetime.date(1901, 2, 3), datetime.date(1902, 3, 4)),
        "seuil": (
            datetime.datetime(1901, 2, 3, 4, 5, 6, tzinfo=datetime.UTC),
            datetime.datetime(1902, 3, 4, 5, 6, 7, tzinfo=datetime.UTC),
        ),
    },
    preparee=True,  # par identifiant unique : 0,5 ms de planification pour 0,07 ms d'exécution
)


@dataclass(frozen=True)
class CompteALaConnexion:
    identifiant: str
    utilisateur: Utilisateur | None
    echecs: int


def compte_a_la_connexion(identifiant: str, seuil: datetime.datetime) -> CompteALaConnexion:
    """Le compte d'un identifiant exact (``None`` s'il n'y en a pas), comme ``get`` le rendrait,
    avec l'état de sa double authentification ce jour déjà lu (``double_authentification_etat``
    ne refait pas la requête pendant cette connexion) et ses échecs depuis ``seuil`` (sans compte,
    ``echecs`` vaut 0 : c'est à axes de les compter)."""
    lignes = _COMPTE_A_LA_CONNEXION.lignes(identifiant=identifiant, jour=aujourdhui(), seuil=seuil)
    if not lignes:
        return CompteALaConnexion(identifiant, None, 0)
    colonnes = [champ.attname for champ in Utilisateur._meta.concrete_fields]
    *valeurs, echecs, activee, gestionnaire = lignes[0]
    user = Utilisateur.from_db(Utilisateur._default_manager.db, colonnes, valeurs)
    user._etat_double_authentification_lu = (bool(activee), bool(gestionnaire))
    return CompteALaConnexion(identifiant, user, int(echecs))


def _etat_double_authentification_lire(user: Utilisateur) -> tuple[bool, bool]:
    deja_lu = getattr(user, "_etat_double_authentification_lu", None)
    if deja_lu is not None:
        return deja_lu
    lignes = _ETAT_DOUBLE_AUTHENTIFICATION.lignes(pk=user.pk, jour=aujourdhui())
    if not lignes:
        return False, False
    activee, gestionnaire = lignes[0]
    return activee, gestionnaire


def _administrateur_ou_responsable(user: Utilisateur) -> bool:
    """Les deux questions en une seule requête (le middleware la pose à chaque page)."""
    return _etat_double_authentification_lire(user)[1]


def a_double_authentification(user: Utilisateur) -> bool:
    """L'utilisateur a activé une application d'authentification (TOTP confirmé)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def double_authentification_etat(user: Utilisateur) -> tuple[bool, bool]:
    """(activée, requise) en une requête : la connexion pose les deux questions, et chaque
    requête de moins compte (ticket 11). La réponse « requise » est mémorisée sur l'objet comme
    le fait ``double_authentification_requise``."""
    if getattr(user, "_double_authentification_requise", None) is not None or (
        settings.DOUBLE_AUTHENTIFICATION_POUR_TOUS or user.est_agent_caf or user.organisme_id is None
    ):
        return a_double_authentification(user), double_authentification_requise(user)
    activee, gestionnaire = _etat_double_authentification_lire(user)
    user._double_authentification_requise = gestionnaire
    return activee, gestionnaire


def codes_secours(user: Utilisateur) -> CodeSecoursDevice | None:
    return CodeSecoursDevice.objects.filter(user=user, confirmed=True).first()


def est_gestionnaire_habilitations(user: Utilisateur) -> bool:
    """Administrateur d'une convention ou responsable d'un groupe, ce jour : la rubrique
    « Gestion des habilitations » du menu."""
    if user.organisme_id is None:
        return False
    return Utilisateur.objects.filter(q_gestionnaire_habilitations(user), pk=user.pk).exists()


def q_gestionnaire_habilitations(user: Utilisateur) -> Q:
    """Condition (à poser sur n'importe quelle requête) vraie quand ``conventions_consultables(user)``
    n'est pas vide, pour un partenaire : une convention lue par son rôle, ou un groupe effectif
    dont il est responsable ce jour. Deux EXISTS qui s'arrêtent à la première ligne trouvée :
    l'union des clés de ``conventions_consultables`` lisait chacun des groupes d'un responsable
    (775 pour l'administrateur de la grande commune) sur chaque page, le menu la posant."""
    return Q(Exists(conventions_visibles(user))) | Q(Exists(groupes_responsable(user)))


def conventions_deleguees(user: Utilisateur) -> QuerySet[Convention]:
    """Les conventions où l'utilisateur est responsable d'un groupe effectif ce jour."""
    return Convention.objects.filter(pk__in=groupes_responsable(user).values("convention_id"))


def conventions_consultables(user: Utilisateur) -> QuerySet[Convention]:
    """Ce que « Consulter les conventions » montre (liste, détail, PDF ; 404 au-delà) : refus par
    défaut (queryset vide). Les conventions lues par le rôle dans les conventions (agent Caf,
    supervision nationale, administrateur : ``conventions.perms.conventions_visibles``) et, pour
    un partenaire, celles où il est responsable d'un groupe effectif ce jour (ses groupes sont
    des habilitations : la question se pose ici, où les deux sont connus)."""
    visibles = conventions_visibles(user)
    if user.is_authenticated and user.organisme_id is not None:
        # Union des deux ensembles de clés (quelques lignes chacun), pas « l'un OU l'autre » sur
        # la table : ce OU faisait lire les 70 000 conventions du pays à chaque affichage.
        cles = visibles.order_by().values("pk").union(conventions_deleguees(user).order_by().values("pk"))
        return Convention.objects.filter(q_parmi_requete("pk", cles))
    return visibles


# --- Gestion des habilitations : le périmètre d'un utilisateur dans une convention --------------
#
# L'administrateur gère toute sa convention ; le responsable d'habilitations gère les groupes
# dont il est responsable (droit objet « gerer_groupe » ET groupe effectif ce jour) et tous
# leurs sous-groupes, et les seuls utilisateurs qui y appartiennent, hors administrateurs ;
# l'agent de la Caf pivot et la supervision nationale lisent sans rien modifier.

PERMISSION_GERER_GROUPE = "habilitations.gerer_groupe"


def groupes_responsable(user: Utilisateur, jour: datetime.date | None = None) -> QuerySet[Groupe]:
    """Les groupes dont l'utilisateur est responsable ce jour : droit objet guardian ET faits
    datés (groupe effectif, compte ouvert)."""
    jour = jour or aujourdhui()
    if not user.is_authenticated or not user.est_ouvert(jour) or user.organisme_id is None:
        return Groupe.objects.none()
    droit = q_droit_objet(user, Groupe, PERMISSION_GERER_GROUPE.split(".")[1])
    return Groupe.objects.effectifs(jour).filter(droit, responsable=user)


@dataclass(frozen=True)
class Perimetre:
    """Ce qu'un utilisateur peut faire dans une convention (voir ``perimetre``)."""

    convention: Convention
    administrateur: bool = False
    lecture_seule: bool = False
    racines: tuple[str, ...] = ()

    @property
    def responsable(self) -> bool:
        return not self.administrateur and bool(self.racines)

    @property
    def peut_ecrire(self) -> bool:
        return self.administrateur or self.responsable

    @property
    def gere_les_comptes(self) -> bool:
        """Clôturer ou rouvrir un compte (suspendu compris) : l'administrateur seul ; le
        responsable ouvre et clôt des appartenances, pas des comptes."""
        return self.administrateur

    def peut_modifier_profils(self, groupe: Groupe) -> bool:
        """Donner ou retirer des habilitations à ce groupe : l'administrateur, pour tout groupe de
        sa convention ; le responsable, pour les seuls sous-groupes de ses groupes (les profils de
        son propre groupe lui viennent de l'administrateur : sinon il pourrait s'accorder ce que
        la convention n'a confié qu'à d'autres)."""
        if self.administrateur:
            return True
        return self.responsable and any(
            groupe.chemin.startswith(racine) and groupe.chemin != racine for racine in self.racines
        )


def _compte_temoin(pk: int) -> Utilisateur:
    """Un compte réduit à sa clé, ouvert depuis toujours, partenaire : de quoi construire les
    requêtes de ``conventions_administrees`` et ``groupes_responsable`` (qui ne lisent du compte
    que sa clé) sans leurs refus écrits en Python, que ``perimetre`` pose lui-même sur le vrai
    compte."""
    return Utilisateur(pk=pk, date_ouverture=datetime.date.min, caf_id=None, organisme_id=0)


def _administree(pk: int, convention: int, jour: datetime.date) -> QuerySet[Convention]:
    return conventions_administrees(_compte_temoin(pk), jour).filter(pk=convention).values_list("pk")


def _racines(pk: int, convention: int, jour: datetime.date) -> QuerySet[Groupe]:
    return groupes_responsable(_compte_temoin(pk), jour).filter(convention=convention).values_list("chemin")


# Compilées une fois par processus (portail.socle.requetes) : chaque page de « Gestion des
# habilitations » pose ces deux questions, et assembler leurs sous-requêtes (droits objets,
# mandats, dates) coûtait 2 à 4 ms de processeur par page, plus que PostgreSQL pour y répondre.
_TEMOINS = {
    "pk": (-1001, -1002),
    "convention": (-2001, -2002),
    "jour": (datetime.date(1901, 2, 3), datetime.date(1902, 3, 4)),
}
# Par compte et convention (ses mandats, les groupes dont il est responsable) : préparées.
_ADMINISTREE = RequeteCompilee(_administree, _TEMOINS, preparee=True)
_RACINES = RequeteCompilee(_racines, _TEMOINS, preparee=True)


def perimetre(user: Utilisateur, convention: Convention, jour: datetime.date | None = None) -> Perimetre | None:
    """Le périmètre de l'utilisateur dans la convention, ou None (refus : la vue répond 404).
    L'administrateur : ``conventions_administrees`` ; le responsable : ``groupes_responsable``
    (mêmes requêtes, compilées une fois ; leurs refus sur le compte, posés ici)."""
    if est_agent_caf(user):
        return Perimetre(convention, lecture_seule=True) if convention.caf_id == user.caf_id else None
    if est_superviseur_national(user):
        return Perimetre(convention, lecture_seule=True)
    jour = jour or aujourdhui()
    if not user.is_authenticated or not user.est_ouvert(jour):
        return None
    arguments = {"pk": user.pk, "convention": convention.pk, "jour": jour}
    if not user.caf_id and _ADMINISTREE.lignes(**arguments):
        return Perimetre(convention, administrateur=True)
    if user.organisme_id is None:
        return None
    racines = tuple(chemin for (chemin,) in _RACINES.lignes(**arguments))
    return Perimetre(convention, racines=racines) if racines else None


def groupes_du_perimetre(p: Perimetre) -> QuerySet[Groupe]:
    """Tous les groupes de la convention, ou, pour un responsable, ses groupes et leurs
    sous-groupes (à toute profondeur)."""
    groupes = Groupe.objects.filter(convention=p.convention)
    if not p.responsable:
        return groupes
    condition = Q()
    for chemin in p.racines:
        condition |= Q(chemin__startswith=chemin)
    return groupes.filter(condition)


def q_groupe_du_perimetre(p: Perimetre, champ: str = "groupe") -> Q:
    """La condition « ``champ`` est un groupe du périmètre » (``groupes_du_perimetre``), posée
    sur la jointure plutôt qu'en sous-requête : PostgreSQL part alors de la ligne cherchée (une
    date de clôture, un compte) au lieu de parcourir tous les groupes du pays."""
    condition = Q(**{f"{champ}__convention": p.convention})
    if not p.responsable:
        return condition
    racines = Q()
    for chemin in p.racines:
        racines |= Q(**{f"{champ}__chemin__startswith": chemin})
    return condition & racines


def _administrateurs(convention: Convention) -> QuerySet[Mandat]:
    return Mandat.objects.filter(convention=convention, administrateur=OuterRef("pk"))


def _cles_des_administrateurs(convention: Convention) -> QuerySet[Mandat]:
    """Les comptes administrateurs de la convention (une poignée), lus une fois et comparés par
    hachage (``NOT IN`` ; la clé n'est jamais vide), et non cherchés pour chacun des milliers de
    comptes du sous-arbre d'un responsable."""
    return Mandat.objects.filter(convention=convention).values("administrateur_id")


# Annotation posée par ``conventions_pour_perimetre`` : la convention a-t-elle un administrateur
# (mandat passé, en cours ou à venir) dont le compte a été créé sous une autre convention ?
ADMINISTRATEURS_D_AILLEURS = "administrateurs_d_ailleurs"


def conventions_pour_perimetre(conventions: QuerySet[Convention]) -> QuerySet[Convention]:
    """Les conventions, chacune annotée de ``ADMINISTRATEURS_D_AILLEURS`` (dans la même requête) :
    ``utilisateurs_du_perimetre`` lit alors les comptes d'une convention par le seul index
    (convention, tri) quand tous ses administrateurs sont des siens, le cas ordinaire."""
    d_ailleurs = Mandat.objects.filter(convention=OuterRef("pk")).exclude(administrateur__convention=OuterRef("pk"))
    return conventions.annotate(**{ADMINISTRATEURS_D_AILLEURS: Exists(d_ailleurs)})


def utilisateurs_du_perimetre(p: Perimetre) -> QuerySet[Utilisateur]:
    """Les comptes de la convention (créés sous elle, ou ses administrateurs) ; pour un
    responsable, ceux qui appartiennent (ou ont appartenu) à un groupe de son sous-arbre, sans
    les administrateurs.

    « Créés sous elle OU administrateurs » dans une seule condition empêche PostgreSQL de suivre
    l'index (convention, tri) : il lisait et triait les 300 000 comptes du pays pour 25 lignes.
    Quand la convention a été lue par ``conventions_pour_perimetre`` et que ses administrateurs
    sont tous des siens (le cas ordinaire), la condition se réduit à la convention ; sinon elle
    reste entière (juste, plus lente)."""
    comptes = Utilisateur.objects.filter(convention=p.convention)
    if p.responsable:
        # Un administrateur n'est jamais dans la vue d'un responsable.
        membres = Appartenance.objects.filter(utilisateur=OuterRef("pk"), groupe__in=groupes_du_perimetre(p))
        return comptes.filter(Exists(membres)).exclude(pk__in=_cles_des_administrateurs(p.convention))
    if not _comptes_de_la_convention_seule(p):
        return Utilisateur.objects.filter(Q(convention=p.convention) | Exists(_administrateurs(p.convention)))
    return comptes


def _comptes_de_la_convention_seule(p: Perimetre) -> bool:
    """Les comptes du périmètre sont exactement ceux créés sous la convention : pas un
    responsable, et tous les administrateurs de la convention sont des siens (lu par
    ``conventions_pour_perimetre`` ; inconnu : non)."""
    return not p.responsable and not getattr(p.convention, ADMINISTRATEURS_D_AILLEURS, True)


def q_utilisateur_du_perimetre(p: Perimetre, champ: str = "utilisateur") -> Q:
    """La condition « ``champ`` est un compte du périmètre » (``utilisateurs_du_perimetre``).
    Dans le cas ordinaire (``_comptes_de_la_convention_seule``), posée sur la jointure du compte :
    PostgreSQL lit chaque compte une fois, au lieu d'une fois pour la jointure et une fois pour
    la sous-requête (1 854 appartenances des échéances d'une grande commune : 3 ms) ; sinon la
    sous-requête entière."""
    if _comptes_de_la_convention_seule(p):
        return Q(**{f"{champ}__convention": p.convention})
    return Q(**{f"{champ}__in": utilisateurs_du_perimetre(p)})


def q_membre_du_perimetre(p: Perimetre, champ: str = "utilisateur") -> Q:
    """Sur les appartenances d'un groupe **déjà trouvé dans le périmètre** (``groupe_ou_404``) :
    le membre ``champ`` est un compte du périmètre (``utilisateurs_du_perimetre``). Son
    appartenance à ce groupe remplit déjà, pour un responsable, « membre d'un groupe de son
    sous-arbre » ; restent la convention du compte (ou, pour l'administrateur, « administrateur de
    la convention » quand elle en a venus d'ailleurs) et, pour le responsable, « pas administrateur
    de la convention ».

    Posée sur la jointure du membre et non en sous-requête des comptes du périmètre : PostgreSQL
    calculait ce périmètre entier (les 5 000 comptes du sous-arbre d'un responsable, les 50 000 de
    la convention) pour garder les 34 membres du groupe ; les clés des administrateurs (une poignée)
    sont lues une fois et comparées par hachage (``NOT IN``), pas cherchées pour chaque membre."""
    convention = p.convention
    condition = Q(**{f"{champ}__convention": convention})
    if p.responsable:
        return condition & ~Q(**{f"{champ}_id__in": _cles_des_administrateurs(convention)})
    if not _comptes_de_la_convention_seule(p):
        mandats = Mandat.objects.filter(convention=convention, administrateur=OuterRef(f"{champ}_id"))
        return condition | Q(Exists(mandats))
    return condition


def profils_du_perimetre(p: Perimetre, parent: Groupe | None = None) -> QuerySet[Profil]:
    """Les profils qu'on peut donner à un groupe : ceux que la convention accorde, et, sous un
    parent, seulement ceux que le parent détient (la délégation n'accorde jamais plus)."""
    profils = p.convention.profils.all()
    if parent is not None:
        profils = profils.filter(pk__in=parent.profils.values("pk"))
    return profils.select_related("service")


def imports_visibles(p: Perimetre) -> QuerySet[ImportUtilisateurs]:
    """Les imports CSV qu'on peut suivre : ceux de la convention ; pour un responsable, ceux faits
    dans un groupe de son sous-arbre (un import sans groupe ou dans un autre groupe concerne des
    comptes qu'il ne voit pas)."""
    visibles = ImportUtilisateurs.objects.filter(convention=p.convention)
    if p.responsable:
        visibles = visibles.filter(groupe__in=groupes_du_perimetre(p))
    return visibles


def peut_lire_journal(p: Perimetre) -> bool:
    """Le « Journal des actes » : l'administrateur et les lecteurs de la Caf (agent de la Caf
    pivot, supervision nationale). Pas le responsable d'habilitations : il y verrait des actes
    hors de son périmètre (la vue lui répond 404, comme à tout autre)."""
    return p.administrateur or p.lecture_seule


def peut_cloturer_compte(p: Perimetre, cible: Utilisateur) -> bool:
    """Proposer « Clôturer » un compte : l'administrateur seul (``gere_les_comptes``), pour un
    compte ni clôturé ni suspendu (un compte suspendu se rouvre d'abord)."""
    return p.gere_les_comptes and not cible.est_cloture() and not cible.est_suspendu


def peut_rouvrir_compte(p: Perimetre, cible: Utilisateur) -> bool:
    """Proposer « Rouvrir » un compte : l'administrateur seul, pour un compte clôturé (ou dont la
    clôture est programmée) ou suspendu pour inactivité."""
    return p.gere_les_comptes and (cible.date_cloture is not None or cible.est_suspendu)


# --- Son propre accès ------------------------------------------------------------------------
#
# Personne n'accorde, ne prolonge ni ne rouvre son propre accès, quel que soit l'écran : ni
# s'ajouter à un groupe, ni reculer ou effacer la date de clôture de son appartenance, ni rouvrir
# son compte, ni donner un profil à un groupe dont on est membre. Sinon un responsable dont
# l'administrateur a clos l'appartenance s'y remet aussitôt (issue 10, point 1). Se retirer un
# accès reste permis. Les services posent la question à chaque acte ; ``par=None`` est le
# système (tâches, import technique, démonstration). Se nommer responsable d'un nouveau groupe
# de son périmètre reste permis : on y gère déjà tout.


def peut_accorder_acces(par: Utilisateur | None, cible: Utilisateur) -> bool:
    """``par`` peut-il ouvrir, prolonger ou rouvrir un accès (appartenance, compte) de ``cible`` ?
    Jamais le sien."""
    return par is None or par.pk != cible.pk


def peut_accorder_profil_au_groupe(par: Utilisateur | None, groupe: Groupe) -> bool:
    """``par`` peut-il donner un profil à ce groupe ? Pas s'il en est membre aujourd'hui ou à
    une date à venir : le profil lui reviendrait."""
    if par is None:
        return True
    jour = aujourdhui()
    return not (
        Appartenance.objects.filter(groupe=groupe, utilisateur_id=par.pk).filter(q_pas_encore_cloture(jour)).exists()
    )


def etend_la_periode(
    avant: tuple[datetime.date, datetime.date | None], apres: tuple[datetime.date, datetime.date | None]
) -> bool:
    """La période ``apres`` déborde-t-elle de ``avant`` (ouverture plus tôt, clôture plus tard ou
    effacée) ? Raccourcir n'étend rien."""
    (debut_avant, fin_avant), (debut_apres, fin_apres) = avant, apres
    if debut_apres < debut_avant:
        return True
    if fin_avant is None:
        return False
    return fin_apres is None or fin_apres > fin_avant
