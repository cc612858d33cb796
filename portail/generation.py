"""Données synthétiques à l'échelle d'un département ou du pays, pour mesurer le portail.

Tout est inventé et déterministe : à graine égale, les mêmes lignes (les dates sont relatives au
jour de génération). Les proportions suivent la vie réelle : la plupart des partenaires sont
petits (une poignée de comptes), quelques communes en ont des dizaines de milliers, et une grande
commune reproduit les mesures du ticket « National scale » (50 000 utilisateurs, 2 000 groupes
sur quatre niveaux, 100 000 appartenances, 50 000 lignes de journal).

Les lignes sont écrites en masse (COPY sous PostgreSQL, bulk_create sous SQLite), sans passer par
les fonctions de service : à ces volumes, une porte par fait coûterait des heures. Les règles que
ces fonctions font respecter le sont donc ici, et un test (tests/perf/test_echelle.py) le vérifie :
chemins matérialisés des groupes, sous-groupe aux profils inclus dans ceux du parent, SIRET à clé
de Luhn, un mandat ouvert par convention ouverte, appartenances aux groupes de sa convention sans
chevauchement, droits objets django-guardian identiques à ceux que la réconciliation calcule.

Les données AFAS (activités, lieux, habilitations AFAS et validations d'approbateurs, appels et
déclarations avec leurs données, événements et récépissés) sont écrites ensuite par
``GenerateurAfas``, en fin de module, avec son propre tirage : les données d'avant AFAS restent
les mêmes à graine égale.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import random
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from guardian.models import UserObjectPermission

from afas import perms as perms_afas
from afas import tasks as tasks_afas
from afas.enums import DecisionCaf, EtatDeclaration, EtatLancement, NatureActivite, RoleAfas, TypeActivite
from afas.enums import TypeDeclaration as TD
from afas.financement import services as services_financement
from afas.models import (
    COMPTES_CHARGES,
    PROFIL_DECLARER,
    PROFIL_HABILITER,
    Activite,
    AppelDeclaration,
    Declaration,
    DonneesActivite,
    DonneesFinancieres,
    EvenementDeclaration,
    HabilitationAfas,
    LieuImplantation,
    MontantEstime,
    ParametreFinancement,
    Recepisse,
    StatistiqueReference,
    SyntheseAfas,
    ValidationApprobateur,
)
from conventions.enums import EtatConvention
from conventions.models import Avenant, Caf, Convention, Mandat, Organisme, Profil, TypeOrganisme
from conventions.validators import cle_luhn_valide
from habilitations import tasks as tasks_habilitations
from habilitations.models import (
    Appartenance,
    CodeSecours,
    CodeSecoursDevice,
    CompteurIdentifiant,
    Groupe,
    GroupeProfil,
    ImportUtilisateurs,
    LigneImport,
    SessionUtilisateur,
    SyntheseGroupesOrphelins,
    SyntheseProfils,
    Utilisateur,
)
from portail.models import EvenementAudit
from portail.socle.dates import aujourdhui, q_ouvert

# Marque des données générées : tout compte généré a une adresse dans ce domaine, tout organisme
# un SIRET qui commence par ce préfixe (aucun SIREN réel ne commence par 999).
DOMAINE = "generees.example"
PREFIXE_SIRET = "999"
# Le mot de passe de tous les comptes activés générés (données synthétiques, affiché et documenté).
MOT_DE_PASSE = "Banc-d-essai-du-portail-2026"


@dataclass(frozen=True)
class GrandeCommune:
    """La commune qui reproduit les mesures du ticket."""

    utilisateurs: int
    groupes: int
    appartenances: int
    journal: int
    grand_groupe: int  # membres du plus grand groupe (page « membres d'un groupe de 10 000 »)


@dataclass(frozen=True)
class EchelleAfas:
    """Le volume AFAS d'une échelle. Les déclarations en découlent : chaque activité ouverte reçoit
    une déclaration par appel de sa Caf, ``appels_caf_principale`` pour la Caf de la grande commune
    (plusieurs exercices d'historique : c'est la Caf de l'agent du banc), ``appels_autres`` ailleurs."""

    activites: int  # toutes les activités, grande commune comprise
    activites_caf_principale: int  # celles de la Caf de la grande commune, grande commune comprise
    grande_commune: int  # activités de la grande commune (la première a 30 lieux d'implantation)
    persona: int  # activités où la persona déclarante tient un rôle (approbateur ; FDF sur la moitié)
    habilitations: int  # cible approximative : actives, en attente, à venir et historiques
    appels_caf_principale: int = 9
    appels_autres: int = 2


@dataclass(frozen=True)
class Echelle:
    nom: str
    cafs: int
    organismes: int
    conventions: int
    utilisateurs: int  # comptes partenaires, grande commune comprise (agents Caf en plus)
    appartenances: int
    groupes: int
    journal: int
    grande_commune: GrandeCommune
    autres_grandes: tuple[int, ...] = ()  # utilisateurs des autres grandes communes
    agents_par_caf: int = 5
    afas: EchelleAfas = EchelleAfas(
        activites=60, activites_caf_principale=45, grande_commune=30, persona=12, habilitations=500,
        appels_caf_principale=3, appels_autres=2,
    )  # fmt: skip


ECHELLES: dict[str, Echelle] = {
    "demo": Echelle(
        nom="demo",
        cafs=2,
        organismes=40,
        conventions=45,
        utilisateurs=1_400,
        appartenances=2_200,
        groupes=120,
        journal=2_500,
        grande_commune=GrandeCommune(
            utilisateurs=800, groupes=60, appartenances=1_500, journal=1_500, grand_groupe=200
        ),
        autres_grandes=(150,),
        agents_par_caf=3,
        afas=EchelleAfas(
            activites=120,
            activites_caf_principale=90,
            grande_commune=60,
            persona=30,
            habilitations=1_200,
            appels_caf_principale=5,
            appels_autres=3,
        ),
    ),
    "departement": Echelle(
        nom="departement",
        cafs=2,
        organismes=2_800,
        conventions=3_000,
        utilisateurs=72_000,
        appartenances=130_000,
        groupes=4_500,
        journal=80_000,
        grande_commune=GrandeCommune(
            utilisateurs=50_000, groupes=2_000, appartenances=100_000, journal=50_000, grand_groupe=10_000
        ),
        autres_grandes=(6_000, 3_000),
        agents_par_caf=20,
        afas=EchelleAfas(
            activites=4_000,
            activites_caf_principale=2_600,
            grande_commune=400,
            persona=300,
            habilitations=50_000,
            appels_caf_principale=9,
            appels_autres=4,
        ),
    ),
    "nationale": Echelle(
        nom="nationale",
        cafs=100,
        organismes=60_000,
        conventions=70_000,
        utilisateurs=300_000,
        appartenances=400_000,
        groupes=50_000,
        journal=1_000_000,
        grande_commune=GrandeCommune(
            utilisateurs=50_000, groupes=2_000, appartenances=100_000, journal=50_000, grand_groupe=10_000
        ),
        autres_grandes=(30_000, 20_000, 12_000, 10_000),
        agents_par_caf=15,
        afas=EchelleAfas(
            activites=80_000,
            activites_caf_principale=6_200,
            grande_commune=400,
            persona=300,
            habilitations=1_090_000,  # au-dessus du million : une activité récente n'a pas de place pour un historique
            appels_caf_principale=9,
            appels_autres=2,
        ),
    ),
}

# --- Un vocabulaire inventé, d'allure française --------------------------------------------

_DEBUTS = ["Bel", "Char", "Dal", "Fon", "Gar", "Lan", "Mar", "Ro", "Ver", "Bou", "Cas", "Del", "Fer", "Lau"]
_DEBUTS += ["Mon", "Pel", "Sau", "Tes", "Vil", "Bra", "Cor", "Gui", "Lem", "Nau", "Quer", "Ri", "Sé", "Tal"]
_FINS = ["ard", "ier", "on", "ac", "ès", "elle", "aud", "ot", "ieu", "in", "ant", "eau", "ois", "oux", "et"]
_FINS += ["ade", "enc", "ert", "ille", "ol", "uc", "ane", "ory"]
_PRENOMS = [
    "Adèle", "Alix", "Anaïs", "Apolline", "Bastien", "Baptiste", "Capucine", "Céleste", "Clément", "Colin",
    "Damien", "Élise", "Éloi", "Émeline", "Étienne", "Fanny", "Firmin", "Gaël", "Garance", "Gilles", "Hélène",
    "Honoré", "Iris", "Jasmin", "Joachim", "Josselin", "Juliette", "Léon", "Lison", "Lucien", "Maëlle",
    "Margaux", "Mathis", "Noé", "Noémie", "Octave", "Odile", "Pauline", "Perrine", "Quentin", "Romane",
    "Sacha", "Salomé", "Siméon", "Solène", "Tanguy", "Théo", "Ulysse", "Valentin", "Victoire", "Yann", "Zélie",
]  # fmt: skip
_RIVIERES = ["Aubrelle", "Dourdon", "Lignon", "Merlange", "Sorgette", "Vézère-Haute", "Ysselle", "Calmonde"]
_SERVICES = ["Enfance", "Jeunesse", "Petite enfance", "Action sociale", "Logement", "Périscolaire", "Sports"]
_SECTEURS = ["Nord", "Sud", "Est", "Ouest", "Centre", "Plateau", "Vallée", "Bourg", "Faubourg", "Hameaux"]
_ACTIONS = [
    "utilisateur_creer", "utilisateur_modifier", "appartenance_ouvrir", "appartenance_cloturer",
    "appartenance_modifier", "identifiant_renvoyer", "groupe_creer", "groupe_profil_ajouter",
]  # fmt: skip

TYPES = [
    ("commune", "Commune", 30),
    ("association", "Association", 45),
    ("centre-social", "Centre social", 12),
    ("bailleur", "Bailleur", 8),
    ("departement", "Département", 5),
]


def _nom(rng: random.Random) -> str:
    return rng.choice(_DEBUTS) + rng.choice(_FINS)


def _lieu(rng: random.Random) -> str:
    forme = rng.random()
    if forme < 0.25:
        return f"Saint-{_nom(rng)}"
    if forme < 0.4:
        return f"{_nom(rng)}-sur-{rng.choice(_RIVIERES)}"
    return _nom(rng) + rng.choice(["", "ville", "court", "mont", "ac"])


def _lettres(texte: str) -> str:
    """Comme habilitations.services._lettres : trois lettres d'identifiant."""
    import unicodedata

    ascii_ = unicodedata.normalize("NFKD", texte).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_.upper() if c.isalpha())


def siret(numero: int) -> str:
    """SIRET inventé (préfixe 999) à clé de Luhn valide."""
    base = f"{PREFIXE_SIRET}{numero:010d}"
    return next(base + str(cle) for cle in range(10) if cle_luhn_valide(base + str(cle)))


def _repartir(total: int, poids: list[float], minimum: int = 0) -> list[int]:
    """Répartit ``total`` selon ``poids`` (au moins ``minimum`` chacun), somme exacte."""
    n = len(poids)
    if n == 0:
        return []
    reste = max(0, total - minimum * n)
    somme = sum(poids) or 1.0
    parts = [minimum + int(reste * p / somme) for p in poids]
    manque = total - sum(parts)
    i = 0
    while manque > 0:
        parts[i % n] += 1
        manque -= 1
        i += 1
    return parts


# --- Écriture en masse, avec barre de progression ------------------------------------------


class Barre:
    """Barre de progression sur la sortie d'erreur : table, lignes, débit."""

    def __init__(self, libelle: str, total: int, flux=None) -> None:
        self.libelle, self.total, self.flux = libelle, max(total, 1), flux or sys.stderr
        self.faites, self.debut, self.dernier = 0, time.monotonic(), 0.0

    def avancer(self, n: int = 1) -> None:
        self.faites += n
        maintenant = time.monotonic()
        if maintenant - self.dernier > 0.25 or self.faites >= self.total:
            self.dernier = maintenant
            self._afficher(maintenant)

    def _afficher(self, maintenant: float) -> None:
        part = min(1.0, self.faites / self.total)
        debit = self.faites / max(maintenant - self.debut, 1e-6)
        barre = "#" * int(part * 30)
        self.flux.write(
            f"\r  {self.libelle:<22} [{barre:<30}] {part:4.0%} {self.faites:>9,}/{self.total:,} "
            f"{debit:>9,.0f} lignes/s".replace(",", " ")
        )
        self.flux.flush()

    def finir(self) -> float:
        if self.faites < self.total:
            self._afficher(time.monotonic())
        self.flux.write("\n")
        self.flux.flush()
        return time.monotonic() - self.debut


