"""Filtres et tri de la « LISTE DES UTILISATEURS » d'une convention, comme dans les guides.

Le formulaire est en GET : une liste filtrée se partage par son adresse et la pagination garde
les filtres. Le choix du groupe ne propose que les groupes du périmètre : un responsable ne peut
ni voir ni viser un groupe hors de son sous-arbre (une valeur forgée est refusée sous le champ).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import django_filters
from django.db.models import QuerySet

from habilitations import perms
from habilitations.models import Appartenance, Utilisateur
from portail.socle.dates import aujourdhui, q_pas_encore_cloture
from portail.socle.forms import PortailForm
from portail.socle.listes import FiltreChoixLongs, ListeDeroulanteLongue

if TYPE_CHECKING:
    from habilitations.perms import Perimetre

# Colonnes triables (paramètre GET `tri`, « -champ » pour l'ordre inverse) : liste blanche.
TRIS = ("identifiant", "nom", "prenom", "date_ouverture", "date_cloture")
TRI_PAR_DEFAUT = ("nom", "prenom")


class UtilisateurFiltre(django_filters.FilterSet):
    identifiant = django_filters.CharFilter(label="Identifiant", lookup_expr="icontains")
    nom = django_filters.CharFilter(label="Nom", lookup_expr="icontains")
    prenom = django_filters.CharFilter(label="Prénom", lookup_expr="icontains")
    # Des choix (clé, libellé) lus une fois dans __init__ : la même requête valide la valeur
    # reçue et remplit la liste déroulante.
    groupe = FiltreChoixLongs(
        label="Sélectionner un groupe",
        empty_label="Tous les groupes",
        method="filtrer_groupe",
        widget=ListeDeroulanteLongue,
    )

    class Meta:
        model = Utilisateur
        fields = ["identifiant", "nom", "prenom", "groupe"]
        form = PortailForm

    def __init__(self, data=None, *args, perimetre: Perimetre, **kwargs) -> None:
        super().__init__(data, *args, **kwargs)
        groupes = perms.groupes_du_perimetre(perimetre).order_by("chemin")
        self.filters["groupe"].extra["choices"] = [
            (str(pk), f"{'— ' * (niveau - 1)}{code} — {libelle}")
            for pk, code, libelle, niveau in groupes.values_list("pk", "code", "libelle", "niveau")
        ]

    def filtrer_groupe(self, queryset: QuerySet[Utilisateur], name: str, value: str) -> QuerySet[Utilisateur]:
        """Les membres du groupe : appartenance ouverte aujourd'hui ou à venir (pas celles déjà
        closes, que « Gérer l'appartenance » garde en historique)."""
        # Sous-requête non corrélée : les membres du groupe sont lus une fois, pas une fois par
        # compte (un groupe de 10 000 membres resterait sinon parcouru pour chacun).
        membres = Appartenance.objects.filter(groupe_id=value).filter(q_pas_encore_cloture(aujourdhui()))
        return queryset.filter(pk__in=membres.values("utilisateur_id"))
