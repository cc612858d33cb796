from django.db import models


class TypeActivite(models.TextChoices):
    ALSH = "ALSH", "ALSH"
    EAJE = "EAJE", "EAJE"
    LAEP = "LAEP", "LAEP"
    RPE = "RPE", "RPE"


class NatureActivite(models.TextChoices):
    """La nature d'un accueil de loisirs (ALSH) ; vide pour les autres types."""

    PERISCOLAIRE = "PERI", "Périscolaire"
    EXTRASCOLAIRE = "EXTRA", "Extrascolaire"
    ADOLESCENTS = "ADO", "Accueil adolescents"


class RoleAfas(models.TextChoices):
    # Ordre des guides dans les résultats : Approbateur, puis les deux fournisseurs.
    APPROBATEUR = "APPROBATEUR", "Approbateur"
    FDA = "FDA", "Fournisseur de données d'activité"
    FDF = "FDF", "Fournisseur de données financières"


class DecisionCaf(models.TextChoices):
    EN_ATTENTE = "en_attente", "En attente de validation"
    VALIDEE = "validee", "Validé"
    REFUSEE = "refusee", "Refusé"
    ANNULEE = "annulee", "Demande annulée (habilitation supprimée)"


class EtatHabilitation(models.TextChoices):
    ACTIF = "actif", "Actif"
    HISTORIQUE = "historique", "Historique"
    INACTIF = "inactif", "Inactif"
    NON_ATTRIBUE = "non_attribue", "Non attribué"


class Portee(models.TextChoices):
    ACTIVITES = "activites", "des activités"
    LIEUX = "lieux", "des lieux d'implantation"
