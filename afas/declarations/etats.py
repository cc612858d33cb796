"""Le cycle de vie d'une déclaration, écrit une fois : quels passages d'état existent, et l'unique
fonction qui en fait un (état, date, auteur, commentaire, ligne de journal).

    À saisir → En cours de saisie ⇄ À approuver → Transmise → Validée par la Caf
                                                     ↘ Renvoyée pour correction → En cours de saisie

Qui peut déclencher chaque passage se décide dans ``afas.perms`` ; ce module ne fait que refuser
un passage qui n'existe pas, sur une déclaration déjà verrouillée par l'appelant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from afas.enums import EtatDeclaration as E
from afas.models import Declaration, EvenementDeclaration
from portail.socle.audit import audit_enregistrer
from portail.socle.erreurs import ErreurMetier

if TYPE_CHECKING:
    from habilitations.models import Utilisateur

TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (E.A_SAISIR, E.EN_COURS),
        (E.EN_COURS, E.A_APPROUVER),
        (E.A_APPROUVER, E.EN_COURS),
        (E.A_APPROUVER, E.TRANSMISE),
        (E.TRANSMISE, E.VALIDEE),
        (E.TRANSMISE, E.RENVOYEE),
        (E.RENVOYEE, E.EN_COURS),
    }
)


def transitionner(
    declaration: Declaration, vers: str, *, par: Utilisateur | None, commentaire: str = ""
) -> EvenementDeclaration:
    """Fait passer ``declaration`` (lue sous ``select_for_update`` par l'appelant, dans sa
    transaction) à l'état ``vers`` ; refuse un passage qui n'existe pas."""
    avant = declaration.etat
    if (avant, vers) not in TRANSITIONS:
        raise ErreurMetier(
            f"Cette déclaration est « {E(avant).label} » : elle ne peut pas passer à « {E(vers).label} »."
        )
    maintenant = timezone.now()
    declaration.etat = vers
    declaration.modifiee_le = maintenant
    declaration.save(update_fields=["etat", "modifiee_le"])
    audit_enregistrer(
        par=par,
        action=f"declaration_{vers}",
        cible=declaration,
        avant={"etat": avant},
        apres={"etat": vers, "commentaire": commentaire} if commentaire else {"etat": vers},
    )
    return EvenementDeclaration.objects.create(
        declaration=declaration, etat_avant=avant, etat_apres=vers, par=par, le=maintenant, commentaire=commentaire
    )
