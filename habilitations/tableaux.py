"""« Mes tableaux de bord » et « Journal des actes » d'une convention : les requêtes, typées.

Chaque tableau est borné par le périmètre (``habilitations.perms``) : l'administrateur, l'agent
de la Caf pivot et la supervision voient toute la convention, le responsable d'habilitations
ses groupes et leurs sous-groupes. L'écran montre le nombre et les premières lignes, l'export
CSV toutes les lignes par un itérateur : le nombre de requêtes ne dépend jamais du nombre de
comptes. Les faits datés sont relus à la date du jour, comme partout.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from conventions.models import Convention
from habilitations import perms
from habilitations.enums import Poste
from habilitations.models import Appartenance, Groupe, GroupeProfil, Utilisateur
from habilitations.services import reference_activite
from portail.csv import texte_cellule
from portail.dates import q_cloture, q_ouvert
from portail.models import EvenementAudit

if TYPE_CHECKING:
    from collections.abc import Iterable

APERCU = 10
TAILLE_LOT = 2000  # lignes lues à la fois par l'itérateur des exports


@dataclass(frozen=True)
class Ligne:
    """Une ligne telle qu'on la lit (textes), et le lien de sa première cellule à l'écran."""

    cellules: tuple[str, ...]
    lien: str | None = None


@dataclass(frozen=True)
class Section:
    """Ce que la page « Mes tableaux de bord » montre d'un tableau."""

    slug: str
    titre: str
    description: str
    entetes: tuple[str, ...]
    nombre: int
    resume: str
    lignes: list[Ligne]
    tronquee: bool  # il y a plus de lignes que l'écran n'en montre : l'export les a toutes
    aucun: str


def _pluriel(nombre: int, singulier: str, pluriel: str) -> str:
    return f"{nombre} {singulier if nombre < 2 else pluriel}"


def _jour(moment: datetime.datetime | None) -> datetime.date | None:
    """Un horodatage ramené au jour à Paris (les tableaux affichent des dates JJ/MM/AAAA)."""
    return timezone.localdate(moment) if moment is not None else None


