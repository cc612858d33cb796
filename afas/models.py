"""Activités (équipements/services) des partenaires, leurs lieux d'implantation, les rôles AFAS
qu'on y donne (habilitations AFAS) et la validation des approbateurs par la Caf pivot.

Une habilitation AFAS n'est qu'un fait daté ; ses droits effectifs se calculent à la lecture,
chaque jour, à partir des dates du compte, de l'appartenance à un groupe donnant AFAS-DECLARER,
de la convention et de l'activité (et du lieu) : une tâche en retard ne prolonge rien.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models
from django.db.models import Exists, ExpressionWrapper, F, Func, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from afas.enums import (
    DecisionCaf,
    EtatDeclaration,
    EtatHabilitation,
    EtatLancement,
    NatureActivite,
    RoleAfas,
    TypeActivite,
    TypeDeclaration,
)
from conventions.enums import EtatConvention
from conventions.models import Convention, Profil
from habilitations.models import Appartenance
from portail.socle.dates import Datee, DateeQuerySet, aujourdhui, contrainte_periode, q_chevauche, q_ouvert
from portail.socle.listes import q_parmi
from portail.socle.requetes import RequeteCompilee

PROFIL_DECLARER = "AFAS-DECLARER"
PROFIL_HABILITER = "AFAS-HABILITER"


class ActiviteQuerySet(DateeQuerySet):
    def pour_organisme(self, organisme):
        return self.filter(organisme=organisme)


class Activite(Datee):
    """Un équipement/service du partenaire (ALSH, EAJE…), repéré par son numéro d'équipement."""

    organisme = models.ForeignKey(
        "conventions.Organisme", on_delete=models.PROTECT, related_name="activites", verbose_name="partenaire"
    )
    numero_equipement = models.CharField("numéro d'équipement", max_length=20, unique=True)
    libelle = models.CharField("libellé", max_length=200)
    type_activite = models.CharField("type d'activité", max_length=10, choices=TypeActivite)
    nature = models.CharField("nature d'activité", max_length=10, choices=NatureActivite, blank=True)

    objects = ActiviteQuerySet.as_manager()

    class Meta:
        verbose_name = "activité"
        verbose_name_plural = "activités"
        ordering = ["libelle"]
        indexes = [
            models.Index(fields=["organisme", "libelle"]),
            models.Index(fields=["organisme", "type_activite", "nature"]),
            # Les activités du pays dans l'ordre du libellé (clé comprise, lue dans l'index seul) :
            # la file des approbateurs triée par activité lit sa dernière page en parcourant cet
            # index à rebours, les demandes de chaque activité par ``validation_activite_tri``,
            # et s'arrête à la page ; sans lui, PostgreSQL hachait les 80 000 activités du pays.
            models.Index(fields=["libelle", "id"], name="activite_libelle_tri"),
            # Les clés des activités d'une liste d'organismes, lues dans l'index seul : les lieux
            # d'une Caf se comptent par ses 600 organismes, leurs activités (clés) puis les lieux
            # de chacune (index des lieux par activité), au lieu de hacher les 80 000 activités du
            # pays pour en garder 6 000 (liste des lieux de l'agent Caf : 6 ms au lieu de 20 à 30).
            models.Index(fields=["organisme", "id"], name="activite_organisme_cle"),
        ]
        constraints = [contrainte_periode("activite_cloture_apres_ouverture")]

    def __str__(self) -> str:
        return self.libelle


class LieuImplantation(Datee):
    activite = models.ForeignKey(Activite, on_delete=models.PROTECT, related_name="lieux", verbose_name="activité")
    libelle = models.CharField("libellé", max_length=200)
    adresse = models.CharField("adresse", max_length=250, blank=True)
    code_postal = models.CharField("code postal", max_length=5, blank=True)
    commune = models.CharField("commune", max_length=120, blank=True)

    objects = DateeQuerySet.as_manager()

    class Meta:
        verbose_name = "lieu d'implantation"
        verbose_name_plural = "lieux d'implantation"
        ordering = ["libelle"]
        indexes = [models.Index(fields=["activite", "libelle"])]
        constraints = [contrainte_periode("lieu_cloture_apres_ouverture")]

    def __str__(self) -> str:
        return self.libelle


def q_validee() -> Q:
    """Un approbateur n'est valide qu'avec une décision « Validé » enregistrée par la Caf."""
    return ~Q(role=RoleAfas.APPROBATEUR) | Q(validation__decision=DecisionCaf.VALIDEE)


def _q_finie(jour: datetime.date) -> Q:
    """La date de fin est atteinte, ou elle a été supprimée avant même de commencer."""
    return Q(date_cloture__isnull=False) & (Q(date_cloture__lte=jour) | Q(date_cloture__lte=F("date_ouverture")))


def q_historique(jour: datetime.date) -> Q:
    """Finie ou refusée par la Caf."""
    return _q_finie(jour) | Q(validation__decision=DecisionCaf.REFUSEE)


def _appartenances_declarer(jour: datetime.date, utilisateur) -> models.QuerySet[Appartenance]:
    """Les appartenances ouvertes ce jour de ``utilisateur`` à un groupe ouvert qui donne
    AFAS-DECLARER (sans regarder si la convention accorde ce profil)."""
    return Appartenance.objects.filter(
        q_ouvert(jour),
        q_ouvert(jour, "groupe__"),
        utilisateur=utilisateur,
        groupe__groupe_profils__profil__code=PROFIL_DECLARER,
    )


def membre_declarer(jour: datetime.date, *, utilisateur, convention):
    """Les appartenances ouvertes ce jour à un groupe ouvert qui donne AFAS-DECLARER, dans
    ``convention``, qui accorde ce profil."""
    return _appartenances_declarer(jour, utilisateur).filter(
        groupe__convention=convention, groupe__convention__profils__code=PROFIL_DECLARER
    )


