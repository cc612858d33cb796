"""Activités (équipements/services) des partenaires, leurs lieux d'implantation, les rôles AFAS
qu'on y donne (habilitations AFAS) et la validation des approbateurs par la Caf pivot.

Une habilitation AFAS n'est qu'un fait daté ; ses droits effectifs se calculent à la lecture,
chaque jour, à partir des dates du compte, de l'appartenance à un groupe donnant AFAS-DECLARER,
de la convention et de l'activité (et du lieu) : une tâche en retard ne prolonge rien.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from afas.enums import DecisionCaf, EtatHabilitation, NatureActivite, RoleAfas, TypeActivite
from conventions.enums import EtatConvention
from habilitations.models import Appartenance
from portail.socle.dates import Datee, DateeQuerySet, aujourdhui, contrainte_periode, q_chevauche, q_ouvert
from portail.socle.listes import q_parmi

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


def q_historique(jour: datetime.date) -> Q:
    """Finie (la date de fin est atteinte, ou elle a été supprimée avant même de commencer) ou
    refusée par la Caf."""
    fin = Q(date_cloture__isnull=False) & (Q(date_cloture__lte=jour) | Q(date_cloture__lte=F("date_ouverture")))
    return fin | Q(validation__decision=DecisionCaf.REFUSEE)


def membre_declarer(jour: datetime.date, utilisateur=None, convention=None):
    """Les appartenances ouvertes ce jour à un groupe ouvert qui donne AFAS-DECLARER, dans une
    convention qui accorde ce profil (par défaut, celles de l'habilitation extérieure)."""
    return Appartenance.objects.filter(
        q_ouvert(jour),
        q_ouvert(jour, "groupe__"),
        utilisateur=utilisateur if utilisateur is not None else OuterRef("utilisateur"),
        groupe__convention=convention if convention is not None else OuterRef("convention"),
        groupe__groupe_profils__profil__code=PROFIL_DECLARER,
        groupe__convention__profils__code=PROFIL_DECLARER,
    )


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


def q_effective(jour: datetime.date, membres: list[int] | None = None) -> Q:
    """Les droits du jour : commencée, pas finie, validée (approbateur), et tout ce dont elle
    dépend ouvert : compte, appartenance AFAS-DECLARER, convention validée, activité, lieu.
    ``membres`` : les comptes déjà lus par ``declarants`` pour les conventions concernées."""
    if membres is None:
        membre = Q(Exists(membre_declarer(jour)))
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
    def actives(self, jour: datetime.date | None = None, membres: list[int] | None = None):
        """État « Actif » : les droits effectifs ce jour."""
        return self.filter(q_effective(jour or aujourdhui(), membres))

    def historiques(self, jour: datetime.date | None = None):
        return self.filter(q_historique(jour or aujourdhui()))

    def inactives(self, jour: datetime.date | None = None, membres: list[int] | None = None):
        """Ni active ni historique : commence plus tard, attend la Caf, ou suspendue parce que
        le compte, l'appartenance, la convention ou l'activité n'est pas ouvert ce jour."""
        jour = jour or aujourdhui()
        return self.exclude(q_historique(jour)).exclude(q_effective(jour, membres))

    def en_attente(self):
        return self.filter(role=RoleAfas.APPROBATEUR, validation__decision=DecisionCaf.EN_ATTENTE)

    def dans_etat(self, etat: str, jour: datetime.date | None = None, membres: list[int] | None = None):
        if etat == EtatHabilitation.HISTORIQUE:
            return self.historiques(jour)
        return {EtatHabilitation.ACTIF: self.actives, EtatHabilitation.INACTIF: self.inactives}[etat](jour, membres)

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
    sa décision (qui, quand, motif) ; les relances à 3 et 7 jours sont datées une seule fois."""

    habilitation = models.OneToOneField(HabilitationAfas, on_delete=models.PROTECT, related_name="validation")
    caf = models.ForeignKey("conventions.Caf", on_delete=models.PROTECT, related_name="+", verbose_name="caf pivot")
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
        indexes = [models.Index(fields=["caf", "decision", "demandee_le"])]
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
