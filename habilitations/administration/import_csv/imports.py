"""Création d'utilisateurs en masse : lire un fichier CSV, vérifier chaque ligne, enregistrer
l'aperçu, puis le confirmer ou l'abandonner.

Rien n'est créé avant la confirmation : la lecture enregistre un ``ImportUtilisateurs`` et une
``LigneImport`` par ligne du fichier (valeurs telles que lues, erreurs en français). À la
confirmation, la tâche ``habilitations.importer_utilisateurs`` (``tasks.py``) crée les
lignes valides par lots, par ``services.utilisateurs_creer_dans_convention``, qui revérifie tout.

Le fichier : UTF-8 (avec ou sans BOM) ou Windows-1252 (ce qu'enregistre Excel sous Windows),
séparateur « ; » ou « , », une première ligne d'en-têtes reconnus sans tenir compte des
majuscules, des accents ni de la ponctuation (« Prénom », « prenom », « Adresse mail »…).
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet

from habilitations.enums import Poste
from habilitations.models import EtatImport, ImportUtilisateurs, LigneImport, Utilisateur
from habilitations.validators import telephone_normaliser
from portail.socle.audit import audit_enregistrer
from portail.socle.dates import MESSAGE_PERIODE, aujourdhui, periode_valide
from portail.socle.erreurs import ErreurMetier

if TYPE_CHECKING:
    from conventions.models import Convention
    from habilitations.models import Groupe

TAILLE_MAX = 2 * 1024 * 1024  # octets
LIGNES_MAX = 10_000  # ticket 11 : 10 000 lignes créées en moins de 60 s par le worker
# Après retrait des espaces et des points : 0 puis 9 chiffres, ou +33 puis 9 chiffres.
ENCODAGES = (("utf-8-sig", "UTF-8"), ("cp1252", "Windows-1252"))


class FichierRefuse(Exception):
    """Le fichier entier est refusé (vide, illisible, sans en-têtes, trop long) ; le message est
    destiné à l'utilisateur et rien n'est enregistré."""


@dataclass(frozen=True)
class Colonne:
    """Une colonne attendue : son champ, son libellé dans l'aide, les en-têtes qui la désignent
    (déjà normalisés par ``_cle``)."""

    champ: str
    libelle: str
    obligatoire: bool
    format: str
    entetes: tuple[str, ...]

    @property
    def autres_entetes(self) -> str:
        """Les libellés acceptés en plus du nom du champ, pour l'aide."""
        return ", ".join(f"« {e} »" for e in self.entetes if e != _cle(self.champ))


COLONNES: tuple[Colonne, ...] = (
    Colonne("nom", "Nom", True, "100 caractères au plus", ("nom", "nom de famille", "nom d usage")),
    Colonne("prenom", "Prénom", True, "100 caractères au plus", ("prenom",)),
    Colonne(
        "email",
        "Adresse mail",
        True,
        "prenom.nom@organisme.fr ; unique dans le fichier et parmi les comptes ouverts de la convention",
        (
            "email",
            "e mail",
            "mail",
            "courriel",
            "adresse mail",
            "adresse email",
            "adresse e mail",
            "adresse courriel",
            "adresse electronique",
        ),
    ),
    Colonne(
        "telephone",
        "Téléphone",
        False,
        "10 chiffres (05 65 48 33 56, espaces ou points acceptés) ou +33 5 65 48 33 56",
        ("telephone", "tel", "numero de telephone"),
    ),
    Colonne("poste", "Poste", False, "Sédentaire (par défaut) ou Itinérant", ("poste", "type de poste")),
    Colonne(
        "date_ouverture",
        "Date d'ouverture",
        False,
        "JJ/MM/AAAA ou AAAA-MM-JJ ; aujourd'hui si vide",
        ("date ouverture", "date d ouverture", "ouverture"),
    ),
    Colonne(
        "date_cloture",
        "Date de clôture",
        False,
        "JJ/MM/AAAA ou AAAA-MM-JJ ; postérieure à l'ouverture et à aujourd'hui",
        ("date cloture", "date de cloture", "cloture"),
    ),
)
CHAMPS: tuple[str, ...] = tuple(c.champ for c in COLONNES)
_PAR_ENTETE: dict[str, str] = {entete: c.champ for c in COLONNES for entete in c.entetes}


