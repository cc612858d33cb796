"""L'erreur métier unique du portail : une règle refuse l'opération.

Tout service la lève ; le message est destiné à l'utilisateur, ``champ`` nomme le champ du
formulaire qu'il concerne (``None`` : une erreur d'ensemble, affichée en tête). Les formulaires
la rattachent à ce champ (``form.add_error(exc.champ, exc.message)``), sans jamais lire le texte.
"""

from __future__ import annotations


class ErreurMetier(Exception):
    """Une règle métier refuse l'opération ; rien n'a été écrit."""

    def __init__(self, message: str, *, champ: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.champ = champ

    def __str__(self) -> str:
        return self.message
