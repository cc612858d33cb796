from celery import shared_task

from conventions import services


@shared_task(ignore_result=True)
def reconcilier_droits() -> tuple[int, int]:
    """Chaque nuit : les droits objets suivent les faits datés du jour (mandats commencés ou
    finis, conventions ouvertes ou closes à date, comptes clôturés). Les vérifications relisent
    déjà les dates : cette tâche ne fait que ranger les droits, jamais en ouvrir à tort."""
    return services.droits_reconcilier()