def _valeur_copy(champ: models.Field, valeur):
    if valeur is None:
        return None
    if isinstance(champ, models.JSONField):
        return json.dumps(valeur, ensure_ascii=False)
    return valeur


class Ecrivain:
    """Écrit des lignes (dictionnaires par nom d'attribut) dans la table d'un modèle."""

    def __init__(self, progression: bool = True) -> None:
        self.progression = progression
        self.mesures: list[dict] = []

    def ecrire(self, modele: type[models.Model], lignes: Iterable[dict], total: int, libelle: str = "") -> int:
        libelle = libelle or modele._meta.db_table
        champs = list(modele._meta.concrete_fields)
        barre = Barre(libelle, total, flux=sys.stderr if self.progression else _Muet())
        debut = time.monotonic()
        if connection.vendor == "postgresql":
            n = self._copy(modele, champs, lignes, barre)
        else:
            n = self._bulk_create(modele, lignes, barre)
        barre.finir()
        duree = time.monotonic() - debut
        self.mesures.append({"table": libelle, "lignes": n, "secondes": round(duree, 2)})
        return n

    @staticmethod
    def _defauts(champs: list[models.Field]) -> dict[str, object]:
        return {f.attname: f.get_default() for f in champs}

    def _copy(self, modele, champs, lignes, barre) -> int:
        lignes = iter(lignes)
        premiere = next(lignes, None)
        if premiere is None:
            return 0
        lignes = itertools.chain([premiere], lignes)
        # Une clé primaire non fournie (tables de liaison) est laissée à la base.
        champs = [f for f in champs if not (f.primary_key and f.attname not in premiere)]
        defauts = self._defauts(champs)
        colonnes = ", ".join(connection.ops.quote_name(f.column) for f in champs)
        table = connection.ops.quote_name(modele._meta.db_table)
        n = 0
        with connection.cursor() as curseur, curseur.cursor.copy(f"COPY {table} ({colonnes}) FROM STDIN") as copie:
            for ligne in lignes:
                copie.write_row(
                    [_valeur_copy(f, ligne[f.attname] if f.attname in ligne else defauts[f.attname]) for f in champs]
                )
                n += 1
                if n % 1000 == 0:
                    barre.avancer(1000)
        barre.avancer(n % 1000)
        return n

    def _bulk_create(self, modele, lignes, barre) -> int:
        n = 0
        lot: list[models.Model] = []
        for ligne in lignes:
            lot.append(modele(**ligne))
            if len(lot) == 2000:
                modele._default_manager.bulk_create(lot)
                n += len(lot)
                barre.avancer(len(lot))
                lot = []
        if lot:
            modele._default_manager.bulk_create(lot)
            n += len(lot)
            barre.avancer(len(lot))
        return n


class _Muet:
    def write(self, _texte: str) -> None:
        pass

    def flush(self) -> None:
        pass


# --- Le générateur -------------------------------------------------------------------------


class BaseNonGeneree(Exception):
    """La base contient des données qui ne viennent pas du générateur : on n'y touche pas."""


TABLES_GENEREES: list[type[models.Model]] = [
    MontantEstime,
    Recepisse,
    EvenementDeclaration,
    DonneesFinancieres,
    DonneesActivite,
    Declaration,
    AppelDeclaration.activites.through,
    AppelDeclaration,
    ValidationApprobateur,
    HabilitationAfas,
    LieuImplantation,
    Activite,
    EvenementAudit,
    Appartenance,
    GroupeProfil,
    Groupe,
    Mandat,
    Convention.profils.through,
    Convention,
    UserObjectPermission,
    TOTPDevice,
    Utilisateur.user_permissions.through,
    Utilisateur,
    CompteurIdentifiant,
    Organisme,
    TypeOrganisme,
    Caf,
]


# Ce que l'usage d'une base générée ajoute (connexions, imports, avenants) : effacé avec elle.
TABLES_USAGE: list[type[models.Model]] = [
    SessionUtilisateur,
    CodeSecours,
    CodeSecoursDevice,
    LigneImport,
    ImportUtilisateurs,
    Avenant,
    # Ce que les tâches de nuit écrivent (``calculs_de_nuit``).
    SyntheseProfils,
    SyntheseGroupesOrphelins,
    SyntheseAfas,
    StatistiqueReference,
]


def etat_de_la_base() -> str:
    """« vide », « generee » ou « autre » (des données saisies ou chargées autrement)."""
    comptes = Utilisateur.objects.all()
    if not comptes.exists() and not Organisme.objects.exists() and not Caf.objects.exists():
        return "vide"
    autres_comptes = comptes.exclude(email__endswith="." + DOMAINE).exists()
    autres_organismes = Organisme.objects.exclude(siret__startswith=PREFIXE_SIRET).exists()
    if autres_comptes or autres_organismes or not comptes.exists():
        return "autre"
    return "generee"


def vider_donnees_generees() -> None:
    """Efface les données d'une base qui ne contient que des données générées."""
    if etat_de_la_base() == "autre":
        raise BaseNonGeneree("La base contient des données non générées.")
    with transaction.atomic(), connection.cursor() as curseur:
        if connection.vendor == "postgresql":
            # CASCADE : aussi ce que l'usage a ajouté (sessions, imports, avenants, journal…), et
            # les paramètres de financement, qui désignent une Caf : le barème national (écrit par
            # migration, sans Caf) est gardé et remis, sans quoi tout montant estimé serait nul.
            # Sans leur clé : « RESTART IDENTITY » remet aussi leur séquence à 1, qui les renumérote.
            bareme = list(ParametreFinancement.objects.filter(caf__isnull=True).order_by("pk").values())
            tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in TABLES_GENEREES)
            curseur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            ParametreFinancement.objects.bulk_create(
                ParametreFinancement(**{**ligne, "id": None, "modifie_par_id": None}) for ligne in bareme
            )
            return
        for modele in [*TABLES_USAGE, *TABLES_GENEREES]:
            modele._default_manager.all()._raw_delete(connection.alias)


@dataclass
class _Convention:
    id: int
    caf_id: int
    caf_code: str
    organisme_id: int
    prefixe: str
    slug: str
    date_ouverture: datetime.date
    date_cloture: datetime.date | None
    etat: str
    taille: int = 1
    groupes: int = 0
    appartenances: int = 0
    journal: int = 0
    profils: list[int] = field(default_factory=list)
    utilisateurs: list[int] = field(default_factory=list)
    ouvertures: list[datetime.date] = field(default_factory=list)
    clotures: list[datetime.date | None] = field(default_factory=list)
    ouverts: list[int] = field(default_factory=list)  # comptes ouverts (responsables possibles)
    administrateur: int = 0
    liste_groupes: list[tuple[int, datetime.date, datetime.date | None]] = field(
        default_factory=list
    )  # id, ouverture, clôture

    def ouverte(self, jour: datetime.date) -> bool:
        return (
            self.etat == EtatConvention.VALIDEE
            and self.date_ouverture <= jour
            and (self.date_cloture is None or jour < self.date_cloture)
        )


