"""Les tâches Celery du socle, exposées ici pour la découverte automatique (``portail.tasks``)."""

from portail.socle.courriels import envoyer_courriel, envoyer_courriels, relancer_courriels

__all__ = ["envoyer_courriel", "envoyer_courriels", "relancer_courriels"]