class Tableau:
    """Un tableau de bord : sa requête (toutes les lignes, dans l'ordre), la façon de lire une
    ligne, son nombre. Les sous-classes donnent ``requete`` et ``valeurs``."""

    slug: ClassVar[str]
    entetes: ClassVar[tuple[str, ...]]

    def __init__(self, perimetre: perms.Perimetre, *, maintenant: datetime.datetime | None = None) -> None:
        self.perimetre = perimetre
        self.maintenant = maintenant or timezone.now()
        self.jour = timezone.localdate(self.maintenant)

    # À définir par chaque tableau.
    titre: str = ""
    description: str = ""
    aucun: str = ""

    def requete(self) -> QuerySet:
        raise NotImplementedError

    def valeurs(self, objet: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    def lien(self, objet: Any) -> str | None:
        """L'écran de l'objet, pour agir (rouvrir un compte, nommer un responsable…)."""
        return None

    def resume(self, nombre: int) -> str:
        return _pluriel(nombre, "ligne", "lignes")

    # Commun.

    def nombre(self) -> int:
        return self.requete().count()

    def apercu(self, taille: int = APERCU) -> list[Ligne]:
        return [Ligne(tuple(texte_cellule(v) for v in self.valeurs(o)), self.lien(o)) for o in self.requete()[:taille]]

    def toutes(self) -> Iterator[tuple[Any, ...]]:
        """Toutes les lignes, lues par lots : une requête, quelle que soit leur quantité."""
        for objet in self.requete().iterator(chunk_size=TAILLE_LOT):
            yield self.valeurs(objet)

    def section(self) -> Section:
        nombre = self.nombre()
        # Une ligne de plus que l'aperçu : sait-on qu'il y en a d'autres, sans autre requête.
        lignes = self.apercu(APERCU + 1)
        return Section(
            slug=self.slug,
            titre=self.titre,
            description=self.description,
            entetes=self.entetes,
            nombre=nombre,
            resume=self.resume(nombre),
            lignes=lignes[:APERCU],
            tronquee=len(lignes) > APERCU,
            aucun=self.aucun,
        )

    def _lien_utilisateur(self, utilisateur_id: int) -> str:
        return reverse("gestion:utilisateur", args=[self.perimetre.convention.pk, utilisateur_id])


def _identite(user: Utilisateur) -> tuple[str, str, str, str]:
    return (user.identifiant, user.nom, user.prenom, user.email)


ENTETES_IDENTITE = ("Identifiant", "Nom", "Prénom", "Adresse mail")


class UtilisateursParProfil(Tableau):
    """Combien d'utilisateurs détiennent aujourd'hui chaque profil que la convention accorde.

    La règle est celle de ``perms.profils_effectifs``, appliquée à tous les comptes d'un coup :
    appartenance ouverte, dans un groupe ouvert d'une convention validée et ouverte, compte
    ouvert, profil accordé par la convention. Pour un responsable, seules comptent les
    appartenances à ses groupes et à leurs sous-groupes. Une ligne par profil accordé, même à
    zéro : l'administrateur voit aussi ce que personne n'utilise."""

    slug = "profils"
    titre = "Utilisateurs par service et profil"
    description = (
        "Nombre d'utilisateurs qui détiennent aujourd'hui chaque profil : appartenance ouverte à un "
        "groupe ouvert qui a ce profil, compte ouvert, convention en vigueur."
    )
    aucun = "La convention n'accorde aucun profil."
    entetes = ("Service", "Profil", "Code du profil", "Nombre d'utilisateurs")

    def _groupes_effectifs(self) -> QuerySet[Groupe]:
        return perms.groupes_du_perimetre(self.perimetre).effectifs(self.jour)

    def _habilitations(self) -> QuerySet[GroupeProfil]:
        """Les profils des groupes effectifs que la convention accorde bien."""
        accorde = Convention.profils.through.objects.filter(
            convention_id=OuterRef("groupe__convention_id"), profil_id=OuterRef("profil_id")
        )
        return GroupeProfil.objects.filter(Exists(accorde), groupe__in=self._groupes_effectifs())

    def _appartenances(self) -> QuerySet[Appartenance]:
        """Appartenances ouvertes ce jour de comptes ouverts, aux groupes effectifs."""
        comptes = perms.utilisateurs_du_perimetre(self.perimetre).ouverts(self.jour)
        return Appartenance.objects.ouverts(self.jour).filter(
            groupe__in=self._groupes_effectifs(), utilisateur__in=comptes
        )

    def requete(self) -> QuerySet:
        return self.perimetre.convention.profils.select_related("service").order_by(
            "service__ordre", "service__libelle", "libelle", "pk"
        )

    def _comptes_par_profil(self) -> dict[int, int]:
        par_profil = (
            self._habilitations()
            .filter(groupe__appartenances__in=self._appartenances())
            .order_by()
            .values("profil_id")
            .annotate(nombre=Count("groupe__appartenances__utilisateur_id", distinct=True))
        )
        return {ligne["profil_id"]: ligne["nombre"] for ligne in par_profil}

    def nombre(self) -> int:
        """Les utilisateurs qui détiennent au moins un profil (chacun compté une fois)."""
        return (
            self._appartenances()
            .filter(groupe__in=self._habilitations().values("groupe_id"))
            .order_by()
            .values("utilisateur_id")
            .distinct()
            .count()
        )

    def resume(self, nombre: int) -> str:
        return _pluriel(nombre, "utilisateur détient", "utilisateurs détiennent") + " au moins un profil aujourd'hui"

    def _lignes(self, profils: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
        comptes = self._comptes_par_profil()
        for profil in profils:
            yield (profil.service.libelle, profil.libelle, profil.code, comptes.get(profil.pk, 0))

    def apercu(self, taille: int = APERCU) -> list[Ligne]:
        return [Ligne(tuple(texte_cellule(v) for v in ligne)) for ligne in self._lignes(self.requete()[:taille])]

    def toutes(self) -> Iterator[tuple[Any, ...]]:
        # Quelques dizaines de profils au plus : pas besoin d'itérateur.
        return self._lignes(self.requete())


class ComptesInactifs(Tableau):
    """Comptes ouverts sans connexion depuis INACTIVITE_SUSPENSION_JOURS (12 mois), à compter de
    la même référence que la tâche de suspension (``services.reference_activite`` : dernière
    connexion, ou création, ou réouverture). Les comptes déjà suspendus en font partie : c'est à
    l'administrateur de les rouvrir ou de les clôturer. Un compte clôturé n'y est plus."""

    slug = "inactifs"
    entetes = (*ENTETES_IDENTITE, "Dernière connexion", "Sans activité depuis le", "Suspendu le")
    aucun = "Tous les comptes ouverts ont été utilisés dans l'année."

    @property
    def mois(self) -> int:
        return round(settings.INACTIVITE_SUSPENSION_JOURS * 12 / 365)

    @property
    def titre(self) -> str:  # type: ignore[override]
        return f"Comptes sans connexion depuis {self.mois} mois"

    @property
    def description(self) -> str:  # type: ignore[override]
        return (
            f"Comptes ouverts sans connexion depuis {settings.INACTIVITE_SUSPENSION_JOURS} jours "
            "(ou depuis leur création ou leur réouverture) : ils sont suspendus jusqu'à ce qu'un "
            "administrateur les rouvre. Chaque compte doit servir au moins une fois par an."
        )

    def requete(self) -> QuerySet[Utilisateur]:
        limite = self.maintenant - datetime.timedelta(days=settings.INACTIVITE_SUSPENSION_JOURS)
        return (
            perms.utilisateurs_du_perimetre(self.perimetre)
            .ouverts(self.jour)
            .filter(is_active=True)
            .annotate(reference=reference_activite())
            .filter(reference__lte=limite)
            .order_by("reference", "nom", "prenom", "pk")
        )

    def valeurs(self, objet: Utilisateur) -> tuple[Any, ...]:
        return (
            *_identite(objet),
            _jour(objet.last_login) or "Jamais",
            _jour(objet.reference),
            _jour(objet.suspendu_le),
        )

    def lien(self, objet: Utilisateur) -> str:
        return self._lien_utilisateur(objet.pk)

    def resume(self, nombre: int) -> str:
        return _pluriel(nombre, "compte", "comptes")


class ComptesJamaisActives(Tableau):
    """Comptes créés dont personne ne s'est jamais connecté (``last_login`` vide), hors comptes
    clôturés : le mot de passe provisoire a pu expirer, « Renvoi de l'identifiant par mail » en
    envoie un nouveau."""

    slug = "jamais-actives"
    titre = "Comptes créés mais jamais activés"
    description = (
        "Comptes non clôturés qui ne se sont jamais connectés. « Renvoi de l'identifiant par mail » "
        "envoie aussi un nouveau mot de passe provisoire."
    )
    aucun = "Tous les comptes ont été activés."
    entetes = (*ENTETES_IDENTITE, "Créé le", "Date d'ouverture")

    def requete(self) -> QuerySet[Utilisateur]:
        return (
            perms.utilisateurs_du_perimetre(self.perimetre)
            .filter(last_login__isnull=True)
            .exclude(q_cloture(self.jour))
            .order_by("cree_le", "pk")
        )

    def valeurs(self, objet: Utilisateur) -> tuple[Any, ...]:
        return (*_identite(objet), _jour(objet.cree_le), objet.date_ouverture)

    def lien(self, objet: Utilisateur) -> str:
        return self._lien_utilisateur(objet.pk)

    def resume(self, nombre: int) -> str:
        return _pluriel(nombre, "compte", "comptes")


class AppartenancesEcheance(Tableau):
    """Appartenances dont la date de clôture tombe dans les ECHEANCE_TABLEAU_DE_BORD_JOURS
    prochains jours (demain compris, aujourd'hui non : clôturée aujourd'hui, elle est déjà
    finie). Une appartenance annulée avant d'avoir commencé (période vide) n'y est pas."""

    slug = "echeances"
    entetes = (
        *ENTETES_IDENTITE[:3],
        "Code du groupe",
        "Libellé du groupe",
        "Date d'ouverture",
        "Date de clôture",
        "Jours restants",
    )
    aucun = "Aucune appartenance ne se termine dans cette période."

    @property
    def jours(self) -> int:
        return settings.ECHEANCE_TABLEAU_DE_BORD_JOURS

    @property
    def titre(self) -> str:  # type: ignore[override]
        return f"Appartenances qui se terminent dans les {self.jours} jours"

    @property
    def description(self) -> str:  # type: ignore[override]
        return (
            f"Appartenances à un groupe dont la date de clôture est dans les {self.jours} prochains "
            "jours : prolongez-les si l'utilisateur en a encore besoin."
        )

    def requete(self) -> QuerySet[Appartenance]:
        return (
            Appartenance.objects.filter(
                groupe__in=perms.groupes_du_perimetre(self.perimetre),
                utilisateur__in=perms.utilisateurs_du_perimetre(self.perimetre),
                date_cloture__gt=self.jour,
                date_cloture__lte=self.jour + datetime.timedelta(days=self.jours),
                date_ouverture__lt=F("date_cloture"),
            )
            .select_related("utilisateur", "groupe")
            .order_by("date_cloture", "utilisateur__nom", "utilisateur__prenom", "pk")
        )

    def valeurs(self, objet: Appartenance) -> tuple[Any, ...]:
        user, groupe = objet.utilisateur, objet.groupe
        return (
            user.identifiant,
            user.nom,
            user.prenom,
            groupe.code,
            groupe.libelle,
            objet.date_ouverture,
            objet.date_cloture,
            (objet.date_cloture - self.jour).days,
        )

    def lien(self, objet: Appartenance) -> str:
        return reverse("gestion:appartenances", args=[self.perimetre.convention.pk, objet.utilisateur_id])

    def resume(self, nombre: int) -> str:
        return _pluriel(nombre, "appartenance", "appartenances")


class GroupesOrphelins(Tableau):
    """Groupes ouverts sans aucune appartenance ouverte ce jour, ou dont le responsable
    d'habilitations n'a plus de compte ouvert (clôturé ou suspendu : il a perdu le droit de
    gérer le groupe, voir ``services.droits_groupes_reconcilier``)."""

    slug = "groupes-orphelins"
    titre = "Groupes sans membre ou sans responsable"
    description = (
        "Groupes ouverts qui n'ont aucun membre aujourd'hui, ou dont le responsable d'habilitations "
        "n'a plus de compte ouvert."
    )
    aucun = "Tous les groupes ouverts ont des membres et un responsable en fonction."
    entetes = ("Code", "Libellé", "Niveau", "Sous-groupe de", "Responsable habilitations", "Motif")

    def _responsable_en_fonction(self) -> Q:
        return q_ouvert(self.jour, "responsable__") & Q(responsable__suspendu_le__isnull=True)

    def requete(self) -> QuerySet[Groupe]:
        membres = Appartenance.objects.ouverts(self.jour).filter(groupe=OuterRef("pk"))
        return (
            perms.groupes_du_perimetre(self.perimetre)
            .ouverts(self.jour)
            .annotate(a_des_membres=Exists(membres))
            .filter(Q(a_des_membres=False) | ~self._responsable_en_fonction())
            .select_related("parent", "responsable")
            .order_by("niveau", "code", "pk")
        )

    def valeurs(self, objet: Groupe) -> tuple[Any, ...]:
        responsable = objet.responsable
        motifs = []
        if not objet.a_des_membres:
            motifs.append("Aucun membre")
        if not responsable.est_ouvert(self.jour):
            motifs.append("Compte du responsable clôturé")
        elif responsable.est_suspendu:
            motifs.append("Compte du responsable suspendu")
        return (
            objet.code,
            objet.libelle,
            objet.niveau,
            objet.parent.code if objet.parent else "",
            f"{responsable.identifiant} — {responsable.get_full_name()}",
            ", ".join(motifs),
        )

    def lien(self, objet: Groupe) -> str:
        return reverse("gestion:groupe_appartenances", args=[self.perimetre.convention.pk, objet.pk])

    def resume(self, nombre: int) -> str:
        return _pluriel(nombre, "groupe", "groupes")


TABLEAUX: dict[str, type[Tableau]] = {
    t.slug: t
    for t in (UtilisateursParProfil, ComptesInactifs, ComptesJamaisActives, AppartenancesEcheance, GroupesOrphelins)
}


# --- Journal des actes -----------------------------------------------------------------------

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
}

_DATE_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HORODATAGE_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def libelle_acte(action: str) -> str:
    return LIBELLES_ACTES.get(action, action.replace("_", " ").capitalize())


def _valeur_lisible(cle: str, valeur: Any) -> str:
    if valeur is None or valeur == "" or valeur == []:
        return "—"
    if isinstance(valeur, bool):
        return "Oui" if valeur else "Non"
    if isinstance(valeur, list):
        return ", ".join(_valeur_lisible(cle, v) for v in valeur)
    if isinstance(valeur, dict):
        return ", ".join(f"{_libelle_champ(k)} : {_valeur_lisible(k, v)}" for k, v in valeur.items())
    if isinstance(valeur, str):
        if _DATE_ISO.match(valeur):
            return texte_cellule(datetime.date.fromisoformat(valeur))
        if _HORODATAGE_ISO.match(valeur):
            try:
                return texte_cellule(datetime.datetime.fromisoformat(valeur))
            except ValueError:
                return valeur
        if cle == "poste" and valeur in Poste.values:
            return str(Poste(valeur).label)
    return str(valeur)


def _libelle_champ(cle: str) -> str:
    return LIBELLES_CHAMPS.get(cle, cle.replace("_", " ").capitalize())


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
    return f"{acteur.identifiant} — {acteur.get_full_name()}"


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


def actes_presents(perimetre: perms.Perimetre) -> list[tuple[str, str]]:
    """Les actes qui figurent dans le journal de la convention (le choix du filtre « Acte »),
    par ordre alphabétique de libellé."""
    actions = (
        EvenementAudit.objects.filter(convention=perimetre.convention)
        .order_by()
        .values_list("action", flat=True)
        .distinct()
    )
    return sorted(((a, libelle_acte(a)) for a in actions), key=lambda choix: choix[1])


def journal_lignes(evenements_: Iterable[EvenementAudit]) -> Iterator[tuple[Any, ...]]:
    for evenement in evenements_:
        yield LigneJournal.de(evenement).valeurs_csv()
