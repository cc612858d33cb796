from celery import shared_task

from portail.socle import courriels as services


@shared_task(ignore_result=True)
def envoyer_courriel(courriel_id: int) -> None:
    # Un échec n'est pas relevé ici : le balayage périodique relance avec un délai croissant.
    services.courriel_envoyer(courriel_id=courriel_id)


@shared_task(ignore_result=True)
def relancer_courriels() -> int:
    return services.courriels_relancer()