class Generateur:
    """Génère une échelle dans la base courante. ``generer()`` renvoie un résumé (personas,
    mesures par table) ; la base doit être vide de données non générées."""

    def __init__(self, echelle: Echelle, graine: int = 1, progression: bool = True) -> None:
        self.echelle = echelle
        self.rng = random.Random(graine)  # noqa: S311 (déterminisme voulu, rien de secret)
        self.graine = graine
        self.ecrivain = Ecrivain(progression=progression)
        # Le jour du portail (Paris), comme les vérifications et la réconciliation le lisent.
        self.jour = aujourdhui()
        self.maintenant = timezone.now().replace(microsecond=0)
        self.compteurs: dict[str, int] = {}
        self.prochain: dict[type[models.Model], int] = {}

    # Identifiants techniques attribués ici (COPY les écrit explicitement), séquences remises après.
    def _ids(self, modele: type[models.Model], n: int) -> range:
        debut = self.prochain.get(modele)
        if debut is None:
            debut = (modele._default_manager.aggregate(m=models.Max("pk"))["m"] or 0) + 1
        self.prochain[modele] = debut + n
        return range(debut, debut + n)

    def _jour_avant(self, jours_max: int, jours_min: int = 0) -> datetime.date:
        return self.jour - datetime.timedelta(days=self.rng.randint(jours_min, jours_max))

    def _identifiant(self, prefixe: str, code_caf: str) -> str:
        n = self.compteurs.get(code_caf, 0) + 1
        self.compteurs[code_caf] = n
        return f"{prefixe}{code_caf}{n:04d}"

    @transaction.atomic
    def generer(self) -> dict:
        etat = etat_de_la_base()
        if etat != "vide":
            raise BaseNonGeneree(
                "La base n'est pas vide"
                + (" et contient des données non générées" if etat == "autre" else " (données générées)")
                + " : le générateur ne s'exécute que sur une base vide."
            )
        debut = time.monotonic()
        e = self.echelle
        self.hache = make_password(MOT_DE_PASSE)
        self._referentiel()
        self._organismes_et_conventions()
        self._agents()
        self._utilisateurs()
        self._mandats()
        self._groupes()
        self._appartenances()
        self._droits_objets()
        self._journal()
        afas = GenerateurAfas(self)
        afas.generer()
        self._personas()
        afas.personas()
        self._compteurs_et_sequences()
        duree = time.monotonic() - debut
        lignes = sum(m["lignes"] for m in self.ecrivain.mesures)
        return {
            "echelle": e.nom,
            "graine": self.graine,
            "base": connection.vendor,
            "secondes": round(duree, 1),
            "lignes": lignes,
            "lignes_par_seconde": round(lignes / max(duree, 1e-6)),
            "tables": self.ecrivain.mesures,
            "personas": self.personas,
        }

    # -- Référentiel : Caf, types d'organismes, profils -------------------------------------

    def _referentiel(self) -> None:
        e = self.echelle
        codes = [f"{n:03d}" for n in range(1, 96)] + ["971", "972", "973", "974", "976"]
        codes = codes[: e.cafs] if e.cafs <= len(codes) else [f"{n:03d}" for n in range(1, e.cafs + 1)]
        ids = self._ids(Caf, len(codes))
        self.cafs = list(zip(ids, codes, strict=True))
        noms = set()
        lignes = []
        for pk, code in self.cafs:
            nom = _lieu(self.rng)
            while nom in noms:
                nom = _lieu(self.rng)
            noms.add(nom)
            lignes.append({"id": pk, "code": code, "nom": f"Caf de {nom}"})
        self.ecrivain.ecrire(Caf, lignes, len(lignes), "caf")
        ids = self._ids(TypeOrganisme, len(TYPES))
        self.types = {code: pk for pk, (code, _l, _p) in zip(ids, TYPES, strict=True)}
        self.ecrivain.ecrire(
            TypeOrganisme,
            [{"id": pk, "code": code, "libelle": libelle} for pk, (code, libelle, _p) in zip(ids, TYPES, strict=True)],
            len(TYPES),
            "types_organismes",
        )
        self.profils = dict(Profil.objects.values_list("code", "pk"))

    # -- Organismes et conventions ----------------------------------------------------------

    def _organismes_et_conventions(self) -> None:
        e, rng = self.echelle, self.rng
        ids_org = self._ids(Organisme, e.organismes)
        types = [code for code, _l, _p in TYPES]
        poids_types = [p for _c, _l, p in TYPES]
        organismes = []
        grandes = [e.grande_commune.utilisateurs, *e.autres_grandes]
        for rang, pk in enumerate(ids_org):
            # Les grandes communes d'abord, la première dans la première Caf.
            caf_id, caf_code = self.cafs[0] if rang == 0 else self.cafs[rang % len(self.cafs)]
            type_code = "commune" if rang < len(grandes) else rng.choices(types, poids_types)[0]
            lieu = _lieu(rng)
            raison = {
                "commune": f"Commune de {lieu}",
                "association": f"Association {rng.choice(['Familles', 'Loisirs', 'Jeunesse', 'Entraide'])} de {lieu}",
                "centre-social": f"Centre social de {lieu}",
                "bailleur": f"Habitat {rng.choice(['social', 'solidaire', 'public'])} de {lieu}",
                "departement": f"Conseil départemental de {lieu}",
            }[type_code]
            organismes.append(
                {
                    "id": pk,
                    "raison_sociale": f"{raison} ({pk})" if rang >= len(grandes) and rng.random() < 0.02 else raison,
                    "siret": siret(pk),
                    "type_organisme_id": self.types[type_code],
                    "caf_id": caf_id,
                    "adresse": f"{rng.randint(1, 120)} {rng.choice(['rue', 'place', 'avenue', 'chemin'])} {_nom(rng)}",
                    "code_postal": f"{int(caf_code) % 100:02d}{rng.randint(0, 999):03d}",
                    "commune": lieu,
                    "_caf_code": caf_code,
                    "_prefixe": _lettres(raison)[:3].ljust(3, "X"),
                    "_slug": _lettres(lieu).lower()[:20] or "partenaire",
                }
            )
        self.ecrivain.ecrire(
            Organisme,
            ({k: v for k, v in o.items() if not k.startswith("_")} for o in organismes),
            len(organismes),
            "organismes",
        )

        # Une convention par organisme ; les organismes « en plus » ont aussi une ancienne
        # convention, close. Quelques conventions en cours (pas encore validées), quelques closes.
        anciennes = set(rng.sample(range(len(grandes), e.organismes), max(0, e.conventions - e.organismes)))
        ids_conv = iter(self._ids(Convention, e.conventions))
        self.conventions: list[_Convention] = []
        for rang, o in enumerate(organismes):
            if rang in anciennes:
                ouverture = self._jour_avant(365 * 9, 365 * 5)
                self.conventions.append(
                    _Convention(
                        id=next(ids_conv),
                        caf_id=o["caf_id"],
                        caf_code=o["_caf_code"],
                        organisme_id=o["id"],
                        prefixe=o["_prefixe"],
                        slug=o["_slug"],
                        date_ouverture=ouverture,
                        date_cloture=self._jour_avant(365 * 2, 30),
                        etat=EtatConvention.VALIDEE,
                    )
                )
            tirage = rng.random() if rang >= len(grandes) else 1.0
            if tirage < 0.04:
                etat, ouverture, cloture = (
                    EtatConvention.EN_COURS,
                    self.jour + datetime.timedelta(rng.randint(0, 60)),
                    None,
                )
            elif tirage < 0.07:
                etat, ouverture = EtatConvention.VALIDEE, self._jour_avant(365 * 6, 365 * 2)
                cloture = self._jour_avant(300, 1)
            elif rang < len(grandes):
                # Les grandes communes sont conventionnées depuis des années : tous les tableaux
                # de bord (comptes inactifs depuis un an compris) ont de quoi se remplir.
                etat, ouverture, cloture = EtatConvention.VALIDEE, self._jour_avant(365 * 8, 365 * 4), None
            else:
                etat, ouverture, cloture = EtatConvention.VALIDEE, self._jour_avant(365 * 5, 30), None
            self.conventions.append(
                _Convention(
                    id=next(ids_conv),
                    caf_id=o["caf_id"],
                    caf_code=o["_caf_code"],
                    organisme_id=o["id"],
                    prefixe=o["_prefixe"],
                    slug=o["_slug"],
                    date_ouverture=ouverture,
                    date_cloture=cloture,
                    etat=etat,
                )
            )
        self.organismes = organismes
        self._tailles(grandes)
        codes_profils = sorted(self.profils)
        lignes, liens = [], []
        for c in self.conventions:
            if c is self.grande:
                codes = ["CDAP-T1", "CDAP-T2", "AFAS-HABILITER", "AFAS-DECLARER"]
            else:
                codes = rng.sample(codes_profils, rng.randint(1, 3))
            c.profils = sorted(self.profils[code] for code in codes if code in self.profils)
            liens.extend({"convention_id": c.id, "profil_id": p} for p in c.profils)
            lignes.append(
                {
                    "id": c.id,
                    "caf_id": c.caf_id,
                    "organisme_id": c.organisme_id,
                    "libelle": f"Convention {rng.choice(['CDAP', 'AFAS', 'Mon Compte Partenaire'])} — n° {c.id}",
                    "etat": c.etat,
                    "validee_le": (c.date_ouverture - datetime.timedelta(days=rng.randint(0, 20)))
                    if c.etat == EtatConvention.VALIDEE
                    else None,
                    "date_ouverture": c.date_ouverture,
                    "date_cloture": c.date_cloture,
                }
            )
        self.ecrivain.ecrire(Convention, lignes, len(lignes), "conventions")
        self.ecrivain.ecrire(Convention.profils.through, liens, len(liens), "conventions_profils")

    def _tailles(self, grandes: list[int]) -> None:
        """Comptes, groupes, appartenances et lignes de journal de chaque convention : les grandes
        communes d'abord, le reste selon une loi de Pareto (beaucoup de petits, peu de gros)."""
        e, rng = self.echelle, self.rng
        g = e.grande_commune
        # Les grandes communes sont les conventions des premiers organismes (leur convention actuelle).
        actuelles = {}
        for c in self.conventions:
            actuelles[c.organisme_id] = c  # la dernière écrite est l'actuelle
        self.grande = actuelles[self.organismes[0]["id"]]
        les_grandes = [actuelles[self.organismes[i]["id"]] for i in range(len(grandes))]
        autres = [c for c in self.conventions if c not in les_grandes]
        for c, taille in zip(les_grandes, grandes, strict=True):
            c.taille = taille
        reste = max(len(autres), e.utilisateurs - sum(grandes))
        poids = [0.0 if c.etat == EtatConvention.EN_COURS else min(rng.paretovariate(1.3), 300.0) for c in autres]
        for c, taille in zip(autres, _repartir(reste, poids, minimum=1), strict=True):
            c.taille = taille
        # Groupes et appartenances : la grande commune a les siennes, les autres au prorata.
        self.grande.groupes, self.grande.appartenances, self.grande.journal = g.groupes, g.appartenances, g.journal
        autres = [c for c in self.conventions if c is not self.grande]
        poids = [float(c.taille - 1) for c in autres]  # l'administrateur seul n'a pas de groupe
        for c, n in zip(autres, _repartir(max(0, e.groupes - g.groupes), poids), strict=True):
            c.groupes = min(n, max(0, c.taille - 1))
        restant = max(0, e.appartenances - g.appartenances)
        poids = [float(c.taille) if c.groupes else 0.0 for c in autres]
        for c, n in zip(autres, _repartir(restant, poids), strict=True):
            c.appartenances = min(n, (c.taille - 1) * c.groupes) if c.groupes else 0
        # Ce que les plafonds ont retenu va aux conventions qui ont encore de la place.
        manque = restant - sum(c.appartenances for c in autres)
        for c in sorted(autres, key=lambda c: -c.taille):
            if manque <= 0:
                break
            place = (c.taille - 1) * c.groupes - c.appartenances
            ajout = min(place, manque, c.taille)
            if ajout > 0:
                c.appartenances += ajout
                manque -= ajout
        poids = [float(c.taille) for c in autres]
        for c, n in zip(autres, _repartir(max(0, e.journal - g.journal), poids), strict=True):
            c.journal = n

    # -- Comptes ----------------------------------------------------------------------------

    def _compte(self, pk: int, identifiant: str, rng: random.Random, ouverture: datetime.date, **autres) -> dict:
        nom, prenom = _nom(rng), rng.choice(_PRENOMS)
        actif = autres.pop("_actif", rng.random() > 0.1)
        derniere = None
        if actif:
            derniere = self.maintenant - datetime.timedelta(minutes=rng.randint(60, 60 * 24 * 500))
            derniere = max(derniere, datetime.datetime.combine(ouverture, datetime.time(9), tzinfo=datetime.UTC))
        mail_prenom = _lettres(prenom).lower()
        ligne = {
            "id": pk,
            "password": self.hache if actif else "!" + "".join(rng.choices("abcdefghijkmnpqrstuvwxyz23456789", k=40)),
            "last_login": derniere,
            "is_superuser": False,
            "identifiant": identifiant,
            "nom": nom,
            "prenom": prenom,
            "email": f"{mail_prenom}.{_lettres(nom).lower()}.{pk}@{autres.pop('_domaine', 'partenaire')}.{DOMAINE}",
            "telephone": f"0{rng.randint(1, 5)}{rng.randint(10_000_000, 99_999_999)}" if rng.random() < 0.6 else "",
            "is_staff": False,
            "is_active": True,
            "connexion_precedente": derniere,
            "cree_le": datetime.datetime.combine(ouverture, datetime.time(8), tzinfo=datetime.UTC),
            "date_ouverture": ouverture,
            "date_cloture": None,
        }
        ligne.update(autres)
        return ligne

    def _agents(self) -> None:
        e = self.echelle
        ids = self._ids(Utilisateur, e.cafs * e.agents_par_caf + 1)
        it = iter(ids)
        lignes = []
        self.agents: dict[int, list[int]] = {}
        for caf_id, code in self.cafs:
            for _ in range(e.agents_par_caf):
                pk = next(it)
                self.agents.setdefault(caf_id, []).append(pk)
                lignes.append(
                    self._compte(
                        pk,
                        self._identifiant("CAF", code),
                        self.rng,
                        self._jour_avant(365 * 8, 30),
                        caf_id=caf_id,
                        _actif=True,
                        _domaine=f"caf{code}",
                    )
                )
        self.superviseur = next(it)
        lignes.append(
            self._compte(
                self.superviseur,
                self._identifiant("PPA", "000"),
                self.rng,
                self._jour_avant(365 * 3, 30),
                _actif=True,
                _domaine="cnaf",
            )
        )
        self.ecrivain.ecrire(Utilisateur, lignes, len(lignes), "agents_caf")

    def _utilisateurs(self) -> None:
        total = sum(c.taille for c in self.conventions)
        ids = iter(self._ids(Utilisateur, total))
        rng = self.rng

        def lignes() -> Iterator[dict]:
            for c in self.conventions:
                c.utilisateurs, c.ouvertures, c.clotures, c.ouverts = [], [], [], []
                for rang in range(c.taille):
                    pk = next(ids)
                    c.utilisateurs.append(pk)
                    administrateur = rang == 0
                    if administrateur:
                        ouverture = min(c.date_ouverture, self.jour) - datetime.timedelta(days=rng.randint(0, 20))
                    else:
                        ouverture = max(c.date_ouverture, self._jour_avant(365 * 6))
                        ouverture = min(ouverture, self.jour)
                    autres: dict = {"organisme_id": c.organisme_id, "convention_id": c.id, "_domaine": c.slug}
                    if administrateur or (c is self.grande and rang == 1):
                        # L'administrateur, et le responsable de la grande commune (persona) : ouverts.
                        c.administrateur = c.administrateur or pk
                        autres["_actif"] = True
                    else:
                        tirage = rng.random()
                        if tirage < 0.04:
                            autres["date_cloture"] = max(ouverture + datetime.timedelta(1), self._jour_avant(400))
                        elif tirage < 0.06:
                            autres["suspendu_le"] = self.maintenant - datetime.timedelta(days=rng.randint(1, 90))
                    compte = self._compte(pk, self._identifiant(c.prefixe, c.caf_code), rng, ouverture, **autres)
                    c.ouvertures.append(ouverture)
                    c.clotures.append(compte["date_cloture"])
                    if compte["date_cloture"] is None and "suspendu_le" not in compte:
                        c.ouverts.append(pk)
                    yield compte

        self.ecrivain.ecrire(Utilisateur, lignes(), total, "utilisateurs")

    def _mandats(self) -> None:
        ids = iter(self._ids(Mandat, len(self.conventions)))
        lignes = (
            {
                "id": next(ids),
                "convention_id": c.id,
                "administrateur_id": c.administrateur,
                "avenant_id": None,
                "date_ouverture": c.date_ouverture,
                "date_cloture": c.date_cloture,
            }
            for c in self.conventions
        )
        self.ecrivain.ecrire(Mandat, lignes, len(self.conventions), "mandats")

    # -- Groupes (arbres sur quatre niveaux au plus) ----------------------------------------

    @staticmethod
    def _niveaux(n: int) -> list[int]:
        """Nombre de groupes par niveau : un arbre qui s'évase (1 %, 5 %, 20 %, le reste)."""
        if n <= 0:
            return []
        if n < 4:
            return [1] * n
        l1 = max(1, round(n * 0.01))
        l2 = max(1, round(n * 0.05))
        l3 = max(1, round(n * 0.2))
        return [l1, l2, l3, n - l1 - l2 - l3]

    def _groupes(self) -> None:
        rng = self.rng
        total = sum(c.groupes for c in self.conventions)
        ids = iter(self._ids(Groupe, total))
        profils_groupes: list[dict] = []
        self.groupes_effectifs: list[tuple[int, int]] = []  # (groupe, responsable) qui reçoivent le droit
        self.responsable_persona = 0
        self.grand_groupe = 0

        def lignes() -> Iterator[dict]:
            for c in self.conventions:
                c.liste_groupes = []
                if not c.groupes:
                    continue
                precedents: list[tuple[int, str, list[int]]] = []  # (id, chemin, profils)
                numero = 0
                for niveau, nombre in enumerate(self._niveaux(c.groupes), start=1):
                    courants = []
                    for _ in range(nombre):
                        pk = next(ids)
                        numero += 1
                        if precedents:
                            parent, chemin_parent, profils_parent = rng.choice(precedents)
                        else:
                            parent, chemin_parent, profils_parent = None, "/", c.profils
                        profils = sorted(rng.sample(profils_parent, rng.randint(1, min(2, len(profils_parent)))))
                        ouverture = max(c.date_ouverture, self._jour_avant(365 * 4))
                        ouverture = min(ouverture, self.jour) if c.etat == EtatConvention.VALIDEE else c.date_ouverture
                        cloture = self._jour_avant(200, 1) if rng.random() < 0.03 and niveau > 1 else None
                        if cloture is not None and cloture <= ouverture:
                            cloture = None
                        responsable = c.administrateur
                        if numero > 1 and rng.random() < 0.6 and len(c.ouverts) > 1:
                            responsable = rng.choice(c.ouverts[1:])
                        if c is self.grande and numero == 2:
                            # Le responsable de la démonstration : un sous-arbre, pas toute la convention.
                            responsable = c.ouverts[1]
                            self.responsable_persona = responsable
                        if c is self.grande and numero == 1:
                            self.grand_groupe = pk
                            # Le grand groupe déclare aussi pour AFAS, à toute échelle : la grande
                            # commune a des déclarants (les pages AFAS et les tableaux de bord de
                            # l'administrateur lisent alors les mêmes requêtes d'une échelle à l'autre).
                            profils = sorted({*profils, self.profils["AFAS-DECLARER"]})
                        chemin = f"{chemin_parent}{pk}/"
                        courants.append((pk, chemin, profils))
                        c.liste_groupes.append((pk, ouverture, cloture))
                        profils_groupes.extend({"groupe_id": pk, "profil_id": p} for p in profils)
                        if c.ouverte(self.jour) and ouverture <= self.jour and cloture is None:
                            self.groupes_effectifs.append((pk, responsable))
                        yield {
                            "id": pk,
                            "convention_id": c.id,
                            "code": f"G{numero:04d}",
                            "libelle": f"{rng.choice(_SERVICES)} — {rng.choice(_SECTEURS)} {numero}",
                            "parent_id": parent,
                            "niveau": niveau,
                            "chemin": chemin,
                            "responsable_id": responsable,
                            "date_ouverture": ouverture,
                            "date_cloture": cloture,
                        }
                    precedents = courants

        self.ecrivain.ecrire(Groupe, lignes(), total, "groupes")
        ids_gp = iter(self._ids(GroupeProfil, len(profils_groupes)))
        for ligne in profils_groupes:
            ligne["id"] = next(ids_gp)
        self.ecrivain.ecrire(GroupeProfil, profils_groupes, len(profils_groupes), "groupes_profils")

    def _appartenances(self) -> None:
        rng = self.rng
        total = sum(c.appartenances for c in self.conventions)
        ids = iter(self._ids(Appartenance, total))
        g = self.echelle.grande_commune

        def paires(c: _Convention) -> Iterator[tuple[int, int]]:
            """(rang de l'utilisateur, rang du groupe), distinctes, ``c.appartenances`` en tout."""
            n_u, n_g = len(c.utilisateurs), len(c.liste_groupes)
            if c is self.grande:
                # Les premiers comptes (après l'administrateur et le responsable) dans le grand
                # groupe ; chacun dans d'autres groupes tirés au hasard, jusqu'au total.
                vus = set()
                for u in range(2, min(n_u, g.grand_groupe + 2)):
                    vus.add((u, 0))
                    yield u, 0
                yield 1, 1  # le responsable est membre de son groupe
                vus.add((1, 1))
                restant = c.appartenances - len(vus)
                u = 2
                while restant > 0:
                    gi = rng.randrange(1, n_g)
                    if (u, gi) not in vus:
                        vus.add((u, gi))
                        yield u, gi
                        restant -= 1
                    u = u + 1 if u + 1 < n_u else 2
                return
            for k in range(c.appartenances):
                u = 1 + k % max(1, n_u - 1) if n_u > 1 else 0
                tour = k // max(1, n_u - 1)
                yield u, (u * 7 + tour) % n_g

        def lignes() -> Iterator[dict]:
            for c in self.conventions:
                if not c.appartenances or not c.liste_groupes:
                    continue
                for u, gi in paires(c):
                    groupe, ouverture_groupe, cloture_groupe = c.liste_groupes[gi]
                    plancher = max(ouverture_groupe, c.ouvertures[u])
                    ouverture = max(plancher, self._jour_avant(365 * 3))
                    ouverture = min(ouverture, self.jour) if plancher <= self.jour else plancher
                    fin = min(d for d in (cloture_groupe, c.clotures[u], datetime.date.max) if d is not None)
                    if ouverture >= fin:
                        ouverture = plancher
                    if ouverture >= fin:
                        continue  # compte ou groupe clos avant de pouvoir s'ouvrir : pas d'appartenance
                    tirage = rng.random()
                    cloture = None
                    if tirage < 0.08:
                        cloture = self.jour + datetime.timedelta(days=rng.randint(1, 120))  # échéances à venir
                        # Une appartenance qui ne s'ouvre que plus tard ne peut finir avant de s'ouvrir.
                        cloture = max(cloture, ouverture + datetime.timedelta(days=1))
                    elif tirage < 0.15:
                        cloture = max(ouverture + datetime.timedelta(days=1), self._jour_avant(300))
                    if cloture is not None and cloture <= ouverture:
                        cloture = None  # ouverte plus tard que l'échéance tirée (convention pas encore ouverte)
                    if fin != datetime.date.max and (cloture is None or cloture > fin):
                        cloture = fin
                    yield {
                        "id": next(ids),
                        "utilisateur_id": c.utilisateurs[u],
                        "groupe_id": groupe,
                        "date_ouverture": ouverture,
                        "date_cloture": cloture,
                        "fin_notifiee_pour": None,
                    }

        self.ecrivain.ecrire(Appartenance, lignes(), total, "appartenances")

    # -- Droits objets : ceux que la réconciliation calculerait -----------------------------

    def _droits_objets(self) -> None:
        perm_conv = Permission.objects.get(
            codename="administrer_convention", content_type=ContentType.objects.get_for_model(Convention)
        )
        perm_groupe = Permission.objects.get(
            codename="gerer_groupe", content_type=ContentType.objects.get_for_model(Groupe)
        )
        # Les responsables sont tirés parmi les comptes ouverts et non suspendus (``ouverts``).
        lignes = [
            {"user_id": c.administrateur, "permission": perm_conv, "object_pk": str(c.id)}
            for c in self.conventions
            if c.ouverte(self.jour)
        ]
        lignes += [{"user_id": r, "permission": perm_groupe, "object_pk": str(g)} for g, r in self.groupes_effectifs]
        ids = iter(self._ids(UserObjectPermission, len(lignes)))
        for ligne in lignes:
            perm = ligne.pop("permission")
            ligne.update(id=next(ids), permission_id=perm.pk, content_type_id=perm.content_type_id)
        self.ecrivain.ecrire(UserObjectPermission, lignes, len(lignes), "droits_objets")

    # -- Journal (piste d'audit par convention) ---------------------------------------------

    def _journal(self) -> None:
        rng = self.rng
        total = sum(c.journal for c in self.conventions)
        ids = iter(self._ids(EvenementAudit, total))

        def lignes() -> Iterator[dict]:
            for c in self.conventions:
                if not c.journal:
                    continue
                debut = datetime.datetime.combine(min(c.date_ouverture, self.jour), datetime.time(8), datetime.UTC)
                etendue = max(60, int((self.maintenant - debut).total_seconds()))
                for _ in range(c.journal):
                    cible = rng.choice(c.utilisateurs)
                    action = rng.choice(_ACTIONS)
                    yield {
                        "id": next(ids),
                        "acteur_id": c.administrateur,
                        "action": action,
                        "cible_type": "habilitations.Utilisateur",
                        "cible_id": str(cible),
                        "cible_libelle": f"Compte {cible}",
                        "convention_id": c.id,
                        "adresse_ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                        "avant": None,
                        "apres": {"utilisateur": cible, "action": action},
                        "cree_le": debut + datetime.timedelta(seconds=rng.randrange(etendue)),
                    }

        self.ecrivain.ecrire(EvenementAudit, lignes(), total, "journal")

    # -- Personas du banc d'essai -----------------------------------------------------------

    def _personas(self) -> None:
        """Double authentification (secret TOTP dérivé de la graine) pour les personas qui s'en
        servent ; la permission de supervision nationale ; le résumé que lit le banc d'essai."""
        c = self.grande
        agent = self.agents[c.caf_id][0]
        comptes = {
            "administrateur": c.administrateur,
            "responsable": self.responsable_persona or c.administrateur,
            "agent_caf": agent,
            "superviseur": self.superviseur,
        }
        # Secrets TOTP des personas : dérivés de la graine, pour que le banc les retrouve.
        rng_otp = random.Random(self.graine * 7919)  # noqa: S311 (comptes synthétiques du banc)
        self.personas: dict = {"mot_de_passe": MOT_DE_PASSE, "comptes": {}}
        for role, pk in comptes.items():
            cle = "".join(rng_otp.choices("0123456789abcdef", k=40))
            TOTPDevice.objects.create(user_id=pk, name="Banc d'essai", key=cle, confirmed=True)
            self.personas["comptes"][role] = {
                "identifiant": Utilisateur.objects.values_list("identifiant", flat=True).get(pk=pk),
                "cle_totp_hex": cle,
            }
        Utilisateur.user_permissions.through.objects.create(
            utilisateur_id=self.superviseur, permission=Permission.objects.get(codename="superviser_national")
        )
        # Comptes ordinaires (sans double authentification) pour mesurer la connexion.
        simples = (
            Utilisateur.objects.filter(convention_id=c.id, date_cloture__isnull=True, suspendu_le__isnull=True)
            .exclude(password__startswith="!")  # noqa: S106 (préfixe d'un mot de passe inutilisable)
            .exclude(pk__in=comptes.values())
            .exclude(groupes_responsable__isnull=False)
            .order_by("pk")
            .values_list("identifiant", flat=True)[:200]
        )
        membres = Appartenance.objects.filter(groupe_id=self.grand_groupe).order_by("utilisateur_id")
        self.personas.update(
            {
                "convention": c.id,
                "grand_groupe": self.grand_groupe,
                "groupe_responsable": Groupe.objects.filter(responsable_id=self.responsable_persona)
                .order_by("pk")
                .values_list("pk", flat=True)
                .first(),
                "utilisateur": membres.values_list("utilisateur_id", flat=True).first(),
                "organisme": c.organisme_id,
                "connexion": list(simples),
            }
        )

    def _compteurs_et_sequences(self) -> None:
        CompteurIdentifiant.objects.bulk_create(
            CompteurIdentifiant(code_caf=code, dernier=n) for code, n in sorted(self.compteurs.items())
        )
        modeles = [m for m in TABLES_GENEREES if not m._meta.auto_created]
        with connection.cursor() as curseur:
            for sql in connection.ops.sequence_reset_sql(no_style(), modeles):
                curseur.execute(sql)


