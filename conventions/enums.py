from django.db import models


class EtatConvention(models.TextChoices):
    EN_COURS = "en_cours", "En cours"
    VALIDEE = "validee", "Validée"


class TypeAvenant(models.TextChoices):
    ADMINISTRATEUR = "administrateur", "Changement d'administrateur"
    AUTRE = "autre", "Autre modification"
