from django.apps import AppConfig


class AfasConfig(AppConfig):
    name = "afas"
    verbose_name = "Aides financières d'action sociale"

    def ready(self) -> None:
        # Les tâches enregistrées dans chaque processus (web compris) : le lancement d'un appel
        # publie la sienne par son nom (afas.campagnes.services.TACHE_DEPLOYER).
        from afas import tasks  # noqa: F401
