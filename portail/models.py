"""La boîte d'envoi transactionnelle et la piste d'audit."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class CourrielQuerySet(models.QuerySet):
    def a_envoyer(self, maintenant=None):
        """Courriels non envoyés dont la prochaine tentative est échue, tentatives non épuisées."""
        maintenant = maintenant or timezone.now()
        return self.filter(
            envoye_le__isnull=True,
            prochaine_tentative_le__lte=maintenant,
            tentatives__lt=settings.COURRIEL_TENTATIVES_MAX,
        )


class Courriel(models.Model):
    """Un courriel écrit dans la même transaction que le changement qui le motive.

    Une tâche Celery l'envoie après la validation de la transaction ; un balayage périodique
    relance ceux qui ne sont pas partis (courtier absent, serveur SMTP en panne), avec un délai
    qui double à chaque échec.
    """

    modele = models.CharField("modèle", max_length=80)
    destinataire = models.EmailField("destinataire")
    sujet = models.CharField("sujet", max_length=250)
    corps = models.TextField("corps")
    cree_le = models.DateTimeField("créé le", default=timezone.now, db_index=True)
    envoye_le = models.DateTimeField("envoyé le", null=True, blank=True)
    tentatives = models.PositiveSmallIntegerField("tentatives", default=0)
    prochaine_tentative_le = models.DateTimeField("prochaine tentative le", default=timezone.now)
    derniere_erreur = models.TextField("dernière erreur", blank=True)
    # Une pièce jointe au plus (le récépissé PDF d'une déclaration transmise), gardée avec le
    # courriel : il part tel qu'il a été écrit, même relancé des heures plus tard.
    piece_jointe_nom = models.CharField("nom de la pièce jointe", max_length=120, blank=True)
    piece_jointe_type = models.CharField("type de la pièce jointe", max_length=80, blank=True)
    piece_jointe = models.BinaryField("pièce jointe", null=True, blank=True)

    objects = CourrielQuerySet.as_manager()

    class Meta:
        verbose_name = "courriel"
        verbose_name_plural = "courriels"
        ordering = ["-cree_le", "-id"]
        indexes = [
            models.Index(
                fields=["prochaine_tentative_le"],
                condition=models.Q(envoye_le__isnull=True),
                name="courriel_a_envoyer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.modele} #{self.pk}"


class EvenementAudit(models.Model):
    """Un acte administratif : qui, quoi, sur quoi, quand, d'où, valeurs avant et après."""

    acteur = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="acteur",
    )
    action = models.CharField("action", max_length=80, db_index=True)
    cible_type = models.CharField("type de cible", max_length=80, blank=True)
    cible_id = models.CharField("identifiant de la cible", max_length=40, blank=True)
    cible_libelle = models.CharField("cible", max_length=250, blank=True)
    # Convention concernée : la piste d'audit se consulte par convention (administrateur, Caf).
    convention = models.ForeignKey(
        "conventions.Convention",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="convention",
        db_index=True,
    )
    adresse_ip = models.GenericIPAddressField("adresse IP", null=True, blank=True)
    avant = models.JSONField("avant", null=True, blank=True)
    apres = models.JSONField("après", null=True, blank=True)
    cree_le = models.DateTimeField("le", default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "événement d'audit"
        verbose_name_plural = "piste d'audit"
        ordering = ["-cree_le", "-id"]
        indexes = [
            models.Index(fields=["cible_type", "cible_id"], name="audit_cible"),
            # Le journal d'une convention dans son ordre (date, puis clé) : la page 1 000 lit ses
            # clés dans l'index seul (``listes.paginer(par_cles=True)``).
            models.Index(fields=["convention", "-cree_le", "-id"], name="audit_convention_ordre"),
            # Les actes présents dans le journal d'une convention (le choix du filtre « Acte ») :
            # une descente d'index par acte (``journal.actes_presents``).
            models.Index(fields=["convention", "action"], name="audit_convention_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.cible_libelle}"