def exemple(jour: datetime.date | None = None) -> str:
    """Un petit fichier valide (UTF-8, « ; »), aux dates calculées à partir d'aujourd'hui pour
    qu'il le reste : les deux formats de date y figurent."""
    ouverture = (jour or aujourdhui()) + datetime.timedelta(days=7)
    cloture = ouverture + datetime.timedelta(days=365)
    return (
        "nom;prenom;email;telephone;poste;date_ouverture;date_cloture\r\n"
        "Albouy;Céline;celine.albouy@organisme.fr;05 65 48 33 56;Sédentaire;;\r\n"
        f"Gral;Mariène;mariene.gral@organisme.fr;;Itinérant;{ouverture:%d/%m/%Y};{cloture.isoformat()}\r\n"
    )


@dataclass(frozen=True)
class LigneLue:
    numero: int
    valeurs: dict[str, str]
    erreurs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Lecture:
    """Ce que le fichier contient, ligne à ligne, avec les erreurs de chaque ligne."""

    encodage: str
    separateur: str
    colonnes: list[str]
    ignorees: list[str]
    lignes: list[LigneLue]

    @property
    def valides(self) -> int:
        return sum(1 for ligne in self.lignes if not ligne.erreurs)

    @property
    def en_erreur(self) -> int:
        return len(self.lignes) - self.valides


def _cle(texte: str) -> str:
    """« Adresse  e-mail* » → « adresse e mail » : sans accents, majuscules ni ponctuation."""
    ascii_ = unicodedata.normalize("NFKD", texte).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_.casefold()).split())


def decoder(contenu: bytes) -> tuple[str, str]:
    """Le texte et le nom de son encodage : UTF-8 s'il se décode ainsi (le BOM est retiré), sinon
    Windows-1252. Un fichier cp1252 accentué n'est presque jamais de l'UTF-8 valide, alors qu'un
    fichier UTF-8 se décoderait aussi en cp1252 (en « Ã© ») : l'ordre des essais compte."""
    for encodage, libelle in ENCODAGES:
        try:
            return contenu.decode(encodage), libelle
        except UnicodeDecodeError:
            continue
    raise FichierRefuse(
        "L'encodage du fichier n'est pas reconnu : enregistrez-le en « CSV UTF-8 » ou en « CSV (séparateur : "
        "point-virgule) » depuis votre tableur."
    )


def separateur(premiere_ligne: str) -> str:
    """« ; » ou « , », le plus fréquent sur la ligne des en-têtes (aucun en-tête attendu ne
    contient l'un ou l'autre) ; à égalité, « ; », l'usage des tableurs français."""
    return "," if premiere_ligne.count(",") > premiere_ligne.count(";") else ";"


def _entetes(cellules: list[str]) -> tuple[dict[int, str], list[str]]:
    """Les colonnes reconnues (position → champ) et les en-têtes ignorés."""
    reconnues: dict[int, str] = {}
    ignorees: list[str] = []
    for position, entete in enumerate(cellules):
        champ = _PAR_ENTETE.get(_cle(entete))
        if champ is None:
            if entete.strip():
                ignorees.append(entete.strip())
            continue
        if champ in reconnues.values():
            libelle = next(c.libelle for c in COLONNES if c.champ == champ)
            raise FichierRefuse(f"La colonne « {libelle} » figure deux fois dans les en-têtes du fichier.")
        reconnues[position] = champ
    if not reconnues:
        raise FichierRefuse(
            "Aucun en-tête reconnu : la première ligne du fichier doit nommer les colonnes, par exemple "
            "« nom ; prenom ; email ; telephone ; poste ; date_ouverture ; date_cloture »."
        )
    manquantes = [c.libelle for c in COLONNES if c.obligatoire and c.champ not in reconnues.values()]
    if manquantes:
        raise FichierRefuse(
            f"Colonne{'s' if len(manquantes) > 1 else ''} obligatoire{'s' if len(manquantes) > 1 else ''} "
            f"absente{'s' if len(manquantes) > 1 else ''} des en-têtes : {', '.join(manquantes)}."
        )
    return reconnues, ignorees


