"""Le module d'autorisation des conventions et des organismes : qui les lit, qui les gère.

Refus par défaut. Les faits datés (convention, mandat, compte) sont relus à chaque question, à
la date du jour : un droit objet en retard ne prolonge jamais un accès. Les habilitations (le
périmètre dans une convention, les groupes) ont leur propre module, ``habilitations/perms.py``,
qui s'appuie sur celui-ci.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, QuerySet

from conventions.enums import EtatConvention
from conventions.models import Convention, Mandat, Organisme
from portail.socle.dates import aujourdhui, q_ouvert
from portail.socle.droits import q_droit_objet

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser as Utilisateur

# --- Organismes et conventions -------------------------------------------------------------
#
# Trois rôles lisent les conventions : l'agent Caf (celles de sa Caf, par le lien structurel de
# son compte), la supervision nationale (permission globale « superviser_national », lecture
# seule) et l'administrateur partenaire (droit objet django-guardian « administrer_convention »,
# accordé et retiré par les services et la tâche quotidienne). Chaque lecture revérifie aussi les
# dates : le droit objet ne suffit jamais seul.

PERMISSION_ADMINISTRER = "conventions.administrer_convention"
PERMISSION_SUPERVISION = "conventions.superviser_national"


def est_agent_caf(user: Utilisateur) -> bool:
    """Agent Caf au compte ouvert ce jour."""
    return bool(user.is_authenticated and user.caf_id and user.est_ouvert())


def est_superviseur_national(user: Utilisateur) -> bool:
    """Supervision nationale (Cnaf) : permission globale, donnée par l'administration technique à
    un compte national (ni agent d'une Caf, ni partenaire : la question ne coûte alors aucune
    requête aux autres)."""
    return bool(
        user.is_authenticated
        and user.caf_id is None
        and user.organisme_id is None
        and user.est_ouvert()
        and user.has_perm(PERMISSION_SUPERVISION)
    )


def conventions_administrees(user: Utilisateur, jour: datetime.date | None = None) -> QuerySet[Convention]:
    """Les conventions que l'utilisateur administre ce jour : droit objet guardian ET faits datés
    (convention validée et ouverte, mandat ouvert, compte ouvert)."""
    jour = jour or aujourdhui()
    if not user.is_authenticated or not user.est_ouvert(jour) or user.caf_id:
        return Convention.objects.none()
    mandats = Mandat.objects.filter(q_ouvert(jour), convention=OuterRef("pk"), administrateur=user)
    droit = q_droit_objet(user, Convention, PERMISSION_ADMINISTRER.split(".")[1])
    return Convention.objects.effectives(jour).filter(Exists(mandats), droit)


def est_administrateur_partenaire(user: Utilisateur) -> bool:
    return conventions_administrees(user).exists()


def conventions_visibles(user: Utilisateur) -> QuerySet[Convention]:
    """Les conventions que l'utilisateur lit par son rôle dans les conventions : refus par défaut
    (queryset vide). L'agent Caf celles de sa Caf, la supervision nationale toutes, un partenaire
    celles qu'il administre ce jour. Un responsable d'habilitations lit aussi les conventions de
    ses groupes : ses groupes sont des habilitations, la couche du dessus ajoute donc ces
    conventions (``habilitations.perms.conventions_consultables``, pour « Consulter les
    conventions »)."""
    if est_agent_caf(user):
        return Convention.objects.filter(caf_id=user.caf_id)
    if est_superviseur_national(user):
        return Convention.objects.all()
    return conventions_administrees(user)


def peut_gerer_convention(user: Utilisateur, convention: Convention) -> bool:
    """Formaliser, valider, clôturer, enregistrer un avenant : un agent de la Caf pivot."""
    return est_agent_caf(user) and convention.caf_id == user.caf_id


def peut_valider_convention(user: Utilisateur, convention: Convention) -> bool:
    """Valider : un agent de la Caf pivot, pour une convention en cours et pas clôturée."""
    return (
        peut_gerer_convention(user, convention)
        and convention.etat == EtatConvention.EN_COURS
        and not convention.est_cloture()
    )


def peut_enregistrer_avenant(user: Utilisateur, convention: Convention) -> bool:
    """Enregistrer un avenant : un agent de la Caf pivot, pour une convention validée (l'avenant
    suit la validation) et pas clôturée."""
    return (
        peut_gerer_convention(user, convention)
        and convention.etat != EtatConvention.EN_COURS
        and not convention.est_cloture()
    )


def peut_cloturer_convention(user: Utilisateur, convention: Convention) -> bool:
    """Clôturer (ou avancer la clôture) : un agent de la Caf pivot, tant qu'elle n'est pas clôturée."""
    return peut_gerer_convention(user, convention) and not convention.est_cloture()


def peut_gerer_organismes(user: Utilisateur) -> bool:
    return est_agent_caf(user)


def peut_gerer_organisme(user: Utilisateur, organisme: Organisme) -> bool:
    """Modifier un organisme, lui formaliser une convention : un agent de la Caf à laquelle il
    est rattaché (la supervision nationale et les agents d'autres Caf le lisent seulement)."""
    return peut_gerer_organismes(user) and organisme.caf_id == user.caf_id


def organismes_visibles(user: Utilisateur) -> QuerySet[Organisme]:
    if est_agent_caf(user):
        return Organisme.objects.filter(caf_id=user.caf_id)
    if est_superviseur_national(user):
        return Organisme.objects.all()
    return Organisme.objects.none()


def agents_visibles(user: Utilisateur) -> QuerySet[Utilisateur]:
    """« Consulter les agents Caf » : les agents de sa propre Caf."""
    comptes = get_user_model().objects
    if est_agent_caf(user):
        return comptes.filter(caf_id=user.caf_id)
    return comptes.none()


def peut_consulter_partenaires(user: Utilisateur) -> bool:
    """Accès aux écrans « Organismes partenaires » (lecture)."""
    return est_agent_caf(user) or est_superviseur_national(user)
