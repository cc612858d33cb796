"""Double authentification : TOTP (django-otp) et codes de secours hachés."""

from __future__ import annotations

import base64
import io
import secrets
from typing import TYPE_CHECKING

import qrcode
import qrcode.image.svg
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from habilitations.models import CodeSecours, CodeSecoursDevice, empreinte_code_secours
from portail.socle.audit import audit_enregistrer

if TYPE_CHECKING:
    from habilitations.models import Utilisateur

NOMBRE_CODES_SECOURS = 10
ALPHABET_SECOURS = "abcdefghjkmnpqrstuvwxyz23456789"


def totp_en_attente(utilisateur: Utilisateur) -> TOTPDevice:
    """L'application en cours d'enrôlement (non confirmée), créée au besoin."""
    device = TOTPDevice.objects.filter(user=utilisateur, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=utilisateur, name="Application d'authentification", confirmed=False)
    return device


def qr_code_data_uri(url: str) -> str:
    """Le QR code en SVG, en URI data: (aucun script, aucun style en ligne : compatible CSP)."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=12)
    tampon = io.BytesIO()
    image.save(tampon)
    return "data:image/svg+xml;base64," + base64.b64encode(tampon.getvalue()).decode()


def secret_base32(device: TOTPDevice) -> str:
    brut = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(brut[i : i + 4] for i in range(0, len(brut), 4))


def _tirer_code() -> str:
    brut = "".join(secrets.choice(ALPHABET_SECOURS) for _ in range(10))
    return f"{brut[:5]}-{brut[5:]}"


@transaction.atomic
def codes_secours_generer(*, utilisateur: Utilisateur) -> list[str]:
    """Remplace les codes de secours de l'utilisateur par dix nouveaux, montrés une seule fois."""
    device, _ = CodeSecoursDevice.objects.get_or_create(
        user=utilisateur, defaults={"name": "Codes de secours", "confirmed": True}
    )
    device.codes.all().delete()
    codes = [_tirer_code() for _ in range(NOMBRE_CODES_SECOURS)]
    CodeSecours.objects.bulk_create(CodeSecours(device=device, empreinte=empreinte_code_secours(c)) for c in codes)
    audit_enregistrer(par=utilisateur, action="codes_secours_generer", cible=utilisateur)
    return codes


@transaction.atomic
def totp_confirmer(*, utilisateur: Utilisateur, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirme l'application si le code est bon ; remplace les anciennes applications et
    renvoie de nouveaux codes de secours. Renvoie None si le code est faux."""
    if not device.verify_token(code):
        return None
    TOTPDevice.objects.filter(user=utilisateur).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_enregistrer(par=utilisateur, action="double_authentification_activer", cible=utilisateur)
    return codes_secours_generer(utilisateur=utilisateur)


def verifier(utilisateur: Utilisateur, code: str):
    """Le dispositif qui accepte ce code (application, puis codes de secours), ou None."""
    for device in TOTPDevice.objects.filter(user=utilisateur, confirmed=True):
        if device.verify_token(code):
            return device
    for device in CodeSecoursDevice.objects.filter(user=utilisateur, confirmed=True):
        if device.verify_token(code):
            return device
    return None
