"""Le module d'autorisation d'AFAS : qui déclare, qui approuve, qui valide (à venir).

Le modèle à suivre, comme ``conventions/perms.py`` et ``habilitations/perms.py`` : refus par
défaut, un prédicat nommé par règle, avec une docstring qui dit la règle ; les vues n'appellent
que ces prédicats, et un objet hors périmètre répond 404. Les droits AFAS partent des profils
effectifs du jour (``habilitations.perms.profils_effectifs``) : une appartenance, un groupe ou
une convention clôturés ferment l'accès à leur date, sans tâche à attendre.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from habilitations import perms as habilitations_perms

if TYPE_CHECKING:
    from habilitations.models import Utilisateur

CODE_SERVICE_AFAS = "AFAS"


def peut_ouvrir_afas(user: Utilisateur, jour: datetime.date | None = None) -> bool:
    """Le service AFAS s'ouvre avec au moins un profil effectif AFAS ce jour."""
    return habilitations_perms.profils_effectifs(user, jour).filter(service__code=CODE_SERVICE_AFAS).exists()
