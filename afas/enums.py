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


class TypeDeclaration(models.TextChoices):
    """Le calendrier des Caf : prévisionnel N, actualisés (janvier à juin, janvier à septembre), réel N-1."""

    PREVISIONNEL = "previsionnel", "Prévisionnel"
    ACTUALISE_JUIN = "actualise_juin", "Actualisé janvier à juin"
    ACTUALISE_SEPTEMBRE = "actualise_septembre", "Actualisé janvier à septembre"
    REEL = "reel", "Réel"


class EtatDeclaration(models.TextChoices):
    A_SAISIR = "a_saisir", "À saisir"
    EN_COURS = "en_cours", "En cours de saisie"
    A_APPROUVER = "a_approuver", "À approuver"
    TRANSMISE = "transmise", "Transmise"
    VALIDEE = "validee", "Validée par la Caf"
    RENVOYEE = "renvoyee", "Renvoyée pour correction"


#: Les états où les fournisseurs de données saisissent encore.
SAISISSABLES: frozenset[str] = frozenset(
    {EtatDeclaration.A_SAISIR, EtatDeclaration.EN_COURS, EtatDeclaration.A_APPROUVER, EtatDeclaration.RENVOYEE}
)
#: Les états où la déclaration est figée (le contenu transmis fait foi).
FIGES: frozenset[str] = frozenset({EtatDeclaration.TRANSMISE, EtatDeclaration.VALIDEE})


class EtatLancement(models.TextChoices):
    """Le lancement d'un appel de déclaration : la tâche crée les déclarations par lots."""

    EN_ATTENTE = "en_attente", "En attente"
    EN_COURS = "en_cours", "En cours"
    TERMINE = "termine", "Terminé"
