"""Le monde des gardes, partie transmission et instruction (afas.instruction) : un approbateur
validé par la Caf pivot (``approbateur``, hors des personas : il n'est l'acteur que d'un envoi),
et une déclaration de ``activite`` remplie puis transmise par lui (``declaration_transmise``,
avec son ``recepisse``), par les vrais services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django_otp.plugins.otp_totp.models import TOTPDevice

from afas import services as services_afas
from afas.enums import RoleAfas
from afas.instruction import services as services_instruction
from habilitations import services
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.declarations.fabrique_instruction import creer_declaration

if TYPE_CHECKING:
    from tests.securite.monde import Monde


def completer(monde: Monde) -> None:
    approbateur = factories.creer_utilisateur(nom="Bessiere", prenom="Nora", convention=monde.convention)
    services.appartenance_ouvrir(
        par=None, utilisateur=approbateur, groupe=monde.groupe_d, date_ouverture=monde.groupe_d.date_ouverture
    )
    (habilitation,) = services_afas.habilitation_afas_affecter(
        par=monde.administrateur,
        utilisateur=approbateur,
        role=RoleAfas.APPROBATEUR,
        date_ouverture=aujourdhui(),
        activites=[monde.activite],
    )
    services_afas.approbateur_valider(par=monde.agent_caf, validation=habilitation.validation)
    TOTPDevice.objects.get_or_create(user=approbateur, confirmed=True, defaults={"name": "test"})
    declaration = creer_declaration(monde.activite)
    monde.approbateur = approbateur
    monde.recepisse = services_instruction.declaration_transmettre(par=approbateur, declaration=declaration)
    declaration.refresh_from_db()
    monde.declaration_transmise = declaration
