"""Le format des heures des guides, « 09h04 », écrit une seule fois pour tous les gabarits."""

import datetime

from django import template
from django.utils import timezone

from portail.csv import texte_cellule

register = template.Library()


@register.filter
def heure(valeur: datetime.datetime | datetime.time | None) -> str:
    """L'heure au format des guides, « 09h04 », à l'heure de Paris pour un instant daté."""
    if valeur is None or valeur == "":
        return ""
    if isinstance(valeur, datetime.datetime):
        if timezone.is_aware(valeur):
            valeur = timezone.localtime(valeur)
        valeur = valeur.time()
    return f"{valeur.hour:02d}h{valeur.minute:02d}"


@register.filter
def date_heure(valeur: datetime.datetime | None) -> str:
    """« 30/11/2026 à 09h04 », à l'heure de Paris (``portail.csv.texte_cellule``)."""
    return texte_cellule(valeur) if valeur else ""