# Les tâches du beat (``CELERY_BEAT_SCHEDULE``) qui écrivent des synthèses datées, dans l'ordre de
# la nuit. Pas les tâches du jour (suspensions, avis, relances) : elles écrivent des courriels.
TACHES_DE_NUIT = (
    tasks_habilitations.syntheses_tableaux_de_bord,
    tasks_afas.syntheses_tableaux_de_bord_afas,
    tasks_afas.statistiques_calculer,
)


def calculs_de_nuit() -> dict[str, dict]:
    """Les synthèses de la nuit, calculées tout de suite par les tâches mêmes du beat, exécutées
    ici dans le processus : une base générée ressemble à la production au matin (chiffres de
    profils des grandes conventions, statistiques AFAS), et le banc mesure les pages telles que
    les utilisateurs les voient. Après ``analyser`` : ces calculs ont besoin des statistiques du
    planificateur. Rend, par tâche, ce qu'elle rend et sa durée."""
    resultats = {}
    for tache in TACHES_DE_NUIT:
        debut = time.monotonic()
        rendu = tache()
        resultats[tache.name] = {"resultat": rendu, "secondes": round(time.monotonic() - debut, 1)}
    return resultats


def analyser() -> float:
    """Statistiques du planificateur après le chargement (ANALYZE), comme l'autovacuum le ferait."""
    debut = time.monotonic()
    with connection.cursor() as curseur:
        curseur.execute("ANALYZE")
    return time.monotonic() - debut


