"""Écritures sur les organismes et les conventions : l'unique porte de chaque fait.

Les écrans, l'administration Django et les données de démonstration passent par ces fonctions.
Chacune s'exécute dans une transaction, vérifie ses règles (``ErreurMetier`` sinon, sans rien
changer), écrit sa trace d'audit et met à jour les droits objets (django-guardian) des
administrateurs quand un fait prend effet le jour même. Les faits datés dans le futur prennent
effet par la tâche quotidienne ``reconcilier_droits`` ; et toute vérification relit les dates,
si bien qu'une tâche en retard ne prolonge jamais un accès.
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from conventions.enums import EtatConvention, TypeAvenant
from conventions.models import Avenant, Caf, Convention, Mandat, Organisme, Profil, TypeOrganisme
from conventions.validators import siret_normaliser, valider_siret
from portail.socle.audit import audit_enregistrer
from portail.socle.dates import (
    aujourdhui,
    periode_valide,
    q_ouvert,
    q_pas_encore_cloture,
    verifier_cloture_non_passee,
    verifier_periode,
    verifier_plage,
)
from portail.socle.droits import aligner
from portail.socle.emails import courriel_preparer
from portail.socle.erreurs import ErreurMetier

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import AbstractBaseUser as Utilisateur  # AUTH_USER_MODEL, d'une couche au-dessus

logger = logging.getLogger(__name__)

PERMISSION_ADMINISTRER = "administrer_convention"


def _date(d: datetime.date | None) -> str | None:
    return d.isoformat() if d else None


# --- Organismes ---------------------------------------------------------------------------


@transaction.atomic
def organisme_enregistrer(
    *,
    par: Utilisateur,
    caf: Caf,
    raison_sociale: str,
    siret: str,
    type_organisme: TypeOrganisme,
    adresse: str = "",
    code_postal: str = "",
    commune: str = "",
) -> Organisme:
    """Enregistre un organisme partenaire rattaché à la Caf de l'agent. Le SIRET est unique :
    un doublon, même simultané, est refusé avec un message."""
    try:
        valider_siret(siret)
    except ValidationError as exc:
        raise ErreurMetier(exc.messages[0]) from exc
    siret = siret_normaliser(siret)
    existant = Organisme.objects.filter(siret=siret).select_related("caf").first()
    if existant is not None:
        raise ErreurMetier(f"Un organisme est déjà enregistré avec ce SIRET ({existant.caf}).")
    organisme = Organisme(
        raison_sociale=raison_sociale.strip(),
        siret=siret,
        type_organisme=type_organisme,
        caf=caf,
        adresse=adresse.strip(),
        code_postal=code_postal.strip(),
        commune=commune.strip(),
    )
    try:
        with transaction.atomic():
            organisme.save()
    except IntegrityError as exc:
        raise ErreurMetier("Un organisme est déjà enregistré avec ce SIRET.") from exc
    audit_enregistrer(
        par=par,
        action="organisme_enregistrer",
        cible=organisme,
        apres={
            "raison_sociale": organisme.raison_sociale,
            "siret": organisme.siret,
            "type_organisme": type_organisme.code,
            "caf": caf.code,
            "adresse": organisme.adresse,
            "code_postal": organisme.code_postal,
            "commune": organisme.commune,
        },
    )
    return organisme


# --- Conventions --------------------------------------------------------------------------


def _verifier_administrateur_possible(
    administrateur: Utilisateur, organisme: Organisme, date_ouverture: datetime.date
) -> None:
    if administrateur.organisme_id != organisme.pk:
        raise ErreurMetier("L'administrateur doit être un utilisateur de l'organisme partenaire.")
    if administrateur.date_cloture is not None:
        raise ErreurMetier(
            f"Le compte {administrateur.identifiant} a une date de clôture : l'administrateur d'une "
            "convention doit avoir un compte sans date de clôture."
        )
    if not administrateur.is_active:
        raise ErreurMetier(f"Le compte {administrateur.identifiant} est désactivé.")


@transaction.atomic
def convention_formaliser(
    *,
    par: Utilisateur,
    organisme: Organisme,
    libelle: str,
    date_ouverture: datetime.date,
    date_cloture: datetime.date | None = None,
    profils: Iterable[Profil],
    administrateur: Utilisateur,
) -> Convention:
    """Formalise une convention entre la Caf de l'agent (pivot) et un organisme de cette Caf.
    L'administrateur est un compte existant de l'organisme (un nouveau compte se crée avec la
    convention par ``habilitations.services.convention_formaliser_avec_administrateur``, la
    couche des comptes). État « En cours » jusqu'à validation."""
    caf = par.caf
    if caf is None:
        raise ErreurMetier("Seul un agent Caf formalise une convention.")
    if organisme.caf_id != caf.pk:
        raise ErreurMetier("Cet organisme n'est pas rattaché à votre Caf.")
    verifier_periode(date_ouverture, date_cloture)
    profils = list(profils)
    if not profils:
        raise ErreurMetier("Accordez au moins un profil d'un service.")
    _verifier_administrateur_possible(administrateur, organisme, date_ouverture)

    convention = Convention.objects.create(
        caf=caf,
        organisme=organisme,
        libelle=libelle.strip(),
        date_ouverture=date_ouverture,
        date_cloture=date_cloture,
        etat=EtatConvention.EN_COURS,
    )
    convention.profils.set(profils)
    Mandat.objects.create(
        convention=convention,
        administrateur=administrateur,
        date_ouverture=date_ouverture,
        date_cloture=date_cloture,
    )
    _rattacher(administrateur, convention)
    audit_enregistrer(
        par=par,
        action="convention_formaliser",
        cible=convention,
        apres={
            "libelle": convention.libelle,
            "caf": caf.code,
            "organisme": organisme.siret,
            "date_ouverture": _date(date_ouverture),
            "date_cloture": _date(date_cloture),
            "profils": sorted(p.code for p in profils),
            "administrateur": administrateur.identifiant,
            "etat": convention.etat,
        },
    )
    return convention


