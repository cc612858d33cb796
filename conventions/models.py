"""Les Caf, les organismes partenaires et les conventions qui leur ouvrent des services.

Une convention lie une Caf (pivot) et un organisme ; elle accorde des profils de services et
nomme un administrateur partenaire. L'administrateur est daté (``Mandat``) : un avenant en
change à sa date d'effet, et l'historique reste lisible.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from conventions.enums import EtatConvention, TypeAvenant
from portail.socle.dates import Datee, DateeQuerySet, aujourdhui, contrainte_periode


class Caf(models.Model):
    code = models.CharField("code", max_length=3, unique=True, help_text="3 chiffres du département")
    nom = models.CharField("nom", max_length=120)

    class Meta:
        verbose_name = "caf"
        verbose_name_plural = "caf"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.nom} ({self.code})"


class TypeOrganisme(models.Model):
    code = models.SlugField("code", max_length=40, unique=True)
    libelle = models.CharField("libellé", max_length=120)

    class Meta:
        verbose_name = "type d'organisme"
        verbose_name_plural = "types d'organismes"
        ordering = ["libelle"]

    def __str__(self) -> str:
        return self.libelle


class Organisme(models.Model):
    raison_sociale = models.CharField("raison sociale", max_length=200)
    siret = models.CharField("SIRET", max_length=14, unique=True)
    type_organisme = models.ForeignKey(TypeOrganisme, on_delete=models.PROTECT, verbose_name="type d'organisme")
    caf = models.ForeignKey(
        Caf, on_delete=models.PROTECT, verbose_name="caf de rattachement", related_name="organismes"
    )
    adresse = models.CharField("adresse", max_length=250, blank=True)
    code_postal = models.CharField("code postal", max_length=5, blank=True)
    commune = models.CharField("commune", max_length=120, blank=True)

    class Meta:
        verbose_name = "organisme partenaire"
        verbose_name_plural = "organismes partenaires"
        ordering = ["raison_sociale"]
        indexes = [
            models.Index(fields=["caf", "raison_sociale"]),
            # La liste nationale (supervision) triée par raison sociale : la page 1 000 lit ses
            # clés dans cet index au lieu de trier les 60 000 organismes.
            models.Index(fields=["raison_sociale", "id"], name="organisme_raison_sociale_tri"),
        ]
        constraints = [
            # Chiffres ASCII seulement (portail.socle.chiffres) : un même SIRET en chiffres
            # arabes-indiens ne peut pas devenir un second organisme, quelle que soit la porte.
            models.CheckConstraint(
                condition=models.Q(siret__regex=r"^[0-9]{14}$"), name="organisme_siret_14_chiffres_ascii"
            ),
        ]

    def __str__(self) -> str:
        return self.raison_sociale


class Service(models.Model):
    """Un service en ligne (CDAP, AFAS, Espace Bailleur, Adonis, DGFIP), créé par migration."""

    code = models.SlugField("code", max_length=20, unique=True)
    libelle = models.CharField("libellé", max_length=120)
    description = models.CharField("description", max_length=250)
    ordre = models.PositiveSmallIntegerField("ordre", default=0)

    class Meta:
        verbose_name = "service en ligne"
        verbose_name_plural = "services en ligne"
        ordering = ["ordre", "code"]

    def __str__(self) -> str:
        return self.libelle


class Profil(models.Model):
    """Profil d'un service, accordé par la Caf dans la convention ; immuable pour le partenaire."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="profils", verbose_name="service")
    code = models.SlugField("code", max_length=40, unique=True)
    libelle = models.CharField("libellé", max_length=120)

    class Meta:
        verbose_name = "profil"
        verbose_name_plural = "profils"
        ordering = ["service__ordre", "code"]

    def __str__(self) -> str:
        return self.libelle


class ConventionQuerySet(DateeQuerySet):
    def effectives(self, jour=None):
        """Conventions validées et ouvertes ce jour : les seules qui ouvrent des accès."""
        return self.ouverts(jour or aujourdhui()).filter(etat=EtatConvention.VALIDEE)


