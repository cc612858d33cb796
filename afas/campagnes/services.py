"""Les appels de déclaration de la Caf : lancer un appel (une transaction, une clé d'envoi), créer
ses déclarations par lots (la tâche Celery), relancer à 7 jours et à 1 jour de la date limite ceux
qui n'ont pas transmis.

Idempotence, écrite une fois ici :
- un double envoi du formulaire porte la même ``cle`` : le second rend l'appel du premier ;
- une tâche de création livrée deux fois (ou deux fois en même temps) ne crée rien deux fois :
  chaque lot relit, sous le verrou de l'appel, les déclarations déjà présentes, et la contrainte
  d'unicité (activité, exercice, type) écarte celles qu'un autre appel crée au même instant ;
  les courriels ne partent que pour les déclarations que le lot vient réellement de créer ;
- une relance est datée sous verrou avec son courriel : livrée deux fois, elle part une fois.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from afas.attribution import Q_ACTIVITE_INCOMPLETE, activites_annotees, roles_manquants
from afas.enums import (
    SAISISSABLES,
    EtatDeclaration,
    EtatLancement,
    NatureActivite,
    RoleAfas,
    TypeActivite,
    TypeDeclaration,
)
from afas.models import (
    Activite,
    AppelDeclaration,
    Declaration,
    DonneesActivite,
    DonneesFinancieres,
    EvenementDeclaration,
    HabilitationAfas,
    LieuImplantation,
    declarants,
)
from conventions.models import Convention
from portail.socle.audit import audit_enregistrer
from portail.socle.dates import aujourdhui, verifier_plage
from portail.socle.emails import courriels_preparer
from portail.socle.erreurs import ErreurMetier

if TYPE_CHECKING:
    from habilitations.models import Utilisateur

logger = logging.getLogger(__name__)

#: Le nom de la tâche qui crée les déclarations d'un appel (``afas.tasks.deployer_appel``). La
#: tâche importe ce module ; ce module la publie par son nom (sinon : un cycle d'imports).
TACHE_DEPLOYER = "afas.deployer_appel"
#: Déclarations créées par transaction : la barre de progression avance à chaque lot, et un lot
#: ne tient les verrous que le temps de quelques insertions groupées.
LOT = 500
#: Les lignes montrées avant de confirmer (le nombre total est toujours donné).
APERCU_LIGNES = 50
#: Relances avant la date limite : (jours avant, champ qui la date une fois).
RELANCES = ((7, "relance_7j_le"), (1, "relance_1j_le"))
#: Un lancement pas terminé après ce délai est republié (courtier absent au lancement, worker
#: arrêté) : la reprise ne crée que ce qui manque.
REPRISE_APRES = datetime.timedelta(minutes=15)


def bornes_exercice(jour: datetime.date | None = None) -> tuple[int, int]:
    """Les exercices qu'on peut appeler : le réel de l'an passé (voire d'avant, en retard) jusqu'au
    prévisionnel de l'an prochain (ouvert mi-décembre)."""
    annee = (jour or aujourdhui()).year
    return annee - 3, annee + 1


def numeros_lire(texte: str) -> list[str]:
    """Les numéros d'équipement saisis, séparés par des virgules, des points-virgules, des
    espaces ou des retours à la ligne ; en majuscules, sans doublon, dans l'ordre saisi."""
    vus: dict[str, None] = {}
    for morceau in texte.replace(",", " ").replace(";", " ").split():
        vus.setdefault(morceau.strip().upper(), None)
    return list(vus)


@dataclass(frozen=True)
class Criteres:
    """Les activités concernées : par type et nature parmi les partenaires de la Caf, ou choisies
    par leur numéro d'équipement (``numeros`` non vide)."""

    type_activite: str = ""
    nature: str = ""
    numeros: tuple[str, ...] = ()


def _verifier_criteres(criteres: Criteres) -> None:
    if criteres.type_activite and criteres.type_activite not in TypeActivite.values:
        raise ErreurMetier("Type d'activité inconnu.", champ="type_activite")
    if criteres.nature and criteres.nature not in NatureActivite.values:
        raise ErreurMetier("Nature d'activité inconnue.", champ="nature")
    if criteres.nature and criteres.type_activite not in ("", TypeActivite.ALSH):
        raise ErreurMetier("La nature d'activité ne concerne que les accueils de loisirs (ALSH).", champ="nature")


def activites_concernees(caf_id: int, criteres: Criteres, jour: datetime.date | None = None) -> QuerySet[Activite]:
    """Les activités ouvertes ce jour des partenaires de la Caf qui répondent aux critères. Un
    numéro inconnu, d'une autre Caf ou d'une activité clôturée est refusé (nommé dans le message)."""
    _verifier_criteres(criteres)
    activites = Activite.objects.ouverts(jour or aujourdhui()).filter(organisme__caf_id=caf_id)
    if criteres.numeros:
        activites = activites.filter(numero_equipement__in=criteres.numeros)
        trouves = set(activites.values_list("numero_equipement", flat=True))
        inconnus = [n for n in criteres.numeros if n not in trouves]
        if inconnus:
            raise ErreurMetier(
                "Numéro(s) d'équipement inconnu(s), clôturé(s) ou hors de votre Caf : "
                + ", ".join(n[:20] for n in inconnus[:10])
                + (" …" if len(inconnus) > 10 else ""),
                champ="numeros",
            )
        return activites
    if criteres.type_activite:
        activites = activites.filter(type_activite=criteres.type_activite)
    if criteres.nature:
        activites = activites.filter(nature=criteres.nature)
    return activites


def _deja_declarees(exercice: int, type_declaration: str) -> Exists:
    return Exists(
        Declaration.objects.filter(activite=OuterRef("pk"), exercice=exercice, type_declaration=type_declaration)
    )


def _verifier_appel(
    *, exercice: int, type_declaration: str, date_ouverture: datetime.date, date_limite: datetime.date
) -> None:
    premier, dernier = bornes_exercice()
    if not premier <= exercice <= dernier:
        raise ErreurMetier(f"L'exercice doit être compris entre {premier} et {dernier}.", champ="exercice")
    if type_declaration not in TypeDeclaration.values:
        raise ErreurMetier("Type de déclaration inconnu.", champ="type_declaration")
    verifier_plage(date_ouverture, champ="date_ouverture")
    verifier_plage(date_limite, champ="date_limite")
    if date_limite < aujourdhui():
        raise ErreurMetier("La date limite ne peut pas être passée.", champ="date_limite")
    if date_limite <= date_ouverture:
        raise ErreurMetier("La date limite doit être postérieure à la date d'ouverture.", champ="date_limite")


# --- Avant de confirmer ------------------------------------------------------------------------


@dataclass
class Apercu:
    """Ce que l'agent voit avant de confirmer : combien d'activités, lesquelles ne sont pas prêtes
    (rôles manquants), lesquelles ont déjà leur déclaration (elles seront sautées)."""

    concernees: int = 0
    a_creer: int = 0
    non_pretes: list[Activite] = field(default_factory=list)
    nombre_non_pretes: int = 0
    deja_declarees: list[Declaration] = field(default_factory=list)
    nombre_deja_declarees: int = 0


def appel_apercu(
    *,
    caf_id: int,
    exercice: int,
    type_declaration: str,
    criteres: Criteres,
    jour: datetime.date | None = None,
) -> Apercu:
    """L'aperçu d'un appel, en un nombre fixe de requêtes (les listes sont bornées à
    ``APERCU_LIGNES``). Une activité « pas prête » : personne ne tient ce jour l'un des rôles
    qu'attend l'appel de déclaration (``afas.attribution``, comme la page « Préparation »)."""
    jour = jour or aujourdhui()
    activites = activites_concernees(caf_id, criteres, jour)
    apercu = Apercu(concernees=activites.count())
    if not apercu.concernees:
        raise ErreurMetier(
            "Aucune activité ouverte de votre Caf ne répond à ces critères.",
            champ="numeros" if criteres.numeros else "type_activite",
        )
    membres = declarants(jour, Convention.objects.filter(organisme__in=activites.values("organisme")))
    incompletes = (
        activites_annotees(activites, jour, membres)
        .filter(Q_ACTIVITE_INCOMPLETE)
        .select_related("organisme")
        .order_by("organisme__raison_sociale", "libelle", "pk")
    )
    apercu.nombre_non_pretes = incompletes.count()
    apercu.non_pretes = list(incompletes[:APERCU_LIGNES])
    for activite in apercu.non_pretes:
        tenus = {
            role
            for role, tenu in (
                (RoleAfas.APPROBATEUR, activite.a_approbateur),
                (RoleAfas.FDF, activite.a_fdf),
                (RoleAfas.FDA, activite.a_fda),
            )
            if tenu
        }
        activite.manquants = roles_manquants(tenus, activite.a_lieux)
    deja = (
        Declaration.objects.filter(
            activite__in=activites.values("pk"), exercice=exercice, type_declaration=type_declaration
        )
        .select_related("activite__organisme")
        .order_by("activite__organisme__raison_sociale", "activite__libelle", "pk")
    )
    apercu.nombre_deja_declarees = deja.count()
    apercu.deja_declarees = list(deja[:APERCU_LIGNES])
    apercu.a_creer = apercu.concernees - apercu.nombre_deja_declarees
    return apercu


# --- Lancer ------------------------------------------------------------------------------------


def _donnees_appel(appel: AppelDeclaration) -> dict[str, Any]:
    return {
        "exercice": appel.exercice,
        "type_declaration": appel.type_declaration,
        "type_activite": appel.type_activite,
        "nature": appel.nature,
        "date_ouverture": appel.date_ouverture.isoformat(),
        "date_limite": appel.date_limite.isoformat(),
        "total": appel.total,
    }


def publier_deploiement(appel_id: int) -> None:
    """Confie la création des déclarations à Celery. Courtier absent : l'appel reste « En attente »
    et ``appels_a_reprendre`` le republie au prochain passage de beat."""
    try:
        current_app.tasks[TACHE_DEPLOYER].delay(appel_id)
    except Exception:
        logger.warning("appel %s : publication impossible, reprise au prochain balayage", appel_id, exc_info=True)


@transaction.atomic
def appel_lancer(
    *,
    par: Utilisateur,
    cle: uuid.UUID,
    exercice: int,
    type_declaration: str,
    criteres: Criteres,
    date_ouverture: datetime.date,
    date_limite: datetime.date,
) -> AppelDeclaration:
    """Lance un appel de déclaration de la Caf de ``par`` : l'appel, les activités concernées
    (ouvertes ce jour, sans déclaration de cet exercice et de ce type) figées sur l'appel, la
    ligne de journal ; la tâche qui crée les déclarations est publiée après la validation.

    Refus (rien n'est écrit) : pas agent d'une Caf ; exercice hors des bornes ; date limite passée
    ou pas après l'ouverture ; aucune activité concernée ; toutes déjà déclarées. Un second envoi
    de la même ``cle`` (double clic, page renvoyée) rend l'appel déjà lancé sans rien créer."""
    if not (par.caf_id and par.est_ouvert()):
        raise ErreurMetier("Seul un agent d'une Caf peut lancer un appel de déclaration.")
    existant = AppelDeclaration.objects.filter(cle=cle).first()
    if existant is not None:
        if existant.caf_id != par.caf_id:
            raise ErreurMetier("Ce formulaire a déjà servi : rechargez la page.")
        return existant
    _verifier_appel(
        exercice=exercice, type_declaration=type_declaration, date_ouverture=date_ouverture, date_limite=date_limite
    )
    concernees = activites_concernees(par.caf_id, criteres)
    if not concernees.exists():
        raise ErreurMetier(
            "Aucune activité ouverte de votre Caf ne répond à ces critères.",
            champ="numeros" if criteres.numeros else "type_activite",
        )
    ids = list(
        concernees.exclude(_deja_declarees(exercice, type_declaration))
        .order_by("organisme_id", "pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        raise ErreurMetier(
            "Toutes les activités concernées ont déjà une déclaration de cet exercice et de ce type : "
            "il n'y a rien à créer.",
            champ="exercice",
        )
    try:
        # Point de sauvegarde : deux envois simultanés de la même clé, le second attend le premier
        # puis bute sur l'unicité de ``cle`` ; il rend alors l'appel du premier.
        with transaction.atomic():
            appel = AppelDeclaration.objects.create(
                caf_id=par.caf_id,
                cle=cle,
                exercice=exercice,
                type_declaration=type_declaration,
                type_activite="" if criteres.numeros else criteres.type_activite,
                nature="" if criteres.numeros else criteres.nature,
                date_ouverture=date_ouverture,
                date_limite=date_limite,
                lance_par=par,
                total=len(ids),
            )
    except IntegrityError:
        existant = AppelDeclaration.objects.filter(cle=cle, caf_id=par.caf_id).first()
        if existant is None:
            raise
        return existant
    lien = AppelDeclaration.activites.through
    lien.objects.bulk_create([lien(appeldeclaration_id=appel.pk, activite_id=pk) for pk in ids], batch_size=2000)
    audit_enregistrer(par=par, action="appel_lancer", cible=appel, apres=_donnees_appel(appel))
    transaction.on_commit(lambda: publier_deploiement(appel.pk))
    return appel


# --- Créer les déclarations (tâche) -------------------------------------------------------------


def appel_deployer(*, appel_id: int, lot: int = LOT) -> int:
    """Crée les déclarations de l'appel, par lots (une transaction par lot), puis le marque
    « Terminé ». Renvoie le nombre de déclarations créées par cette exécution (0 pour une livraison
    en double d'un appel terminé ou déjà couvert)."""
    with transaction.atomic():
        appel = AppelDeclaration.objects.select_for_update().filter(pk=appel_id).first()
        if appel is None or appel.etat_lancement == EtatLancement.TERMINE:
            return 0
        if appel.etat_lancement == EtatLancement.EN_ATTENTE:
            appel.etat_lancement = EtatLancement.EN_COURS
            appel.save(update_fields=["etat_lancement"])
    ids = list(appel.activites.order_by("organisme_id", "pk").values_list("pk", flat=True))
    creees = 0
    for debut in range(0, len(ids), lot):
        creees += _lot_creer(appel_id, ids[debut : debut + lot])
    AppelDeclaration.objects.filter(pk=appel_id).exclude(etat_lancement=EtatLancement.TERMINE).update(
        etat_lancement=EtatLancement.TERMINE, termine_le=timezone.now()
    )
    logger.info("appel %s : lancement terminé, %s déclaration(s) créée(s) par cette exécution", appel_id, creees)
    return creees


def _lot_creer(appel_id: int, ids: list[int]) -> int:
    """Un lot, dans sa transaction, sous le verrou de l'appel : les déclarations qui manquent, leurs
    lignes de données d'activité (une par lieu ouvert × nature, ou une pour l'activité), leurs
    données financières, l'événement « créée → À saisir », un courriel récapitulatif par
    approbateur validé et actif, la progression et la ligne de journal."""
    with transaction.atomic():
        appel = AppelDeclaration.objects.select_for_update().get(pk=appel_id)
        jour = aujourdhui()
        existantes = set(
            Declaration.objects.filter(
                activite_id__in=ids, exercice=appel.exercice, type_declaration=appel.type_declaration
            ).values_list("activite_id", flat=True)
        )
        activites = {a.pk: a for a in Activite.objects.filter(pk__in=set(ids) - existantes).select_related("organisme")}
        if not activites:
            return 0
        maintenant = timezone.now()
        Declaration.objects.bulk_create(
            [
                Declaration(
                    appel=appel,
                    activite=activite,
                    caf_id=activite.organisme.caf_id,
                    exercice=appel.exercice,
                    type_declaration=appel.type_declaration,
                    etat=EtatDeclaration.A_SAISIR,
                    date_ouverture=appel.date_ouverture,
                    date_limite=appel.date_limite,
                    creee_le=maintenant,
                    modifiee_le=maintenant,
                )
                for activite in activites.values()
            ],
            # Un autre appel du même exercice et du même type, lancé au même instant, a pu créer
            # l'une d'elles : elle est sautée ici (et ne compte pas parmi celles de cet appel).
            ignore_conflicts=True,
        )
        # Sous le verrou de l'appel, personne d'autre n'écrit ses déclarations : celles de l'appel
        # sur ces activités sont exactement celles que ce lot vient de créer.
        declarations = list(Declaration.objects.filter(appel=appel, activite_id__in=list(activites)).order_by("pk"))
        if not declarations:
            return 0
        lieux: dict[int, list[int]] = defaultdict(list)
        for lieu_id, activite_id in (
            LieuImplantation.objects.ouverts(jour)
            .filter(activite_id__in=[d.activite_id for d in declarations])
            .order_by("libelle", "pk")
            .values_list("pk", "activite_id")
        ):
            lieux[activite_id].append(lieu_id)
        lignes = []
        for declaration in declarations:
            activite = activites[declaration.activite_id]
            nature = activite.nature if activite.type_activite == TypeActivite.ALSH else ""
            for lieu_id in lieux.get(activite.pk) or [None]:
                lignes.append(DonneesActivite(declaration=declaration, lieu_id=lieu_id, nature=nature))
        DonneesActivite.objects.bulk_create(lignes)
        DonneesFinancieres.objects.bulk_create([DonneesFinancieres(declaration=d) for d in declarations])
        EvenementDeclaration.objects.bulk_create(
            [
                EvenementDeclaration(
                    declaration=d,
                    etat_avant="",
                    etat_apres=EtatDeclaration.A_SAISIR,
                    par=appel.lance_par,
                    le=maintenant,
                    commentaire=f"Créée par l'appel de déclaration {appel} de la Caf.",
                )
                for d in declarations
            ]
        )
        _prevenir_approbateurs(appel, declarations, activites, jour)
        AppelDeclaration.objects.filter(pk=appel.pk).update(creees=F("creees") + len(declarations))
        audit_enregistrer(
            par=appel.lance_par,
            action="appel_declarations_creer",
            cible=appel,
            apres={"declarations_creees": len(declarations), "premiere": declarations[0].pk},
        )
        return len(declarations)


def _prevenir_approbateurs(
    appel: AppelDeclaration, declarations: list[Declaration], activites: dict[int, Activite], jour: datetime.date
) -> None:
    """Un courriel par approbateur (actif ce jour, donc validé par la Caf) et par lot, qui liste
    ses déclarations à préparer : un approbateur de 40 activités reçoit un message, pas 40. Les
    activités d'un même partenaire sont dans le même lot (lots ordonnés par partenaire)."""
    par_activite = {d.activite_id: d for d in declarations}
    destinataires: dict[str, list[Activite]] = defaultdict(list)
    for activite_id, email in (
        HabilitationAfas.objects.filter(activite_id__in=list(par_activite), role=RoleAfas.APPROBATEUR)
        .actives(jour)
        .values_list("activite_id", "utilisateur__email")
        .distinct()
        .order_by("utilisateur__email", "activite_id")
    ):
        if email:
            destinataires[email].append(activites[activite_id])
    courriels_preparer(
        [
            {
                "modele": "afas_appel_declaration",
                "destinataire": email,
                "contexte": {"appel": appel, "activites": sorted(liste, key=lambda a: (a.libelle, a.pk))},
            }
            for email, liste in destinataires.items()
        ]
    )


def appels_a_reprendre(maintenant: datetime.datetime | None = None) -> list[int]:
    """Les appels dont le lancement n'est pas terminé longtemps après (courtier absent, worker
    arrêté en cours de route)."""
    maintenant = maintenant or timezone.now()
    return list(
        AppelDeclaration.objects.exclude(etat_lancement=EtatLancement.TERMINE)
        .filter(lance_le__lte=maintenant - REPRISE_APRES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- Relances avant la date limite -------------------------------------------------------------


def declarations_a_relancer(jour: datetime.date | None = None) -> list[int]:
    """Les déclarations pas encore transmises, ouvertes à la saisie, dont la date limite n'est pas
    passée et dont une relance (7 jours ou 1 jour avant) est due et pas encore faite."""
    jour = jour or aujourdhui()
    dues = Q()
    for jours, champ in RELANCES:
        dues |= Q(**{f"{champ}__isnull": True, "date_limite__lte": jour + datetime.timedelta(days=jours)})
    return list(
        Declaration.objects.filter(dues, etat__in=SAISISSABLES, date_limite__gte=jour, date_ouverture__lte=jour)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def declaration_relancer(
    *, declaration_id: int, jour: datetime.date | None = None, maintenant: datetime.datetime | None = None
) -> int:
    """Rappelle la date limite aux approbateurs et fournisseurs de données qui tiennent ce jour un
    rôle actif sur l'activité, si la déclaration n'est pas transmise et qu'une relance est due :
    au plus une fois à 7 jours et une fois à 1 jour (datées sous verrou avec les courriels : une
    tâche livrée deux fois ne relance pas deux fois). Une déclaration jamais relancée à 7 jours et
    déjà à la veille reçoit la seule relance « 1 jour » (les deux sont marquées faites).
    Renvoie le nombre de relances faites (0 ou 1)."""
    jour = jour or aujourdhui()
    maintenant = maintenant or timezone.now()
    declaration = (
        Declaration.objects.select_for_update(of=("self",))
        .select_related("activite__organisme", "appel")
        .filter(pk=declaration_id)
        .first()
    )
    if (
        declaration is None
        or declaration.etat not in SAISISSABLES
        or declaration.date_limite < jour
        or declaration.date_ouverture > jour
    ):
        return 0
    dues = [
        (jours, champ)
        for jours, champ in RELANCES
        if getattr(declaration, champ) is None and declaration.date_limite <= jour + datetime.timedelta(days=jours)
    ]
    if not dues:
        return 0
    for _, champ in dues:
        setattr(declaration, champ, maintenant)
    declaration.save(update_fields=[champ for _, champ in dues])
    destinataires = sorted(
        {
            email
            for email in HabilitationAfas.objects.filter(activite_id=declaration.activite_id)
            .actives(jour)
            .values_list("utilisateur__email", flat=True)
            if email
        }
    )
    restants = (declaration.date_limite - jour).days
    courriels_preparer(
        [
            {
                "modele": "afas_declaration_relance",
                "destinataire": email,
                "contexte": {"declaration": declaration, "activite": declaration.activite, "jours": restants},
            }
            for email in destinataires
        ]
    )
    logger.info("déclaration %s : relance à %s jour(s) de la date limite", declaration.pk, restants)
    return 1
