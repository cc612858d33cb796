from typing import Any

from django import forms
from dsfr.forms import DsfrBaseForm

from portail.socle.dates import valider_plage
from portail.socle.erreurs import ErreurMetier

# Les gabarits de django-dsfr pour les radios et cases chargent widget_tweaks, que le projet
# n'installe pas : ces champs ont les leurs, au même balisage DSFR (gabarits restés sous conventions/).
GABARIT_RADIOS = "conventions/_gestion_champ_radios.html"
GABARIT_CASE = "conventions/_gestion_champ_case.html"


def champ_date(libelle: str, *, requis: bool = True, **kwargs: Any) -> forms.DateField:
    """Date saisie par le sélecteur du navigateur (``type="date"`` envoie AAAA-MM-JJ)."""
    return forms.DateField(
        label=libelle,
        required=requis,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Saisissez une date valide."},
        validators=[valider_plage],
        **kwargs,
    )


class PortailFormMixin(DsfrBaseForm):
    """Formulaires au gabarit DSFR ; champs obligatoires marqués d'un astérisque comme dans les
    guides. (Évite l'avertissement transitoire de django-dsfr sur DSFR_MARK_OPTIONAL_FIELDS.)"""

    def renommer(self, **libelles: str | tuple[str, str]) -> None:
        """Change libellés (et aides) après l'initialisation : django-dsfr a déjà construit les
        champs liés, qu'on oublie pour qu'ils reprennent les nouveaux textes."""
        for nom, valeur in libelles.items():
            libelle, aide = valeur if isinstance(valeur, tuple) else (valeur, None)
            self.fields[nom].label = libelle
            if aide is not None:
                self.fields[nom].help_text = aide
        self._bound_fields_cache.clear()

    def get_context(self) -> dict:
        context = forms.Form.get_context(self)
        context.setdefault("DSFR_MARK_OPTIONAL_FIELDS", False)
        return context


class PortailForm(PortailFormMixin, forms.Form):
    pass


def refus_afficher(form: forms.Form, exc: ErreurMetier, **alias: str) -> None:
    """Affiche le refus d'un service sous le champ qu'il nomme (``exc.champ``), ou en tête du
    formulaire s'il n'en nomme pas ou si le formulaire n'a pas ce champ. ``alias`` traduit un
    champ métier pour un écran : sur la fiche d'un groupe, un chevauchement d'appartenance
    (``appartenance``) porte sur le compte choisi (``appartenance="utilisateur"``)."""
    champ = alias.get(exc.champ, exc.champ) if exc.champ else None
    form.add_error(champ if champ in form.fields else None, exc.message)
