from django.db import models


class Poste(models.TextChoices):
    SEDENTAIRE = "sedentaire", "Sédentaire"
    ITINERANT = "itinerant", "Itinérant"
