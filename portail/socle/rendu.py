"""Le moteur de rendu des formulaires du portail (``FORM_RENDERER``).

C'est celui de Django (``TemplatesSetting`` : les gabarits du projet, de django-dsfr, puis ceux
de Django), à une exception près : la liste déroulante (``django/forms/widgets/select.html``)
s'écrit en Python, au caractère près comme le gabarit. Le gabarit de Django inclut un petit
gabarit par option, et une liste de filtres aux cent Caf du pays passait là plus du tiers du
processeur de « Consulter les conventions » de la supervision nationale (ticket 11). Les
valeurs que le gabarit mettrait en forme autrement que par ``str`` (un nombre en libellé, que
la localisation écrirait « 1 000 ») repassent par le gabarit. tests/socle/test_rendu.py compare
les deux rendus.
"""

from __future__ import annotations

from typing import Any

from django.forms.renderers import TemplatesSetting
from django.utils.functional import Promise
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, mark_safe

GABARIT_SELECT = "django/forms/widgets/select.html"
GABARIT_OPTION = "django/forms/widgets/select_option.html"


def _texte(valeur: Any) -> str:
    """``{{ valeur|stringformat:'s' }}`` : ``str`` puis échappement, sauf texte déjà sûr."""
    return valeur if isinstance(valeur, SafeData) else conditional_escape(str(valeur))


def _attributs(attrs: dict[str, Any]) -> str:
    """``django/forms/widgets/attrs.html`` : ``False`` omet l'attribut, ``True`` l'écrit seul."""
    morceaux = []
    for nom, valeur in attrs.items():
        if valeur is False:
            continue
        if valeur is True:
            morceaux.append(f" {conditional_escape(nom)}")
        else:
            morceaux.append(f' {conditional_escape(nom)}="{_texte(valeur)}"')
    return "".join(morceaux)


def _simple(valeur: Any) -> bool:
    """Un libellé que ``{{ }}`` écrirait tel que ``str`` l'écrit (texte, texte traduisible)."""
    return isinstance(valeur, str | Promise)


def ecrire_select(widget: dict[str, Any]) -> str | None:
    """Le texte de ``select.html`` pour ce contexte de widget, ou None s'il faut le gabarit
    (une option qui n'est pas celle de ``Select``, un libellé qui n'est pas du texte)."""
    morceaux = [f'<select name="{conditional_escape(widget["name"])}"{_attributs(widget["attrs"])}>']
    for nom_groupe, options, _index in widget["optgroups"]:
        if nom_groupe:
            if not _simple(nom_groupe):
                return None
            morceaux.append(f'\n  <optgroup label="{conditional_escape(nom_groupe)}">')
        for option in options:
            if option.get("template_name") != GABARIT_OPTION or not _simple(option["label"]):
                return None
            morceaux.append(
                f'\n  <option value="{_texte(option["value"])}"{_attributs(option["attrs"])}>'
                f"{conditional_escape(option['label'])}</option>\n"
            )
        if nom_groupe:
            morceaux.append("\n  </optgroup>")
    morceaux.append("\n</select>")
    return "".join(morceaux).strip()


class RenduFormulaires(TemplatesSetting):
    """``TemplatesSetting``, la liste déroulante écrite en Python (voir le module)."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        if template_name == GABARIT_SELECT:
            texte = ecrire_select(context["widget"])
            if texte is not None:
                return mark_safe(texte)  # noqa: S308 (chaque valeur est échappée ci-dessus)
        return super().render(template_name, context, request)