def fichier_lire(contenu: bytes, *, convention: Convention, jour: datetime.date | None = None) -> Lecture:
    """Lit et vérifie tout le fichier, sans rien écrire. Lève ``FichierRefuse`` si le fichier ne
    peut pas être importé du tout ; sinon chaque ligne porte ses propres erreurs. Les lignes
    entièrement vides sont sautées ; les numéros sont ceux des lignes du tableur (en-têtes en 1)."""
    if not contenu.strip():
        raise FichierRefuse("Le fichier est vide.")
    texte, encodage = decoder(contenu)
    if "\x00" in texte:
        raise FichierRefuse(
            "Ce fichier n'est pas un fichier CSV : depuis votre tableur, enregistrez-le au format « CSV »."
        )
    premiere = next((ligne for ligne in texte.splitlines() if ligne.strip()), "")
    sep = separateur(premiere)
    try:
        rangs = [
            (numero, cellules)
            for numero, cellules in enumerate(csv.reader(io.StringIO(texte, newline=""), delimiter=sep), start=1)
            if any(c.strip() for c in cellules)
        ]
    except csv.Error as exc:
        raise FichierRefuse(f"Le fichier n'a pas pu être lu comme un fichier CSV ({exc}).") from exc
    if not rangs:  # que des séparateurs : « ;;; »
        raise FichierRefuse("Le fichier est vide.")
    (_, cellules_entete), donnees = rangs[0], rangs[1:]
    colonnes, ignorees = _entetes(cellules_entete)
    if not donnees:
        raise FichierRefuse("Le fichier ne contient aucune ligne d'utilisateur sous la ligne des en-têtes.")
    if len(donnees) > LIGNES_MAX:
        raise FichierRefuse(
            f"Le fichier compte {len(donnees)} lignes d'utilisateurs, {LIGNES_MAX} au plus : découpez-le en "
            "plusieurs fichiers."
        )
    jour = jour or aujourdhui()
    lignes = []
    for numero, cellules in donnees:
        valeurs = dict.fromkeys(CHAMPS, "")
        for position, champ in colonnes.items():
            if position < len(cellules):
                valeurs[champ] = cellules[position].strip()
        _, erreurs = ligne_interpreter(valeurs, jour=jour)
        lignes.append(LigneLue(numero=numero, valeurs=valeurs, erreurs=erreurs))
    _verifier_adresses(lignes, convention=convention, jour=jour)
    return Lecture(
        encodage=encodage,
        separateur=sep,
        colonnes=[colonnes[p] for p in sorted(colonnes)],
        ignorees=ignorees,
        lignes=lignes,
    )


def _verifier_adresses(lignes: list[LigneLue], *, convention: Convention, jour: datetime.date) -> None:
    """Une adresse mail en double dans le fichier (la première occurrence reste valide), ou déjà
    celle d'un compte ouvert ou à venir de la convention (la règle unique,
    ``Utilisateur.objects.detenteurs_adresses``, en une seule requête pour tout le fichier)."""
    adresses = {ligne.valeurs["email"].lower() for ligne in lignes if ligne.valeurs["email"]}
    existants = dict(
        Utilisateur.objects.detenteurs_adresses(convention, adresses, jour).values_list("adresse", "identifiant")
    )
    premieres: dict[str, int] = {}
    for ligne in lignes:
        adresse = ligne.valeurs["email"].lower()
        if not adresse:
            continue
        if adresse in existants:
            ligne.erreurs.append(
                f"Cette adresse mail est déjà celle d'un utilisateur ouvert de la convention ({existants[adresse]})."
            )
        if adresse in premieres:
            ligne.erreurs.append(f"Adresse mail en double dans le fichier (déjà ligne {premieres[adresse]}).")
        else:
            premieres[adresse] = ligne.numero


