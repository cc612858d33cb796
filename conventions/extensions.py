"""Ce que les conventions demandent à la couche des comptes, sans l'importer.

``conventions`` est sous ``habilitations`` (contrat « couches » d'import-linter, dans
pyproject.toml) : elle ne l'importe jamais, même dans une fonction. Deux questions lui viennent
pourtant d'au-dessus :

- créer le compte de l'administrateur qu'une convention ou un avenant nomme (identifiant,
  courriels : le métier des comptes) ;
- dire quelles conventions un responsable d'habilitations voit (ses groupes sont des
  habilitations).

``habilitations`` inscrit ses réponses ici au démarrage (``HabilitationsConfig.ready``). Sans
inscription, refus par défaut : aucune convention de plus n'est visible, aucun compte n'est créé.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from portail.socle.erreurs import ErreurMetier

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.db.models import QuerySet

    from conventions.models import Convention

CreerCompte = Callable[..., "AbstractBaseUser"]
ConventionsDeleguees = Callable[["AbstractBaseUser"], "QuerySet[Convention]"]

_inscrits: dict[str, Any] = {}


def inscrire(*, creer_compte: CreerCompte, conventions_deleguees: ConventionsDeleguees) -> None:
    """Appelé une fois, au démarrage, par la couche des comptes."""
    _inscrits["creer_compte"] = creer_compte
    _inscrits["conventions_deleguees"] = conventions_deleguees


def compte_creer(**arguments: Any) -> AbstractBaseUser:
    """Crée un compte partenaire par le service des comptes (dans la transaction de l'appelant)."""
    creer = _inscrits.get("creer_compte")
    if creer is None:
        raise ErreurMetier("La création de comptes n'est pas disponible.")
    return creer(**arguments)


def conventions_deleguees(user: AbstractBaseUser) -> QuerySet[Convention] | None:
    """Les conventions qu'un responsable d'habilitations voit par ses groupes, ou None."""
    deleguees = _inscrits.get("conventions_deleguees")
    return None if deleguees is None else deleguees(user)
