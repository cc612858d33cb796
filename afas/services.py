"""Écritures AFAS : activités et lieux (agent Caf), rôles AFAS (partenaire), validation des
approbateurs (Caf pivot) et ses relances. Chaque fonction est l'unique porte de son fait, dans
une transaction, avec sa ligne de journal et ses courriels par la boîte d'envoi."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from afas.enums import DecisionCaf, NatureActivite, RoleAfas, TypeActivite
from afas.models import Activite, HabilitationAfas, LieuImplantation, ValidationApprobateur, membre_declarer
from conventions.models import Convention, Organisme
from conventions.services import mandat_ouvert
from habilitations.models import Utilisateur
from portail.socle.audit import audit_enregistrer
from portail.socle.dates import aujourdhui, verifier_cloture_non_passee, verifier_periode
from portail.socle.emails import courriel_preparer
from portail.socle.erreurs import ErreurMetier

logger = logging.getLogger(__name__)

RELANCES = ((3, "relance_3j_le"), (7, "relance_7j_le"))


def _iso(jour: datetime.date | None) -> str | None:
    return jour.isoformat() if jour else None


def _verifier_nature(type_activite: str, nature: str) -> None:
    if type_activite not in TypeActivite.values:
        raise ErreurMetier("Type d'activité inconnu.", champ="type_activite")
    if nature and nature not in NatureActivite.values:
        raise ErreurMetier("Nature d'activité inconnue.", champ="nature")
    if nature and type_activite != TypeActivite.ALSH:
        raise ErreurMetier("La nature d'activité ne concerne que les accueils de loisirs (ALSH).", champ="nature")
    if type_activite == TypeActivite.ALSH and not nature:
        raise ErreurMetier("La nature d'activité est obligatoire pour un ALSH.", champ="nature")


def _donnees_activite(a: Activite) -> dict[str, Any]:
    return {
        "libelle": a.libelle,
        "numero_equipement": a.numero_equipement,
        "type_activite": a.type_activite,
        "nature": a.nature,
        "date_ouverture": _iso(a.date_ouverture),
        "date_cloture": _iso(a.date_cloture),
    }


def _donnees_lieu(lieu: LieuImplantation) -> dict[str, Any]:
    return {
        "libelle": lieu.libelle,
        "adresse": lieu.adresse,
        "code_postal": lieu.code_postal,
        "commune": lieu.commune,
        "date_ouverture": _iso(lieu.date_ouverture),
        "date_cloture": _iso(lieu.date_cloture),
    }


# --- Activités et lieux (agent Caf) ---------------------------------------------------------


@transaction.atomic
def activite_creer(
    *,
    par: Utilisateur | None,
    organisme: Organisme,
    libelle: str,
    numero_equipement: str,
    type_activite: str,
    nature: str = "",
    date_ouverture: datetime.date,
    date_cloture: datetime.date | None = None,
) -> Activite:
    """Une activité du partenaire ; le numéro d'équipement est unique et ne change plus."""
    _verifier_nature(type_activite, nature)
    verifier_periode(date_ouverture, date_cloture)
    numero = numero_equipement.strip().upper()
    if Activite.objects.filter(numero_equipement=numero).exists():
        raise ErreurMetier("Ce numéro d'équipement est déjà celui d'une autre activité.", champ="numero_equipement")
    activite = Activite.objects.create(
        organisme=organisme,
        libelle=libelle.strip(),
        numero_equipement=numero,
        type_activite=type_activite,
        nature=nature,
        date_ouverture=date_ouverture,
        date_cloture=date_cloture,
    )
    audit_enregistrer(par=par, action="activite_creer", cible=activite, apres=_donnees_activite(activite))
    return activite


@transaction.atomic
def activite_modifier(
    *,
    par: Utilisateur | None,
    activite: Activite,
    libelle: str,
    type_activite: str,
    nature: str,
    date_ouverture: datetime.date,
    date_cloture: datetime.date | None,
) -> Activite:
    """Libellé, type, nature et dates ; le numéro d'équipement reste celui de la création."""
    activite = Activite.objects.select_for_update().get(pk=activite.pk)
    _verifier_nature(type_activite, nature)
    verifier_periode(date_ouverture, date_cloture)
    avant = _donnees_activite(activite)
    activite.libelle = libelle.strip()
    activite.type_activite = type_activite
    activite.nature = nature
    activite.date_ouverture = date_ouverture
    activite.date_cloture = date_cloture
    activite.save()
    audit_enregistrer(
        par=par, action="activite_modifier", cible=activite, avant=avant, apres=_donnees_activite(activite)
    )
    return activite


