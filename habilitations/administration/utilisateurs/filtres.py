"""Filtres et tri de la « LISTE DES UTILISATEURS » d'une convention, comme dans les guides.

Le formulaire est en GET : une liste filtrée se partage par son adresse et la pagination garde
les filtres. Le choix du groupe ne propose que les groupes du périmètre : un responsable ne peut
ni voir ni viser un groupe hors de son sous-arbre (une valeur forgée est refusée sous le champ).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import django_filters
from django.db import connections
from django.db.models import Count, Max, QuerySet, Sum

from habilitations import perms
from habilitations.models import Appartenance, Utilisateur
from portail.socle.dates import aujourdhui, q_pas_encore_cloture
from portail.socle.forms import PortailForm
from portail.socle.listes import ChoixLongs, FiltreChoixLongs, ListeDeroulanteLongue

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
        self.filters["groupe"].extra["choices"] = choix_des_groupes(perimetre)

    def filtrer_groupe(self, queryset: QuerySet[Utilisateur], name: str, value: str) -> QuerySet[Utilisateur]:
        """Les membres du groupe : appartenance ouverte aujourd'hui ou à venir (pas celles déjà
        closes, que « Gérer l'appartenance » garde en historique)."""
        # Sous-requête non corrélée : les membres du groupe sont lus une fois, pas une fois par
        # compte (un groupe de 10 000 membres resterait sinon parcouru pour chacun).
        membres = Appartenance.objects.filter(groupe_id=value).filter(q_pas_encore_cloture(aujourdhui()))
        return queryset.filter(pk__in=membres.values("utilisateur_id"))


# --- Les choix du groupe, gardés par processus ----------------------------------------------------
#
# Les 2 000 groupes d'une grande commune, relus, mis en forme et écrits en <option> à chaque
# affichage de la liste, coûtaient 6 ms de processeur par page (131 Ko de HTML). Ils sont gardés
# par processus avec l'empreinte des groupes du périmètre, relue à chaque affichage : toujours
# une requête, celle qui lit les groupes la première fois, celle de l'empreinte ensuite (deux la
# seule fois où les groupes ont changé).

_CHOIX_GARDES: OrderedDict[tuple, tuple[tuple, ChoixLongs]] = OrderedDict()
_CHOIX_VERROU = threading.Lock()
# Une entrée par périmètre (convention, racines d'un responsable) : les plus récemment affichés.
CHOIX_GARDES_MAX = 64


def choix_des_groupes(perimetre: Perimetre) -> ChoixLongs:
    """Les groupes du périmètre (« code — libellé », décalés d'un tiret par niveau), dans l'ordre
    de l'arbre ; un responsable n'a que son sous-arbre.

    L'empreinte (nombre, plus grande clé, somme des clés des groupes du périmètre) change avec
    l'ensemble des groupes : un groupe ne s'ajoute que par ``services.groupe_creer`` (ou le
    générateur), avec une clé plus grande que toutes les clés validées, et rien ne le supprime
    (PROTECT, administration en lecture seule). Ce qui est affiché d'un groupe (code, libellé,
    niveau, chemin) ne change jamais : aucun service ne le modifie. Un service qui le ferait
    devrait changer l'empreinte.

    Rien n'est gardé dans une transaction ouverte : ce qu'elle lit peut être annulé, et une clé
    annulée peut resservir sous SQLite (les tests), ce qui laisserait la même empreinte à d'autres
    groupes."""
    groupes = perms.groupes_du_perimetre(perimetre).order_by()
    cle = (groupes.db, perimetre.convention.pk, perimetre.racines if perimetre.responsable else ())
    with _CHOIX_VERROU:
        garde = _CHOIX_GARDES.get(cle)
    if garde is not None:
        # Une seule lecture d'index quand rien n'a changé, la seconde sinon.
        empreinte = tuple(groupes.aggregate(n=Count("pk"), dernier=Max("pk"), somme=Sum("pk")).values())
        if garde[0] == empreinte:
            with _CHOIX_VERROU:
                if cle in _CHOIX_GARDES:
                    _CHOIX_GARDES.move_to_end(cle)
            return garde[1]
    lignes = list(groupes.order_by("chemin").values_list("pk", "code", "libelle", "niveau"))
    choix = ChoixLongs((str(pk), f"{'— ' * (niveau - 1)}{code} — {libelle}") for pk, code, libelle, niveau in lignes)
    if not connections[groupes.db].in_atomic_block:
        # L'empreinte de ce qui vient d'être lu (la même que la requête d'empreinte).
        cles = [pk for pk, _code, _libelle, _niveau in lignes]
        empreinte = (len(cles), max(cles, default=None), sum(cles) if cles else None)
        with _CHOIX_VERROU:
            _CHOIX_GARDES[cle] = (empreinte, choix)
            _CHOIX_GARDES.move_to_end(cle)
            while len(_CHOIX_GARDES) > CHOIX_GARDES_MAX:
                _CHOIX_GARDES.popitem(last=False)
    return choix
