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

import datetime
from typing import TYPE_CHECKING, Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_parameters, get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone

from habilitations.perms import compte_a_la_connexion
from portail.socle.requetes import RequeteCompilee

if TYPE_CHECKING:
    from django.http import HttpRequest

# Posés sur la requête par le contrôle d'avant le mot de passe : échecs en cours de l'identifiant,
# et le compte lu avec eux (``habilitations.perms.CompteALaConnexion``).
ATTRIBUT_ECHECS = "portail_echecs_en_cours"
ATTRIBUT_COMPTE = "portail_compte_a_la_connexion"


def _echecs_recents(identifiant: str, seuil: datetime.datetime):
    return AccessAttempt.objects.filter(username=identifiant, attempt_time__gte=seuil).values_list(
        "failures_since_start"
    )


# La question d'axes (échecs de l'identifiant depuis le début de la durée de verrouillage), compilée
# une fois par processus : construite par l'ORM à chaque connexion, elle coûtait plus de processeur
# Python que son aller-retour vers PostgreSQL (ticket 11, 15 connexions par seconde et par cœur).
_ECHECS_RECENTS = RequeteCompilee(
    _echecs_recents,
    {
        "identifiant": ("\x01TEMOIN-A", "\x01TEMOIN-B"),
        "seuil": (
            datetime.datetime(1901, 2, 3, 4, 5, 6, tzinfo=datetime.UTC),
            datetime.datetime(1902, 3, 4, 5, 6, 7, tzinfo=datetime.UTC),
        ),
    },
    preparee=True,  # par identifiant
)


class GestionnaireAxes(AxesDatabaseHandler):
    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        echecs = self._echecs_par_identifiant(request, credentials)
        if echecs is None:
            echecs = super().get_failures(request, credentials)
        if request is not None:
            setattr(request, ATTRIBUT_ECHECS, echecs)
        return echecs

    @staticmethod
    def _echecs_par_identifiant(request: HttpRequest, credentials: dict | None) -> int | None:
        """Le compte d'axes quand le verrouillage est par identifiant seul (le réglage du portail) :
        la somme des échecs des tentatives de l'identifiant plus récentes que le seuil d'axes, la
        même requête qu'axes, compilée d'avance. ``None`` pour tout autre réglage : axes compte."""
        if request is None or settings.AXES_COOLOFF_TIME is None:
            return None
        identifiant = get_client_username(request, credentials)
        parametres = get_client_parameters(
            identifiant, request.axes_ip_address, request.axes_user_agent, request, credentials
        )
        if parametres != [{"username": identifiant}] or not isinstance(identifiant, str):
            return None
        seuil = get_cool_off_threshold(request)
        # Le compte est lu en même temps (une requête pour toute la connexion) et laissé sur la
        # requête pour le moteur d'authentification (habilitations.backends).
        compte = compte_a_la_connexion(identifiant.strip().upper(), seuil)
        setattr(request, ATTRIBUT_COMPTE, compte)
        if compte.utilisateur is not None and compte.identifiant == identifiant:
            return compte.echecs
        lignes = _ECHECS_RECENTS.lignes(identifiant=identifiant, seuil=seuil)
        return sum(echecs for (echecs,) in lignes)

    def user_logged_in(self, sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
        if settings.AXES_DISABLE_ACCESS_LOG and getattr(request, ATTRIBUT_ECHECS, None) == 0:
            return
        super().user_logged_in(sender, request, user, **kwargs)


def tentatives_expirees_effacer() -> int:
    """Les tentatives qu'axes ne compte plus (plus vieilles que la durée de verrouillage)."""
    limite = timezone.now() - settings.AXES_COOLOFF_TIME
    nombre, _ = AccessAttempt.objects.filter(attempt_time__lte=limite).delete()
    return nombre
