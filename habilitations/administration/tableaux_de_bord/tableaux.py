"""« Mes tableaux de bord » d'une convention : les requêtes, typées.

Chaque tableau est borné par le périmètre (``habilitations.perms``) : l'administrateur, l'agent
de la Caf pivot et la supervision voient toute la convention, le responsable d'habilitations
ses groupes et leurs sous-groupes. L'écran montre le nombre et les premières lignes, l'export
CSV toutes les lignes par un itérateur : le nombre de requêtes ne dépend jamais du nombre de
comptes. Les faits datés sont relus à la date du jour, comme partout.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Count,
    DateField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from conventions.models import Convention
from habilitations import perms
from habilitations.models import (
    Appartenance,
    Groupe,
    GroupeProfil,
    SyntheseGroupesOrphelins,
    SyntheseProfils,
    Utilisateur,
    reference_activite,
)
from portail.socle.adresses import adresse_par_cle
from portail.socle.csv import DateTexte, LignesSQL, SansFormule, texte_cellule
from portail.socle.dates import q_ouvert, q_pas_encore_cloture

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from django.http import HttpRequest

APERCU = 10
TAILLE_LOT = 5000  # lignes lues à la fois par le curseur des exports
# Appartenances à partir desquelles une convention a ses chiffres de profils calculés chaque nuit
# (``synthese_profils_calculer``) : les compter à la demande lisait ses 100 000 appartenances
# deux fois par affichage (plus d'une seconde pour une grande commune).
SEUIL_SYNTHESE = 5_000


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


@dataclass(frozen=True)
class LigneComplementaire:
    """Une ligne qu'une couche supérieure ajoute à « Mes tableaux de bord » (AFAS : rôles non
    tenus, approbateurs en attente, habilitations qui prennent fin) : un libellé, un nombre, le
    lien où agir. Voir ``Complements``."""

    libelle: str
    nombre: int
    lien: str | None = None
    au: datetime.date | None = None  # nombre de la nuit : le jour de son calcul, montré à côté


# Le point d'extension de « Mes tableaux de bord » : une fonction de la requête et du périmètre
# (déjà vérifié) qui rend les lignes complémentaires, en un nombre constant de requêtes. Cette
# couche n'en connaît aucune : la coquille la passe explicitement à l'adresse de la page
# (``habilitations.administration.urls.avec_complements_tableaux``, appelée dans
# ``portail/urls.py``).
Complements = Callable[["HttpRequest", perms.Perimetre], "Sequence[LigneComplementaire]"]


def aucun_complement(request: HttpRequest, perimetre: perms.Perimetre) -> list[LigneComplementaire]:
    return []


def _pluriel(nombre: int, singulier: str, pluriel: str) -> str:
    return f"{nombre} {singulier if nombre < 2 else pluriel}"


def _jour(moment: datetime.datetime | None, fuseau: datetime.tzinfo) -> datetime.date | None:
    """Un horodatage ramené au jour à Paris (les tableaux affichent des dates JJ/MM/AAAA).
    ``fuseau`` est lu une fois par tableau : ``timezone.localdate`` le relit à chaque appel, et
    un export en fait des dizaines de milliers."""
    return moment.astimezone(fuseau).date() if moment is not None else None


class Tableau:
    """Un tableau de bord : sa requête (toutes les lignes, dans l'ordre), la façon de lire une
    ligne, son nombre. Les sous-classes donnent ``requete`` et ``valeurs``."""

    slug: ClassVar[str]
    entetes: ClassVar[tuple[str, ...]]
    # Les champs (et annotations) que ``valeurs`` lit : l'export les lit en tuples nommés, sans
    # instancier de modèle. Vide : l'export lit des modèles (tableaux courts, ou ``valeurs`` qui
    # appelle des méthodes du modèle).
    colonnes: ClassVar[tuple[str, ...]] = ()
    # Le tri de ``requete`` suit un index partiel qui porte aussi ses filtres (comptes inactifs,
    # jamais activés) : les premières lignes s'y lisent dans l'ordre et leur nombre dans l'index
    # seul, en une requête (``_nombre_et_apercu``).
    ordre_indexe: ClassVar[bool] = False

    def __init__(self, perimetre: perms.Perimetre, *, maintenant: datetime.datetime | None = None) -> None:
        self.perimetre = perimetre
        self.maintenant = maintenant or timezone.now()
        self.jour = timezone.localdate(self.maintenant)
        self.fuseau = timezone.get_current_timezone()
        self._adresses: dict[str, Callable[[int], str]] = {}

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

    def colonnes_csv(self) -> tuple[Any, ...] | None:
        """Les cellules de l'export écrites par PostgreSQL (``portail.socle.csv.LignesSQL``), dans
        l'ordre des en-têtes : le texte même de ``valeurs`` (tests/habilitations/
        test_tableaux_de_bord.py compare les deux fichiers). None : Python écrit les lignes."""
        return None

    def export(self) -> LignesSQL | Iterator[tuple[Any, ...]]:
        """Les lignes de l'export : écrites par PostgreSQL quand le tableau dit ses cellules en SQL
        (``toutes`` sous SQLite), par ``toutes`` sinon."""
        colonnes = self.colonnes_csv()
        if colonnes is None:
            return self.toutes()
        return LignesSQL(self.requete(), colonnes, repli=self.toutes)

    def toutes(self) -> Iterator[tuple[Any, ...]]:
        """Toutes les lignes, lues par lots (curseur côté serveur sous PostgreSQL) : une requête,
        quelle que soit leur quantité, en mémoire constante ; des tuples nommés plutôt que des
        modèles quand ``colonnes`` les nomme (trois à quatre fois moins de temps par ligne)."""
        requete = self.requete()
        if self.colonnes:
            requete = requete.values_list(*self.colonnes, named=True)
        for objet in requete.iterator(chunk_size=TAILLE_LOT):
            yield self.valeurs(objet)

    def _nombre_et_apercu(self, taille: int) -> tuple[int, list[Ligne]]:
        """Le nombre et les premières lignes en ne lisant l'ensemble qu'une fois : les clés des
        premières lignes et ``COUNT(*) OVER ()`` (compté avant la limite) d'abord, sur des lignes
        étroites (pas de fichier temporaire), puis ces lignes-là par leur clé. Le nombre puis
        l'aperçu lisaient deux fois le même ensemble (les 50 000 comptes d'une grande commune
        pour « inactifs ») : environ 25 ms de moins sur « Mes tableaux de bord » d'une grande
        convention, autant de requêtes (ticket 11). Les tableaux qui comptent autre chose que
        leurs lignes (``UtilisateursParProfil``) gardent leur propre nombre."""
        if type(self).nombre is not Tableau.nombre or type(self).apercu is not Tableau.apercu:
            return self.nombre(), self.apercu(taille)
        requete = self.requete()
        if self.ordre_indexe:
            # Les premières lignes entières dans l'ordre de l'index (lecture arrêtée à la
            # onzième), leur nombre compté une fois dans l'index seul (sous-requête non corrélée) :
            # une requête au lieu de deux.
            compte = Func(F("pk"), function="COUNT", output_field=IntegerField())
            nombre = Subquery(requete.order_by().annotate(n=compte).values("n"), output_field=IntegerField())
            objets = list(requete.annotate(nombre_du_tableau=nombre)[:taille])
            if not objets:
                return 0, []
            lignes = [Ligne(tuple(texte_cellule(v) for v in self.valeurs(o)), self.lien(o)) for o in objets]
            return objets[0].nombre_du_tableau, lignes
        cles = list(
            requete.annotate(nombre_du_tableau=Window(Count("*"))).values_list("pk", "nombre_du_tableau")[:taille]
        )
        if not cles:
            return 0, []
        par_cle = {o.pk: o for o in requete.filter(pk__in=[pk for pk, _n in cles]).order_by()}
        objets = [par_cle[pk] for pk, _n in cles if pk in par_cle]
        return cles[0][1], [Ligne(tuple(texte_cellule(v) for v in self.valeurs(o)), self.lien(o)) for o in objets]

    def section(self) -> Section:
        # Une ligne de plus que l'aperçu : sait-on qu'il y en a d'autres, sans autre requête.
        nombre, lignes = self._nombre_et_apercu(APERCU + 1)
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

    def _adresse(self, nom: str, cle: int) -> str:
        """L'adresse ``nom`` (convention, clé) : résolue une fois par tableau et par nom, la clé
        de chaque ligne mise à sa place (``<int:…>`` s'écrit tel quel) ; ``reverse`` à chaque
        ligne coûtait 0,5 ms par affichage."""
        if nom not in self._adresses:
            self._adresses[nom] = adresse_par_cle(nom, self.perimetre.convention.pk)
        return self._adresses[nom](cle)

    def _lien_utilisateur(self, utilisateur_id: int) -> str:
        return self._adresse("gestion:utilisateur", utilisateur_id)


class _Sinon(SansFormule, Coalesce):
    """``COALESCE`` de mises en forme qui ne commencent jamais par un début de formule."""


def _identite(user: Utilisateur) -> tuple[str, str, str, str]:
    return (user.identifiant, user.nom, user.prenom, user.email)


ENTETES_IDENTITE = ("Identifiant", "Nom", "Prénom", "Adresse mail")
CHAMPS_IDENTITE = ("identifiant", "nom", "prenom", "email")  # ce que ``_identite`` lit


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

    @cached_property
    def synthese(self) -> tuple[datetime.date, dict[int | None, int]] | None:
        """Les chiffres de la nuit (jour, {profil: nombre, None: au moins un profil}) si la
        convention en a (grande convention) et que la page la montre entière ; sinon None : les
        chiffres se comptent à la demande (responsable : son sous-arbre ; petite convention)."""
        if self.perimetre.responsable:
            return None
        lignes = list(
            SyntheseProfils.objects.filter(
                convention=self.perimetre.convention,
                jour=Subquery(
                    SyntheseProfils.objects.filter(convention=self.perimetre.convention)
                    .order_by("-jour")
                    .values("jour")[:1]
                ),
            ).values_list("jour", "profil_id", "nombre")
        )
        if not lignes:
            return None
        return lignes[0][0], {profil: nombre for _jour, profil, nombre in lignes}

    def section(self) -> Section:
        if self.synthese is None:
            return super().section()
        jour, nombres = self.synthese
        nombre = nombres.get(None, 0)
        lignes = [
            Ligne(tuple(texte_cellule(v) for v in (p.service.libelle, p.libelle, p.code, nombres.get(p.pk, 0))))
            for p in self.requete()[: APERCU + 1]
        ]
        return Section(
            slug=self.slug,
            titre=self.titre,
            description=self.description,
            entetes=self.entetes,
            nombre=nombre,
            resume=f"{self.resume(nombre)} (chiffres au {jour:%d/%m/%Y}, calculés chaque nuit ; l'export compte à l'instant)",
            lignes=lignes[:APERCU],
            tronquee=len(lignes) > APERCU,
            aucun=self.aucun,
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
    la même référence que la tâche de suspension (``models.reference_activite`` : dernière
    connexion, ou création, ou réouverture). Les comptes déjà suspendus en font partie : c'est à
    l'administrateur de les rouvrir ou de les clôturer. Un compte clôturé n'y est plus."""

    slug = "inactifs"
    entetes = (*ENTETES_IDENTITE, "Dernière connexion", "Sans activité depuis le", "Suspendu le")
    colonnes = (*CHAMPS_IDENTITE, "last_login", "reference", "suspendu_le")
    ordre_indexe = True  # utilisateur_conv_inactivite
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
            _jour(objet.last_login, self.fuseau) or "Jamais",
            _jour(objet.reference, self.fuseau),
            _jour(objet.suspendu_le, self.fuseau),
        )

    def colonnes_csv(self) -> tuple[Any, ...]:
        fuseau = timezone.get_current_timezone_name()
        return (
            *CHAMPS_IDENTITE,
            _Sinon(DateTexte("last_login", fuseau), Value("Jamais")),
            DateTexte("reference", fuseau),
            DateTexte("suspendu_le", fuseau),
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
    colonnes = (*CHAMPS_IDENTITE, "cree_le", "date_ouverture")
    ordre_indexe = True  # utilisateur_conv_jamais_active

    def requete(self) -> QuerySet[Utilisateur]:
        return (
            perms.utilisateurs_du_perimetre(self.perimetre)
            .filter(last_login__isnull=True)
            .filter(q_pas_encore_cloture(self.jour))
            .order_by("cree_le", "pk")
        )

    def valeurs(self, objet: Utilisateur) -> tuple[Any, ...]:
        return (*_identite(objet), _jour(objet.cree_le, self.fuseau), objet.date_ouverture)

    def colonnes_csv(self) -> tuple[Any, ...]:
        fuseau = timezone.get_current_timezone_name()
        return (*CHAMPS_IDENTITE, DateTexte("cree_le", fuseau), DateTexte("date_ouverture"))

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
                perms.q_groupe_du_perimetre(self.perimetre),
                perms.q_utilisateur_du_perimetre(self.perimetre),
                date_cloture__gt=self.jour,
                date_cloture__lte=self.jour + datetime.timedelta(days=self.jours),
                date_ouverture__lt=F("date_cloture"),
            )
            .select_related("utilisateur", "groupe")
            # Ce que ``valeurs`` et ``lien`` lisent : les comptes et groupes entiers (40 colonnes)
            # coûtaient leur lecture et leur conversion à chaque ligne.
            .only(
                "date_ouverture",
                "date_cloture",
                "utilisateur__identifiant",
                "utilisateur__nom",
                "utilisateur__prenom",
                "groupe__code",
                "groupe__libelle",
            )
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

    def colonnes_csv(self) -> tuple[Any, ...]:
        # Date moins date : des jours, en entier (PostgreSQL).
        jours_restants = Func(
            F("date_cloture"),
            Value(self.jour, output_field=DateField()),
            arg_joiner=" - ",
            template="(%(expressions)s)",
            output_field=IntegerField(),
        )
        return (
            "utilisateur__identifiant",
            "utilisateur__nom",
            "utilisateur__prenom",
            "groupe__code",
            "groupe__libelle",
            DateTexte("date_ouverture"),
            DateTexte("date_cloture"),
            jours_restants,
        )

    def lien(self, objet: Appartenance) -> str:
        return self._adresse("gestion:appartenances", objet.utilisateur_id)

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
        return self._lien_groupe(objet.pk)

    def _lien_groupe(self, groupe_id: int) -> str:
        return self._adresse("gestion:groupe_appartenances", groupe_id)

    def resume(self, nombre: int) -> str:
        return _pluriel(nombre, "groupe", "groupes")

    def synthese(self) -> SyntheseGroupesOrphelins | None:
        """Le tableau de la nuit si la convention en a un (grande convention) et que la page la
        montre entière ; sinon None : le tableau se calcule à l'instant (responsable : son
        sous-arbre ; petite convention)."""
        if self.perimetre.responsable:
            return None
        return (
            SyntheseGroupesOrphelins.objects.filter(convention=self.perimetre.convention)
            .only("jour", "nombre", "lignes")
            .order_by("-jour")
            .first()
        )

    def section(self) -> Section:
        synthese = self.synthese()
        if synthese is None:
            return super().section()
        lignes = [Ligne(tuple(cellules), self._lien_groupe(cle)) for cle, cellules in synthese.lignes]
        return Section(
            slug=self.slug,
            titre=self.titre,
            description=self.description,
            entetes=self.entetes,
            nombre=synthese.nombre,
            resume=(
                f"{self.resume(synthese.nombre)} (chiffres au {synthese.jour:%d/%m/%Y}, calculés chaque nuit ; "
                "l'export compte à l'instant)"
            ),
            lignes=lignes[:APERCU],
            tronquee=len(lignes) > APERCU,
            aucun=self.aucun,
        )

    def lignes_de_la_nuit(self) -> tuple[int, list[list[Any]]]:
        """Ce que ``synthese_profils_calculer`` écrit : le nombre, et les premières lignes de
        l'écran (une de plus que l'aperçu) en textes, chacune avec la clé de son groupe."""
        lignes = [[o.pk, [texte_cellule(v) for v in self.valeurs(o)]] for o in self.requete()[: APERCU + 1]]
        return self.requete().count(), lignes


