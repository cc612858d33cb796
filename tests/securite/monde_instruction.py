"""Le monde des gardes, partie transmission et instruction (afas.instruction) : ``approbateur``
(validé par la Caf pivot sur ``activite``) transmet, par le vrai service, une déclaration de
``activite`` remplie (``declaration_transmise``, le réel de l'exercice), d'où ``recepisse``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from afas.instruction import services as services_instruction
from tests.afas.declarations.fabrique_instruction import creer_declaration

if TYPE_CHECKING:
    from tests.securite.monde import Monde


def completer(monde: Monde) -> None:
    declaration = creer_declaration(monde.activite)
    monde.recepisse = services_instruction.declaration_transmettre(par=monde.approbateur, declaration=declaration)
    declaration.refresh_from_db()
    monde.declaration_transmise = declaration