@transaction.atomic
def activite_cloturer(*, par: Utilisateur | None, activite: Activite, date_cloture: datetime.date) -> Activite:
    """Ferme l'activité à cette date (pas dans le passé) ; ses lieux encore ouverts après cette
    date sont fermés avec elle. Les habilitations cessent d'être effectives d'elles-mêmes."""
    activite = Activite.objects.select_for_update().get(pk=activite.pk)
    verifier_cloture_non_passee(date_cloture)
    verifier_periode(activite.date_ouverture, date_cloture)
    if activite.est_cloture():
        raise ErreurMetier(f"Cette activité est déjà clôturée depuis le {activite.date_cloture:%d/%m/%Y}.")
    avant = _donnees_activite(activite)
    activite.date_cloture = date_cloture
    activite.save(update_fields=["date_cloture"])
    for lieu in activite.lieux.exclude(date_cloture__lte=date_cloture):
        lieu.date_cloture = max(date_cloture, lieu.date_ouverture)
        lieu.save(update_fields=["date_cloture"])
    audit_enregistrer(
        par=par, action="activite_cloturer", cible=activite, avant=avant, apres=_donnees_activite(activite)
    )
    return activite


def _verifier_lieu_dans_activite(activite: Activite, date_ouverture: datetime.date) -> None:
    if date_ouverture < activite.date_ouverture:
        raise ErreurMetier("Le lieu ne peut pas ouvrir avant son activité.", champ="date_ouverture")
    if activite.date_cloture is not None and date_ouverture >= activite.date_cloture:
        raise ErreurMetier("Le lieu ne peut pas ouvrir après la clôture de son activité.", champ="date_ouverture")


@transaction.atomic
def lieu_creer(
    *,
    par: Utilisateur | None,
    activite: Activite,
    libelle: str,
    adresse: str = "",
    code_postal: str = "",
    commune: str = "",
    date_ouverture: datetime.date,
    date_cloture: datetime.date | None = None,
) -> LieuImplantation:
    verifier_periode(date_ouverture, date_cloture)
    _verifier_lieu_dans_activite(activite, date_ouverture)
    lieu = LieuImplantation.objects.create(
        activite=activite,
        libelle=libelle.strip(),
        adresse=adresse.strip(),
        code_postal=code_postal.strip(),
        commune=commune.strip(),
        date_ouverture=date_ouverture,
        date_cloture=date_cloture,
    )
    audit_enregistrer(par=par, action="lieu_creer", cible=lieu, apres=_donnees_lieu(lieu))
    return lieu


@transaction.atomic
def lieu_modifier(
    *,
    par: Utilisateur | None,
    lieu: LieuImplantation,
    libelle: str,
    adresse: str,
    code_postal: str,
    commune: str,
    date_ouverture: datetime.date,
    date_cloture: datetime.date | None,
) -> LieuImplantation:
    lieu = LieuImplantation.objects.select_for_update().select_related("activite").get(pk=lieu.pk)
    verifier_periode(date_ouverture, date_cloture)
    _verifier_lieu_dans_activite(lieu.activite, date_ouverture)
    avant = _donnees_lieu(lieu)
    lieu.libelle, lieu.adresse, lieu.code_postal, lieu.commune = (
        libelle.strip(),
        adresse.strip(),
        code_postal.strip(),
        commune.strip(),
    )
    lieu.date_ouverture, lieu.date_cloture = date_ouverture, date_cloture
    lieu.save()
    audit_enregistrer(par=par, action="lieu_modifier", cible=lieu, avant=avant, apres=_donnees_lieu(lieu))
    return lieu


@transaction.atomic
def lieu_cloturer(*, par: Utilisateur | None, lieu: LieuImplantation, date_cloture: datetime.date) -> LieuImplantation:
    lieu = LieuImplantation.objects.select_for_update().get(pk=lieu.pk)
    verifier_cloture_non_passee(date_cloture)
    verifier_periode(lieu.date_ouverture, date_cloture)
    if lieu.est_cloture():
        raise ErreurMetier(f"Ce lieu est déjà clôturé depuis le {lieu.date_cloture:%d/%m/%Y}.")
    avant = _donnees_lieu(lieu)
    lieu.date_cloture = date_cloture
    lieu.save(update_fields=["date_cloture"])
    audit_enregistrer(par=par, action="lieu_cloturer", cible=lieu, avant=avant, apres=_donnees_lieu(lieu))
    return lieu