def _q_membre_declarer(jour: datetime.date) -> Q:
    """Le titulaire de l'habilitation extérieure est membre ce jour d'un groupe qui donne
    AFAS-DECLARER dans la convention de l'habilitation, et cette convention accorde le profil.

    Vérifié pour chaque habilitation lue, donc écrit pour coûter peu par ligne :
    - la convention du groupe est comparée à travers une expression, pour que PostgreSQL aille du
      compte à ses deux ou trois appartenances, puis au groupe par sa clé ; par l'index des
      groupes d'une convention, qu'il croit petit (trois en moyenne), il lisait les 600 groupes
      de la grande commune pour chaque habilitation (90 % du temps des lignes AFAS des tableaux
      de bord à l'échelle nationale) ;
    - « la convention accorde AFAS-DECLARER » porte sur la convention de l'habilitation, pas sur
      chaque appartenance : un EXISTS à part, que PostgreSQL garde en mémoire par convention
      (trois tables de moins dans la sous-requête par ligne, planification divisée par trois)."""
    accorde = Convention.profils.through.objects.filter(
        convention_id=OuterRef("convention_id"), profil__code=PROFIL_DECLARER
    )
    appartenances = (
        _appartenances_declarer(jour, OuterRef("utilisateur"))
        .alias(
            convention_du_groupe=ExpressionWrapper(
                F("groupe__convention_id") + 0, output_field=models.BigIntegerField()
            )
        )
        .filter(convention_du_groupe=OuterRef("convention"))
    )
    return Q(Exists(accorde)) & Q(Exists(appartenances))


def _q_membre_declarer_de(jour: datetime.date, convention: Convention) -> Q:
    """``_q_membre_declarer`` pour des habilitations toutes de ``convention`` (le partenaire
    choisi d'une recherche) : les comptes membres ce jour de ses groupes qui donnent
    AFAS-DECLARER sont lus une fois (sous-requête non corrélée, que PostgreSQL hache : les
    groupes de la convention par son index, leurs membres dans l'index (groupe, compte, dates)
    des appartenances), pas habilitation par habilitation. Pour les 1 870 habilitations
    ouvertes d'une grande commune, la sous-requête corrélée, hachée quand même par PostgreSQL,
    lisait toute la table des groupes et chaque appartenance dans la table (20 000 pages, les
    deux tiers de la requête).

    Et leurs activités parmi celles de son organisme (une habilitation est toujours sur une
    activité du partenaire de sa convention : ``afas.services.habilitation_afas_affecter``) :
    PostgreSQL les lit par l'index des activités d'un organisme (400 pour une grande commune)
    au lieu de hacher les 80 000 activités et 86 000 lieux du pays quand il ne partage pas la
    requête entre processus (60 ms au lieu de 20)."""
    accorde = Convention.profils.through.objects.filter(convention_id=convention.pk, profil__code=PROFIL_DECLARER)
    membres = Appartenance.objects.filter(
        q_ouvert(jour),
        q_ouvert(jour, "groupe__"),
        groupe__convention_id=convention.pk,
        groupe__groupe_profils__profil__code=PROFIL_DECLARER,
    ).values("utilisateur_id")
    return (
        Q(convention_id=convention.pk, activite__organisme_id=convention.organisme_id)
        & Q(Exists(accorde))
        & Q(utilisateur_id__in=membres)
    )


def _parmi_tableau(champ: str, cles: list[int]) -> Q:
    """« ``champ`` est l'une des ``cles`` », les clés passées en un seul paramètre (un tableau,
    PostgreSQL) : la forme de la requête ne dépend pas de leur nombre, elle se compile une fois
    (``portail.socle.requetes.RequeteCompilee``)."""
    return Q(
        Func(
            F(champ),
            Value(cles),
            arg_joiner=" = ANY(",
            template="(%(expressions)s::bigint[]))",
            output_field=models.BooleanField(),
        )
    )


def _titulaires_declarer(
    jour: datetime.date, utilisateurs: list[int], conventions: list[int], *, parmi=q_parmi
) -> models.QuerySet[Appartenance]:
    declarer = Subquery(Profil.objects.filter(code=PROFIL_DECLARER).values("pk")[:1])
    return (
        Appartenance.objects.filter(
            q_ouvert(jour),
            q_ouvert(jour, "groupe__"),
            q_ouvert(jour, "utilisateur__"),
            q_ouvert(jour, "groupe__convention__"),
            parmi("utilisateur_id", utilisateurs),
            parmi("groupe__convention_id", conventions),
            groupe__convention__etat=EtatConvention.VALIDEE,
            groupe__groupe_profils__profil=declarer,
            groupe__convention__profils=declarer,
        )
        .order_by()
        .values_list("utilisateur_id", "groupe__convention_id")
    )


# Compilée une fois par processus (PostgreSQL) : assembler ses neuf tables coûtait 2 ms de
# processeur à chaque page, plus que PostgreSQL pour y répondre.
_TITULAIRES_DECLARER = RequeteCompilee(
    lambda jour, utilisateurs, conventions: _titulaires_declarer(jour, utilisateurs, conventions, parmi=_parmi_tableau),
    {
        "jour": (datetime.date(1901, 2, 3), datetime.date(1902, 3, 4)),
        "utilisateurs": ([-1001], [-1002]),
        "conventions": ([-2001], [-2002]),
    },
)


def titulaires_declarer(
    jour: datetime.date, utilisateurs: Collection[int], conventions: Collection[int]
) -> set[tuple[int, int]]:
    """Les couples (compte, convention), parmi ces comptes et ces conventions, qui passent ce jour
    les conditions de ``q_effective`` extérieures à l'habilitation : compte ouvert, convention
    ouverte, validée et qui accorde AFAS-DECLARER, appartenance ouverte du compte à un groupe
    ouvert de cette convention qui donne ce profil (``_q_membre_declarer``). Une habilitation
    ouverte et validée (``q_ouvert``, ``q_validee``) d'une activité et d'un lieu ouverts est
    effective si et seulement si son couple (titulaire, convention) est dans cet ensemble.

    Pour les listes qui lisent beaucoup d'habilitations de peu de titulaires (l'état de
    préparation : 960 habilitations de 7 comptes pour une page à l'échelle nationale) : chaque
    couple est vérifié une fois, pas chaque habilitation. Le profil lu à part (sous-requête) : deux
    tables de moins dans la jointure, que PostgreSQL mettait 6 ms à planifier pour l'exécuter en
    0,3 ms."""
    utilisateurs, conventions = sorted(utilisateurs), sorted(conventions)
    if connection.vendor == "postgresql":
        lignes = _TITULAIRES_DECLARER.lignes(jour=jour, utilisateurs=utilisateurs, conventions=conventions)
        return {(utilisateur, convention) for utilisateur, convention in lignes}
    return set(_titulaires_declarer(jour, utilisateurs, conventions))


