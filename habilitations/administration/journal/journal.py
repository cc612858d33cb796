"""« Journal des actes » d'une convention : la piste d'audit (``portail.socle.audit``) lue par
un humain, à l'écran et dans l'export CSV.

Seuls l'administrateur et les lecteurs de la Caf (agent de la Caf pivot, supervision) le lisent
(``habilitations.perms.peut_lire_journal``).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Expression, F, QuerySet, TextField
from django.utils import timezone

from habilitations import perms
from habilitations.enums import Poste
from habilitations.models import Utilisateur
from portail.models import EvenementAudit
from portail.socle.csv import (
    DEBUTS_DE_FORMULE,
    HorodatageTexte,
    LignesSQL,
    SansFormule,
    cellule_csv,
    horodatage_texte,
    texte_cellule,
)

TAILLE_LOT = 5000  # lignes lues à la fois par le curseur de l'export

# Le libellé de chaque acte écrit dans la piste d'audit (``action`` des services). Un acte
# absent d'ici s'afficherait par son code : tests/habilitations/test_journal.py vérifie que
# chaque action écrite par le code a son libellé.
LIBELLES_ACTES: dict[str, str] = {
    "utilisateur_creer": "Création d'un compte",
    "utilisateur_modifier": "Modification d'un compte",
    "utilisateur_cloturer": "Clôture d'un compte",
    "utilisateur_rouvrir": "Réouverture d'un compte",
    "utilisateur_suspendre": "Suspension d'un compte pour inactivité",
    "utilisateur_avertir_inactivite": "Avertissement d'inactivité",
    "identifiant_renvoyer": "Renvoi de l'identifiant par mail",
    "mot_de_passe_provisoire_emettre": "Envoi d'un mot de passe provisoire",
    "mot_de_passe_choisir": "Choix du mot de passe personnel",
    "email_changement_demander": "Demande de changement d'adresse mail",
    "email_changement_confirmer": "Changement d'adresse mail confirmé",
    "connexion_reussie": "Connexion",
    "connexion_mot_de_passe_accepte": "Mot de passe accepté, double authentification non encore passée",
    "connexion_echouee": "Échec de connexion",
    "codes_secours_generer": "Génération des codes de secours",
    "double_authentification_activer": "Activation de la double authentification",
    "groupe_creer": "Création d'un groupe",
    "groupe_profil_ajouter": "Ajout d'un profil au groupe",
    "groupe_profil_retirer": "Retrait d'un profil du groupe",
    "appartenance_ouvrir": "Ajout d'un utilisateur au groupe",
    "appartenance_modifier": "Modification d'une appartenance",
    "appartenance_cloturer": "Clôture d'une appartenance",
    "droit_accorder": "Droit de gestion accordé",
    "droit_retirer": "Droit de gestion retiré",
    "organisme_enregistrer": "Enregistrement d'un organisme",
    "convention_formaliser": "Formalisation de la convention",
    "convention_valider": "Validation de la convention",
    "convention_cloturer": "Clôture de la convention",
    "avenant_enregistrer": "Enregistrement d'un avenant",
    "import_confirmer": "Confirmation d'un import d'utilisateurs",
    "import_abandonner": "Abandon d'un import d'utilisateurs",
    "habilitation_afas_affecter": "Rôle AFAS affecté",
    "habilitation_afas_supprimer": "Rôle AFAS supprimé",
    "approbateur_valider": "Approbateur AFAS validé par la Caf",
    "approbateur_refuser": "Approbateur AFAS refusé par la Caf",
    "activite_creer": "Enregistrement d'une activité AFAS",
    "activite_modifier": "Modification d'une activité AFAS",
    "activite_cloturer": "Clôture d'une activité AFAS",
    "lieu_creer": "Enregistrement d'un lieu d'implantation",
    "lieu_modifier": "Modification d'un lieu d'implantation",
    "lieu_cloturer": "Clôture d'un lieu d'implantation",
    # Déclarations AFAS : l'appel de la Caf, la saisie, les passages d'état
    # (``afas.declarations.etats.transitionner`` écrit ``declaration_<état>``) et le financement.
    "appel_lancer": "Appel de déclaration lancé",
    "appel_declarations_creer": "Déclarations de l'appel créées",
    "declaration_donnees_activite": "Données d'activité d'une déclaration enregistrées",
    "declaration_donnees_financieres": "Données financières d'une déclaration enregistrées",
    "declaration_en_cours": "Déclaration en cours de saisie",
    "declaration_a_approuver": "Déclaration à approuver",
    "declaration_transmise": "Déclaration transmise à la Caf",
    "declaration_validee": "Déclaration validée par la Caf",
    "declaration_renvoyee": "Déclaration renvoyée pour correction",
    "montant_figer": "Montant estimé figé à la transmission",
    "parametre_financement_enregistrer": "Paramètre de financement enregistré",
    "plan_mercredi_poser": "Label Plan mercredi posé",
    "plan_mercredi_retirer": "Label Plan mercredi retiré",
}

# Les clés des valeurs avant/après, en français.
LIBELLES_CHAMPS: dict[str, str] = {
    "identifiant": "Identifiant",
    "nom": "Nom",
    "prenom": "Prénom",
    "email": "Adresse mail",
    "telephone": "Téléphone",
    "poste": "Poste",
    "date_ouverture": "Date d'ouverture",
    "date_cloture": "Date de clôture",
    "caf": "Caf",
    "organisme": "Organisme",
    "convention": "Convention",
    "code": "Code",
    "libelle": "Libellé",
    "responsable": "Responsable habilitations",
    "parent": "Sous-groupe de",
    "niveau": "Niveau",
    "profil": "Profil",
    "profils": "Profils",
    "sous_groupes": "Sous-groupes",
    "utilisateur": "Utilisateur",
    "suspendu": "Suspendu",
    "derniere_activite": "Dernière activité",
    "permission": "Droit",
    "jour": "Jour",
    "etat": "État",
    "validee_le": "Validée le",
    "administrateur": "Administrateur",
    "raison_sociale": "Raison sociale",
    "siret": "SIRET",
    "type_organisme": "Type d'organisme",
    "adresse": "Adresse",
    "code_postal": "Code postal",
    "commune": "Commune",
    "fichier": "Fichier",
    "groupe": "Groupe",
    "comptes_a_creer": "Comptes à créer",
    "role": "Rôle",
    "activite": "Activité",
    "lieu": "Lieu d'implantation",
    "decision": "Décision",
    "decidee_par": "Décidée par",
    "decidee_le": "Décidée le",
    "motif": "Motif",
    "validation": "Validation",
    "numero_equipement": "Numéro d'équipement",
    "type_activite": "Type d'activité",
    "nature": "Nature d'activité",
}

_DATE_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HORODATAGE_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def libelle_acte(action: str) -> str:
    libelle = LIBELLES_ACTES.get(action)
    return libelle if libelle is not None else action.replace("_", " ").capitalize()


def _valeur_lisible(cle: str, valeur: Any) -> str:
    if valeur is None or valeur == "" or valeur == []:
        return "—"
    if isinstance(valeur, bool):
        return "Oui" if valeur else "Non"
    if isinstance(valeur, list):
        return ", ".join(_valeur_lisible(cle, v) for v in valeur)
    if isinstance(valeur, dict):
        return ", ".join(f"{_libelle_champ(k)} : {_valeur_lisible(k, v)}" for k, v in valeur.items())
    # Une date ou un horodatage ISO a un tiret en 5e position : le test écarte, avant les
    # expressions régulières, presque toutes les valeurs (identifiants, libellés), ligne après ligne.
    if isinstance(valeur, str) and valeur[4:5] == "-":
        # Un texte saisi (libellé « 2026-02-30 », retour à la ligne final) n'est pas une date :
        # il s'écrit tel quel au lieu de faire échouer la page et l'export du journal.
        if _DATE_ISO.match(valeur):
            try:
                return texte_cellule(datetime.date.fromisoformat(valeur))
            except ValueError:
                return valeur
        if _HORODATAGE_ISO.match(valeur):
            try:
                return texte_cellule(datetime.datetime.fromisoformat(valeur))
            except ValueError:
                return valeur
    if cle == "poste" and valeur in Poste.values:
        return str(Poste(valeur).label)
    return str(valeur)


def _libelle_champ(cle: str) -> str:
    libelle = LIBELLES_CHAMPS.get(cle)
    return libelle if libelle is not None else cle.replace("_", " ").capitalize()


def valeurs_lisibles(valeurs: dict[str, Any] | None) -> list[str]:
    """« Date de clôture : 12/03/2026 » pour chaque clé d'un avant/après de l'audit."""
    if not valeurs:
        return []
    if not isinstance(valeurs, dict):
        return [_valeur_lisible("", valeurs)]
    return [f"{_libelle_champ(cle)} : {_valeur_lisible(cle, valeur)}" for cle, valeur in valeurs.items()]


def acteur_libelle(evenement: EvenementAudit) -> str:
    """« COM0120009 — Hugo CASTAN », ou « Système » pour un acte des tâches automatiques."""
    acteur = evenement.acteur
    if acteur is None:
        return "Système"
    return _acteur_texte(acteur.identifiant, acteur.get_full_name())


def _acteur_texte(identifiant: str | None, nom_complet: str) -> str:
    return "Système" if identifiant is None else f"{identifiant} — {nom_complet}"


ENTETES_JOURNAL = ("Date et heure", "Acteur", "Acte", "Cible", "Adresse IP", "Avant", "Après")


@dataclass(frozen=True)
class LigneJournal:
    """Un événement de la piste d'audit, tel qu'on le lit à l'écran et dans l'export."""

    le: datetime.datetime
    acteur: str
    acte: str
    cible: str
    adresse_ip: str
    avant: list[str] = field(default_factory=list)
    apres: list[str] = field(default_factory=list)

    @classmethod
    def de(cls, evenement: EvenementAudit) -> LigneJournal:
        return cls(
            le=evenement.cree_le,
            acteur=acteur_libelle(evenement),
            acte=libelle_acte(evenement.action),
            cible=evenement.cible_libelle,
            adresse_ip=evenement.adresse_ip or "",
            avant=valeurs_lisibles(evenement.avant),
            apres=valeurs_lisibles(evenement.apres),
        )

    @property
    def date_et_heure(self) -> str:
        return texte_cellule(self.le)

    def valeurs_csv(self) -> tuple[Any, ...]:
        return (
            self.le,
            self.acteur,
            self.acte,
            self.cible,
            self.adresse_ip,
            " ; ".join(self.avant),
            " ; ".join(self.apres),
        )


def evenements(perimetre: perms.Perimetre) -> QuerySet[EvenementAudit]:
    """La piste d'audit de la convention, la plus récente d'abord."""
    return (
        EvenementAudit.objects.filter(convention=perimetre.convention)
        .select_related("acteur")
        .order_by("-cree_le", "-pk")
    )


# Les actes distincts du journal d'une convention, lus par sauts dans l'index (convention, acte) :
# le plus petit acte, puis le plus petit au-delà, etc. ; une descente d'index par acte (une
# dizaine). Un DISTINCT lisait les 50 000 lignes du journal d'une grande commune (10 à 30 ms à
# chaque page du journal, la première comme la millième) ; PostgreSQL 15 ne saute pas de lui-même
# d'une valeur à la suivante dans un index. Texte fixe, valeurs en paramètres.
_SQL_ACTES = f"""
WITH RECURSIVE actes(action) AS (
    SELECT MIN(action) FROM {EvenementAudit._meta.db_table} WHERE convention_id = %(convention)s
    UNION ALL
    SELECT (SELECT MIN(e.action) FROM {EvenementAudit._meta.db_table} e WHERE e.convention_id = %(convention)s AND e.action > actes.action)
    FROM actes WHERE actes.action IS NOT NULL
)
SELECT action FROM actes WHERE action IS NOT NULL
"""  # noqa: S608


def actes_presents(perimetre: perms.Perimetre) -> list[tuple[str, str]]:
    """Les actes qui figurent dans le journal de la convention (le choix du filtre « Acte »),
    par ordre alphabétique de libellé. Une requête (``_SQL_ACTES``)."""
    with connection.cursor() as curseur:
        curseur.execute(_SQL_ACTES, {"convention": perimetre.convention.pk})
        actions = [action for (action,) in curseur.fetchall()]
    return sorted(((a, libelle_acte(a)) for a in actions), key=lambda choix: choix[1])


# Ce que l'export lit de chaque événement : des valeurs, jamais un modèle (voir ``journal_lignes``).
_COLONNES_EXPORT = ("cree_le", "action", "cible_libelle", "adresse_ip", "avant", "apres", "acteur_id")


def _acteurs(evenements_: QuerySet[EvenementAudit]) -> dict[int, str]:
    """« COM0120009 — Hugo CASTAN » de chaque acteur des événements, en deux requêtes. Les
    acteurs (quelques dizaines pour des dizaines de milliers d'actes) sont lus à part, par leurs
    identifiants : joints à chaque acte, PostgreSQL lisait les 300 000 comptes de la base
    nationale pour bâtir sa table de hachage (450 ms, contre 110 ms sans la jointure)."""
    ids = set(evenements_.order_by().values_list("acteur_id", flat=True).distinct()) - {None}
    return {
        pk: _acteur_texte(identifiant, Utilisateur.nom_complet(prenom, nom))
        for pk, identifiant, prenom, nom in Utilisateur.objects.filter(pk__in=ids).values_list(
            "pk", "identifiant", "prenom", "nom"
        )
    }


def journal_lignes(evenements_: QuerySet[EvenementAudit]) -> Iterator[tuple[Any, ...]]:
    """Les lignes de l'export, dans l'ordre de ``evenements_`` : les mêmes cellules que
    ``LigneJournal.valeurs_csv``, lues en une requête par un curseur côté serveur (``iterator``
    sur PostgreSQL), par lots de ``TAILLE_LOT``, en tuples de valeurs. Ni modèle instancié
    (l'événement et son acteur coûtaient cinq fois la lecture elle-même), ni requête par ligne,
    en mémoire constante. C'est le chemin de SQLite et la référence de ``journal_export``."""
    fuseau = timezone.get_current_timezone()
    acteurs = _acteurs(evenements_)
    lignes = evenements_.values_list(*_COLONNES_EXPORT).iterator(chunk_size=TAILLE_LOT)
    for le, action, cible, adresse_ip, avant, apres, acteur_id in lignes:
        yield (
            horodatage_texte(le.astimezone(fuseau)),
            "Système" if acteur_id is None else acteurs[acteur_id],
            libelle_acte(action),
            cible,
            adresse_ip or "",
            _cellule_valeurs(avant),
            _cellule_valeurs(apres),
        )


def _cellule_valeurs(valeurs: Any) -> str:
    return " ; ".join(valeurs_lisibles(valeurs)) if valeurs else ""


# --- L'export écrit par PostgreSQL ---------------------------------------------------------------
#
# Les mêmes cellules que ``journal_lignes``, mises en forme en SQL. Ce que SQL ne sait pas écrire
# à l'identique de Python est laissé à Python, ligne par ligne : une cellule « Acte » ou
# « Avant »/« Après » qui commence par ``REPRENDRE`` porte la valeur brute (l'action, le JSON),
# et ``_reprendre`` la met en forme par ``libelle_acte`` et ``valeurs_lisibles``. C'est le cas
# d'un acte au code non ASCII, d'un avant/après qui n'est pas un objet, d'un nombre à virgule,
# d'un objet imbriqué, d'une clé non ASCII, d'une date ou d'un horodatage ISO qu'on ne sait pas
# valide (jour après le 28, forme inhabituelle) : aucun dans les actes du portail, mais rien de
# ce qu'écrit l'export n'en dépend. Une cellule mise en forme par SQL ne commence jamais par ce
# caractère (elle commence par un libellé).
REPRENDRE = "\x01"

# Les formes que Python lit comme une date ou un horodatage (``_DATE_ISO``, ``_HORODATAGE_ISO``)…
_PREFIXE_DATE_SQL = "^[0-9]{4}-[0-9]{2}-[0-9]{2}($|[T ][0-9]{2}:[0-9]{2})"
# … et celles, plus étroites, dont SQL est sûr qu'elles sont valides pour ``date.fromisoformat``
# et ``datetime.fromisoformat`` comme pour PostgreSQL : ni année 0, ni 30 février (le 29 février
# est laissé à Python, qui sait les années bissextiles).
_JOUR_SQL = (
    "(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-"
    "((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
)
_HEURE_SQL = "[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{3}|\\.[0-9]{6})?)?"
_DATE_SQL = f"^{_JOUR_SQL}$"
_HORODATAGE_LOCAL_SQL = f"^{_JOUR_SQL}{_HEURE_SQL}$"
_HORODATAGE_SITUE_SQL = f"^{_JOUR_SQL}{_HEURE_SQL}(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
# Une clé hors de ``LIBELLES_CHAMPS`` est écrite par SQL si elle est en ASCII (la capitale de
# Python et celle de PostgreSQL peuvent différer au-delà) et ne commence pas par un début de formule.
_DEBUTS_SQL = ", ".join(f"chr({ord(debut)})" for debut in DEBUTS_DE_FORMULE)
# ``texte.replace("_", " ").capitalize()`` d'un texte ASCII ; la collation « C » ne touche que
# les lettres ASCII, et cinq fois plus vite que celle de la base (conversion en caractères larges).
_CAPITALE_SQL = "replace(upper(left({texte}, 1) COLLATE \"C\") || lower(substr({texte}, 2) COLLATE \"C\"), '_', ' ')"
_FORMAT_HORODATAGE = 'DD/MM/YYYY "à" HH24"h"MI'


def _litteral(texte: str) -> str:
    """Une constante du code en littéral SQL (``%`` doublé : la requête passe par le formatage
    des paramètres de psycopg)."""
    return "'" + texte.replace("'", "''").replace("%", "%%") + "'"


def _json_sql(valeur: Any) -> str:
    return f"{_litteral(json.dumps(valeur))}::jsonb"


class CelluleValeurs(SansFormule, Expression):
    """La cellule « Avant » ou « Après » (``_cellule_valeurs``) en SQL, ou ``REPRENDRE`` suivi du
    JSON quand une de ses valeurs sort de ce que SQL écrit à l'identique. Elle commence par le
    libellé d'une clé : jamais par un début de formule.

    Chaque valeur est mise en forme, ou NULL si SQL n'est pas sûr de l'écrire comme Python ; la
    cellule est reprise dès qu'une valeur est NULL. Les clés sont parcourues par
    ``jsonb_object_keys`` (une valeur à la fois : ``jsonb_each`` passe par une table de travail à
    chaque ligne, trois fois plus cher), dans l'ordre où ``json.loads`` les lirait (celui où
    PostgreSQL range les clés d'un jsonb) ; ``string_agg`` les joint dans l'ordre où la fonction
    les rend, sans tri (un tri par ligne coûtait autant que le reste de la cellule)."""

    jamais_vide = True

    def __init__(self, champ: str, fuseau: str) -> None:
        super().__init__(output_field=TextField())
        self.champ = F(champ)
        self.fuseau = fuseau

    def get_source_expressions(self) -> list[Any]:
        return [self.champ]

    def set_source_expressions(self, expressions: list[Any]) -> None:
        (self.champ,) = expressions

    def _texte(self, k: str, s: str) -> str:
        """``_valeur_lisible`` de la chaîne ``s`` sous la clé ``k``, ou NULL."""
        lit = _litteral
        postes = _json_sql({valeur: str(libelle) for valeur, libelle in Poste.choices})
        autre = f"COALESCE(CASE WHEN {k} = 'poste' THEN {postes} ->> {s} END, {s})"
        horodatage = lit(_FORMAT_HORODATAGE)
        return (
            f"CASE WHEN {s} = '' THEN '—' WHEN substr({s}, 5, 1) <> '-' THEN {autre} "
            f"WHEN {s} !~ '^[ -~]*$' THEN NULL "
            f"WHEN {s} ~ {lit(_DATE_SQL)} THEN to_char({s}::date, 'DD/MM/YYYY') "
            f"WHEN {s} ~ {lit(_HORODATAGE_SITUE_SQL)} "
            f"THEN to_char(timezone({lit(self.fuseau)}, {s}::timestamptz), {horodatage}) "
            f"WHEN {s} ~ {lit(_HORODATAGE_LOCAL_SQL)} THEN to_char({s}::timestamp, {horodatage}) "
            f"WHEN {s} ~ {lit(_PREFIXE_DATE_SQL)} THEN NULL "
            f"ELSE {autre} END"
        )

    def _scalaire(self, k: str, x: str, s: str, liste: str | None = None) -> str:
        """``_valeur_lisible`` de la valeur JSON ``x`` (``s`` : son texte), ou NULL ; ``liste``
        pour un tableau (sinon NULL : un tableau dans un tableau est laissé à Python)."""
        return (
            f"CASE jsonb_typeof({x}) WHEN 'string' THEN {self._texte(k, s)} "
            f"WHEN 'number' THEN CASE WHEN strpos({s}, '.') = 0 THEN {s} END "
            f"WHEN 'null' THEN '—' "
            f"WHEN 'boolean' THEN CASE WHEN {s} = 'true' THEN 'Oui' ELSE 'Non' END "
            + (f"WHEN 'array' THEN {liste} " if liste else "")
            + "END"
        )

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        # Rien ici ne vient des données : la colonne compilée par Django, des constantes du code
        # (libellés, expressions régulières) écrites par ``_litteral`` ; d'où les « noqa: S608 ».
        colonne, params = compiler.compile(self.champ)
        assert not params
        champs = _json_sql(LIBELLES_CHAMPS)
        v, s = f"({colonne} -> k)", f"({colonne} ->> k)"
        liste = (
            f"(SELECT CASE WHEN count(*) = count(t) THEN COALESCE(string_agg(t, ', '), '—') END "  # noqa: S608
            f"FROM (SELECT {self._scalaire('k', 'x', '(x #>> ARRAY[]::text[])')} AS t "
            f"FROM jsonb_array_elements({v}) AS a(x)) AS a)"
        )
        # Le libellé, ou NULL pour une clé que SQL n'écrit pas à coup sûr comme Python : la valeur
        # entière devient NULL (concaténée à NULL), et la cellule est reprise.
        libelle = (
            f"COALESCE({champs} ->> k, CASE WHEN octet_length(k) = length(k) AND left(k, 1) NOT IN ({_DEBUTS_SQL}) "
            f"THEN {_CAPITALE_SQL.format(texte='k')} END)"
        )
        brut = f"chr({ord(REPRENDRE)}) || {colonne}::text"
        # Vide (objet vide, NULL) : NULL, que COPY écrit vide.
        sql = (
            f"CASE WHEN jsonb_typeof({colonne}) = 'object' THEN (SELECT CASE WHEN count(*) = count(t) "  # noqa: S608
            f"THEN string_agg(t, ' ; ') ELSE {brut} END "
            f"FROM (SELECT {libelle} || ' : ' || {self._scalaire('k', v, s, liste)} AS t "
            f"FROM jsonb_object_keys({colonne}) AS j(k)) AS e) "
            f"WHEN {colonne} IS NULL OR jsonb_typeof({colonne}) = 'null' THEN NULL ELSE {brut} END"
        )
        return sql, []


class _CelluleSQL(SansFormule, Expression):
    """Une cellule écrite par un gabarit SQL sur une colonne (``{colonne}``) et des paramètres
    (``%s``, dans l'ordre de ``params``), dont le texte est déjà neutralisé contre les formules."""

    def __init__(self, gabarit: str, champ: str, params: Sequence[Any] = ()) -> None:
        super().__init__(output_field=TextField())
        self.gabarit = gabarit
        self.champ = F(champ)
        self.params = list(params)

    def get_source_expressions(self) -> list[Any]:
        return [self.champ]

    def set_source_expressions(self, expressions: list[Any]) -> None:
        (self.champ,) = expressions

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        colonne, params = compiler.compile(self.champ)
        assert not params
        return self.gabarit.replace("{colonne}", colonne), self.params


def _cellule_acte() -> _CelluleSQL:
    """``libelle_acte``, neutralisé ; ``REPRENDRE`` et le code d'un acte au code non ASCII (la
    capitale de Python et celle de PostgreSQL peuvent différer hors ASCII)."""
    actes = _json_sql({action: cellule_csv(libelle) for action, libelle in LIBELLES_ACTES.items()})
    texte = _CAPITALE_SQL.format(texte="{colonne}")
    debuts = ", ".join(_litteral(debut) for debut in ("=", "+", "-", "@"))
    apostrophe = _litteral("'")
    return _CelluleSQL(
        f"COALESCE({actes} ->> {{colonne}}, CASE WHEN {{colonne}} !~ '^[ -~]*$' "
        f"THEN chr({ord(REPRENDRE)}) || {{colonne}} "
        f"WHEN left({{colonne}}, 1) IN ({debuts}) THEN {apostrophe} || {texte} ELSE {texte} END)",
        "action",
    )


def _reprendre(cellules: list[str]) -> list[str]:
    """Une ligne dont une cellule commence par ``REPRENDRE`` : mise en forme par Python."""
    le, acteur, acte, cible, adresse_ip, avant, apres = cellules
    if acte.startswith(REPRENDRE):
        acte = libelle_acte(acte[1:])
    if avant.startswith(REPRENDRE):
        avant = _cellule_valeurs(json.loads(avant[1:]))
    if apres.startswith(REPRENDRE):
        apres = _cellule_valeurs(json.loads(apres[1:]))
    return [le, acteur, acte, cible, adresse_ip, avant, apres]


def journal_export(evenements_: QuerySet[EvenementAudit]) -> LignesSQL:
    """Les lignes de l'export : écrites par PostgreSQL (une requête ``COPY``, après les deux des
    acteurs), ou par ``journal_lignes`` sous SQLite. Octet pour octet le même fichier
    (``tests/habilitations/test_journal.py::TestExportEcritParPostgreSQL``)."""
    fuseau = timezone.get_current_timezone_name()

    def colonnes() -> list[Any]:
        # Les noms des acteurs en paramètre (des données), jamais dans le texte de la requête.
        acteurs = json.dumps({str(pk): cellule_csv(texte) for pk, texte in _acteurs(evenements_).items()})
        return [
            HorodatageTexte("cree_le", fuseau),
            _CelluleSQL(
                "CASE WHEN {colonne} IS NULL THEN 'Système' ELSE (%s)::jsonb ->> ({colonne})::text END",
                "acteur_id",
                [acteurs],
            ),
            _cellule_acte(),
            "cible_libelle",
            # Le texte de l'adresse tel que PostgreSQL l'envoie à Python (sans « /32 » ni
            # « /128 » d'une adresse seule), que la conversion en texte écrirait.
            _CelluleSQL(
                "CASE WHEN masklen({colonne}) = CASE family({colonne}) WHEN 4 THEN 32 ELSE 128 END "
                "THEN host({colonne}) ELSE ({colonne})::text END",
                "adresse_ip",
            ),
            CelluleValeurs("avant", fuseau),
            CelluleValeurs("apres", fuseau),
        ]

    return LignesSQL(
        evenements_,
        colonnes,
        repli=lambda: journal_lignes(evenements_),
        reprendre=_reprendre,
        marque=REPRENDRE.encode(),
    )