# --- Habilitations AFAS (partenaire) --------------------------------------------------------


def _donnees_habilitation(h: HabilitationAfas) -> dict[str, Any]:
    return {
        "utilisateur": h.utilisateur_id,
        "role": h.role,
        "activite": h.activite_id,
        "lieu": h.lieu_id,
        "date_ouverture": _iso(h.date_ouverture),
        "date_cloture": _iso(h.date_cloture),
    }


def _agents_caf(caf_id: int) -> list[Utilisateur]:
    return list(Utilisateur.objects.ouverts().filter(caf_id=caf_id).order_by("pk"))


@transaction.atomic
def habilitation_afas_affecter(
    *,
    par: Utilisateur | None,
    utilisateur: Utilisateur,
    role: str,
    date_ouverture: datetime.date,
    activites: Iterable[Activite] = (),
    lieux: Iterable[LieuImplantation] = (),
) -> list[HabilitationAfas]:
    """Donne un rôle à un utilisateur sur chaque activité (ou, pour le FDA, chaque lieu)
    sélectionné : une habilitation par portée, toutes ou aucune.

    Refus : personne ne s'habilite soi-même ; l'utilisateur doit appartenir, à la date de début,
    à un groupe qui lui donne AFAS-DECLARER dans sa convention ; FDF et Approbateur se donnent
    sur des activités ; les activités et lieux doivent être du partenaire et ouverts à la date de
    début ; le même rôle sur la même portée en même temps est refusé. Un approbateur attend la
    décision de la Caf pivot : la demande est écrite ici, et ses agents sont prévenus."""
    activites, lieux = list(activites), list(lieux)
    jour = aujourdhui()
    if role not in RoleAfas.values:
        raise ErreurMetier("Rôle inconnu.")
    if par is not None and par.pk == utilisateur.pk:
        raise ErreurMetier("Vous ne pouvez pas vous habiliter vous-même.")
    if not activites and not lieux:
        raise ErreurMetier("La sélection d'au moins une activité est obligatoire.")
    if lieux and role != RoleAfas.FDA:
        raise ErreurMetier("Seul le rôle de fournisseur de données d'activité se donne sur des lieux d'implantation.")
    if date_ouverture < jour:
        raise ErreurMetier("La date de début ne peut pas être passée.", champ="date_ouverture")
    # Verrou sur le compte : deux affectations simultanées du même utilisateur passent l'une après
    # l'autre, et la seconde voit la première (doublons refusés).
    utilisateur = Utilisateur.objects.select_for_update().get(pk=utilisateur.pk)
    convention = (
        Convention.objects.select_related("organisme").filter(pk=utilisateur.convention_id).first()
        if utilisateur.convention_id
        else None
    )
    if convention is None or not utilisateur.est_ouvert(date_ouverture):
        raise ErreurMetier("Cet utilisateur n'a pas de compte ouvert dans une convention partenaire.")
    if not membre_declarer(date_ouverture, utilisateur=utilisateur, convention=convention).exists():
        raise ErreurMetier("Cet utilisateur n'appartient pas à un groupe donnant le profil AFAS-DECLARER.")
    portees: list[tuple[Activite, LieuImplantation | None]] = [(a, None) for a in activites]
    portees += [(lieu.activite, lieu) for lieu in lieux]
    creees = []
    for activite, lieu in portees:
        chose = lieu or activite
        if activite.organisme_id != convention.organisme_id:
            raise ErreurMetier(f"« {chose} » n'est pas une activité de ce partenaire.")
        if not chose.est_ouvert(date_ouverture) or not activite.est_ouvert(date_ouverture):
            raise ErreurMetier(f"« {chose} » n'est pas ouvert le {date_ouverture:%d/%m/%Y}.")
        doublon = (
            HabilitationAfas.objects.filter(utilisateur=utilisateur, role=role, activite=activite, lieu=lieu)
            .exclude(validation__decision__in=[DecisionCaf.REFUSEE, DecisionCaf.ANNULEE])
            .chevauchant(date_ouverture, None)
        )
        if doublon.exists():
            raise ErreurMetier(
                f"{utilisateur.get_full_name()} est déjà {RoleAfas(role).label.lower()} pour « {chose} » "
                "à cette période."
            )
        habilitation = HabilitationAfas.objects.create(
            utilisateur=utilisateur,
            convention=convention,
            role=role,
            activite=activite,
            lieu=lieu,
            date_ouverture=date_ouverture,
            cree_par=par if par is not None and par.pk else None,
        )
        audit_enregistrer(
            par=par, action="habilitation_afas_affecter", cible=habilitation, apres=_donnees_habilitation(habilitation)
        )
        if role == RoleAfas.APPROBATEUR:
            _demander_validation(habilitation, par=par, convention=convention)
        creees.append(habilitation)
    return creees