def _rattacher(administrateur: Utilisateur, convention: Convention) -> None:
    """Un administrateur créé pour la convention (ou encore sans convention) lui appartient : il
    figure dans la liste de ses utilisateurs."""
    if administrateur.convention_id is None:
        administrateur.convention = convention
        administrateur.save(update_fields=["convention"])


def _verrouiller(convention: Convention) -> Convention:
    """Relit la convention sous verrou de ligne : deux agents qui agissent en même temps sont
    servis l'un après l'autre, et le second voit l'état laissé par le premier."""
    return Convention.objects.select_for_update().get(pk=convention.pk)


@transaction.atomic
def convention_valider(*, par: Utilisateur, convention: Convention) -> Convention:
    """« En cours » → « Validée le … ». Les accès s'ouvrent à la date d'ouverture."""
    convention = _verrouiller(convention)
    if convention.etat == EtatConvention.VALIDEE:
        raise ErreurMetier(f"Cette convention est déjà validée ({convention.get_etat_complet().lower()}).")
    if convention.est_cloture():
        raise ErreurMetier("Cette convention est clôturée : elle ne peut plus être validée.")
    convention.etat = EtatConvention.VALIDEE
    convention.validee_le = aujourdhui()
    convention.save(update_fields=["etat", "validee_le"])
    audit_enregistrer(
        par=par,
        action="convention_valider",
        cible=convention,
        avant={"etat": EtatConvention.EN_COURS},
        apres={"etat": convention.etat, "validee_le": _date(convention.validee_le)},
    )
    droits_reconcilier(conventions=[convention.pk])
    return convention


