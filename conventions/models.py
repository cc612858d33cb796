"""Les Caf, les organismes partenaires et les conventions qui leur ouvrent des services.

Premier jet (issue fondation) : assez pour que l'accueil sache quels services un utilisateur
peut ouvrir. Les écrans de gestion viennent avec l'issue « organismes et conventions ».
"""

from django.db import models

from conventions.enums import EtatConvention
from portail.dates import Datee, DateeQuerySet, aujourdhui


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
    administrateur = models.ForeignKey(
        "habilitations.Utilisateur",
        on_delete=models.PROTECT,
        related_name="conventions_administrees",
        verbose_name="administrateur partenaire",
        null=True,
        blank=True,
    )
    etat = models.CharField("état", max_length=20, choices=EtatConvention, default=EtatConvention.EN_COURS)
    validee_le = models.DateField("validée le", null=True, blank=True)

    objects = ConventionQuerySet.as_manager()

    class Meta:
        verbose_name = "convention"
        verbose_name_plural = "conventions"
        ordering = ["-date_ouverture", "libelle"]

    def __str__(self) -> str:
        return self.libelle

    def est_effective(self, jour=None) -> bool:
        return self.etat == EtatConvention.VALIDEE and self.est_ouvert(jour)