TABLEAUX: dict[str, type[Tableau]] = {
    t.slug: t
    for t in (UtilisateursParProfil, ComptesInactifs, ComptesJamaisActives, AppartenancesEcheance, GroupesOrphelins)
}


def synthese_profils_calculer(jour: datetime.date | None = None) -> int:
    """Chaque nuit : les chiffres du tableau « Utilisateurs par service et profil » et le tableau
    « Groupes sans membre ou sans responsable » (nombre et premières lignes) de chaque convention
    d'au moins ``SEUIL_SYNTHESE`` appartenances, comptés par la règle même de la page
    (``UtilisateursParProfil``, ``GroupesOrphelins``, convention entière), écrits pour ``jour`` ;
    les synthèses plus anciennes et celles des conventions passées sous le seuil sont effacées.
    Une transaction par convention. Rend le nombre de conventions calculées."""
    jour = jour or timezone.localdate()
    grandes = list(
        Groupe.objects.order_by()
        .values("convention_id")
        .annotate(appartenances=Count("appartenances"))
        .filter(appartenances__gte=SEUIL_SYNTHESE)
        .values_list("convention_id", flat=True)
    )
    SyntheseProfils.objects.exclude(convention_id__in=grandes).delete()
    SyntheseGroupesOrphelins.objects.exclude(convention_id__in=grandes).delete()
    maintenant = timezone.make_aware(datetime.datetime.combine(jour, datetime.time(12)))
    for convention in perms.conventions_pour_perimetre(Convention.objects.filter(pk__in=grandes)).order_by("pk"):
        perimetre = perms.Perimetre(convention, lecture_seule=True)
        tableau = UtilisateursParProfil(perimetre, maintenant=maintenant)
        nombres: dict[int | None, int] = {None: tableau.nombre(), **tableau._comptes_par_profil()}
        orphelins, lignes = GroupesOrphelins(perimetre, maintenant=maintenant).lignes_de_la_nuit()
        with transaction.atomic():
            SyntheseProfils.objects.filter(convention=convention).delete()
            SyntheseProfils.objects.bulk_create(
                SyntheseProfils(convention=convention, jour=jour, profil_id=profil, nombre=nombre)
                for profil, nombre in nombres.items()
            )
            SyntheseGroupesOrphelins.objects.filter(convention=convention).delete()
            SyntheseGroupesOrphelins.objects.create(convention=convention, jour=jour, nombre=orphelins, lignes=lignes)
    return len(grandes)