def _demander_validation(habilitation: HabilitationAfas, *, par: Utilisateur | None, convention: Convention) -> None:
    validation = ValidationApprobateur.objects.create(
        habilitation=habilitation,
        caf_id=convention.caf_id,
        demandee_par=par if par and par.pk else None,
        **ValidationApprobateur.champs_copies(habilitation),
    )
    for agent in _agents_caf(convention.caf_id):
        courriel_preparer(
            modele="afas_approbateur_a_valider",
            destinataire=agent.email,
            contexte={"validation": validation, "habilitation": habilitation, "convention": convention},
        )


@transaction.atomic
def habilitation_afas_supprimer(*, par: Utilisateur | None, habilitation: HabilitationAfas) -> HabilitationAfas:
    """Termine l'habilitation aujourd'hui (ou, si elle n'a pas commencé, à sa date de début :
    elle n'aura jamais effet) ; elle passe en Historique, rien n'est effacé. Une demande de
    validation encore en attente est annulée."""
    habilitation = HabilitationAfas.objects.select_for_update().get(pk=habilitation.pk)
    jour = aujourdhui()
    if par is not None and par.pk == habilitation.utilisateur_id:
        raise ErreurMetier("Vous ne pouvez pas supprimer votre propre habilitation.")
    if habilitation.date_cloture is not None and habilitation.date_cloture <= max(jour, habilitation.date_ouverture):
        raise ErreurMetier("Cette habilitation est déjà terminée.")
    avant = _donnees_habilitation(habilitation)
    habilitation.date_cloture = max(jour, habilitation.date_ouverture)
    habilitation.save(update_fields=["date_cloture"])
    annulee = ValidationApprobateur.objects.filter(habilitation=habilitation, decision=DecisionCaf.EN_ATTENTE).update(
        decision=DecisionCaf.ANNULEE, decidee_par=par if par and par.pk else None, decidee_le=timezone.now()
    )
    apres = _donnees_habilitation(habilitation) | ({"validation": DecisionCaf.ANNULEE} if annulee else {})
    audit_enregistrer(par=par, action="habilitation_afas_supprimer", cible=habilitation, avant=avant, apres=apres)
    return habilitation


# --- Validation des approbateurs (Caf pivot) ------------------------------------------------


def _verrouiller_validation(validation: ValidationApprobateur, par: Utilisateur) -> ValidationApprobateur:
    """Relit la demande sous verrou : deux agents qui décident en même temps sont servis l'un
    après l'autre, et le second apprend que la demande est déjà traitée."""
    validation = (
        ValidationApprobateur.objects.select_for_update(of=("self",))
        .select_related("habilitation", "habilitation__utilisateur", "habilitation__activite")
        .get(pk=validation.pk)
    )
    if not (par.caf_id and par.caf_id == validation.caf_id and par.est_ouvert()):
        raise ErreurMetier("Seul un agent de la Caf pivot peut décider de cette demande.")
    if validation.decision != DecisionCaf.EN_ATTENTE:
        raise ErreurMetier(f"Cette demande a déjà été traitée ({validation.get_decision_display().lower()}).")
    return validation


def _prevenir_decision(validation: ValidationApprobateur) -> None:
    """L'approbateur et l'administrateur (et le demandeur, s'il est un autre) sont prévenus."""
    habilitation = validation.habilitation
    destinataires = {habilitation.utilisateur.email}
    mandat = mandat_ouvert(habilitation.convention)
    if mandat is not None:
        destinataires.add(mandat.administrateur.email)
    if validation.demandee_par is not None:
        destinataires.add(validation.demandee_par.email)
    for destinataire in sorted(destinataires):
        courriel_preparer(
            modele="afas_approbateur_decision",
            destinataire=destinataire,
            contexte={"validation": validation, "habilitation": habilitation},
        )


def _decision(validation: ValidationApprobateur) -> dict[str, Any]:
    return {
        "decision": validation.decision,
        "decidee_par": validation.decidee_par_id,
        "decidee_le": validation.decidee_le.isoformat() if validation.decidee_le else None,
        "motif": validation.motif,
    }


