"""Filtres et tri de « Consulter les conventions », comme dans les guides.

Le formulaire est en GET : une liste filtrée se partage par son adresse et la pagination garde
les filtres. Le statut « Non clôturés uniquement » s'applique par défaut, même sans paramètre.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import django_filters
from django.db.models import QuerySet

from conventions.enums import EtatConvention
from conventions.models import Convention, TypeOrganisme
from portail.socle.dates import aujourdhui, q_cloture, q_pas_encore_cloture
from portail.socle.forms import PortailForm

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conventions.models import Caf

NON_CLOTURES = "non_clotures"
CLOTURES = "clotures"
TOUS = "tous"
STATUTS = [(NON_CLOTURES, "Non clôturés uniquement"), (CLOTURES, "Clôturés uniquement"), (TOUS, "Tous")]

# Colonnes triables (paramètre GET `tri`, « -champ » pour l'ordre inverse) : liste blanche.
TRIS = ("libelle", "caf__nom", "organisme__raison_sociale", "date_ouverture", "date_cloture", "etat")
TRI_PAR_DEFAUT = ("-date_ouverture", "libelle")


class ConventionFilterSet(django_filters.FilterSet):
    libelle = django_filters.CharFilter(label="Libellé", lookup_expr="icontains")
    type_organisme = django_filters.ModelChoiceFilter(
        label="Type de partenaire",
        field_name="organisme__type_organisme",
        queryset=TypeOrganisme.objects.all(),
        empty_label="Tous",
    )
    statut = django_filters.ChoiceFilter(label="Statut", choices=STATUTS, empty_label=None, method="filtrer_statut")
    caf = django_filters.ChoiceFilter(label="CAF pivot", empty_label="Toutes")
    partenaire = django_filters.CharFilter(
        label="Partenaire", field_name="organisme__raison_sociale", lookup_expr="icontains"
    )
    etat = django_filters.ChoiceFilter(label="Etat", choices=EtatConvention.choices, empty_label="Tous")

    class Meta:
        model = Convention
        fields: list[str] = []
        form = PortailForm

    def __init__(self, data=None, *args, cafs: Iterable[Caf] = (), **kwargs) -> None:
        """``cafs`` : les Caf pivots que l'utilisateur peut voir ; le filtre disparaît s'il n'y
        en a qu'une (l'agent ne voit que la sienne)."""
        data = data.copy() if data is not None else {}
        if not data.get("statut"):
            data["statut"] = NON_CLOTURES
        super().__init__(data, *args, **kwargs)
        cafs = list(cafs)
        if len(cafs) > 1:
            self.filters["caf"].extra["choices"] = [(str(caf.pk), caf.nom) for caf in cafs]
        else:
            del self.filters["caf"]

    def filtrer_statut(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Non clôturées : ouvertes aujourd'hui ou pas encore ouvertes ; clôturées : date de
        clôture atteinte."""
        jour = aujourdhui()
        if value == NON_CLOTURES:
            return queryset.filter(q_pas_encore_cloture(jour))
        if value == CLOTURES:
            return queryset.filter(q_cloture(jour))
        return queryset
