"""Données de démonstration (`make run`) : idempotent, et tout passe par les fonctions de service.

Noms, adresses et numéros sont inventés.
"""

import base64

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from afas import services as afas_services
from afas.enums import RoleAfas
from afas.models import Activite
from conventions import services as conventions_services
from conventions.models import Caf, Convention, Organisme, Profil, TypeOrganisme
from conventions.validators import cle_luhn_valide
from habilitations import perms, services
from habilitations.models import Groupe, Utilisateur
from portail.socle.dates import aujourdhui

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
    ("superviseur", "Delmas", "Rose", "rose.delmas@cnaf.example", "Supervision nationale (lecture seule)", True),
    ("fda", "Albouy", "Céline", "celine.albouy@mairie-roquebrune.example", "AFAS : FDA sur deux lieux", False),
    ("fdf", "Gral", "Marlène", "marlene.gral@mairie-roquebrune.example", "AFAS : FDF sur les activités", False),
    (
        "approbateur",
        "Garrigues",
        "Mélanie",
        "melanie.garrigues@mairie-roquebrune.example",
        "AFAS : approbateur en attente de validation par la Caf",
        False,
    ),
]

# Activités AFAS de la commune de démonstration : libellé, numéro, type, nature, lieux.
ACTIVITES_DEMO = [
    (
        "Accueil de loisirs périscolaire de Roquebrune",
        "ALSH120001",
        "ALSH",
        "PERI",
        ["École du Bourg", "École de Lioujas"],
    ),
    ("Accueil de loisirs des vacances", "ALSH120002", "ALSH", "EXTRA", []),
    ("Multi-accueil Les Lutins", "EAJE120003", "EAJE", "", []),
]

# L'administratrice nommée par la convention « En cours » (formalisée, pas encore validée).
ADMINISTRATRICE_EN_COURS = {"nom": "Bessière", "prenom": "Louise", "email": "louise.bessiere@cs-levezou.example"}

