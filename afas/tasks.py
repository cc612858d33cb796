"""Tâches AFAS : minces, prennent des identifiants, idempotentes."""

from celery import shared_task

from afas import services
from afas.financement import statistiques


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


@shared_task(ignore_result=True)
def statistiques_calculer() -> int:
    """Chaque nuit (beat) : le résumé statistique des montants figés (quartiles par Caf et pour
    la nation), que lisent les pages de statistiques. Idempotente : tout est recalculé."""
    return statistiques.statistiques_calculer()
