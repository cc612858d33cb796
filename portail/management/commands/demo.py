"""Données de démonstration (`make run`) : idempotent, et tout passe par les fonctions de service.

Noms, adresses et numéros sont inventés.
"""

import base64
import datetime
import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from afas import services as afas_services
from afas.campagnes import services as campagnes
from afas.declarations.etats import transitionner
from afas.enums import DecisionCaf, EtatDeclaration, RoleAfas, TypeDeclaration
from afas.financement import statistiques
from afas.financement.services import montant_figer
from afas.instruction import services as instruction
from afas.models import (
    Activite,
    AppelDeclaration,
    Declaration,
    DonneesFinancieres,
    Recepisse,
    ValidationApprobateur,
)
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
        "AFAS : approbateur validé sur une activité, en attente de validation par la Caf sur l'autre",
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
        # Les références des statistiques (d'ordinaire calculées chaque nuit) : tout de suite.
        statistiques.statistiques_calculer()
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
        self._campagnes(comptes, agent)

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

    def _campagnes(self, comptes: dict[str, Utilisateur], agent: Utilisateur) -> None:
        """Deux appels de déclaration de la Caf, lancés par l'agent (service et tâche), et des
        déclarations dans chaque état : le réel de l'an passé (validée, transmise, renvoyée pour
        correction, à saisir) et le prévisionnel de l'an prochain (à approuver, en cours de saisie,
        à saisir). L'approbateur est validé sur la première activité (il reste en attente sur la
        seconde, pour « Approbateurs à valider »)."""
        if AppelDeclaration.objects.filter(caf=agent.caf).exists():
            return
        fda, fdf, approbateur = comptes["fda"], comptes["fdf"], comptes["approbateur"]
        validation = ValidationApprobateur.objects.filter(
            habilitation__utilisateur=approbateur,
            habilitation__activite__numero_equipement="ALSH120001",
            decision=DecisionCaf.EN_ATTENTE,
        ).first()
        if validation is not None:
            afas_services.approbateur_valider(par=agent, validation=validation)
        jour = aujourdhui()
        appels = {}
        for type_declaration, exercice, ouverture, limite in (
            (
                TypeDeclaration.REEL,
                jour.year - 1,
                jour - datetime.timedelta(days=20),
                jour + datetime.timedelta(days=5),
            ),
            (TypeDeclaration.PREVISIONNEL, jour.year + 1, jour, jour + datetime.timedelta(days=45)),
        ):
            appel = campagnes.appel_lancer(
                par=agent,
                cle=uuid.uuid4(),
                exercice=exercice,
                type_declaration=type_declaration,
                criteres=campagnes.Criteres(),
                date_ouverture=ouverture,
                date_limite=limite,
            )
            # La tâche, ici même : la démonstration lit les déclarations aussitôt (celle publiée
            # après la validation trouvera l'appel terminé et ne fera rien).
            campagnes.appel_deployer(appel_id=appel.pk)
            appels[type_declaration] = appel

        def declaration(type_declaration: str, numero: str) -> Declaration:
            return Declaration.objects.select_for_update().get(
                appel=appels[type_declaration], activite__numero_equipement=numero
            )

        E = EtatDeclaration
        saisie = [(E.EN_COURS, fda, ""), (E.A_APPROUVER, fdf, "")]
        transmise = [*saisie, (E.TRANSMISE, approbateur, "")]
        parcours = {
            (TypeDeclaration.REEL, "ALSH120001"): ("complet", [*transmise, (E.VALIDEE, agent, "")]),
            (TypeDeclaration.REEL, "ALSH120002"): ("complet", transmise),
            (TypeDeclaration.REEL, "EAJE120003"): (
                "complet",
                [
                    *transmise,
                    (
                        E.RENVOYEE,
                        agent,
                        "Le taux de ressortissants du régime général semble élevé : merci de le vérifier.",
                    ),
                ],
            ),
            (TypeDeclaration.PREVISIONNEL, "ALSH120001"): ("complet", saisie),
            (TypeDeclaration.PREVISIONNEL, "ALSH120002"): ("partiel", saisie[:1]),
        }
        for (type_declaration, numero), (remplissage, etapes) in parcours.items():
            d = declaration(type_declaration, numero)
            _remplir(d, complet=remplissage == "complet", fda=fda, fdf=fdf)
            for vers, par, commentaire in etapes:
                if vers == E.TRANSMISE:
                    _recepisse(d, par)
                transitionner(d, vers, par=par, commentaire=commentaire)

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


def _remplir(declaration: Declaration, *, complet: bool, fda: Utilisateur, fdf: Utilisateur) -> None:
    """Des chiffres de démonstration : toutes les parts (complet) ou quelques champs (partiel)."""
    maintenant = timezone.now()
    for i, ligne in enumerate(declaration.donnees_activite.order_by("pk")):
        ligne.heures_realisees = Decimal(12400 + 1000 * i)
        if complet:
            ligne.heures_facturees = Decimal(11800 + 1000 * i)
            ligne.heures_mercredi = Decimal(1500)
            ligne.enfants_inscrits = 85 + 10 * i
            ligne.jours_ouverture = 140
            ligne.amplitude_ouverture = Decimal("10.50")
        ligne.saisie_par, ligne.saisie_le, ligne.version = fda, maintenant, ligne.version + 1
        ligne.save()
    financieres = DonneesFinancieres.objects.get(declaration=declaration)
    financieres.c64 = Decimal("182500.00")
    if complet:
        financieres.c60 = Decimal("24300.00")
        financieres.c61 = Decimal("12800.00")
        financieres.p70 = Decimal("61250.00")
        financieres.p74 = Decimal("150000.00")
        financieres.participations_familiales = Decimal("58400.00")
        financieres.taux_ressortissants = Decimal("92.50")
    financieres.saisie_par, financieres.saisie_le, financieres.version = fdf, maintenant, financieres.version + 1
    financieres.save()


def _recepisse(declaration: Declaration, par: Utilisateur) -> Recepisse:
    """Le récépissé des déclarations transmises de la démonstration, écrit comme à la
    transmission (contenu figé, empreinte SHA-256, PDF) ; la démonstration fait elle-même le
    passage d'état (son approbateur n'est validé que sur une activité)."""
    declaration = Declaration.objects.select_related("activite__organisme", "caf").get(pk=declaration.pk)
    recepisse = instruction.recepisse_creer(par=par, declaration=declaration)
    # Comme à la transmission : le montant estimé est figé avec les paramètres du jour.
    montant_figer(declaration, par=par)
    return recepisse