def declarants(jour: datetime.date, conventions) -> list[int]:
    """Les comptes membres ce jour d'un groupe ouvert donnant AFAS-DECLARER dans leur propre
    convention, parmi ``conventions`` : lus une fois par page, puis passés à ``q_effective``
    (la sous-requête corrélée, répétée dans chaque EXISTS d'une page « Non attribué », coûtait
    des secondes de planification à PostgreSQL)."""
    return list(
        Appartenance.objects.filter(
            q_ouvert(jour),
            q_ouvert(jour, "groupe__"),
            groupe__convention__in=conventions,
            groupe__convention=F("utilisateur__convention"),
            groupe__groupe_profils__profil__code=PROFIL_DECLARER,
            groupe__convention__profils__code=PROFIL_DECLARER,
        )
        .values_list("utilisateur_id", flat=True)
        # Sans l'ordre par défaut des appartenances (date d'ouverture), qui entrait dans le
        # DISTINCT : des doublons, et un tri de toutes les appartenances du grand groupe.
        .order_by()
        .distinct()
    )


def q_effective(jour: datetime.date, membres: list[int] | None = None, *, convention: Convention | None = None) -> Q:
    """Les droits du jour : commencée, pas finie, validée (approbateur), et tout ce dont elle
    dépend ouvert : compte, appartenance AFAS-DECLARER, convention validée, activité, lieu.
    ``membres`` : les comptes déjà lus par ``declarants`` pour les conventions concernées.
    ``convention`` : celles de cette seule convention (``_q_membre_declarer_de``)."""
    if convention is not None:
        membre = _q_membre_declarer_de(jour, convention)
    elif membres is None:
        membre = _q_membre_declarer(jour)
    else:
        membre = q_parmi("utilisateur_id", membres) & Q(convention=F("utilisateur__convention"))
    return (
        q_ouvert(jour)
        & q_validee()
        & q_ouvert(jour, "utilisateur__")
        & q_ouvert(jour, "convention__")
        & Q(convention__etat=EtatConvention.VALIDEE)
        & q_ouvert(jour, "activite__")
        & (Q(lieu__isnull=True) | q_ouvert(jour, "lieu__"))
        & membre
    )


class HabilitationAfasQuerySet(DateeQuerySet):
    def actives(
        self,
        jour: datetime.date | None = None,
        membres: list[int] | None = None,
        *,
        convention: Convention | None = None,
    ):
        """État « Actif » : les droits effectifs ce jour (de la seule ``convention`` si elle est
        donnée)."""
        return self.filter(q_effective(jour or aujourdhui(), membres, convention=convention))

    def _avec_decision_caf(self):
        """La décision de la Caf lue ligne par ligne (une sous-requête par la clé unique, « »
        sans demande) : en jointure, PostgreSQL hachait les 340 000 validations du pays pour
        les 9 000 habilitations d'une grande commune (110 ms sur « Historique »)."""
        decision = ValidationApprobateur.objects.filter(habilitation=OuterRef("pk")).order_by().values("decision")
        return self.alias(decision_caf=Coalesce(Subquery(decision), Value("")))

    def historiques(self, jour: datetime.date | None = None):
        """Les lignes de ``q_historique``, la décision de la Caf lue ligne par ligne."""
        return self._avec_decision_caf().filter(_q_finie(jour or aujourdhui()) | Q(decision_caf=DecisionCaf.REFUSEE))

    def inactives(
        self,
        jour: datetime.date | None = None,
        membres: list[int] | None = None,
        *,
        convention: Convention | None = None,
    ):
        """Ni active ni historique : commence plus tard, attend la Caf, ou suspendue parce que
        le compte, l'appartenance, la convention ou l'activité n'est pas ouvert ce jour.

        Le complément des actives du même ensemble (``pk NOT IN`` : PostgreSQL lit les actives
        une fois, par le plan de l'état « Actif »). Écrit ``NOT (droits du jour)``, les EXISTS
        niés au milieu d'un OU devenaient des sous-requêtes hachées sur tout le pays (toutes
        les appartenances AFAS-DECLARER : 65 ms) et les activités et lieux étaient hachés en
        entier (205 ms pour les 43 inactives d'une grande commune). ``convention`` : celles de
        cette seule convention."""
        jour = jour or aujourdhui()
        qs = self if convention is None else self.filter(convention_id=convention.pk)
        return (
            qs._avec_decision_caf()
            .exclude(_q_finie(jour))
            .exclude(decision_caf=DecisionCaf.REFUSEE)
            .exclude(pk__in=self.actives(jour, membres, convention=convention).values("pk"))
        )

    def en_attente(self):
        return self.filter(role=RoleAfas.APPROBATEUR, validation__decision=DecisionCaf.EN_ATTENTE)

    def dans_etat(
        self,
        etat: str,
        jour: datetime.date | None = None,
        membres: list[int] | None = None,
        *,
        convention: Convention | None = None,
    ):
        """Les habilitations dans ``etat`` ; ``convention`` : elles sont toutes de cette
        convention (voir ``q_effective``)."""
        if etat == EtatHabilitation.HISTORIQUE:
            return self.historiques(jour)
        selon = {EtatHabilitation.ACTIF: self.actives, EtatHabilitation.INACTIF: self.inactives}[etat]
        return selon(jour, membres, convention=convention)

    def chevauchant(self, debut: datetime.date, fin: datetime.date | None):
        """Celles dont la période croise [debut, fin) : même rôle deux fois en même temps."""
        return self.filter(q_chevauche(debut, fin))


