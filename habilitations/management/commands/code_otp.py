"""DEBUG uniquement : affiche le code TOTP courant d'un compte de démonstration."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Affiche le code de double authentification courant d'un identifiant (mode DEBUG uniquement)."

    def add_arguments(self, parser):
        parser.add_argument("identifiant")

    def handle(self, *args, identifiant: str, **options):
        if not settings.DEBUG:
            raise CommandError("Cette commande n'existe qu'en développement (DEBUG).")
        device = TOTPDevice.objects.filter(user__identifiant=identifiant.strip().upper(), confirmed=True).first()
        if device is None:
            raise CommandError("Aucune application d'authentification confirmée pour cet identifiant.")
        code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{code:0{device.digits}d}")