@transaction.atomic
def convention_cloturer(*, par: Utilisateur, convention: Convention, date_cloture: datetime.date) -> Convention:
    """Fixe la date de clôture (aujourd'hui ou plus tard). À cette date, tout accès que la
    convention ouvrait se ferme : groupes, profils, administrateur (les vérifications relisent la
    date de la convention ; les mandats sont arrêtés à la même date pour l'historique)."""
    convention = _verrouiller(convention)
    jour = aujourdhui()
    verifier_plage(date_cloture, champ="date_cloture")
    verifier_cloture_non_passee(date_cloture)
    if not periode_valide(convention.date_ouverture, date_cloture):
        raise ErreurMetier(
            "La date de clôture doit être postérieure à la date d'ouverture de la convention.", champ="date_cloture"
        )
    if convention.est_cloture(jour):
        raise ErreurMetier(f"Cette convention est déjà clôturée depuis le {convention.date_cloture:%d/%m/%Y}.")
    ancienne = convention.date_cloture
    convention.date_cloture = date_cloture
    convention.save(update_fields=["date_cloture"])
    if ancienne is not None and date_cloture > ancienne:
        # Clôture repoussée : le dernier administrateur reste en fonction jusqu'à la nouvelle date.
        # (Un mandat de période vide, jamais ouvert, n'est pas prolongé.)
        convention.mandats.filter(date_cloture=ancienne, date_ouverture__lt=ancienne).update(date_cloture=date_cloture)
    else:
        # Mandats arrêtés à la date de clôture ; un changement d'administrateur prévu à partir de
        # cette date n'aura jamais lieu : son mandat reste dans l'historique, avec une période vide.
        convention.mandats.filter(date_ouverture__gte=date_cloture).update(date_cloture=F("date_ouverture"))
        convention.mandats.filter(q_pas_encore_cloture(date_cloture), date_ouverture__lt=date_cloture).update(
            date_cloture=date_cloture
        )
    audit_enregistrer(
        par=par,
        action="convention_cloturer",
        cible=convention,
        avant={"date_cloture": _date(ancienne)},
        apres={"date_cloture": _date(date_cloture)},
    )
    droits_reconcilier(conventions=[convention.pk])
    return convention


# --- Avenants -----------------------------------------------------------------------------


def mandat_ouvert(convention: Convention, jour: datetime.date | None = None) -> Mandat | None:
    """Le mandat d'administrateur ouvert ce jour (il y en a au plus un)."""
    return convention.mandats.filter(q_ouvert(jour or aujourdhui())).select_related("administrateur").first()


@transaction.atomic
def avenant_enregistrer(
    *,
    par: Utilisateur,
    convention: Convention,
    type_avenant: str,
    objet: str,
    date_effet: datetime.date,
    administrateur: Utilisateur | None = None,
) -> Avenant:
    """Enregistre un avenant daté. Un changement d'administrateur arrête le mandat en cours à la
    date d'effet et ouvre celui du successeur, un compte existant (un nouveau compte se crée avec
    l'avenant par ``habilitations.services.avenant_enregistrer_avec_administrateur``) : la
    convention a toujours exactement un administrateur, et l'historique reste."""
    convention = _verrouiller(convention)
    jour = aujourdhui()
    if convention.etat != EtatConvention.VALIDEE:
        raise ErreurMetier("Une convention en cours se corrige avant validation ; l'avenant suit la validation.")
    if convention.est_cloture(jour):
        raise ErreurMetier(f"Cette convention est clôturée depuis le {convention.date_cloture:%d/%m/%Y}.")
    verifier_plage(date_effet, champ="date_effet")
    if convention.date_cloture is not None and date_effet >= convention.date_cloture:
        raise ErreurMetier(
            f"La date d'effet doit précéder la clôture de la convention ({convention.date_cloture:%d/%m/%Y}).",
            champ="date_effet",
        )
    if date_effet < convention.date_ouverture:
        raise ErreurMetier("La date d'effet ne peut pas précéder l'ouverture de la convention.", champ="date_effet")
    numero = (convention.avenants.order_by("-numero").values_list("numero", flat=True).first() or 0) + 1
    avant: dict[str, Any] = {}
    apres: dict[str, Any] = {"numero": numero, "type": type_avenant, "objet": objet, "date_effet": _date(date_effet)}

    if type_avenant == TypeAvenant.ADMINISTRATEUR:
        if date_effet < jour:
            raise ErreurMetier(
                "Un changement d'administrateur prend effet aujourd'hui ou à une date future.", champ="date_effet"
            )
        if (
            convention.mandats.filter(date_ouverture__gt=date_effet).exists()
            or convention.mandats.filter(date_ouverture=date_effet, avenant__isnull=False).exists()
        ):
            raise ErreurMetier(
                "Un changement d'administrateur est déjà programmé à cette date ou après : "
                "attendez qu'il ait pris effet.",
                champ="date_effet",
            )
        actuel = mandat_ouvert(convention, date_effet)
        if actuel is None:
            raise ErreurMetier("Aucun administrateur n'est en fonction à cette date.", champ="date_effet")
        if administrateur is None:
            raise ErreurMetier("Choisissez le nouvel administrateur parmi les comptes existants ou créez-en un.")
        if administrateur.pk == actuel.administrateur_id:
            raise ErreurMetier(f"{administrateur.get_full_name()} est déjà l'administrateur de cette convention.")
        _verifier_administrateur_possible(administrateur, convention.organisme, date_effet)
        avant["administrateur"] = actuel.administrateur.identifiant
        apres["administrateur"] = administrateur.identifiant
    elif type_avenant == TypeAvenant.AUTRE:
        administrateur = None
    else:
        raise ErreurMetier("Type d'avenant inconnu.")

    avenant = Avenant.objects.create(
        convention=convention,
        numero=numero,
        type_avenant=type_avenant,
        objet=objet.strip(),
        date_effet=date_effet,
        nouvel_administrateur=administrateur,
        cree_par=par,
    )
    if administrateur is not None:
        # Le mandat en cours s'arrête à la date d'effet. S'il commençait ce jour-là (convention
        # ouverte aujourd'hui, ou pas encore ouverte), sa période devient vide (ouverture =
        # clôture) : il n'est ouvert aucun jour, mais il reste dans l'historique, la base et le PDF.
        actuel.date_cloture = date_effet
        actuel.save(update_fields=["date_cloture"])
        _rattacher(administrateur, convention)
        Mandat.objects.create(
            convention=convention,
            administrateur=administrateur,
            avenant=avenant,
            date_ouverture=date_effet,
            date_cloture=convention.date_cloture,
        )
        contexte = {"convention": convention, "avenant": avenant}
        courriel_preparer(
            modele="administrateur_nomme",
            destinataire=administrateur.email,
            contexte={**contexte, "utilisateur": administrateur},
        )
        courriel_preparer(
            modele="administrateur_remplace",
            destinataire=actuel.administrateur.email,
            contexte={**contexte, "utilisateur": actuel.administrateur, "successeur": administrateur},
        )
    audit_enregistrer(par=par, action="avenant_enregistrer", cible=convention, avant=avant or None, apres=apres)
    if date_effet == jour:
        droits_reconcilier(conventions=[convention.pk])
    return avenant