def ligne_interpreter(
    valeurs: dict[str, str], *, jour: datetime.date | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Les arguments de ``services.utilisateur_creer_dans_convention`` tirés des valeurs d'une
    ligne, et ses erreurs (mêmes règles que « Créer un utilisateur »). Appelée à l'aperçu puis
    de nouveau à la création : une date de clôture passée entre-temps y est refusée."""
    jour = jour or aujourdhui()
    erreurs: list[str] = []
    donnees: dict[str, Any] = {}
    for champ, libelle in (("nom", "Le nom"), ("prenom", "Le prénom")):
        texte = valeurs.get(champ, "")
        if not texte:
            erreurs.append(f"{libelle} est obligatoire.")
        elif len(texte) > 100:
            erreurs.append(f"{libelle} dépasse 100 caractères.")
        donnees[champ] = texte
    email = valeurs.get("email", "")
    if not email:
        erreurs.append("L'adresse mail est obligatoire.")
    else:
        try:
            if len(email) > 254:
                raise ValidationError("trop longue")
            validate_email(email)
        except ValidationError:
            erreurs.append(f"L'adresse mail « {email} » n'est pas valide (par exemple prenom.nom@organisme.fr).")
    donnees["email"] = email.lower()
    try:
        donnees["telephone"] = telephone_normaliser(valeurs.get("telephone", ""))
    except ValidationError as exc:
        erreurs.extend(exc.messages)
    try:
        donnees["poste"] = poste_lire(valeurs.get("poste", ""))
    except ValidationError as exc:
        erreurs.extend(exc.messages)
    for champ, libelle in (("date_ouverture", "d'ouverture"), ("date_cloture", "de clôture")):
        try:
            donnees[champ] = date_lire(valeurs.get(champ, ""))
        except ValidationError:
            erreurs.append(
                f"Date {libelle} « {valeurs.get(champ, '')} » non valide : JJ/MM/AAAA ou AAAA-MM-JJ attendu."
            )
            donnees[champ] = None
    ouverture, cloture = donnees["date_ouverture"], donnees["date_cloture"]
    if cloture is not None:
        if not periode_valide(ouverture or jour, cloture):
            erreurs.append(MESSAGE_PERIODE)
        elif cloture <= jour:
            erreurs.append("La date de clôture est passée : le compte serait déjà clôturé.")
    return donnees, erreurs


def poste_lire(texte: str) -> str:
    """« Sédentaire » (par défaut), « Itinérant », sans tenir compte des accents ni des majuscules."""
    cle = _cle(texte)
    if cle in ("", "sedentaire", "s"):
        return Poste.SEDENTAIRE
    if cle in ("itinerant", "i"):
        return Poste.ITINERANT
    raise ValidationError(f"Poste « {texte} » inconnu : Sédentaire ou Itinérant.")


def date_lire(texte: str) -> datetime.date | None:
    """JJ/MM/AAAA (comme à l'écran) ou AAAA-MM-JJ (comme l'exportent certains outils) ; None si vide."""
    if not texte:
        return None
    if trouve := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", texte):
        jour, mois, annee = (int(x) for x in trouve.groups())
    elif trouve := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", texte):
        annee, mois, jour = (int(x) for x in trouve.groups())
    else:
        raise ValidationError("date non valide")
    try:
        return datetime.date(annee, mois, jour)
    except ValueError as exc:
        raise ValidationError("date non valide") from exc


# --- Cycle de vie d'un import : enregistrer l'aperçu, confirmer, abandonner ------------------


@transaction.atomic
def import_enregistrer(
    *, par: Utilisateur, convention: Convention, groupe: Groupe | None, nom_fichier: str, lecture: Lecture
) -> ImportUtilisateurs:
    """L'aperçu : l'import et ses lignes, en attente de confirmation. Aucun compte n'est créé."""
    import_utilisateurs = ImportUtilisateurs.objects.create(
        convention=convention, groupe=groupe, par=par, nom_fichier=nom_fichier[:255]
    )
    LigneImport.objects.bulk_create(
        (
            LigneImport(
                import_utilisateurs=import_utilisateurs,
                numero=ligne.numero,
                valeurs=ligne.valeurs,
                erreurs=ligne.erreurs,
            )
            for ligne in lecture.lignes
        ),
        batch_size=500,
    )
    return import_utilisateurs


def lignes_valides(import_utilisateurs: ImportUtilisateurs) -> QuerySet[LigneImport]:
    """Les lignes sans erreur (à créer, ou créées) ; une ligne refusée à la création a une erreur."""
    return import_utilisateurs.lignes.filter(erreurs=[])


@transaction.atomic
def import_abandonner(*, par: Utilisateur, import_utilisateurs: ImportUtilisateurs) -> None:
    """Abandonne un aperçu non confirmé : aucun compte ne sera créé."""
    verrouille = ImportUtilisateurs.objects.select_for_update().get(pk=import_utilisateurs.pk)
    if verrouille.etat != EtatImport.PREVISUALISE:
        raise ErreurMetier(
            f"Cet import est déjà {verrouille.get_etat_display().lower()} : il ne peut plus être abandonné."
        )
    verrouille.etat = EtatImport.ABANDONNE
    verrouille.save(update_fields=["etat"])
    audit_enregistrer(par=par, action="import_abandonner", cible=verrouille, apres={"fichier": verrouille.nom_fichier})