class HabilitationAfas(Datee):
    """Un rôle AFAS d'un utilisateur sur une activité, ou (FDA seulement) sur un lieu
    d'implantation de cette activité ; daté. Supprimer la termine ce jour : rien n'est effacé."""

    utilisateur = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="habilitations_afas"
    )
    convention = models.ForeignKey(
        "conventions.Convention", on_delete=models.PROTECT, related_name="habilitations_afas"
    )
    role = models.CharField("rôle", max_length=20, choices=RoleAfas)
    activite = models.ForeignKey(Activite, on_delete=models.PROTECT, related_name="habilitations")
    lieu = models.ForeignKey(
        LieuImplantation, on_delete=models.PROTECT, null=True, blank=True, related_name="habilitations"
    )
    cree_par = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    cree_le = models.DateTimeField("créée le", default=timezone.now)

    objects = HabilitationAfasQuerySet.as_manager()

    class Meta:
        verbose_name = "habilitation AFAS"
        verbose_name_plural = "habilitations AFAS"
        ordering = ["activite__libelle", "role", "date_ouverture"]
        indexes = [
            models.Index(fields=["activite", "role", "date_ouverture"]),
            models.Index(fields=["lieu", "role", "date_ouverture"]),
            models.Index(fields=["utilisateur", "role"]),
            models.Index(fields=["convention", "date_ouverture"]),
        ]
        constraints = [
            contrainte_periode("habilitation_afas_fin_apres_debut"),
            models.CheckConstraint(
                condition=Q(lieu__isnull=True) | Q(role=RoleAfas.FDA),
                name="habilitation_afas_lieu_seulement_fda",
            ),
        ]

    def __str__(self) -> str:
        portee = self.lieu or self.activite
        return f"{self.get_role_display()} — {portee}"

    def decision(self) -> str | None:
        """La décision de la Caf pour un approbateur (None pour les autres rôles)."""
        if self.role != RoleAfas.APPROBATEUR:
            return None
        validation = getattr(self, "validation", None)
        return validation.decision if validation else DecisionCaf.EN_ATTENTE

    @property
    def en_attente_caf(self) -> bool:
        return self.decision() == DecisionCaf.EN_ATTENTE


class ValidationApprobateurQuerySet(models.QuerySet):
    def en_attente(self):
        return self.filter(decision=DecisionCaf.EN_ATTENTE)

    def pour_caf(self, caf_id: int):
        return self.filter(caf_id=caf_id)


class ValidationApprobateur(models.Model):
    """La demande de validation d'un approbateur à la Caf pivot, écrite avec l'habilitation, puis
    sa décision (qui, quand, motif) ; les relances à 3 et 7 jours sont datées une seule fois.

    Elle porte une copie de ce qui, dans l'habilitation, ne change jamais (compte, partenaire de la
    convention, activité, date de début ; ``champs_copies``) : la file de la Caf se trie par ces
    colonnes. Lues à travers l'habilitation, la page 1 000 triée par partenaire ou par utilisateur
    joignait les ~25 000 demandes de la Caf aux 990 000 habilitations du pays (130 à 160 ms)."""

    habilitation = models.OneToOneField(HabilitationAfas, on_delete=models.PROTECT, related_name="validation")
    caf = models.ForeignKey("conventions.Caf", on_delete=models.PROTECT, related_name="+", verbose_name="caf pivot")
    # Copies de l'habilitation (aucun service ne les modifie, ni là ni ici).
    utilisateur = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False, verbose_name="approbateur"
    )
    organisme = models.ForeignKey(
        "conventions.Organisme", on_delete=models.PROTECT, related_name="+", editable=False, verbose_name="partenaire"
    )
    activite = models.ForeignKey(
        Activite, on_delete=models.PROTECT, related_name="+", editable=False, verbose_name="activité"
    )
    date_ouverture = models.DateField("début de l'habilitation", editable=False)
    demandee_par = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, verbose_name="demandée par"
    )
    demandee_le = models.DateTimeField("demandée le", default=timezone.now)
    decision = models.CharField("décision", max_length=20, choices=DecisionCaf, default=DecisionCaf.EN_ATTENTE)
    decidee_par = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="décidée par",
    )
    decidee_le = models.DateTimeField("décidée le", null=True, blank=True)
    motif = models.TextField("motif du refus", blank=True)
    relance_3j_le = models.DateTimeField("relance à 3 jours", null=True, blank=True)
    relance_7j_le = models.DateTimeField("relance à 7 jours", null=True, blank=True)

    objects = ValidationApprobateurQuerySet.as_manager()

    class Meta:
        verbose_name = "validation d'approbateur"
        verbose_name_plural = "validations d'approbateurs"
        ordering = ["demandee_le"]
        indexes = [
            # La file d'une Caf dans son ordre (date de demande, puis clé qui départage) : la page
            # 1 000 des validées lit ses 25 clés dans l'index seul (``paginer(..., par_cles=True)``)
            # au lieu de trier les ~25 000 validations entières de la Caf, sur disque. Les copies
            # en fin de clé : triée par partenaire, utilisateur ou activité, la page lit ces ~25 000
            # entrées dans l'index seul, puis le nom de chaque partenaire ou compte une fois (en
            # fin de clé plutôt qu'en INCLUDE, que SQLite refuse d'un avertissement ; même lecture).
            models.Index(
                fields=["caf", "decision", "demandee_le", "id", "organisme", "utilisateur", "activite"],
                name="validation_caf_decision_tri",
            ),
            # Triée par date de début : les clés de la page dans l'ordre de l'index, comme ci-dessus.
            models.Index(
                fields=["caf", "decision", "date_ouverture", "demandee_le", "id"], name="validation_caf_debut_tri"
            ),
            # Triée par activité : les demandes d'une activité, pour la Caf et la décision, dans
            # l'ordre qui départage un même libellé (date de demande, clé), lues dans l'index seul
            # pour chaque activité que donne ``activite_libelle_tri``.
            models.Index(fields=["activite", "caf", "decision", "demandee_le", "id"], name="validation_activite_tri"),
            # Les demandes en attente (un millier dans le pays) : « Approbateurs en attente » des
            # tableaux de bord part d'elles, au lieu de lire les 337 000 validations.
            models.Index(
                fields=["habilitation"], condition=Q(decision=DecisionCaf.EN_ATTENTE), name="validation_en_attente"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision=DecisionCaf.EN_ATTENTE) | Q(decidee_le__isnull=False),
                name="validation_decision_datee",
            ),
            models.CheckConstraint(
                condition=~Q(decision=DecisionCaf.REFUSEE) | ~Q(motif=""),
                name="validation_refus_motive",
            ),
        ]

    def __str__(self) -> str:
        return f"Validation de l'approbateur {self.habilitation_id} : {self.get_decision_display()}"

    @staticmethod
    def champs_copies(habilitation: HabilitationAfas) -> dict[str, object]:
        """Les colonnes copiées de l'habilitation, à passer à la création de la demande."""
        return {
            "utilisateur_id": habilitation.utilisateur_id,
            "organisme_id": habilitation.convention.organisme_id,
            "activite_id": habilitation.activite_id,
            "date_ouverture": habilitation.date_ouverture,
        }