# --- Droits objets (django-guardian) ------------------------------------------------------


def droits_attendus(jour: datetime.date, conventions: Iterable[int] | None = None) -> set[tuple[int, str]]:
    """(utilisateur, convention) qui doivent détenir « administrer » ce jour : le mandat est
    ouvert, la convention validée et ouverte, le compte ouvert."""
    mandats = Mandat.objects.filter(
        q_ouvert(jour),
        q_ouvert(jour, "convention__"),
        q_ouvert(jour, "administrateur__"),
        convention__etat=EtatConvention.VALIDEE,
    )
    if conventions is not None:
        mandats = mandats.filter(convention_id__in=list(conventions))
    return {(u, str(c)) for u, c in mandats.values_list("administrateur_id", "convention_id")}


def droits_reconcilier(
    *, jour: datetime.date | None = None, conventions: Iterable[int] | None = None
) -> tuple[int, int]:
    """Aligne les droits objets « administrer_convention » sur les faits datés : accorde ceux qui
    manquent, retire ceux qui ne sont plus dus. Renvoie (accordés, retirés). Appelée par les
    services (sur les conventions touchées) et chaque nuit par la tâche beat (sur toutes)."""
    jour = jour or aujourdhui()
    conventions = list(conventions) if conventions is not None else None
    return aligner(
        modele=Convention,
        codename=PERMISSION_ADMINISTRER,
        attendus=droits_attendus(jour, conventions),
        objets=conventions,
        jour_iso=_date(jour),
    )


# --- La règle « exactement un administrateur ouvert » --------------------------------------


def mandats_bloquant_cloture(utilisateur: Utilisateur, date_cloture: datetime.date) -> list[Mandat]:
    """Les mandats que la clôture du compte à cette date laisserait sans administrateur : ceux
    qui courent encore à cette date sur une convention qui, elle, reste ouverte."""
    return list(
        Mandat.objects.filter(administrateur=utilisateur)
        .filter(q_pas_encore_cloture(date_cloture))
        .filter(q_pas_encore_cloture(date_cloture, "convention__"))
        .select_related("convention")
    )
