"""La règle « Ouvert entre la date d'ouverture et la date de clôture », écrite une seule fois.

Une chose est **ouverte** le jour ``d`` si ``date_ouverture <= d`` et si elle n'a pas de date de
clôture ou si ``d < date_cloture`` : la date de clôture est le premier jour où elle est close.
Clôturer « aujourd'hui » ferme donc aujourd'hui même. Avant sa date d'ouverture, elle n'est pas
encore ouverte (statut « Clôturé » à l'affichage, comme dans les guides : seul « Ouvert » donne accès).
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from portail.socle.erreurs import ErreurMetier

MESSAGE_PERIODE = "La date de clôture doit être postérieure à la date d'ouverture."


def aujourdhui() -> datetime.date:
    """La date du jour à Paris (et non en UTC : à 0h30 à Paris, c'est déjà demain)."""
    return timezone.localdate()


# La plage des dates qu'on saisit (ouvertures, clôtures, filtres) : le portail n'a rien avant
# 2000, et rien de raisonnable ne se prévoit à plus d'un siècle. Hors plage, une date est une
# faute de frappe (0001, 9999) : refusée avec un message, jamais stockée ni calculée (9999-12-31
# plus un jour déborde).
DATE_MIN = datetime.date(2000, 1, 1)
HORIZON_ANNEES = 100


def date_max() -> datetime.date:
    """Le dernier jour accepté : le 31 décembre, dans ``HORIZON_ANNEES`` ans."""
    return datetime.date(aujourdhui().year + HORIZON_ANNEES, 12, 31)


def refus_hors_plage(jour: datetime.date | None) -> str | None:
    """Le message qui refuse une date hors de la plage acceptée, ou None si elle y est (ou vide)."""
    if jour is None or DATE_MIN <= jour <= date_max():
        return None
    return f"Saisissez une date entre le {DATE_MIN:%d/%m/%Y} et le {date_max():%d/%m/%Y}."


def verifier_plage(*jours: datetime.date | None, champ: str | None = None) -> None:
    """Refuse (sous ``champ``) une date hors de la plage acceptée, dans un service."""
    for jour in jours:
        message = refus_hors_plage(jour)
        if message:
            raise ErreurMetier(message, champ=champ)


def valider_plage(jour: datetime.date | None) -> None:
    """Validateur de champ de formulaire (voir ``refus_hors_plage``)."""
    message = refus_hors_plage(jour)
    if message:
        raise ValidationError(message, code="hors_plage")


def q_ouvert(jour: datetime.date, prefixe: str = "") -> Q:
    """Filtre « ouvert le jour donné », éventuellement au travers d'une relation (``prefixe``)."""
    return Q(**{f"{prefixe}date_ouverture__lte": jour}) & (
        Q(**{f"{prefixe}date_cloture__isnull": True}) | Q(**{f"{prefixe}date_cloture__gt": jour})
    )


def q_cloture(jour: datetime.date, prefixe: str = "") -> Q:
    """Filtre « clôturé ce jour » : la date de clôture est atteinte (c'est le premier jour fermé).
    Ce n'est pas le contraire d'« ouvert » : une chose pas encore ouverte n'est pas clôturée."""
    return Q(**{f"{prefixe}date_cloture__isnull": False, f"{prefixe}date_cloture__lte": jour})


def q_pas_encore_cloture(jour: datetime.date, prefixe: str = "") -> Q:
    """Filtre « pas encore clôturé ce jour » : sans date de clôture, ou clôture à venir (une chose
    pas encore ouverte en fait partie). Le contraire exact de ``q_cloture``."""
    return Q(**{f"{prefixe}date_cloture__isnull": True}) | Q(**{f"{prefixe}date_cloture__gt": jour})


def q_chevauche(debut: datetime.date, fin: datetime.date | None, prefixe: str = "") -> Q:
    """Filtre des périodes [date_ouverture, date_cloture) qui chevauchent [debut, fin)."""
    q = q_pas_encore_cloture(debut, prefixe)
    if fin is not None:
        q &= Q(**{f"{prefixe}date_ouverture__lt": fin})
    return q


def periode_valide(date_ouverture: datetime.date, date_cloture: datetime.date | None) -> bool:
    """Une période saisie est valide si elle n'a pas de clôture ou se clôt après son ouverture."""
    return date_cloture is None or date_cloture > date_ouverture


def verifier_periode(date_ouverture: datetime.date, date_cloture: datetime.date | None) -> None:
    """Refuse une période dont une date sort de la plage acceptée, ou qui se clôt avant ou à son
    ouverture (sous le champ « date_cloture »)."""
    verifier_plage(date_ouverture, champ="date_ouverture")
    verifier_plage(date_cloture, champ="date_cloture")
    if not periode_valide(date_ouverture, date_cloture):
        raise ErreurMetier(MESSAGE_PERIODE, champ="date_cloture")


def verifier_ouverture_non_passee(date_ouverture: datetime.date) -> None:
    """Une personne n'ouvre rien dans le passé (l'historique ne se réécrit pas depuis un écran)."""
    if date_ouverture < aujourdhui():
        raise ErreurMetier("La date d'ouverture ne peut pas être passée.", champ="date_ouverture")


def verifier_cloture_non_passee(date_cloture: datetime.date) -> None:
    """On ne clôt rien dans le passé : aujourd'hui au plus tôt (l'historique ne se réécrit pas)."""
    if date_cloture < aujourdhui():
        raise ErreurMetier("La date de clôture ne peut pas être passée.", champ="date_cloture")


def contrainte_periode(nom: str) -> models.CheckConstraint:
    """La base refuse une clôture avant l'ouverture. Une clôture égale à l'ouverture reste
    permise : c'est une période vide, celle d'une appartenance ou d'un mandat annulés avant
    d'avoir commencé (l'historique reste)."""
    return models.CheckConstraint(
        condition=Q(date_cloture__isnull=True) | Q(date_cloture__gte=F("date_ouverture")), name=nom
    )


class Statut(models.TextChoices):
    OUVERT = "ouvert", "Ouvert"
    CLOTURE = "cloture", "Clôturé"


class DateeQuerySet(models.QuerySet):
    def ouverts(self, jour: datetime.date | None = None):
        return self.filter(q_ouvert(jour or aujourdhui()))


class Datee(models.Model):
    """Modèle abstrait : une date d'ouverture et une date de clôture facultative."""

    date_ouverture = models.DateField("date d'ouverture")
    date_cloture = models.DateField("date de clôture", null=True, blank=True)

    class Meta:
        abstract = True

    def est_ouvert(self, jour: datetime.date | None = None) -> bool:
        jour = jour or aujourdhui()
        return self.date_ouverture <= jour and (self.date_cloture is None or jour < self.date_cloture)

    def est_cloture(self, jour: datetime.date | None = None) -> bool:
        """La date de clôture est atteinte (voir ``q_cloture``)."""
        return self.date_cloture is not None and self.date_cloture <= (jour or aujourdhui())

    @property
    def statut(self) -> str:
        return Statut.OUVERT if self.est_ouvert() else Statut.CLOTURE

    def get_statut_display(self) -> str:
        return Statut(self.statut).label
