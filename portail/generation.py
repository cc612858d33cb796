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

Les issues suivantes étendent ce générateur aux données AFAS (activités, lieux, habilitations AFAS,
déclarations) : une table de plus = une méthode ``_afas_…`` appelée depuis ``Generateur.generer``.
"""

from __future__ import annotations

import datetime
import itertools
import json
import random
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from guardian.models import UserObjectPermission

from conventions.enums import EtatConvention
from conventions.models import Avenant, Caf, Convention, Mandat, Organisme, Profil, TypeOrganisme
from conventions.validators import cle_luhn_valide
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
    Utilisateur,
)
from portail.models import EvenementAudit
from portail.socle.dates import aujourdhui

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
            # CASCADE : aussi ce que l'usage a ajouté (sessions, imports, avenants, journal…).
            tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in TABLES_GENEREES)
            curseur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
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
        self._personas()
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


def analyser() -> float:
    """Statistiques du planificateur après le chargement (ANALYZE), comme l'autovacuum le ferait."""
    debut = time.monotonic()
    with connection.cursor() as curseur:
        curseur.execute("ANALYZE")
    return time.monotonic() - debut
