from django.apps import AppConfig


class HabilitationsConfig(AppConfig):
    name = "habilitations"
    verbose_name = "Identités et habilitations"

    def ready(self) -> None:
        from django.contrib.auth import signals
        from django.contrib.auth.models import update_last_login

        from habilitations import receivers

        # Notre récepteur garde la connexion précédente avant de noter celle-ci.
        signals.user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
        receivers.connecter()
