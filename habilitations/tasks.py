import datetime
from importlib import import_module

from celery import shared_task
from django.conf import settings

from habilitations import services, verrouillage
from habilitations.administration.import_csv import (
    tasks as tasks_import,  # noqa: F401 (enregistre « habilitations.importer_utilisateurs » auprès du worker)
)
from habilitations.administration.tableaux_de_bord import tableaux


@shared_task(ignore_result=True)
def taches_quotidiennes() -> dict[str, int]:
    """Chaque nuit, après la réconciliation des conventions : droits objets des responsables,
    avis d'échéance des appartenances, comptes inactifs avertis puis suspendus. Les
    vérifications relisent déjà les dates : rien ici n'ouvre ni ne prolonge un accès."""
    accordes, retires = services.droits_groupes_reconcilier()
    avis = services.echeances_notifier()
    avertis, suspendus = services.inactivite_traiter()
    # Ménage : tentatives de connexion qu'axes ne compte plus, sessions expirées (que personne
    # n'effaçait : la table grandissait d'une ligne par connexion).
    tentatives = verrouillage.tentatives_expirees_effacer()
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    return {
        "droits_accordes": accordes,
        "droits_retires": retires,
        "avis_echeance": avis,
        "comptes_avertis": avertis,
        "comptes_suspendus": suspendus,
        "tentatives_expirees_effacees": tentatives,
    }


@shared_task(ignore_result=True)
def mot_de_passe_oublie(identifiant: str, demande_le: str) -> None:
    """« Mot de passe oublié ? » traité hors de la requête : la page répond en temps constant,
    que le compte existe ou non. Idempotent : une livraison en double n'émet rien de plus."""
    services.mot_de_passe_oublie(identifiant=identifiant, demande_le=datetime.datetime.fromisoformat(demande_le))


@shared_task(ignore_result=True)
def syntheses_tableaux_de_bord() -> int:
    """Chaque nuit, après les tâches du jour : les chiffres de profils des grandes conventions
    (« Mes tableaux de bord »), datés ; voir ``tableaux.synthese_profils_calculer``."""
    return tableaux.synthese_profils_calculer()
