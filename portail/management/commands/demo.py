"""Données de démonstration (`make run`) : idempotent, et tout passe par les fonctions de service.

Noms, adresses et numéros sont inventés.
"""

import base64

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from conventions.enums import EtatConvention
from conventions.models import Caf, Convention, Organisme, Profil, TypeOrganisme
from habilitations import services
from habilitations.models import Utilisateur
from portail.dates import aujourdhui

MOT_DE_PASSE_DEMO = "Bienvenue-sur-le-portail-2026"

TYPES = [
    ("commune", "Commune"),
    ("association", "Association"),
    ("centre-social", "Centre social"),
    ("bailleur", "Bailleur"),
    ("departement", "Département"),
]

COMPTES = [
    # clé, nom, prénom, e-mail, rôle affiché, double authentification
    ("agent", "Verdier", "Aline", "aline.verdier@caf012.example", "Agent Caf (Caf de l'Aveyron)", True),
    ("administrateur", "Castan", "Hugo", "hugo.castan@mairie-roquebrune.example", "Administrateur partenaire", True),
    (
        "responsable",
        "Lacombe",
        "Inès",
        "ines.lacombe@mairie-roquebrune.example",
        "Responsable d'habilitations (groupe T1)",
        True,
    ),
    (
        "declarant",
        "Ferrand",
        "Paul",
        "paul.ferrand@mairie-roquebrune.example",
        "Déclarant AFAS (groupe AFAS-DECLARER)",
        False,
    ),
]


class Command(BaseCommand):
    help = "Charge les données de démonstration et affiche les comptes (mode développement uniquement)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Les données de démonstration ne se chargent qu'en développement (DEBUG).")
        comptes = self._charger()
        self._afficher(comptes)

    @transaction.atomic
    def _charger(self) -> dict[str, Utilisateur]:
        caf, _ = Caf.objects.get_or_create(code="012", defaults={"nom": "Caf de l'Aveyron"})
        Caf.objects.get_or_create(code="006", defaults={"nom": "Caf des Alpes-Maritimes"})
        for code, libelle in TYPES:
            TypeOrganisme.objects.get_or_create(code=code, defaults={"libelle": libelle})
        organisme, _ = Organisme.objects.get_or_create(
            siret="21120199900018",
            defaults={
                "raison_sociale": "Commune de Roquebrune-sur-Aveyron",
                "type_organisme": TypeOrganisme.objects.get(code="commune"),
                "caf": caf,
                "adresse": "1 place de la Mairie",
                "code_postal": "12000",
                "commune": "Roquebrune-sur-Aveyron",
            },
        )
        comptes: dict[str, Utilisateur] = {}
        for cle, nom, prenom, email, _role, _otp in COMPTES:
            user = Utilisateur.objects.filter(email=email).first()
            if user is None:
                user = services.utilisateur_creer(
                    par=None,
                    nom=nom,
                    prenom=prenom,
                    email=email,
                    caf=caf if cle == "agent" else None,
                    organisme=None if cle == "agent" else organisme,
                )
                services.mot_de_passe_choisir(utilisateur=user, mot_de_passe=MOT_DE_PASSE_DEMO)
            comptes[cle] = user

        convention = Convention.objects.filter(organisme=organisme).first()
        if convention is None:
            convention = Convention.objects.create(
                caf=caf,
                organisme=organisme,
                libelle="Convention Mon Compte Partenaire — Commune de Roquebrune-sur-Aveyron",
                date_ouverture=aujourdhui().replace(month=1, day=1),
                administrateur=comptes["administrateur"],
                etat=EtatConvention.VALIDEE,
                validee_le=aujourdhui().replace(month=1, day=1),
            )
            convention.profils.set(Profil.objects.filter(code__in=["CDAP-T1", "AFAS-HABILITER", "AFAS-DECLARER"]))
            t1 = services.groupe_creer(
                par=None, convention=convention, code="T1", libelle="CDAP T1", responsable=comptes["responsable"]
            )
            services.groupe_profil_ajouter(par=None, groupe=t1, profil=Profil.objects.get(code="CDAP-T1"))
            afas = services.groupe_creer(
                par=None,
                convention=convention,
                code="AFAS-DECLARER",
                libelle="Déclarants AFAS",
                responsable=comptes["administrateur"],
            )
            services.groupe_profil_ajouter(par=None, groupe=afas, profil=Profil.objects.get(code="AFAS-DECLARER"))
            services.appartenance_ouvrir(par=None, utilisateur=comptes["responsable"], groupe=t1)
            services.appartenance_ouvrir(par=None, utilisateur=comptes["administrateur"], groupe=t1)
            services.appartenance_ouvrir(par=None, utilisateur=comptes["declarant"], groupe=afas)

        for cle, *_reste, otp in COMPTES:
            if otp and not TOTPDevice.objects.filter(user=comptes[cle], confirmed=True).exists():
                TOTPDevice.objects.create(user=comptes[cle], name="Démonstration", confirmed=True)
        return comptes

    def _afficher(self, comptes: dict[str, Utilisateur]) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Portail Partenaires — comptes de démonstration"))
        self.stdout.write(f"Mot de passe de tous les comptes : {MOT_DE_PASSE_DEMO}")
        for cle, _nom, _prenom, _email, role, otp in COMPTES:
            user = comptes[cle]
            ligne = f"  {user.identifiant:<12} {role}"
            if otp:
                device = TOTPDevice.objects.get(user=user, confirmed=True)
                secret = base64.b32encode(device.bin_key).decode().rstrip("=")
                ligne += f"\n               double authentification, secret TOTP {secret}"
            self.stdout.write(ligne)
        self.stdout.write("Code de double authentification courant : python manage.py code_otp <IDENTIFIANT>")
        self.stdout.write("Courriels (identifiants, mots de passe provisoires) : http://127.0.0.1:8000/dev/courriels/")
        self.stdout.write("")