@transaction.atomic
def approbateur_valider(*, par: Utilisateur, validation: ValidationApprobateur) -> ValidationApprobateur:
    """La Caf valide : l'habilitation devient active à sa date de début (et pas avant)."""
    validation = _verrouiller_validation(validation, par)
    avant = _decision(validation)
    validation.decision = DecisionCaf.VALIDEE
    validation.decidee_par = par
    validation.decidee_le = timezone.now()
    validation.save(update_fields=["decision", "decidee_par", "decidee_le"])
    audit_enregistrer(
        par=par,
        action="approbateur_valider",
        cible=validation.habilitation,
        avant=avant,
        apres=_decision(validation),
    )
    _prevenir_decision(validation)
    return validation


@transaction.atomic
def approbateur_refuser(*, par: Utilisateur, validation: ValidationApprobateur, motif: str) -> ValidationApprobateur:
    """La Caf refuse, motif obligatoire : l'habilitation se termine (Historique) et garde le motif."""
    motif = (motif or "").strip()
    if not motif:
        raise ErreurMetier("Le motif du refus est obligatoire.", champ="motif")
    validation = _verrouiller_validation(validation, par)
    avant = _decision(validation) | {"date_cloture": _iso(validation.habilitation.date_cloture)}
    validation.decision = DecisionCaf.REFUSEE
    validation.decidee_par = par
    validation.decidee_le = timezone.now()
    validation.motif = motif
    validation.save(update_fields=["decision", "decidee_par", "decidee_le", "motif"])
    habilitation = HabilitationAfas.objects.select_for_update().get(pk=validation.habilitation_id)
    habilitation.date_cloture = max(aujourdhui(), habilitation.date_ouverture)
    habilitation.save(update_fields=["date_cloture"])
    validation.habilitation = habilitation
    audit_enregistrer(
        par=par,
        action="approbateur_refuser",
        cible=habilitation,
        avant=avant,
        apres=_decision(validation) | {"date_cloture": _iso(habilitation.date_cloture)},
    )
    _prevenir_decision(validation)
    return validation


def validations_a_relancer(maintenant: datetime.datetime | None = None) -> list[int]:
    """Les demandes en attente dont une relance (3 ou 7 jours) est due et pas encore faite."""
    maintenant = maintenant or timezone.now()
    ids: set[int] = set()
    for jours, champ in RELANCES:
        ids.update(
            ValidationApprobateur.objects.en_attente()
            .filter(**{f"{champ}__isnull": True, "demandee_le__lte": maintenant - datetime.timedelta(days=jours)})
            .values_list("pk", flat=True)
        )
    return sorted(ids)


@transaction.atomic
def validation_relancer(*, validation_id: int, maintenant: datetime.datetime | None = None) -> int:
    """Relance les agents de la Caf pivot si la demande attend toujours et qu'une relance est due :
    au plus une fois à 3 jours et une fois à 7 jours (la date de relance est écrite avec le
    courriel, sous verrou : une tâche livrée deux fois ne relance pas deux fois). Ne décide
    jamais rien. Renvoie le nombre de relances faites (0 ou 1)."""
    maintenant = maintenant or timezone.now()
    validation = (
        ValidationApprobateur.objects.select_for_update(of=("self",))
        .select_related("habilitation__activite", "habilitation__convention")
        .filter(pk=validation_id)
        .first()
    )
    if validation is None or validation.decision != DecisionCaf.EN_ATTENTE:
        return 0
    dues = [
        (jours, champ)
        for jours, champ in RELANCES
        if getattr(validation, champ) is None and validation.demandee_le <= maintenant - datetime.timedelta(days=jours)
    ]
    if not dues:
        return 0
    # Une seule relance par passage : la plus tardive due (une demande vieille de 8 jours jamais
    # relancée reçoit la relance « 7 jours », et la « 3 jours » est marquée faite).
    jours = dues[-1][0]
    for _, champ in dues:
        setattr(validation, champ, maintenant)
    validation.save(update_fields=[champ for _, champ in dues])
    for agent in _agents_caf(validation.caf_id):
        courriel_preparer(
            modele="afas_approbateur_relance",
            destinataire=agent.email,
            contexte={"validation": validation, "habilitation": validation.habilitation, "jours": jours},
        )
    logger.info("validation %s : relance à %s jours", validation.pk, jours)
    return 1