# Autres organismes de la Caf de l'Aveyron, pour que les listes aient de quoi filtrer et trier.
AUTRES_ORGANISMES = [
    ("Centre social du Lévézou", "centre-social", "Pont-de-Salars", "12290"),
    ("Association Familles rurales du Ségala", "association", "Baraqueville", "12160"),
    ("Office public de l'habitat du Rouergue", "bailleur", "Rodez", "12000"),
    ("Commune de Villefranche-de-Panat", "commune", "Villefranche-de-Panat", "12430"),
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
        agent = Utilisateur.objects.filter(email=COMPTES[0][3]).first()
        if agent is None:
            agent = services.utilisateur_creer(
                par=None, nom=COMPTES[0][1], prenom=COMPTES[0][2], email=COMPTES[0][3], caf=caf
            )
            services.mot_de_passe_choisir(utilisateur=agent, mot_de_passe=MOT_DE_PASSE_DEMO)
        organisme = Organisme.objects.filter(siret="21120199900011").first() or (
            conventions_services.organisme_enregistrer(
                par=agent,
                caf=caf,
                raison_sociale="Commune de Roquebrune-sur-Aveyron",
                siret="21120199900011",
                type_organisme=TypeOrganisme.objects.get(code="commune"),
                adresse="1 place de la Mairie",
                code_postal="12000",
                commune="Roquebrune-sur-Aveyron",
            )
        )
        comptes: dict[str, Utilisateur] = {"agent": agent}
        convention = Convention.objects.filter(organisme=organisme).first()
        nouvelle = convention is None
        if nouvelle:
            # Formalisée comme par l'agent : l'administrateur est créé avec elle.
            _cle, nom, prenom, email, _role, _otp = COMPTES[1]
            convention = services.convention_formaliser_avec_administrateur(
                par=agent,
                organisme=organisme,
                libelle="Convention Mon Compte Partenaire — Commune de Roquebrune-sur-Aveyron",
                date_ouverture=aujourdhui().replace(month=1, day=1),
                profils=Profil.objects.filter(code__in=["CDAP-T1", "AFAS-HABILITER", "AFAS-DECLARER"]),
                nouvel_administrateur={"nom": nom, "prenom": prenom, "email": email},
            )
            conventions_services.convention_valider(par=agent, convention=convention)
        for cle, nom, prenom, email, _role, _otp in COMPTES[1:]:
            user = Utilisateur.objects.filter(email=email).first()
            if user is None:
                user = services.utilisateur_creer(
                    par=agent if cle == "superviseur" else None,
                    nom=nom,
                    prenom=prenom,
                    email=email,
                    convention=None if cle == "superviseur" else convention,
                )
            if not user.has_usable_password():
                services.mot_de_passe_choisir(utilisateur=user, mot_de_passe=MOT_DE_PASSE_DEMO)
            comptes[cle] = user
        comptes["superviseur"].user_permissions.add(Permission.objects.get(codename="superviser_national"))

        if nouvelle:
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
        self._autres_partenaires(agent, caf)
        # Le compte créé avec la convention « En cours » : même mot de passe de démonstration,
        # pour qu'il soit utilisable et affiché comme les autres.
        en_cours = Utilisateur.objects.get(email=ADMINISTRATRICE_EN_COURS["email"])
        if not en_cours.has_usable_password():
            services.mot_de_passe_choisir(utilisateur=en_cours, mot_de_passe=MOT_DE_PASSE_DEMO)
        comptes["administrateur_en_cours"] = en_cours
        self._afas(comptes, convention, agent)

        for cle, *_reste, otp in COMPTES:
            if otp and not TOTPDevice.objects.filter(user=comptes[cle], confirmed=True).exists():
                TOTPDevice.objects.create(user=comptes[cle], name="Démonstration", confirmed=True)
        return comptes

    def _autres_partenaires(self, agent: Utilisateur, caf: Caf) -> None:
        """Quelques organismes de plus, l'un avec une convention en cours (à valider)."""
        for numero, (raison_sociale, type_code, commune, code_postal) in enumerate(AUTRES_ORGANISMES):
            siret = siret_de_demo(numero)
            if Organisme.objects.filter(siret=siret).exists():
                continue
            organisme = conventions_services.organisme_enregistrer(
                par=agent,
                caf=caf,
                raison_sociale=raison_sociale,
                siret=siret,
                type_organisme=TypeOrganisme.objects.get(code=type_code),
                commune=commune,
                code_postal=code_postal,
            )
            if numero == 0:
                services.convention_formaliser_avec_administrateur(
                    par=agent,
                    organisme=organisme,
                    libelle=f"Convention AFAS — {raison_sociale}",
                    date_ouverture=aujourdhui(),
                    profils=Profil.objects.filter(code__in=["AFAS-HABILITER", "AFAS-DECLARER"]),
                    nouvel_administrateur=ADMINISTRATRICE_EN_COURS,
                )

    def _afas(self, comptes: dict[str, Utilisateur], convention: Convention, agent: Utilisateur) -> None:
        """Activités et lieux de la commune (par l'agent), trois déclarants du groupe
        AFAS-DECLARER, et leurs rôles donnés par l'administrateur : un FDA sur deux lieux, un FDF
        sur les activités, un approbateur qui attend la Caf."""
        if Activite.objects.filter(organisme=convention.organisme).exists():
            return
        groupe = Groupe.objects.get(convention=convention, code="AFAS-DECLARER")
        for cle in ("fda", "fdf", "approbateur"):
            services.appartenance_ouvrir(par=None, utilisateur=comptes[cle], groupe=groupe)
        debut = aujourdhui().replace(month=1, day=1)
        activites, lieux = [], []
        for libelle, numero, type_activite, nature, noms_lieux in ACTIVITES_DEMO:
            activite = afas_services.activite_creer(
                par=agent,
                organisme=convention.organisme,
                libelle=libelle,
                numero_equipement=numero,
                type_activite=type_activite,
                nature=nature,
                date_ouverture=debut,
            )
            activites.append(activite)
            for nom in noms_lieux:
                lieux.append(
                    afas_services.lieu_creer(
                        par=agent,
                        activite=activite,
                        libelle=nom,
                        commune="Roquebrune-sur-Aveyron",
                        date_ouverture=debut,
                    )
                )
        admin = comptes["administrateur"]
        jour = aujourdhui()
        afas_services.habilitation_afas_affecter(
            par=admin, utilisateur=comptes["fda"], role=RoleAfas.FDA, date_ouverture=jour, lieux=lieux
        )
        afas_services.habilitation_afas_affecter(
            par=admin, utilisateur=comptes["fdf"], role=RoleAfas.FDF, date_ouverture=jour, activites=activites
        )
        afas_services.habilitation_afas_affecter(
            par=admin,
            utilisateur=comptes["approbateur"],
            role=RoleAfas.APPROBATEUR,
            date_ouverture=jour,
            activites=activites[:2],
        )
        # Une activité pour un autre partenaire de la Caf : la file et les listes de l'agent.
        autre = Organisme.objects.filter(caf=agent.caf, raison_sociale="Centre social du Lévézou").first()
        if autre is not None and not Activite.objects.filter(organisme=autre).exists():
            afas_services.activite_creer(
                par=agent,
                organisme=autre,
                libelle="Accueil jeunes du Lévézou",
                numero_equipement="ALSH120010",
                type_activite="ALSH",
                nature="ADO",
                date_ouverture=debut,
            )

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
        en_cours = comptes["administrateur_en_cours"]
        self.stdout.write(
            f"  {en_cours.identifiant:<12} Administratrice partenaire de la convention « En cours » "
            "(Centre social du Lévézou, à valider par l'agent)"
            + (
                "\n               double authentification à activer à la première connexion (QR code affiché)"
                if perms.double_authentification_requise(en_cours)
                else ""
            )
        )
        self.stdout.write("Code de double authentification courant : .venv/bin/python manage.py code_otp <IDENTIFIANT>")
        self.stdout.write("Courriels (identifiants, mots de passe provisoires) : http://127.0.0.1:8000/dev/courriels/")
        self.stdout.write("")


def siret_de_demo(numero: int) -> str:
    """SIRET inventé (préfixe 999) à clé de Luhn valide."""
    base = f"9991200{numero:06d}"
    return next(base + str(cle) for cle in range(10) if cle_luhn_valide(base + str(cle)))