# --- Déclarations ------------------------------------------------------------------------------


class AppelDeclaration(models.Model):
    """L'appel de déclaration d'une Caf : un exercice, un type, les activités concernées (résolues au
    lancement, figées ici) et les dates. La tâche de lancement crée une déclaration par activité ;
    ``creees`` sur ``total`` donne la barre de progression. ``cle`` rend un double envoi inoffensif."""

    caf = models.ForeignKey("conventions.Caf", on_delete=models.PROTECT, related_name="appels_declaration")
    cle = models.UUIDField("clé d'envoi", default=uuid.uuid4, unique=True, editable=False)
    exercice = models.PositiveSmallIntegerField("exercice")
    type_declaration = models.CharField("type de déclaration", max_length=20, choices=TypeDeclaration)
    type_activite = models.CharField("type d'activité", max_length=10, choices=TypeActivite, blank=True)
    nature = models.CharField("nature d'activité", max_length=10, choices=NatureActivite, blank=True)
    activites = models.ManyToManyField(Activite, related_name="appels", verbose_name="activités concernées")
    date_ouverture = models.DateField("ouverture de la saisie")
    date_limite = models.DateField("date limite de transmission")
    lance_par = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    lance_le = models.DateTimeField("lancé le", default=timezone.now)
    etat_lancement = models.CharField(
        "lancement", max_length=20, choices=EtatLancement, default=EtatLancement.EN_ATTENTE
    )
    total = models.PositiveIntegerField("activités concernées", default=0)
    creees = models.PositiveIntegerField("déclarations créées", default=0)
    termine_le = models.DateTimeField("lancement terminé le", null=True, blank=True)

    class Meta:
        verbose_name = "appel de déclaration"
        verbose_name_plural = "appels de déclaration"
        ordering = ["-lance_le"]
        indexes = [models.Index(fields=["caf", "-lance_le"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(date_limite__gte=F("date_ouverture")), name="appel_limite_apres_ouverture"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_declaration_display()} {self.exercice}"


class Declaration(models.Model):
    """La déclaration d'une activité pour un exercice et un type : une seule, quel que soit le nombre
    d'appels ou de livraisons de la tâche (contrainte d'unicité). Son état suit
    ``afas.declarations.etats`` ; chaque passage est daté dans ``EvenementDeclaration``."""

    appel = models.ForeignKey(AppelDeclaration, on_delete=models.PROTECT, related_name="declarations")
    activite = models.ForeignKey(Activite, on_delete=models.PROTECT, related_name="declarations")
    caf = models.ForeignKey("conventions.Caf", on_delete=models.PROTECT, related_name="+")
    exercice = models.PositiveSmallIntegerField("exercice")
    type_declaration = models.CharField("type de déclaration", max_length=20, choices=TypeDeclaration)
    etat = models.CharField("état", max_length=20, choices=EtatDeclaration, default=EtatDeclaration.A_SAISIR)
    date_ouverture = models.DateField("ouverture de la saisie")
    date_limite = models.DateField("date limite de transmission")
    creee_le = models.DateTimeField("créée le", default=timezone.now)
    modifiee_le = models.DateTimeField("modifiée le", default=timezone.now)
    commentaire_ecart = models.TextField(
        "commentaire sur l'écart au prévisionnel",
        blank=True,
        help_text="Obligatoire pour un réel qui s'écarte de plus de 20 % de son prévisionnel.",
    )
    relance_7j_le = models.DateTimeField("relance à 7 jours", null=True, blank=True)
    relance_1j_le = models.DateTimeField("relance à 1 jour", null=True, blank=True)

    class Meta:
        verbose_name = "déclaration"
        verbose_name_plural = "déclarations"
        ordering = ["date_limite", "pk"]
        indexes = [
            models.Index(fields=["caf", "etat", "date_limite"]),
            # Par appel et état, Caf et clé comprises : les déclarations d'un appel (figées ou non)
            # et leurs Caf se lisent dans l'index seul quand on les rapproche de leurs montants
            # (financement de l'appel), sans relire les 6 000 lignes ; les décomptes par état aussi.
            models.Index(fields=["appel", "etat", "caf", "id"], name="declaration_appel_etat_cle"),
            models.Index(fields=["activite", "exercice"]),
            models.Index(fields=["etat", "date_limite"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["activite", "exercice", "type_declaration"], name="declaration_unique_par_activite"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_declaration_display()} {self.exercice} — {self.activite_id}"


def _montant(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        **kwargs,
    )


class DonneesActivite(models.Model):
    """La part du fournisseur de données d'activité (FDA) : une ligne par lieu d'implantation (ou
    pour l'activité elle-même sans lieu) et par nature, créée avec la déclaration. Vide (None) tant
    que rien n'est saisi. ``version`` : deux enregistrements concurrents, le second est prévenu."""

    declaration = models.ForeignKey(Declaration, on_delete=models.CASCADE, related_name="donnees_activite")
    lieu = models.ForeignKey(LieuImplantation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    nature = models.CharField("nature d'activité", max_length=10, choices=NatureActivite, blank=True)
    heures_realisees = _montant(verbose_name="heures réalisées")
    heures_facturees = _montant(verbose_name="heures facturées")
    heures_mercredi = _montant(verbose_name="heures du mercredi (Plan mercredi)")
    enfants_inscrits = models.PositiveIntegerField("nombre d'enfants inscrits", null=True, blank=True)
    jours_ouverture = models.PositiveSmallIntegerField(
        "jours d'ouverture", null=True, blank=True, validators=[MaxValueValidator(366)]
    )
    amplitude_ouverture = models.DecimalField(
        "amplitude d'ouverture (heures par jour)",
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("24"))],
    )
    version = models.PositiveIntegerField(default=0)
    saisie_par = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    saisie_le = models.DateTimeField("saisie le", null=True, blank=True)

    class Meta:
        verbose_name = "données d'activité"
        verbose_name_plural = "données d'activité"
        ordering = ["declaration", "lieu__libelle", "nature"]
        constraints = [
            models.UniqueConstraint(
                fields=["declaration", "lieu", "nature"],
                condition=Q(lieu__isnull=False),
                name="donnees_activite_unique_par_lieu",
            ),
            models.UniqueConstraint(
                fields=["declaration", "nature"],
                condition=Q(lieu__isnull=True),
                name="donnees_activite_unique_sans_lieu",
            ),
        ]

    def __str__(self) -> str:
        return f"Données d'activité {self.declaration_id} / {self.lieu_id or '-'} / {self.nature}"


#: Le plan comptable associatif, tel qu'un partenaire le connaît : (champ, compte, libellé).
COMPTES_CHARGES = (
    ("c60", "60", "Achats"),
    ("c61", "61", "Services extérieurs"),
    ("c62", "62", "Autres services extérieurs"),
    ("c63", "63", "Impôts, taxes et versements assimilés"),
    ("c64", "64", "Charges de personnel"),
    ("c65", "65", "Autres charges de gestion courante"),
    ("c66", "66", "Charges financières"),
    ("c67", "67", "Charges exceptionnelles"),
    ("c68", "68", "Dotations aux amortissements, dépréciations et provisions"),
)
COMPTES_PRODUITS = (
    ("p70", "70", "Ventes de produits finis, prestations de services"),
    ("p71", "71", "Production stockée"),
    ("p72", "72", "Production immobilisée"),
    ("p74", "74", "Subventions d'exploitation"),
    ("p75", "75", "Autres produits de gestion courante"),
    ("p76", "76", "Produits financiers"),
    ("p77", "77", "Produits exceptionnels"),
    ("p78", "78", "Reprises sur amortissements, dépréciations et provisions"),
)


class DonneesFinancieres(models.Model):
    """La part du fournisseur de données financières (FDF) : charges (60 à 68), produits (70 à 78),
    participations familiales (comprises dans le 70) et taux de ressortissants du régime général."""

    declaration = models.OneToOneField(Declaration, on_delete=models.CASCADE, related_name="donnees_financieres")
    c60 = _montant(verbose_name="60 — Achats")
    c61 = _montant(verbose_name="61 — Services extérieurs")
    c62 = _montant(verbose_name="62 — Autres services extérieurs")
    c63 = _montant(verbose_name="63 — Impôts, taxes et versements assimilés")
    c64 = _montant(verbose_name="64 — Charges de personnel")
    c65 = _montant(verbose_name="65 — Autres charges de gestion courante")
    c66 = _montant(verbose_name="66 — Charges financières")
    c67 = _montant(verbose_name="67 — Charges exceptionnelles")
    c68 = _montant(verbose_name="68 — Dotations aux amortissements, dépréciations et provisions")
    p70 = _montant(verbose_name="70 — Ventes de produits finis, prestations de services")
    p71 = _montant(verbose_name="71 — Production stockée")
    p72 = _montant(verbose_name="72 — Production immobilisée")
    p74 = _montant(verbose_name="74 — Subventions d'exploitation")
    p75 = _montant(verbose_name="75 — Autres produits de gestion courante")
    p76 = _montant(verbose_name="76 — Produits financiers")
    p77 = _montant(verbose_name="77 — Produits exceptionnels")
    p78 = _montant(verbose_name="78 — Reprises sur amortissements, dépréciations et provisions")
    participations_familiales = _montant(verbose_name="participations familiales")
    taux_ressortissants = models.DecimalField(
        "taux de ressortissants du régime général (%)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    version = models.PositiveIntegerField(default=0)
    saisie_par = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    saisie_le = models.DateTimeField("saisie le", null=True, blank=True)

    class Meta:
        verbose_name = "données financières"
        verbose_name_plural = "données financières"

    def __str__(self) -> str:
        return f"Données financières {self.declaration_id}"

    @property
    def total_charges(self) -> Decimal:
        return sum((getattr(self, champ) or Decimal("0") for champ, _, _ in COMPTES_CHARGES), Decimal("0"))

    @property
    def total_produits(self) -> Decimal:
        return sum((getattr(self, champ) or Decimal("0") for champ, _, _ in COMPTES_PRODUITS), Decimal("0"))


class EvenementDeclaration(models.Model):
    """Un passage d'état daté, par qui, avec son commentaire : l'historique montré sur la déclaration."""

    declaration = models.ForeignKey(Declaration, on_delete=models.CASCADE, related_name="evenements")
    etat_avant = models.CharField("état avant", max_length=20, choices=EtatDeclaration, blank=True)
    etat_apres = models.CharField("état après", max_length=20, choices=EtatDeclaration)
    par = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    le = models.DateTimeField("le", default=timezone.now)
    commentaire = models.TextField("commentaire", blank=True)

    class Meta:
        verbose_name = "événement de déclaration"
        verbose_name_plural = "événements de déclaration"
        ordering = ["declaration", "le", "pk"]
        indexes = [models.Index(fields=["declaration", "le"])]

    def __str__(self) -> str:
        return f"{self.declaration_id} : {self.etat_avant or '-'} → {self.etat_apres}"


class Recepisse(models.Model):
    """Le récépissé d'une transmission : le contenu transmis figé (JSON canonique), son empreinte
    SHA-256 et le PDF rendu. Une déclaration renvoyée puis retransmise en a un par transmission."""

    declaration = models.ForeignKey(Declaration, on_delete=models.PROTECT, related_name="recepisses")
    numero = models.PositiveSmallIntegerField("numéro de transmission")
    transmise_par = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    transmise_le = models.DateTimeField("transmise le", default=timezone.now)
    contenu = models.JSONField("contenu transmis")
    empreinte = models.CharField("empreinte SHA-256", max_length=64)
    pdf = models.BinaryField("récépissé PDF", blank=True)

    class Meta:
        verbose_name = "récépissé de transmission"
        verbose_name_plural = "récépissés de transmission"
        ordering = ["declaration", "numero"]
        constraints = [
            models.UniqueConstraint(fields=["declaration", "numero"], name="recepisse_unique_par_numero"),
        ]

    def __str__(self) -> str:
        return f"Récépissé {self.numero} de la déclaration {self.declaration_id}"


# --- Financement (issue 14) : paramètres, label Plan mercredi, montants figés, statistiques ------


class ParametreFinancementQuerySet(models.QuerySet):
    def applicables(self, caf_id: int | None, exercice: int, type_activite: str):
        """Les lignes qui peuvent valoir pour cette Caf : les siennes et le barème national."""
        return self.filter(Q(caf_id=caf_id) | Q(caf__isnull=True), exercice=exercice, type_activite=type_activite)


class ParametreFinancement(models.Model):
    """Les paramètres du calcul pour un exercice et un type d'activité (et une nature d'ALSH ;
    vide : toutes natures). ``caf`` vide : le barème national, écrit par migration depuis les
    circulaires publiques de la Cnaf et lu par toutes les Caf ; une Caf qui a sa propre ligne
    (créée par ses agents depuis l'écran des paramètres) l'emporte pour ses déclarations.
    Versionnés par exercice : changer l'exercice N+1 ne touche ni l'exercice N, ni un montant déjà
    figé à la transmission (qui garde une copie des paramètres utilisés)."""

    caf = models.ForeignKey(
        "conventions.Caf", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="caf"
    )
    exercice = models.PositiveSmallIntegerField("exercice")
    type_activite = models.CharField("type d'activité", max_length=10, choices=TypeActivite)
    nature = models.CharField("nature d'activité", max_length=10, choices=NatureActivite, blank=True)
    taux = models.DecimalField(
        "taux de prise en charge (%)",
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    prix_plafond = models.DecimalField(
        "prix plafond",
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="En euros par heure (ALSH, EAJE) ou en euros par an (LAEP, RPE).",
    )
    bonus_mercredi = models.DecimalField(
        "bonus Plan mercredi (€ par heure)",
        max_digits=6,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    taux_avance_1 = models.DecimalField(
        "première avance (% du prévisionnel)", max_digits=5, decimal_places=2, default=Decimal("35")
    )
    taux_avance_2 = models.DecimalField(
        "seconde avance (% du prévisionnel)", max_digits=5, decimal_places=2, default=Decimal("35")
    )
    source = models.TextField("source")
    modifie_par = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    modifie_le = models.DateTimeField("modifié le", default=timezone.now)

    objects = ParametreFinancementQuerySet.as_manager()

    class Meta:
        verbose_name = "paramètre de financement"
        verbose_name_plural = "paramètres de financement"
        ordering = ["-exercice", "type_activite", "nature", "caf"]
        constraints = [
            models.UniqueConstraint(
                fields=["caf", "exercice", "type_activite", "nature"],
                condition=Q(caf__isnull=False),
                name="parametre_unique_par_caf",
            ),
            models.UniqueConstraint(
                fields=["exercice", "type_activite", "nature"],
                condition=Q(caf__isnull=True),
                name="parametre_unique_national",
            ),
            models.CheckConstraint(
                condition=Q(taux_avance_1__gte=0, taux_avance_2__gte=0)
                & Q(taux_avance_1__lte=Decimal("70") - F("taux_avance_2")),
                name="parametre_avances_70_pour_cent_au_plus",
            ),
        ]

    def __str__(self) -> str:
        portee = "national" if self.caf_id is None else f"Caf {self.caf_id}"
        nature = f" {self.nature}" if self.nature else ""
        return f"{self.type_activite}{nature} {self.exercice} ({portee})"

    @property
    def unite_plafond(self) -> str:
        return "€/h" if self.type_activite in (TypeActivite.ALSH, TypeActivite.EAJE) else "€ par an"


class LabelPlanMercredi(models.Model):
    """L'activité (un ALSH) est labellisée Plan mercredi pour cet exercice : ses heures du
    mercredi reçoivent le bonus. Posé par un agent de la Caf de l'activité, un exercice à la fois :
    le label suit la charte signée par le partenaire, qui a ses dates ; un simple drapeau sur
    l'activité changerait le calcul des années passées, et un drapeau sur le paramètre de la Caf
    le donnerait à tous ses accueils. Rien ne s'efface : retirer le label passe ``labellise`` à
    faux (le journal garde qui l'a fait et quand)."""

    activite = models.ForeignKey(Activite, on_delete=models.PROTECT, related_name="labels_plan_mercredi")
    exercice = models.PositiveSmallIntegerField("exercice")
    labellise = models.BooleanField("labellisé Plan mercredi", default=True)
    pose_par = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    pose_le = models.DateTimeField("posé le", default=timezone.now)

    class Meta:
        verbose_name = "label Plan mercredi"
        verbose_name_plural = "labels Plan mercredi"
        constraints = [
            models.UniqueConstraint(fields=["activite", "exercice"], name="plan_mercredi_unique_par_exercice"),
        ]

    def __str__(self) -> str:
        return f"Plan mercredi {self.exercice} — {self.activite_id}"


class MontantEstime(models.Model):
    """Le montant d'une déclaration figé à sa transmission : les paramètres utilisés (copie JSON),
    chaque étape du calcul et les indicateurs que lisent les statistiques. Une déclaration renvoyée
    puis retransmise en a un par transmission ; seul le dernier est ``actuel``. Les champs de
    l'activité (Caf, type, nature) sont recopiés : les statistiques se calculent sur cette table
    seule."""

    declaration = models.ForeignKey(Declaration, on_delete=models.PROTECT, related_name="montants")
    calcule_le = models.DateTimeField("calculé le", default=timezone.now)
    calcule_par = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actuel = models.BooleanField("montant en vigueur", default=True)
    parametres = models.JSONField("paramètres utilisés")
    etapes = models.JSONField("étapes du calcul")
    montant = models.DecimalField("montant estimé", max_digits=14, decimal_places=2)
    caf = models.ForeignKey("conventions.Caf", on_delete=models.PROTECT, related_name="+")
    exercice = models.PositiveSmallIntegerField("exercice")
    type_declaration = models.CharField("type de déclaration", max_length=20, choices=TypeDeclaration)
    type_activite = models.CharField("type d'activité", max_length=10, choices=TypeActivite)
    nature = models.CharField("nature d'activité", max_length=10, choices=NatureActivite, blank=True)
    heures_realisees = models.DecimalField("heures réalisées", max_digits=14, decimal_places=2)
    total_charges = models.DecimalField("total des charges", max_digits=14, decimal_places=2)
    prix_revient_horaire = models.DecimalField(max_digits=14, decimal_places=4, null=True)
    heures_par_enfant = models.DecimalField(max_digits=14, decimal_places=4, null=True)
    taux_remplissage = models.DecimalField(max_digits=14, decimal_places=4, null=True)
    montant_par_heure = models.DecimalField(max_digits=14, decimal_places=4, null=True)

    class Meta:
        verbose_name = "montant estimé"
        verbose_name_plural = "montants estimés"
        ordering = ["declaration", "-calcule_le", "-pk"]
        indexes = [
            models.Index(fields=["declaration", "-calcule_le"]),
            models.Index(
                fields=["exercice", "type_declaration", "type_activite", "nature", "caf"],
                condition=Q(actuel=True),
                name="montant_actuel_par_groupe",
            ),
            # Financement d'un appel (page de la Caf) : ses hors norme lus par plages du montant par
            # heure (deux par type et nature), son total dans l'index seul, sans lire les montants
            # (lignes larges : étapes et paramètres) des 6 000 déclarations de l'appel une à une.
            models.Index(
                fields=["caf", "exercice", "type_declaration", "type_activite", "nature", "montant_par_heure"],
                include=["declaration", "montant"],
                condition=Q(actuel=True),
                name="montant_actuel_par_caf",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["declaration"], condition=Q(actuel=True), name="montant_un_seul_actuel"),
        ]

    def __str__(self) -> str:
        return f"Montant de la déclaration {self.declaration_id} : {self.montant}"


class StatistiqueReference(models.Model):
    """Le résumé calculé chaque nuit (``afas.tasks.statistiques_calculer``) : effectif, premier
    quartile, médiane et troisième quartile d'un indicateur, pour un exercice, un type de
    déclaration, un type et une nature d'activité, dans une Caf (``caf``) ou dans la nation
    (``caf`` vide). Les pages de statistiques lisent ces lignes : leur coût ne dépend pas du
    nombre de déclarations."""

    caf = models.ForeignKey("conventions.Caf", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    exercice = models.PositiveSmallIntegerField("exercice")
    type_declaration = models.CharField("type de déclaration", max_length=20, choices=TypeDeclaration)
    type_activite = models.CharField("type d'activité", max_length=10, choices=TypeActivite)
    nature = models.CharField("nature d'activité", max_length=10, choices=NatureActivite, blank=True)
    indicateur = models.CharField("indicateur", max_length=30)
    effectif = models.PositiveIntegerField("nombre de déclarations")
    q1 = models.DecimalField("premier quartile", max_digits=14, decimal_places=4)
    mediane = models.DecimalField("médiane", max_digits=14, decimal_places=4)
    q3 = models.DecimalField("troisième quartile", max_digits=14, decimal_places=4)
    calculee_le = models.DateTimeField("calculée le")

    class Meta:
        verbose_name = "statistique de référence"
        verbose_name_plural = "statistiques de référence"
        indexes = [
            models.Index(
                fields=["exercice", "type_declaration", "type_activite", "nature", "caf"],
                name="statistique_par_groupe",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.indicateur} {self.type_activite} {self.exercice} ({self.caf_id or 'national'})"


class SyntheseAfas(models.Model):
    """Les chiffres de la nuit des lignes AFAS d'une grande convention (voir
    ``afas.habilitations.tableau_de_bord.synthese_calculer``) : activités dont un rôle n'est tenu
    par personne et habilitations actives qui prennent fin bientôt, le ``jour`` du calcul. Un
    résumé daté, montré avec sa date, jamais une décision d'accès : la recherche où l'on agit
    reste calculée à l'instant."""

    convention = models.ForeignKey(
        "conventions.Convention", on_delete=models.CASCADE, related_name="+", verbose_name="convention"
    )
    jour = models.DateField("chiffres au")
    non_attribues = models.PositiveIntegerField("activités dont un rôle n'est tenu par personne")
    fin_prochaine = models.PositiveIntegerField("habilitations actives qui prennent fin bientôt")

    class Meta:
        verbose_name = "synthèse AFAS"
        verbose_name_plural = "synthèses AFAS"
        indexes = [models.Index(fields=["convention", "-jour"], name="synthese_afas_convention")]

    def __str__(self) -> str:
        return f"{self.convention_id} {self.jour} : {self.non_attribues} / {self.fin_prochaine}"
