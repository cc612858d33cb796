"""Tâches AFAS : minces, prennent des identifiants, idempotentes."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from afas import services
from afas.campagnes import services as campagnes
from afas.financement import statistiques
from afas.habilitations import tableau_de_bord


@shared_task(ignore_result=True)
def relancer_validations() -> int:
    """Chaque heure (beat) : une tâche de relance par demande dont une relance est due."""
    ids = services.validations_a_relancer()
    for validation_id in ids:
        relancer_validation.delay(validation_id)
    return len(ids)


@shared_task(ignore_result=True)
def relancer_validation(validation_id: int) -> int:
    # Livrée deux fois, la seconde ne fait rien : la relance est datée sous verrou.
    return services.validation_relancer(validation_id=validation_id)


# --- Appels de déclaration (afas.campagnes) -----------------------------------------------------


@shared_task(
    name=campagnes.TACHE_DEPLOYER,
    ignore_result=True,
    # Base momentanément injoignable : on reprend plus tard, les lots déjà faits sont sautés.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def deployer_appel(appel_id: int) -> int:
    # Livrée deux fois, la seconde ne crée rien : chaque lot relit sous verrou ce qui existe.
    return campagnes.appel_deployer(appel_id=appel_id)


@shared_task(ignore_result=True)
def relancer_declarations() -> int:
    """Chaque matin (beat) : une tâche de relance par déclaration dont une relance est due."""
    ids = campagnes.declarations_a_relancer()
    for declaration_id in ids:
        relancer_declaration.delay(declaration_id)
    return len(ids)


@shared_task(ignore_result=True)
def relancer_declaration(declaration_id: int) -> int:
    # Livrée deux fois, la seconde ne fait rien : la relance est datée sous verrou.
    return campagnes.declaration_relancer(declaration_id=declaration_id)


@shared_task(ignore_result=True)
def reprendre_appels() -> int:
    """Toutes les 10 minutes (beat) : republie les lancements restés inachevés."""
    ids = campagnes.appels_a_reprendre()
    for appel_id in ids:
        deployer_appel.delay(appel_id)
    return len(ids)


@shared_task(ignore_result=True)
def statistiques_calculer() -> int:
    """Chaque nuit (beat) : le résumé statistique des montants figés (quartiles par Caf et pour
    la nation), que lisent les pages de statistiques. Idempotente : tout est recalculé."""
    return statistiques.statistiques_calculer()


@shared_task(ignore_result=True)
def syntheses_tableaux_de_bord_afas() -> int:
    """Chaque nuit (beat), après les tâches du jour : les lignes AFAS des grandes conventions
    (« Mes tableaux de bord », Accueil AFAS), datées ; voir ``tableau_de_bord.synthese_calculer``."""
    return tableau_de_bord.synthese_calculer()
