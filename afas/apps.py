from django.apps import AppConfig


class AfasConfig(AppConfig):
    name = "afas"
    verbose_name = "Aides financières d'action sociale"
