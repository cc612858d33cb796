"""Filtres du « Journal des actes » d'une convention : acteur, acte, période, cible.

Le formulaire est en GET : un journal filtré se partage par son adresse, la pagination et
l'export CSV gardent les filtres. Le choix de l'acte ne propose que les actes présents dans le
journal de la convention (une valeur forgée est refusée sous le champ).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from portail.models import EvenementAudit
from portail.socle.dates import valider_plage
from portail.socle.forms import PortailForm


def _champ_date_widget() -> forms.DateInput:
    """Sélecteur de date du navigateur (``type="date"`` envoie AAAA-MM-JJ)."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _debut_du_jour(jour: datetime.date) -> datetime.datetime:
    """Minuit à Paris : le 12/03 du filtre est la journée du 12/03 de l'utilisateur, pas d'UTC."""
    return timezone.make_aware(datetime.datetime.combine(jour, datetime.time.min))


class JournalForm(PortailForm):
    def clean(self) -> dict:
        donnees = super().clean()
        du, au = donnees.get("du"), donnees.get("au")
        if du and au and du > au:
            self.add_error("au", "La date de fin doit être postérieure ou égale à la date de début.")
        return donnees


class JournalFiltre(django_filters.FilterSet):
    acteur = django_filters.CharFilter(label="Acteur (identifiant)", method="filtrer_acteur")
    acte = django_filters.ChoiceFilter(label="Acte", field_name="action", empty_label="Tous les actes")
    du = django_filters.DateFilter(
        label="Du", method="filtrer_du", widget=_champ_date_widget(), validators=[valider_plage]
    )
    au = django_filters.DateFilter(
        label="Au", method="filtrer_au", widget=_champ_date_widget(), validators=[valider_plage]
    )
    cible = django_filters.CharFilter(label="Cible", field_name="cible_libelle", lookup_expr="icontains")

    class Meta:
        model = EvenementAudit
        fields = ["acteur", "acte", "du", "au", "cible"]
        form = JournalForm

    def __init__(self, data=None, *args, actes: Iterable[tuple[str, str]] = (), **kwargs) -> None:
        """``actes`` : (code, libellé) des actes présents, lus une fois par la vue ; la même liste
        valide la valeur reçue et remplit la liste déroulante."""
        super().__init__(data, *args, **kwargs)
        self.filters["acte"].extra["choices"] = list(actes)

    def resultats(self) -> QuerySet[EvenementAudit]:
        """Les actes filtrés ; aucun si un filtre est invalide (période à l'envers, acte forgé) :
        on n'affiche pas une liste qui ne correspond pas à ce que l'utilisateur a demandé."""
        return self.qs if self.is_valid() else self.queryset.none()

    @property
    def actif(self) -> bool:
        """Au moins un filtre renseigné (le message d'une liste vide le dit)."""
        return self.is_bound and any(self.data.get(nom) for nom in self.filters)

    def filtrer_acteur(self, queryset: QuerySet[EvenementAudit], name: str, value: str) -> QuerySet[EvenementAudit]:
        """L'identifiant exact, saisi en minuscules ou avec des espaces comme à la connexion."""
        return queryset.filter(acteur__identifiant=value.strip().upper())

    def filtrer_du(self, queryset: QuerySet[EvenementAudit], name: str, value: datetime.date):
        return queryset.filter(cree_le__gte=_debut_du_jour(value))

    def filtrer_au(self, queryset: QuerySet[EvenementAudit], name: str, value: datetime.date):
        """Jusqu'au jour donné inclus."""
        return queryset.filter(cree_le__lt=_debut_du_jour(value + datetime.timedelta(days=1)))