# --- AFAS : activités, lieux, habilitations, appels et déclarations ----------------------------
#
# Les activités vont aux partenaires dont la convention ouverte accorde AFAS-DECLARER ; les rôles
# AFAS aux comptes membres ce jour d'un groupe qui donne ce profil (relus dans la base) ; les
# déclarations suivent le calendrier des Caf (prévisionnel, réel N-1, actualisés juin et
# septembre), le dernier appel encore ouvert. Tirage à part (``rng``) : les tables d'avant AFAS
# ne changent pas. Les chiffres d'une déclaration sont tirés d'une graine qui lui est propre, pour
# que les données d'activité, les données financières et le contenu du récépissé (et son
# empreinte SHA-256) concordent sans tout garder en mémoire.

_NATURES_ALSH = [
    (NatureActivite.PERISCOLAIRE, 50),
    (NatureActivite.EXTRASCOLAIRE, 35),
    (NatureActivite.ADOLESCENTS, 15),
]
_TYPES_ACTIVITE = [(TypeActivite.ALSH, 55), (TypeActivite.EAJE, 28), (TypeActivite.LAEP, 7), (TypeActivite.RPE, 10)]
_LIBELLES_ACTIVITE = {
    (TypeActivite.ALSH, NatureActivite.PERISCOLAIRE): ["Accueil périscolaire", "ALSH périscolaire"],
    (TypeActivite.ALSH, NatureActivite.EXTRASCOLAIRE): ["Centre de loisirs", "ALSH extrascolaire"],
    (TypeActivite.ALSH, NatureActivite.ADOLESCENTS): ["Espace jeunes", "Accueil ados"],
    (TypeActivite.EAJE, ""): ["Multi-accueil", "Crèche", "Micro-crèche"],
    (TypeActivite.LAEP, ""): ["Lieu d'accueil enfants-parents"],
    (TypeActivite.RPE, ""): ["Relais petite enfance"],
}
_LIEUX = ["École", "Groupe scolaire", "Maison de quartier", "Antenne", "Site", "Salle"]
# (jours d'ouverture, amplitude en heures, enfants inscrits, prix de revient horaire en euros)
_PROFILS_ACTIVITE = {
    (TypeActivite.ALSH, NatureActivite.PERISCOLAIRE): ((140, 180), (2.0, 4.0), (30, 220), (4.0, 8.0)),
    (TypeActivite.ALSH, NatureActivite.EXTRASCOLAIRE): ((40, 110), (8.0, 10.0), (20, 160), (4.5, 9.0)),
    (TypeActivite.ALSH, NatureActivite.ADOLESCENTS): ((60, 200), (3.0, 8.0), (15, 90), (5.0, 10.0)),
    (TypeActivite.EAJE, ""): ((200, 230), (10.0, 11.5), (10, 80), (9.0, 13.5)),
    (TypeActivite.LAEP, ""): ((40, 150), (2.0, 4.0), (10, 60), (15.0, 40.0)),
    (TypeActivite.RPE, ""): ((180, 230), (6.0, 8.0), (5, 40), (20.0, 45.0)),
}
# Part de l'année couverte par chaque type de déclaration.
_PART_ANNEE = {TD.PREVISIONNEL: 1.0, TD.ACTUALISE_JUIN: 0.5, TD.ACTUALISE_SEPTEMBRE: 0.75, TD.REEL: 1.0}
# Du plus récent au plus ancien : (décalage d'exercice, type) ; un cycle par année.
_CYCLE_APPELS = [(0, TD.ACTUALISE_SEPTEMBRE), (0, TD.ACTUALISE_JUIN), (-1, TD.REEL), (0, TD.PREVISIONNEL)]
# États d'arrivée : l'appel en cours, puis les appels clos (quelques retardataires).
_ETATS_OUVERT = [
    (EtatDeclaration.A_SAISIR, 28),
    (EtatDeclaration.EN_COURS, 30),
    (EtatDeclaration.A_APPROUVER, 10),
    (EtatDeclaration.TRANSMISE, 17),
    (EtatDeclaration.VALIDEE, 10),
    (EtatDeclaration.RENVOYEE, 5),
]
_ETATS_CLOS = [
    (EtatDeclaration.VALIDEE, 88),
    (EtatDeclaration.TRANSMISE, 5),
    (EtatDeclaration.RENVOYEE, 3),
    (EtatDeclaration.EN_COURS, 2),
    (EtatDeclaration.A_APPROUVER, 1),
    (EtatDeclaration.A_SAISIR, 1),
]
_E = EtatDeclaration
# Les passages d'état qui mènent à chaque état (``afas.declarations.etats.TRANSITIONS``).
_CHEMINS = {
    _E.A_SAISIR: [],
    _E.EN_COURS: [(_E.A_SAISIR, _E.EN_COURS)],
    _E.A_APPROUVER: [(_E.A_SAISIR, _E.EN_COURS), (_E.EN_COURS, _E.A_APPROUVER)],
    _E.TRANSMISE: [(_E.A_SAISIR, _E.EN_COURS), (_E.EN_COURS, _E.A_APPROUVER), (_E.A_APPROUVER, _E.TRANSMISE)],
    _E.VALIDEE: [
        (_E.A_SAISIR, _E.EN_COURS),
        (_E.EN_COURS, _E.A_APPROUVER),
        (_E.A_APPROUVER, _E.TRANSMISE),
        (_E.TRANSMISE, _E.VALIDEE),
    ],
    _E.RENVOYEE: [
        (_E.A_SAISIR, _E.EN_COURS),
        (_E.EN_COURS, _E.A_APPROUVER),
        (_E.A_APPROUVER, _E.TRANSMISE),
        (_E.TRANSMISE, _E.RENVOYEE),
    ],
}
# Validée après un renvoi pour correction (deux transmissions, deux récépissés).
_CHEMIN_AVEC_RENVOI = [
    *_CHEMINS[_E.RENVOYEE],
    (_E.RENVOYEE, _E.EN_COURS),
    (_E.EN_COURS, _E.A_APPROUVER),
    (_E.A_APPROUVER, _E.TRANSMISE),
    (_E.TRANSMISE, _E.VALIDEE),
]
_MOTIFS_RENVOI = [
    "Les heures facturées dépassent nettement les heures réalisées : merci de vérifier.",
    "Le taux de ressortissants du régime général paraît incohérent avec l'an dernier.",
    "Il manque les participations familiales dans les produits.",
]


