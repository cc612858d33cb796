from django import forms
from dsfr.forms import DsfrBaseForm


class PortailFormMixin(DsfrBaseForm):
    """Formulaires au gabarit DSFR ; champs obligatoires marqués d'un astérisque comme dans les
    guides. (Évite l'avertissement transitoire de django-dsfr sur DSFR_MARK_OPTIONAL_FIELDS.)"""

    def get_context(self) -> dict:
        context = forms.Form.get_context(self)
        context.setdefault("DSFR_MARK_OPTIONAL_FIELDS", False)
        return context


class PortailForm(PortailFormMixin, forms.Form):
    pass
