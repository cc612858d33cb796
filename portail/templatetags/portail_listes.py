"""En-têtes de colonnes triables : un lien qui garde les filtres et inverse l'ordre."""

from django import template
from django.utils.html import format_html

from portail.socle.listes import PARAMETRE_TRI

register = template.Library()


@register.simple_tag(takes_context=True)
def entete_tri(context, libelle: str, champ: str) -> str:
    """``<th>`` dont le lien trie par ``champ`` (puis en sens inverse au second clic), en gardant
    les autres paramètres de la requête et en revenant à la première page."""
    request = context["request"]
    actuel = request.GET.get(PARAMETRE_TRI, "")
    params = request.GET.copy()
    params.pop("page", None)
    if actuel == champ:
        params[PARAMETRE_TRI] = f"-{champ}"
        aria, sens = "ascending", " ▲"
    elif actuel == f"-{champ}":
        params[PARAMETRE_TRI] = champ
        aria, sens = "descending", " ▼"
    else:
        params[PARAMETRE_TRI] = champ
        aria, sens = "none", ""
    return format_html(
        '<th scope="col" aria-sort="{}"><a class="fr-link" href="?{}" title="Trier par {}">{}{}</a></th>',
        aria,
        params.urlencode(),
        libelle.lower(),
        libelle,
        sens,
    )
