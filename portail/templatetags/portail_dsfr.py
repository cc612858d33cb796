"""Ce que la mise en page écrit une seule fois pour tous les gabarits : l'heure au format des
guides (« 09h04 ») et le résumé des erreurs d'un formulaire refusé."""

import datetime

from django import template
from django.forms import BaseForm
from django.utils import timezone
from django.utils.functional import LazyObject

from portail.socle.csv import texte_cellule

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
    """« 30/11/2026 à 09h04 », à l'heure de Paris (``portail.socle.csv.texte_cellule``)."""
    return texte_cellule(valeur) if valeur else ""


@register.simple_tag(takes_context=True)
def formulaires_en_erreur(context: template.Context) -> list[BaseForm]:
    """Les formulaires de la page déjà validés et refusés, quel que soit leur nom dans le contexte
    (``form``, ``assigner``…) : la mise en page en tire le résumé des erreurs et le préfixe
    « Erreur : » du titre. Un formulaire lié mais pas encore validé n'est pas validé ici (sa
    validation peut avoir des effets, l'authentification par exemple)."""
    vus: list[BaseForm] = []
    for valeur in context.flatten().values():
        # Un objet paresseux (menu, utilisateur) n'est pas un formulaire : ne pas l'évaluer (un
        # isinstance sur lui lirait __class__ et lancerait ses requêtes).
        if isinstance(valeur, LazyObject):
            continue
        if isinstance(valeur, BaseForm) and valeur.is_bound and valeur._errors and valeur not in vus:
            vus.append(valeur)
    return vus
