"""Verrouillage des identifiants (django-axes, en base) : une connexion réussie sans échec récent
ne coûte plus de requête à axes (ticket 11 : 15 connexions par seconde et par cœur).

Le gestionnaire d'axes en base fait, à chaque connexion réussie : le nettoyage des tentatives
expirées de tous les comptes (lecture puis suppression, dans une transaction), l'écriture d'un
journal d'accès, la remise à zéro des échecs du compte (lecture puis suppression, dans une
transaction) : sept allers-retours vers PostgreSQL. Ici :

- le journal d'accès d'axes n'est pas écrit (``AXES_DISABLE_ACCESS_LOG``) : le journal du
  portail trace déjà chaque connexion, avec l'adresse (``connexion_reussie``) ;
- la remise à zéro n'a lieu que si le contrôle fait avant le mot de passe (la même requête
  d'axes, qui décide du verrouillage) a trouvé des échecs en cours : sans échec, il n'y a rien
  à remettre à zéro ; avec, le comportement d'axes est gardé tel quel ;
- les tentatives expirées (plus vieilles que ``AXES_COOLOFF_TIME``, qu'axes ne compte déjà plus)
  sont effacées chaque nuit par ``tentatives_expirees_effacer`` plutôt qu'à chaque connexion.

Les échecs, le verrouillage après ``AXES_FAILURE_LIMIT`` échecs et sa durée sont ceux d'axes,
inchangés (tests/habilitations/test_verrouillage.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone

if TYPE_CHECKING:
    from django.http import HttpRequest

# Posé sur la requête par le contrôle d'avant le mot de passe : échecs en cours de l'identifiant.
ATTRIBUT_ECHECS = "portail_echecs_en_cours"


class GestionnaireAxes(AxesDatabaseHandler):
    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        echecs = super().get_failures(request, credentials)
        if request is not None:
            setattr(request, ATTRIBUT_ECHECS, echecs)
        return echecs

    def user_logged_in(self, sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
        if settings.AXES_DISABLE_ACCESS_LOG and getattr(request, ATTRIBUT_ECHECS, None) == 0:
            return
        super().user_logged_in(sender, request, user, **kwargs)


def tentatives_expirees_effacer() -> int:
    """Les tentatives qu'axes ne compte plus (plus vieilles que la durée de verrouillage)."""
    limite = timezone.now() - settings.AXES_COOLOFF_TIME
    nombre, _ = AccessAttempt.objects.filter(attempt_time__lte=limite).delete()
    return nombre
