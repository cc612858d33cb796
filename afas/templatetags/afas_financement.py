"""``{% montant_declaration declaration %}`` : le fragment du financement estimé (montant et
étapes, figé ou provisoire) pour la page d'une déclaration et la vue de la Caf, avec la seule
déclaration en contexte (``{% load afas_financement %}``)."""

from django import template

from afas.financement.services import montant_pour_page

register = template.Library()


@register.inclusion_tag("afas/financement/_montant.html")
def montant_declaration(declaration):
    return {"montant": montant_pour_page(declaration)}
