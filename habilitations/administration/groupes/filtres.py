"""Filtres et tri de « Groupes utilisateurs », comme dans les guides (« Filtrer groupe par : »).

Le formulaire est en GET : une liste filtrée se partage par son adresse et la pagination garde
les filtres. Le filtre « Utilisateur » cherche un membre (identifiant ou nom) parmi les seuls
comptes du périmètre : un responsable ne retrouve pas un groupe par le nom d'un administrateur.
"""

from __future__ import annotations

import django_filters
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Collate

from habilitations import perms
from habilitations.models import Appartenance, Groupe
from portail.socle.dates import aujourdhui, q_pas_encore_cloture
from portail.socle.forms import PortailForm

# Colonnes triables (paramètre GET `tri`, « -cle » pour l'ordre inverse) : liste blanche. Sans
# tri demandé, l'ordre est celui de l'arbre (voir ``ordre_arbre``).
TRIS = {
    "code": ("code",),
    "libelle": ("libelle",),
    "niveau": ("niveau",),
    "responsable": ("responsable__nom", "responsable__prenom"),
    "date_ouverture": ("date_ouverture",),
    "date_cloture": ("date_cloture",),
}


def ordre_arbre() -> tuple:
    """L'ordre de l'arbre : ``chemin`` (« /12/45/ ») trié octet par octet met chaque groupe juste
    avant ses sous-groupes (« / » précède les chiffres). Sous PostgreSQL, la collation de la base
    (fr_FR…) ignorerait les « / » : on trie en collation « C ». SQLite compare déjà en binaire."""
    if connection.vendor == "postgresql":
        return (Collate("chemin", "C"),)
    return ("chemin",)


class GroupeFilterSet(django_filters.FilterSet):
    code = django_filters.CharFilter(label="Code", lookup_expr="icontains")
    libelle = django_filters.CharFilter(label="Libellé", lookup_expr="icontains")
    utilisateur = django_filters.CharFilter(
        label="Utilisateur",
        method="filtrer_utilisateur",
        help_text="Identifiant ou nom d'un membre du groupe.",
    )

    class Meta:
        model = Groupe
        fields: list[str] = []
        form = PortailForm

    def __init__(self, data=None, *args, perimetre: perms.Perimetre, **kwargs) -> None:
        self.perimetre = perimetre
        super().__init__(data, *args, **kwargs)

    def filtrer_utilisateur(self, queryset: QuerySet[Groupe], name: str, value: str) -> QuerySet[Groupe]:
        """Les groupes dont un membre (appartenance pas encore clôturée) a cet identifiant ou ce
        nom (fragment, sans tenir compte des majuscules). Une seule requête : sous-requête EXISTS."""
        value = value.strip()
        if not value:
            return queryset
        membres = Appartenance.objects.filter(
            Q(utilisateur__identifiant__icontains=value) | Q(utilisateur__nom__icontains=value),
            groupe=OuterRef("pk"),
            utilisateur__in=perms.utilisateurs_du_perimetre(self.perimetre),
        ).filter(q_pas_encore_cloture(aujourdhui()))
        return queryset.filter(Exists(membres))