class Convention(Datee):
    caf = models.ForeignKey(Caf, on_delete=models.PROTECT, related_name="conventions", verbose_name="caf pivot")
    organisme = models.ForeignKey(
        Organisme, on_delete=models.PROTECT, related_name="conventions", verbose_name="organisme partenaire"
    )
    libelle = models.CharField("libellé", max_length=200)
    profils = models.ManyToManyField(Profil, related_name="conventions", verbose_name="profils accordés")
    etat = models.CharField("état", max_length=20, choices=EtatConvention, default=EtatConvention.EN_COURS)
    validee_le = models.DateField("validée le", null=True, blank=True)

    objects = ConventionQuerySet.as_manager()

    class Meta:
        verbose_name = "convention"
        verbose_name_plural = "conventions"
        ordering = ["-date_ouverture", "libelle"]
        indexes = [
            models.Index(fields=["caf", "date_ouverture"]),
            # L'ordre par défaut de « Consulter les conventions » (supervision nationale) : les clés
            # d'une page profonde se lisent dans l'index (la clôture y est, pour écarter les
            # conventions closes sans lire la table) au lieu de trier les 58 000 ouvertes du pays.
            models.Index(fields=["-date_ouverture", "libelle", "id", "date_cloture"], name="convention_tri_defaut"),
        ]
        constraints = [contrainte_periode("convention_periode_valide")]
        permissions = [
            ("administrer_convention", "Administrer la convention (administrateur partenaire)"),
            ("superviser_national", "Consulter toutes les conventions (supervision nationale)"),
        ]

    def __str__(self) -> str:
        return self.libelle

    def get_etat_complet(self) -> str:
        """« Validée le 07/03/2019 » ou « En cours », comme dans la liste des guides."""
        if self.etat == EtatConvention.VALIDEE and self.validee_le:
            return f"Validée le {self.validee_le:%d/%m/%Y}"
        return self.get_etat_display()

    def est_effective(self, jour=None) -> bool:
        return self.etat == EtatConvention.VALIDEE and self.est_ouvert(jour)


class Avenant(models.Model):
    """Modification datée d'une convention validée, numérotée dans la convention."""

    convention = models.ForeignKey(Convention, on_delete=models.PROTECT, related_name="avenants")
    numero = models.PositiveSmallIntegerField("numéro")
    type_avenant = models.CharField("type d'avenant", max_length=20, choices=TypeAvenant)
    objet = models.CharField("objet", max_length=500)
    date_effet = models.DateField("date d'effet")
    nouvel_administrateur = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="nouvel administrateur",
    )
    cree_par = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    cree_le = models.DateTimeField("enregistré le", default=timezone.now)

    class Meta:
        verbose_name = "avenant"
        verbose_name_plural = "avenants"
        ordering = ["convention", "numero"]
        constraints = [models.UniqueConstraint(fields=["convention", "numero"], name="avenant_numero_unique")]

    def __str__(self) -> str:
        return f"Avenant n° {self.numero} — {self.convention}"


class Mandat(Datee):
    """L'administrateur partenaire d'une convention sur une période. À tout jour où la convention
    est ouverte, exactement un mandat est ouvert : les services y veillent."""

    convention = models.ForeignKey(Convention, on_delete=models.PROTECT, related_name="mandats")
    administrateur = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mandats", verbose_name="administrateur"
    )
    avenant = models.ForeignKey(
        Avenant, on_delete=models.PROTECT, related_name="mandats", null=True, blank=True, verbose_name="avenant"
    )

    objects = DateeQuerySet.as_manager()

    class Meta:
        verbose_name = "mandat d'administrateur"
        verbose_name_plural = "mandats d'administrateur"
        ordering = ["convention", "date_ouverture"]
        indexes = [models.Index(fields=["administrateur", "date_ouverture"])]
        constraints = [contrainte_periode("mandat_periode_valide")]

    def __str__(self) -> str:
        return f"{self.administrateur} — {self.convention}"