def contenu_canonique(contenu: dict) -> bytes:
    """Le contenu d'un récépissé tel qu'on en calcule l'empreinte : JSON trié, sans espaces."""
    return json.dumps(contenu, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _montant(x: float) -> Decimal:
    return Decimal(f"{x:.2f}")


@dataclass(eq=False)
class _Activite:
    id: int
    convention: _Convention
    type_activite: str
    nature: str
    libelle: str
    numero: str
    ouverture: datetime.date
    cloture: datetime.date | None
    lieux: list[tuple[int, datetime.date, datetime.date | None]] = field(default_factory=list)
    # Les titulaires actifs (pour les auteurs des événements et des récépissés).
    approbateur: int | None = None
    fdf: int | None = None
    fda: int | None = None

    def ouverte(self, jour: datetime.date) -> bool:
        return self.ouverture <= jour and (self.cloture is None or jour < self.cloture)

    def lieux_ouverts(self, jour: datetime.date) -> list[int]:
        return [pk for pk, o, c in self.lieux if o <= jour and (c is None or jour < c)]


@dataclass(frozen=True)
class _Appel:
    id: int
    caf_id: int
    rang: int  # 0 : l'appel en cours
    exercice: int
    type_declaration: str
    ouverture: datetime.date
    limite: datetime.date


class GenerateurAfas:
    """Les tables AFAS d'une échelle, écrites après les comptes et les groupes de ``Generateur``."""

    def __init__(self, g: Generateur) -> None:
        self.g = g
        self.a = g.echelle.afas
        self.rng = random.Random(g.graine * 1_000_003 + 11)  # noqa: S311 (déterminisme voulu)
        self.jour = g.jour
        self.maintenant = g.maintenant
        self.activites: list[_Activite] = []
        self.persona_declarant: int | None = None

    def generer(self) -> None:
        g = self.g
        declarer = g.profils.get(PROFIL_DECLARER)
        actuelles: dict[int, _Convention] = {}
        for c in g.conventions:
            actuelles[c.organisme_id] = c  # la dernière écrite est l'actuelle
        partenaires = sorted(
            (c for c in actuelles.values() if declarer in c.profils and c.ouverte(self.jour)), key=lambda c: c.id
        )
        self.declarants = self._declarants(declarer)
        self._activites(partenaires)
        self._lieux()
        self._habilitations()
        self._appels_et_declarations()

    # -- Qui peut tenir un rôle : les membres ce jour d'un groupe donnant AFAS-DECLARER ----------

    def _declarants(self, declarer: int) -> dict[int, list[int]]:
        # Deux requêtes simples et le reste en mémoire (comptes ouverts et non suspendus, profils
        # des conventions : ``_Convention``) ; écrite en une jointure, PostgreSQL y passait
        # 150 s à l'échelle nationale.
        jour = self.jour
        conventions = {c.id: c for c in self.g.conventions}
        groupes = dict(
            GroupeProfil.objects.filter(q_ouvert(jour, "groupe__"), profil_id=declarer).values_list(
                "groupe_id", "groupe__convention_id"
            )
        )
        groupes = {g: c for g, c in groupes.items() if declarer in conventions[c].profils}
        ouverts = {c.id: set(c.ouverts) for c in self.g.conventions if c.id in set(groupes.values())}
        paires = set()
        for groupe, utilisateur in Appartenance.objects.filter(
            q_ouvert(jour), groupe__groupe_profils__profil_id=declarer
        ).values_list("groupe_id", "utilisateur_id"):
            convention = groupes.get(groupe)
            if convention is not None and utilisateur in ouverts[convention]:
                paires.add((convention, utilisateur))
        par_convention: dict[int, list[int]] = {}
        for convention, utilisateur in sorted(paires):
            par_convention.setdefault(convention, []).append(utilisateur)
        grande = self.g.grande
        # La persona déclarante : un déclarant de la grande commune au compte activé, ni
        # administrateur, ni responsable, ni habilitateur (sans double authentification obligatoire
        # ni tableau de l'habilitateur, comme la plupart des déclarants, à toute échelle).
        habiliter = Appartenance.objects.filter(
            utilisateur=OuterRef("pk"), groupe__groupe_profils__profil__code=PROFIL_HABILITER
        )
        candidats = (
            Utilisateur.objects.filter(pk__in=par_convention.get(grande.id, []), groupes_responsable__isnull=True)
            .exclude(Exists(habiliter))
            .exclude(password__startswith="!")  # noqa: S106 (mot de passe inutilisable)
            .exclude(pk=grande.administrateur)
            .order_by("pk")
        )
        self.persona_declarant = next((u.pk for u in candidats[:50] if not perms_afas.peut_habiliter(u)), None)
        return par_convention

    # -- Activités -------------------------------------------------------------------------------

    def _activites(self, partenaires: list[_Convention]) -> None:
        a, rng, g = self.a, self.rng, self.g
        grande = g.grande
        principale = [c for c in partenaires if c.caf_id == grande.caf_id and c is not grande]
        autres = [c for c in partenaires if c.caf_id != grande.caf_id]
        nombres: list[tuple[_Convention, int]] = [(grande, a.grande_commune)]
        for groupe, total in (
            (principale, a.activites_caf_principale - a.grande_commune),
            (autres, a.activites - a.activites_caf_principale),
        ):
            # Surtout des partenaires prêts (des déclarants) ; quelques-uns n'ont encore personne.
            poids = [min(rng.paretovariate(1.2), 150.0) * (1.0 if self.declarants.get(c.id) else 0.12) for c in groupe]
            nombres += list(zip(groupe, _repartir(max(0, total), poids), strict=True))
        communes = {o["id"]: (o["commune"], o["code_postal"], o["_caf_code"]) for o in g.organismes}
        total = sum(n for _c, n in nombres)
        ids = iter(g._ids(Activite, total))
        types = [t for t, _p in _TYPES_ACTIVITE]
        poids_types = [p for _t, p in _TYPES_ACTIVITE]
        natures = [n for n, _p in _NATURES_ALSH]
        poids_natures = [p for _n, p in _NATURES_ALSH]

        def lignes() -> Iterator[dict]:
            for c, n in nombres:
                commune, _cp, code_caf = communes[c.organisme_id]
                for rang in range(n):
                    pk = next(ids)
                    type_activite = rng.choices(types, poids_types)[0]
                    nature = rng.choices(natures, poids_natures)[0] if type_activite == TypeActivite.ALSH else ""
                    if c is grande and rang == 0:
                        type_activite, nature = TypeActivite.ALSH, NatureActivite.PERISCOLAIRE
                    libelle = f"{rng.choice(_LIBELLES_ACTIVITE[(type_activite, nature)])} {_nom(rng)}"
                    if c is grande or rng.random() < 0.5:
                        libelle += f" — {commune}"
                    if c is grande:
                        # Des années d'historique : tous les appels de la Caf la concernent.
                        ouverture, cloture = self.g._jour_avant(365 * 10, 365 * 3), None
                        if rang >= a.persona and rng.random() < 0.02:
                            cloture = self.jour - datetime.timedelta(days=rng.randint(1, 300))
                    else:
                        ouverture = self.jour - datetime.timedelta(days=rng.randint(60, 365 * 10))
                        cloture = None
                        tirage = rng.random()
                        if tirage < 0.03:
                            cloture = self.jour - datetime.timedelta(days=rng.randint(1, 700))
                        elif tirage < 0.05:
                            cloture = self.jour + datetime.timedelta(days=rng.randint(1, 200))
                        if cloture is not None and cloture <= ouverture:
                            cloture = None
                    act = _Activite(
                        id=pk,
                        convention=c,
                        type_activite=type_activite,
                        nature=nature,
                        libelle=libelle[:200],
                        numero=f"{code_caf}{type_activite[0]}{pk:08d}",
                        ouverture=ouverture,
                        cloture=cloture,
                    )
                    self.activites.append(act)
                    yield {
                        "id": pk,
                        "organisme_id": c.organisme_id,
                        "numero_equipement": act.numero,
                        "libelle": act.libelle,
                        "type_activite": type_activite,
                        "nature": nature,
                        "date_ouverture": ouverture,
                        "date_cloture": cloture,
                    }

        g.ecrivain.ecrire(Activite, lignes(), total, "afas_activites")
        self.grande_activites = [act for act in self.activites if act.convention is grande]

    # -- Lieux d'implantation : le plus souvent 0 à 3, quelques activités en ont 30 --------------

    def _lieux(self) -> None:
        rng, g = self.rng, self.g
        communes = {o["id"]: (o["commune"], o["code_postal"]) for o in g.organismes}
        nombres = []
        for act in self.activites:
            if act is self.grande_activites[0]:
                n = 30
            else:
                tirage = rng.random()
                n = 30 if tirage < 0.003 else 0 if tirage < 0.45 else 1 if tirage < 0.70 else 2 if tirage < 0.85 else 3
            nombres.append(n)
        total = sum(nombres)
        ids = iter(g._ids(LieuImplantation, total))

        def lignes() -> Iterator[dict]:
            for act, n in zip(self.activites, nombres, strict=True):
                commune, code_postal = communes[act.convention.organisme_id]
                for _ in range(n):
                    pk = next(ids)
                    ouverture = act.ouverture + datetime.timedelta(days=rng.randint(0, 400))
                    ouverture = min(ouverture, max(act.ouverture, self.jour - datetime.timedelta(days=30)))
                    cloture = None
                    if act is not self.grande_activites[0] and rng.random() < 0.05:
                        cloture = self.jour - datetime.timedelta(days=rng.randint(1, 500))
                        if cloture <= ouverture:
                            cloture = None
                    if act.cloture is not None and (cloture is None or cloture > act.cloture):
                        cloture = act.cloture if act.cloture > ouverture else None
                    act.lieux.append((pk, ouverture, cloture))
                    yield {
                        "id": pk,
                        "activite_id": act.id,
                        "libelle": f"{rng.choice(_LIEUX)} {_nom(rng)}",
                        "adresse": f"{rng.randint(1, 90)} {rng.choice(['rue', 'place', 'allée', 'avenue'])} {_nom(rng)}",
                        "code_postal": code_postal,
                        "commune": commune,
                        "date_ouverture": ouverture,
                        "date_cloture": cloture,
                    }

        g.ecrivain.ecrire(LieuImplantation, lignes(), total, "afas_lieux")

    # -- Habilitations AFAS et validations des approbateurs -------------------------------------

    def _habilitations(self) -> None:
        a, rng, g, jour = self.a, self.rng, self.g, self.jour
        avec_declarants = [act for act in self.activites if self.declarants.get(act.convention.id)]
        persona = {act.id for act in self.grande_activites[: a.persona]} if self.persona_declarant else set()
        validations: list[dict] = []
        self.nb_validations = 0
        premier = g._ids(HabilitationAfas, 0).start
        compteur = itertools.count(premier)

        def moment(jour_: datetime.date) -> datetime.datetime:
            return datetime.datetime.combine(jour_, datetime.time(8), datetime.UTC) + datetime.timedelta(
                minutes=rng.randint(0, 600)
            )

        def habilitation(act, utilisateur, role, ouverture, cloture=None, lieu=None, decision=None) -> dict:
            pk = next(compteur)
            cree_le = moment(min(ouverture, jour))
            if role == RoleAfas.APPROBATEUR:
                decision = decision or DecisionCaf.VALIDEE
                decidee = None
                if decision != DecisionCaf.EN_ATTENTE:
                    decidee = min(cree_le + datetime.timedelta(days=rng.randint(1, 10)), self.maintenant)
                demandee_depuis = (self.maintenant - cree_le).days
                validations.append(
                    {
                        "habilitation_id": pk,
                        "caf_id": act.convention.caf_id,
                        # Les copies de l'habilitation (ValidationApprobateur.champs_copies).
                        "utilisateur_id": utilisateur,
                        "organisme_id": act.convention.organisme_id,
                        "activite_id": act.id,
                        "date_ouverture": ouverture,
                        "demandee_par_id": act.convention.administrateur,
                        "demandee_le": cree_le,
                        "decision": decision,
                        "decidee_par_id": rng.choice(g.agents[act.convention.caf_id])
                        if decision in (DecisionCaf.VALIDEE, DecisionCaf.REFUSEE)
                        else None,
                        "decidee_le": decidee,
                        "motif": "Cet utilisateur n'est pas le représentant légal de la structure."
                        if decision == DecisionCaf.REFUSEE
                        else "",
                        "relance_3j_le": cree_le + datetime.timedelta(days=3)
                        if decision == DecisionCaf.EN_ATTENTE and demandee_depuis >= 3
                        else None,
                        "relance_7j_le": cree_le + datetime.timedelta(days=7)
                        if decision == DecisionCaf.EN_ATTENTE and demandee_depuis >= 7
                        else None,
                    }
                )
            return {
                "id": pk,
                "utilisateur_id": utilisateur,
                "convention_id": act.convention.id,
                "role": role,
                "activite_id": act.id,
                "lieu_id": lieu,
                "cree_par_id": act.convention.administrateur,
                "cree_le": cree_le,
                "date_ouverture": ouverture,
                "date_cloture": cloture,
            }

        def debut_actif(*planchers: datetime.date) -> datetime.date:
            plancher = max(*planchers, jour - datetime.timedelta(days=365))
            return plancher + datetime.timedelta(days=rng.randint(0, max(0, (jour - plancher).days - 1)))

        actives = itertools.count()

        def lignes_actives() -> Iterator[dict]:
            for act in avec_declarants:
                membres = self.declarants[act.convention.id]
                ouverte = act.ouverte(jour)
                # Rôles tenus ce jour (une activité close garde ses derniers titulaires : suspendus).
                if act.id in persona:
                    act.approbateur = self.persona_declarant
                elif rng.random() > 0.03:
                    act.approbateur = rng.choice(membres)
                if act.approbateur:
                    yield habilitation(act, act.approbateur, RoleAfas.APPROBATEUR, debut_actif(act.ouverture))
                if act.id in persona and act.id % 2 == 0:
                    act.fdf = self.persona_declarant
                elif rng.random() > 0.03:
                    act.fdf = rng.choice(membres)
                if act.fdf:
                    yield habilitation(act, act.fdf, RoleAfas.FDF, debut_actif(act.ouverture))
                lieux = act.lieux_ouverts(jour) if ouverte else []
                if not lieux or rng.random() < 0.15:
                    if rng.random() > 0.05:
                        act.fda = rng.choice(membres)
                        yield habilitation(act, act.fda, RoleAfas.FDA, debut_actif(act.ouverture))
                else:
                    ouvertures = {pk: o for pk, o, _c in act.lieux}
                    for lieu in lieux:
                        if rng.random() > 0.05:
                            fda = rng.choice(membres)
                            act.fda = act.fda or fda
                            yield habilitation(act, fda, RoleAfas.FDA, debut_actif(ouvertures[lieu]), lieu=lieu)
                # Des cotitulaires (un second approbateur validé, un second fournisseur).
                if len(membres) > 1:
                    for role, titulaire in (
                        (RoleAfas.APPROBATEUR, act.approbateur),
                        (RoleAfas.FDF, act.fdf),
                        (RoleAfas.FDA, act.fda),
                    ):
                        autre = rng.choice(membres)
                        if rng.random() < 0.4 and autre != titulaire:
                            yield habilitation(act, autre, role, debut_actif(act.ouverture))
                # Un approbateur qui attend la Caf, un rôle qui commence plus tard.
                if ouverte and rng.random() < 0.06:
                    autre = rng.choice(membres)
                    if autre != act.approbateur:
                        debut = jour - datetime.timedelta(days=rng.randint(0, 12))
                        yield habilitation(act, autre, RoleAfas.APPROBATEUR, debut, decision=DecisionCaf.EN_ATTENTE)
                if ouverte and rng.random() < 0.02:
                    debut = jour + datetime.timedelta(days=rng.randint(1, 60))
                    yield habilitation(act, rng.choice(membres), RoleAfas.FDF, debut)

        def compter(lignes: Iterator[dict]) -> Iterator[dict]:
            for ligne in lignes:
                next(actives)
                yield ligne

        fenetre_fin = jour - datetime.timedelta(days=366)
        avec_historique = [act for act in avec_declarants if (fenetre_fin - act.ouverture).days >= 30]

        def lignes_historiques() -> Iterator[dict]:
            """Des titulaires successifs, sur des périodes disjointes avant l'an dernier, autant
            qu'il en faut pour approcher la cible de l'échelle."""
            deja = next(actives)
            moyenne = max(0.0, (a.habilitations - deja) / max(1, len(avec_historique)))
            for act in avec_historique:
                membres = self.declarants[act.convention.id]
                etendue = (fenetre_fin - act.ouverture).days
                n = min(int(rng.random() * 2 * moyenne + 0.5), etendue // 30)
                if not n:
                    continue
                part = etendue // n
                for k in range(n):
                    debut = act.ouverture + datetime.timedelta(days=k * part + rng.randint(0, part // 3))
                    fin = act.ouverture + datetime.timedelta(days=(k + 1) * part - rng.randint(0, part // 3))
                    if fin <= debut:
                        continue
                    role = rng.choices([RoleAfas.APPROBATEUR, RoleAfas.FDF, RoleAfas.FDA], [35, 30, 35])[0]
                    decision = None
                    if role == RoleAfas.APPROBATEUR:
                        tirage = rng.random()
                        decision = (
                            DecisionCaf.REFUSEE
                            if tirage < 0.12
                            else DecisionCaf.ANNULEE
                            if tirage < 0.17
                            else DecisionCaf.VALIDEE
                        )
                    lieu = None
                    if role == RoleAfas.FDA and act.lieux and rng.random() < 0.5:
                        pk_lieu, o_lieu, _c = rng.choice(act.lieux)
                        lieu = pk_lieu if o_lieu <= debut else None
                    yield habilitation(act, rng.choice(membres), role, debut, fin, lieu=lieu, decision=decision)

        lignes = itertools.chain(compter(lignes_actives()), lignes_historiques())
        n = g.ecrivain.ecrire(HabilitationAfas, lignes, a.habilitations, "afas_habilitations")
        g.prochain[HabilitationAfas] = premier + n
        ids = iter(g._ids(ValidationApprobateur, len(validations)))
        for ligne in validations:
            ligne["id"] = next(ids)
        self.nb_validations = len(validations)
        g.ecrivain.ecrire(ValidationApprobateur, validations, len(validations), "afas_validations")

    # -- Appels et déclarations ------------------------------------------------------------------

    def _calendrier(self, caf_id: int, n: int, ids: Iterator[int]) -> list[_Appel]:
        """Les ``n`` derniers appels d'une Caf, du plus récent (ouvert ce jour) au plus ancien."""
        appels = []
        for rang in range(n):
            decalage, type_declaration = _CYCLE_APPELS[rang % 4]
            exercice = self.jour.year - rang // 4 + decalage
            ouverture = self.jour - datetime.timedelta(days=20 + 91 * rang)
            appels.append(
                _Appel(
                    next(ids), caf_id, rang, exercice, type_declaration, ouverture, ouverture + datetime.timedelta(45)
                )
            )
        return appels

    def _appels_et_declarations(self) -> None:
        a, rng, g = self.a, self.rng, self.g
        cafs = sorted({act.convention.caf_id for act in self.activites})
        nombres = {caf: a.appels_caf_principale if caf == g.grande.caf_id else a.appels_autres for caf in cafs}
        ids_appels = iter(g._ids(AppelDeclaration, sum(nombres.values())))
        appels = {caf: self._calendrier(caf, nombres[caf], ids_appels) for caf in cafs}
        # Les déclarations, en bref : (id, appel, activité, état, avec un renvoi).
        self.declarations: list[tuple[int, _Appel, _Activite, str, bool]] = []
        etats_ouvert = ([e for e, _p in _ETATS_OUVERT], [p for _e, p in _ETATS_OUVERT])
        etats_clos = ([e for e, _p in _ETATS_CLOS], [p for _e, p in _ETATS_CLOS])
        compteur = itertools.count(g._ids(Declaration, 0).start)
        par_appel: dict[int, int] = {}
        for act in self.activites:
            for appel in appels[act.convention.caf_id]:
                if not act.ouverte(appel.ouverture):
                    continue
                etats, poids = etats_ouvert if appel.rang == 0 else etats_clos
                etat = rng.choices(etats, poids)[0]
                if act is self.grande_activites[0] and appel.rang == 0:
                    etat = _E.EN_COURS  # la déclaration à 30 lieux de la persona : en saisie
                renvoi = etat == _E.VALIDEE and rng.random() < 0.05
                self.declarations.append((next(compteur), appel, act, etat, renvoi))
                par_appel[appel.id] = par_appel.get(appel.id, 0) + 1
        g.prochain[Declaration] = g._ids(Declaration, 0).start + len(self.declarations)
        self.appels = appels

        def lignes_appels() -> Iterator[dict]:
            for caf in cafs:
                for appel in appels[caf]:
                    lance_le = datetime.datetime.combine(
                        appel.ouverture - datetime.timedelta(days=2), datetime.time(9), datetime.UTC
                    )
                    yield {
                        "id": appel.id,
                        "caf_id": caf,
                        "cle": uuid.UUID(int=rng.getrandbits(128), version=4),
                        "exercice": appel.exercice,
                        "type_declaration": appel.type_declaration,
                        "type_activite": "",
                        "nature": "",
                        "date_ouverture": appel.ouverture,
                        "date_limite": appel.limite,
                        "lance_par_id": g.agents[caf][0],
                        "lance_le": lance_le,
                        "etat_lancement": EtatLancement.TERMINE,
                        "total": par_appel.get(appel.id, 0),
                        "creees": par_appel.get(appel.id, 0),
                        "termine_le": lance_le + datetime.timedelta(minutes=rng.randint(1, 20)),
                    }

        g.ecrivain.ecrire(AppelDeclaration, lignes_appels(), sum(nombres.values()), "afas_appels")
        total = len(self.declarations)
        lien = AppelDeclaration.activites.through
        g.ecrivain.ecrire(
            lien,
            ({"appeldeclaration_id": ap.id, "activite_id": act.id} for _pk, ap, act, _e, _r in self.declarations),
            total,
            "afas_appels_activites",
        )
        g.ecrivain.ecrire(Declaration, self._lignes_declarations(), total, "afas_declarations")
        # Les totaux exacts, pour la barre de progression.
        lignes_activite = sum(len(act.lieux_ouverts(ap.ouverture)) or 1 for _pk, ap, act, _e, _r in self.declarations)
        chemins = [self._chemin(e, r) for _pk, _ap, _act, e, r in self.declarations]
        evenements = sum(len(c) for c in chemins)
        transmissions = sum(1 for c in chemins for _avant, apres in c if apres == _E.TRANSMISE)
        g.ecrivain.ecrire(DonneesActivite, self._lignes_donnees_activite(), lignes_activite, "afas_donnees_activite")
        g.ecrivain.ecrire(DonneesFinancieres, self._lignes_financieres(), total, "afas_donnees_financieres")
        g.ecrivain.ecrire(EvenementDeclaration, self._lignes_evenements(), evenements, "afas_evenements")
        g.ecrivain.ecrire(Recepisse, self._lignes_recepisses(), transmissions, "afas_recepisses")
        g.ecrivain.ecrire(MontantEstime, self._lignes_montants(), transmissions, "afas_montants")

    def _chemin(self, etat: str, renvoi: bool) -> list[tuple[str, str]]:
        return _CHEMIN_AVEC_RENVOI if renvoi else _CHEMINS[etat]

    def _transmissions(self, pk: int, appel: _Appel, etat: str, renvoi: bool) -> list[datetime.datetime]:
        """Les instants des transmissions de la déclaration (deux après un renvoi) : un récépissé
        et un montant figé pour chacune."""
        chemin = self._chemin(etat, renvoi)
        moments = self._moments(pk, appel, len(chemin))
        return [le for (_avant, apres), le in zip(chemin, moments, strict=True) if apres == _E.TRANSMISE]

    def _moments(self, pk: int, appel: _Appel, n: int) -> list[datetime.datetime]:
        """Les instants des ``n`` passages d'état, croissants, entre l'ouverture et la date limite
        (ou maintenant, pour l'appel en cours)."""
        r = random.Random(pk * 31 + 7)  # noqa: S311
        debut = datetime.datetime.combine(appel.ouverture, datetime.time(8), datetime.UTC)
        fin = min(
            datetime.datetime.combine(appel.limite, datetime.time(18), datetime.UTC) + datetime.timedelta(days=20),
            self.maintenant - datetime.timedelta(hours=1),
        )
        etendue = max(60, int((fin - debut).total_seconds()))
        return [debut + datetime.timedelta(seconds=s) for s in sorted(r.randrange(etendue) for _ in range(n))]

    def _lignes_declarations(self) -> Iterator[dict]:
        for pk, appel, act, etat, renvoi in self.declarations:
            moments = self._moments(pk, appel, len(self._chemin(etat, renvoi)))
            creee_le = datetime.datetime.combine(
                appel.ouverture - datetime.timedelta(days=2), datetime.time(9, 30), datetime.UTC
            )
            yield {
                "id": pk,
                "appel_id": appel.id,
                "activite_id": act.id,
                "caf_id": act.convention.caf_id,
                "exercice": appel.exercice,
                "type_declaration": appel.type_declaration,
                "etat": etat,
                "date_ouverture": appel.ouverture,
                "date_limite": appel.limite,
                "creee_le": creee_le,
                "modifiee_le": moments[-1] if moments else creee_le,
                "commentaire_ecart": "",
                "relance_7j_le": None,
                "relance_1j_le": None,
            }

    def _chiffres(self, pk: int, appel: _Appel, act: _Activite, etat: str) -> tuple[list[dict], dict]:
        """Les données d'activité (une ligne par lieu ouvert à l'appel, sinon une pour l'activité)
        et financières d'une déclaration, tirées de sa propre graine ; vides tant que rien n'est
        saisi (à saisir), en partie en cours de saisie."""
        r = random.Random(pk * 1_000_003 + self.g.graine)  # noqa: S311
        jours_, amplitude_, enfants_, prix_ = _PROFILS_ACTIVITE[(act.type_activite, act.nature)]
        part = _PART_ANNEE[appel.type_declaration]
        lieux = act.lieux_ouverts(appel.ouverture) or [None]
        remplir = etat != _E.A_SAISIR
        lignes = []
        heures_totales = 0.0
        for lieu in lieux:
            ligne: dict = {"lieu": lieu, "nature": act.nature}
            if remplir and (etat != _E.EN_COURS or r.random() < 0.6):
                enfants = r.randint(*enfants_)
                jours = max(1, round(r.randint(*jours_) * part))
                amplitude = round(r.uniform(*amplitude_) * 4) / 4
                realisees = enfants * jours * amplitude * r.uniform(0.3, 0.75)
                heures_totales += realisees
                mercredi = realisees * r.uniform(0.1, 0.2) if act.type_activite == TypeActivite.ALSH else 0.0
                ligne.update(
                    heures_realisees=_montant(realisees),
                    heures_facturees=_montant(realisees * r.uniform(1.0, 1.08)),
                    heures_mercredi=_montant(mercredi) if act.nature != NatureActivite.ADOLESCENTS else None,
                    enfants_inscrits=enfants,
                    jours_ouverture=jours,
                    amplitude_ouverture=_montant(amplitude),
                )
            lignes.append(ligne)
        financieres: dict = {}
        if remplir and (etat != _E.EN_COURS or r.random() < 0.5):
            charges = max(heures_totales, 2_000 * part) * r.uniform(*prix_)
            repartition = [0.08, 0.06, 0.05, 0.03, 0.70, 0.01, 0.005, 0.003, 0.022]
            for (champ, _c, _l), quote in zip(COMPTES_CHARGES, repartition, strict=True):
                financieres[champ] = _montant(charges * quote * r.uniform(0.8, 1.2))
            familles = charges * r.uniform(0.12, 0.3)
            produits = {
                "p70": familles + charges * r.uniform(0.0, 0.05),
                "p71": 0.0,
                "p72": 0.0,
                "p74": charges * r.uniform(0.4, 0.65),
                "p75": charges * r.uniform(0.0, 0.03),
                "p76": charges * r.uniform(0.0, 0.002),
                "p77": charges * r.uniform(0.0, 0.01),
                "p78": charges * r.uniform(0.0, 0.015),
            }
            financieres.update({champ: _montant(v) for champ, v in produits.items()})
            financieres["participations_familiales"] = _montant(familles)
            financieres["taux_ressortissants"] = _montant(r.uniform(70, 99.5))
        return lignes, financieres

    def _lignes_donnees_activite(self) -> Iterator[dict]:
        ids = itertools.count(self.g._ids(DonneesActivite, 0).start)
        n = 0
        for pk, appel, act, etat, _renvoi in self.declarations:
            lignes, _f = self._chiffres(pk, appel, act, etat)
            saisie_le = datetime.datetime.combine(appel.ouverture, datetime.time(10), datetime.UTC)
            for ligne in lignes:
                rempli = "heures_realisees" in ligne
                n += 1
                yield {
                    "id": next(ids),
                    "declaration_id": pk,
                    "lieu_id": ligne["lieu"],
                    "nature": ligne["nature"],
                    **{k: v for k, v in ligne.items() if k not in ("lieu", "nature")},
                    "version": 1 if rempli else 0,
                    "saisie_par_id": (act.fda or act.convention.administrateur) if rempli else None,
                    "saisie_le": saisie_le if rempli else None,
                }
        self.g.prochain[DonneesActivite] = self.g._ids(DonneesActivite, 0).start + n

    def _lignes_financieres(self) -> Iterator[dict]:
        ids = iter(self.g._ids(DonneesFinancieres, len(self.declarations)))
        for pk, appel, act, etat, _renvoi in self.declarations:
            _l, financieres = self._chiffres(pk, appel, act, etat)
            saisie_le = datetime.datetime.combine(appel.ouverture, datetime.time(11), datetime.UTC)
            yield {
                "id": next(ids),
                "declaration_id": pk,
                **financieres,
                "version": 1 if financieres else 0,
                "saisie_par_id": (act.fdf or act.convention.administrateur) if financieres else None,
                "saisie_le": saisie_le if financieres else None,
            }

    def _auteur(self, act: _Activite, avant: str, apres: str) -> int | None:
        if apres in (_E.VALIDEE, _E.RENVOYEE):
            return self.g.agents[act.convention.caf_id][act.id % len(self.g.agents[act.convention.caf_id])]
        if apres == _E.TRANSMISE or avant == _E.A_APPROUVER:
            return act.approbateur or act.convention.administrateur
        return act.fda or act.fdf or act.convention.administrateur

    def _lignes_evenements(self) -> Iterator[dict]:
        ids = itertools.count(self.g._ids(EvenementDeclaration, 0).start)
        n = 0
        for pk, appel, act, etat, renvoi in self.declarations:
            chemin = self._chemin(etat, renvoi)
            for (avant, apres), le in zip(chemin, self._moments(pk, appel, len(chemin)), strict=True):
                n += 1
                yield {
                    "id": next(ids),
                    "declaration_id": pk,
                    "etat_avant": avant,
                    "etat_apres": apres,
                    "par_id": self._auteur(act, avant, apres),
                    "le": le,
                    "commentaire": _MOTIFS_RENVOI[pk % len(_MOTIFS_RENVOI)] if apres == _E.RENVOYEE else "",
                }
        self.g.prochain[EvenementDeclaration] = self.g._ids(EvenementDeclaration, 0).start + n

    def _lignes_recepisses(self) -> Iterator[dict]:
        """Un récépissé par transmission (deux après un renvoi) : le contenu figé, son empreinte
        SHA-256 réelle ; le PDF reste vide (il se rend à la demande, hors du générateur)."""
        ids = itertools.count(self.g._ids(Recepisse, 0).start)
        n = 0
        for pk, appel, act, etat, renvoi in self.declarations:
            transmissions = self._transmissions(pk, appel, etat, renvoi)
            if not transmissions:
                continue
            lignes, financieres = self._chiffres(pk, appel, act, etat)
            par = act.approbateur or act.convention.administrateur
            for numero, le in enumerate(transmissions, start=1):
                contenu = {
                    "declaration": pk,
                    "numero": numero,
                    "activite": {"id": act.id, "numero_equipement": act.numero, "libelle": act.libelle},
                    "exercice": appel.exercice,
                    "type_declaration": appel.type_declaration,
                    "transmise_par": par,
                    "transmise_le": le.isoformat(),
                    "donnees_activite": [
                        {k: (str(v) if isinstance(v, Decimal) else v) for k, v in ligne.items()} for ligne in lignes
                    ],
                    "donnees_financieres": {k: str(v) for k, v in financieres.items()},
                }
                n += 1
                yield {
                    "id": next(ids),
                    "declaration_id": pk,
                    "numero": numero,
                    "transmise_par_id": par,
                    "transmise_le": le,
                    "contenu": contenu,
                    "empreinte": hashlib.sha256(contenu_canonique(contenu)).hexdigest(),
                    "pdf": b"",
                }
        self.g.prochain[Recepisse] = self.g._ids(Recepisse, 0).start + n

    def _estimation(
        self, pk: int, appel: _Appel, act: _Activite, etat: str, parametres: list[ParametreFinancement], **options
    ) -> tuple[Declaration, services_financement.Estimation]:
        """L'estimation de la déclaration par le service même (``services.estimer``), sur ses
        chiffres tirés (``_chiffres``) plutôt que relus dans la base : une déclaration et ses
        données en objets non enregistrés, les paramètres de sa Caf et de son exercice, sans label
        Plan mercredi (le générateur n'en pose pas)."""
        lignes, financieres = self._chiffres(pk, appel, act, etat)
        caf_id = act.convention.caf_id
        declaration = Declaration(
            pk=pk,
            activite=Activite(pk=act.id, type_activite=act.type_activite, nature=act.nature),
            caf_id=caf_id,
            exercice=appel.exercice,
            type_declaration=appel.type_declaration,
            etat=etat,
        )
        contexte = services_financement.Contexte(
            lignes=[
                DonneesActivite(
                    declaration_id=pk, lieu_id=ligne["lieu"], **{k: v for k, v in ligne.items() if k != "lieu"}
                )
                for ligne in lignes
            ],
            financieres=DonneesFinancieres(declaration_id=pk, **financieres),
            parametres=[p for p in parametres if p.caf_id in (None, caf_id)],
            plan_mercredi=False,
        )
        return declaration, services_financement.estimer(declaration, contexte=contexte, **options)

    def _lignes_montants(self) -> Iterator[dict]:
        """Un montant figé par transmission, tel que la transmission l'écrit (``montant_figer`` :
        même estimation, mêmes champs, ``services.montant_valeurs``), daté de la transmission et
        signé de l'approbateur ; après un renvoi, seul le dernier est actuel, et une déclaration
        renvoyée garde celui de sa transmission. Le réel solde le prévisionnel du même exercice :
        figé s'il a été transmis, sinon estimé (avances provisoires), comme ``_previsionnel`` le lit."""
        parametres: dict[tuple[int, str], list[ParametreFinancement]] = {}
        for p in ParametreFinancement.objects.order_by("pk"):
            parametres.setdefault((p.exercice, p.type_activite), []).append(p)
        previsionnels = {
            (act.id, appel.exercice): (pk, appel, act, etat)
            for pk, appel, act, etat, _r in self.declarations
            if appel.type_declaration == TD.PREVISIONNEL
        }

        ids = itertools.count(self.g._ids(MontantEstime, 0).start)
        n = 0
        for pk, appel, act, etat, renvoi in self.declarations:
            transmissions = self._transmissions(pk, appel, etat, renvoi)
            if not transmissions:
                continue
            options: dict = {}
            if appel.type_declaration == TD.REEL:
                prev = previsionnels.get((act.id, appel.exercice))
                if prev is None:
                    options["previsionnel"] = None
                else:
                    _d, droit = self._estimation(
                        *prev, parametres.get((appel.exercice, act.type_activite), []), avec_reglement=False
                    )
                    # Le ``renvoi`` du prévisionnel ne change rien ici : il a été transmis ou non.
                    options["previsionnel"] = (droit.montant, prev[3] not in (_E.TRANSMISE, _E.VALIDEE, _E.RENVOYEE))
            declaration, estimation = self._estimation(
                pk, appel, act, etat, parametres.get((appel.exercice, act.type_activite), []), **options
            )
            valeurs = services_financement.montant_valeurs(declaration, estimation)
            par = act.approbateur or act.convention.administrateur
            for numero, le in enumerate(transmissions, start=1):
                n += 1
                yield {
                    "id": next(ids),
                    "declaration_id": pk,
                    "calcule_le": le,
                    "calcule_par_id": par,
                    "actuel": numero == len(transmissions),
                    **valeurs,
                }
        self.g.prochain[MontantEstime] = self.g._ids(MontantEstime, 0).start + n

    # -- Personas AFAS du banc d'essai -------------------------------------------------------------

    def personas(self) -> None:
        """La persona déclarante (ses rôles sur des centaines d'activités de la grande commune) et
        les objets AFAS que visitent le banc et la comparaison des requêtes entre deux échelles."""
        g = self.g
        if self.persona_declarant is None or not self.grande_activites:
            return
        rng_otp = random.Random(g.graine * 7919 + 1)  # noqa: S311 (comptes synthétiques du banc)
        cle = "".join(rng_otp.choices("0123456789abcdef", k=40))
        TOTPDevice.objects.create(user_id=self.persona_declarant, name="Banc d'essai", key=cle, confirmed=True)
        g.personas["comptes"]["declarant"] = {
            "identifiant": Utilisateur.objects.values_list("identifiant", flat=True).get(pk=self.persona_declarant),
            "cle_totp_hex": cle,
        }
        activite = self.grande_activites[0]  # 30 lieux, la persona y est approbatrice
        caf = g.grande.caf_id
        appel_en_cours = self.appels[caf][0]
        declaration = next(pk for pk, ap, act, _e, _r in self.declarations if act is activite and ap is appel_en_cours)
        # Un prévisionnel transmis : la page d'un réel lit en plus son prévisionnel (quelques
        # requêtes bornées selon qu'il existe et qu'il est figé), ce qui varierait d'une échelle à
        # l'autre selon la déclaration tirée, sans rien dire du volume.
        transmise = next(
            (
                pk
                for pk, ap, act, e, _r in self.declarations
                if act.convention.caf_id == caf
                and e == _E.TRANSMISE
                and act is not activite
                and ap.type_declaration == TD.PREVISIONNEL
            ),
            declaration,
        )
        g.personas["afas"] = {
            "activite": activite.id,
            "lieu": activite.lieux[0][0],
            "appel": appel_en_cours.id,
            "declaration": declaration,
            "declaration_transmise": transmise,
            "declarations_caf": sum(1 for _pk, _a, act, _e, _r in self.declarations if act.convention.caf_id == caf),
            "activites_persona": min(self.a.persona, len(self.grande_activites)),
        }
