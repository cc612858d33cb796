"""Identités (Utilisateur), groupes, appartenances et habilitations de groupe, imports CSV.

Un utilisateur partenaire appartient à une convention (celle sous laquelle son compte a été
créé) ; ses profils effectifs viennent des groupes de cette convention où son appartenance est
ouverte. Les groupes forment un arbre (``chemin`` matérialisé) : un responsable d'habilitations
gère son groupe et tout ce qui est dessous.
"""

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest, Lower
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin

from conventions.enums import EtatConvention
from habilitations.enums import Poste
from portail.socle.dates import Datee, DateeQuerySet, aujourdhui, contrainte_periode, q_ouvert, q_pas_encore_cloture


class UtilisateurQuerySet(DateeQuerySet):
    def agents_caf(self):
        return self.filter(caf__isnull=False)

    def detenteurs_adresses(self, convention, adresses, jour=None):
        """La règle unique de l'adresse mail : elle n'est celle que d'un seul compte ouvert (ou
        à venir) d'une convention. Les comptes de ``convention`` ouverts ou à venir le ``jour``
        dont l'adresse, sans tenir compte de la casse, est l'une des ``adresses`` ; annotés
        ``adresse`` (en minuscules). Création, modification, réouverture, « Mon profil »,
        administration technique et import la lisent tous ici."""
        jour = jour or aujourdhui()
        return (
            self.annotate(adresse=Lower("email"))
            .filter(convention=convention, adresse__in={a.strip().lower() for a in adresses})
            .filter(q_pas_encore_cloture(jour))
            .order_by("pk")
        )


class UtilisateurManager(BaseUserManager.from_queryset(UtilisateurQuerySet)):
    use_in_migrations = True

    def get_by_natural_key(self, identifiant: str):
        # Identifiants saisis en minuscules ou avec des espaces : même compte.
        return self.get(identifiant=identifiant.strip().upper())

    def create_superuser(self, identifiant: str, password: str | None = None, **extra):
        """Compte technique d'exploitation (Django admin), hors des parcours métier."""
        extra.setdefault("nom", "Exploitation")
        extra.setdefault("prenom", "Compte")
        extra.setdefault("email", "exploitation@portail-partenaires.example")
        extra.setdefault("date_ouverture", aujourdhui())
        user = self.model(identifiant=identifiant.strip().upper(), is_staff=True, is_superuser=True, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user


# Colonnes qui départagent un tri de la liste des utilisateurs (ordre par défaut, puis la clé).
DEPARTAGE = ["nom", "prenom", "id"]


def reference_activite() -> Greatest:
    """Le point de départ du délai d'inactivité d'un compte : sa dernière connexion, ou sa
    création s'il ne s'est jamais connecté, ou sa dernière réouverture si elle est plus récente
    (rouvrir un compte suspendu relance le délai). Une seule écriture de la règle : la tâche
    quotidienne, le tableau de bord « comptes sans connexion » et l'index qui le sert
    (``utilisateur_conv_inactivite``) la lisent tous ici."""
    return Greatest(Coalesce("last_login", "cree_le"), Coalesce("reouvert_le", "cree_le"))


class Utilisateur(AbstractBaseUser, PermissionsMixin, Datee):
    """Une personne qui se connecte : agent d'une Caf ou collaborateur d'un organisme partenaire.

    Le statut Ouvert/Clôturé découle des dates (``portail.socle.dates``) : un compte pas encore ouvert
    ou passé sa date de clôture ne peut pas se connecter, et ses sessions sont refusées.
    """

    identifiant = models.CharField("identifiant", max_length=20, unique=True, editable=False)
    nom = models.CharField("nom", max_length=100)
    prenom = models.CharField("prénom", max_length=100)
    email = models.EmailField("adresse mail")
    telephone = models.CharField("téléphone", max_length=20, blank=True)
    poste = models.CharField("poste", max_length=20, choices=Poste, default=Poste.SEDENTAIRE)
    caf = models.ForeignKey(
        "conventions.Caf",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agents",
        verbose_name="caf (agent Caf)",
    )
    organisme = models.ForeignKey(
        "conventions.Organisme",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="utilisateurs",
        verbose_name="organisme partenaire",
    )
    convention = models.ForeignKey(
        "conventions.Convention",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="utilisateurs",
        verbose_name="convention",
        help_text="Convention sous laquelle le compte partenaire a été créé.",
    )
    is_staff = models.BooleanField("accès à l'administration technique", default=False)
    is_active = models.BooleanField("actif", default=True)
    # Un an sans connexion : compte suspendu (pas supprimé) jusqu'à ce que l'administrateur le
    # rouvre ; un avertissement part un mois avant (réglages INACTIVITE_*).
    suspendu_le = models.DateTimeField("suspendu pour inactivité le", null=True, blank=True, editable=False)
    inactivite_avertie_le = models.DateTimeField(null=True, blank=True, editable=False)
    reouvert_le = models.DateTimeField("rouvert le", null=True, blank=True, editable=False)

    # Mot de passe provisoire : haché, valable 24 heures, à usage unique. Il reste enregistré
    # après usage pour refuser qu'il devienne le mot de passe personnel.
    mot_de_passe_provisoire = models.CharField(max_length=256, blank=True, editable=False)
    mot_de_passe_provisoire_expire_le = models.DateTimeField(null=True, blank=True, editable=False)
    mot_de_passe_provisoire_utilise_le = models.DateTimeField(null=True, blank=True, editable=False)

    connexion_precedente = models.DateTimeField("connexion précédente", null=True, blank=True, editable=False)
    cree_le = models.DateTimeField("créé le", default=timezone.now, editable=False)

    objects = UtilisateurManager()

    USERNAME_FIELD = "identifiant"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["nom", "prenom", "email"]

    class Meta:
        verbose_name = "utilisateur"
        verbose_name_plural = "utilisateurs"
        ordering = ["nom", "prenom"]
        # La liste des utilisateurs d'une convention (50 000 comptes pour une grande commune) se
        # lit dans l'ordre d'un index : convention d'abord, puis la colonne triée ; la clé
        # primaire départage (``portail.socle.listes.trier``). Sans eux, chaque page triait toute
        # la convention.
        indexes = [
            models.Index(fields=["convention", "nom", "prenom", "id"], name="utilisateur_conv_nom"),
            # Les autres tris : la colonne, puis de quoi départager sans lire la table ; l'ordre
            # inverse se lit à rebours, départagé groupe par groupe (tri incrémental).
            models.Index(fields=["convention", "prenom", "nom", "id"], name="utilisateur_conv_prenom"),
            models.Index(fields=["convention", "identifiant"], name="utilisateur_conv_identifiant"),
            models.Index(fields=["convention", "date_ouverture", *DEPARTAGE], name="utilisateur_conv_ouverture"),
            models.Index(fields=["convention", "date_cloture", *DEPARTAGE], name="utilisateur_conv_cloture"),
            # « Mes tableaux de bord » d'une grande convention : les comptes sans connexion depuis
            # un an (13 700 sur 50 000) comptés et les premiers lus dans l'ordre de la référence
            # d'activité, sans lire la table ; les comptes jamais activés (4 800) de même. Sans
            # eux, chaque affichage relisait les 50 000 comptes, deux fois (ticket 11).
            # Les colonnes filtrées en fin de clé plutôt qu'en INCLUDE (que SQLite refuse d'un
            # avertissement) : même lecture dans l'index seul.
            models.Index(
                F("convention"),
                reference_activite(),
                *(F(c) for c in (*DEPARTAGE, "date_ouverture", "date_cloture", "last_login", "cree_le", "reouvert_le")),
                name="utilisateur_conv_inactivite",
                condition=Q(is_active=True),
            ),
            models.Index(
                fields=["convention", "cree_le", "id", "date_cloture"],
                name="utilisateur_conv_jamais_active",
                condition=Q(last_login__isnull=True),
            ),
        ]
        constraints = [contrainte_periode("utilisateur_periode_valide")]

    def __str__(self) -> str:
        return f"{self.nom.upper()} {self.prenom} ({self.identifiant})"

    def get_full_name(self) -> str:
        return self.nom_complet(self.prenom, self.nom)

    @staticmethod
    def nom_complet(prenom: str, nom: str) -> str:
        """« Hugo CASTAN » : aussi pour les exports, qui lisent des valeurs et non des comptes."""
        return f"{prenom} {nom.upper()}"

    def get_short_name(self) -> str:
        return self.prenom

    @property
    def est_agent_caf(self) -> bool:
        return self.caf_id is not None

    @property
    def est_suspendu(self) -> bool:
        return self.suspendu_le is not None


class CompteurIdentifiant(models.Model):
    """Dernier numéro attribué par code Caf ; verrouillé ligne à ligne à chaque attribution."""

    code_caf = models.CharField(max_length=3, unique=True)
    dernier = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "compteur d'identifiants"
        verbose_name_plural = "compteurs d'identifiants"

    def __str__(self) -> str:
        return f"{self.code_caf} : {self.dernier}"


class SessionUtilisateur(models.Model):
    """Les sessions ouvertes d'un compte, pour les fermer toutes quand il est clôturé."""

    utilisateur = models.ForeignKey(Utilisateur, on_delete=models.CASCADE, related_name="sessions_ouvertes")
    session_key = models.CharField(max_length=40, unique=True)
    cree_le = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "session ouverte"
        verbose_name_plural = "sessions ouvertes"

    def __str__(self) -> str:
        return f"session de l'utilisateur {self.utilisateur_id}"


class GroupeQuerySet(DateeQuerySet):
    def effectifs(self, jour=None):
        """Groupes ouverts d'une convention validée et ouverte ce jour."""
        jour = jour or aujourdhui()
        return self.filter(q_ouvert(jour), q_ouvert(jour, "convention__"), convention__etat=EtatConvention.VALIDEE)


class Groupe(Datee):
    convention = models.ForeignKey(
        "conventions.Convention", on_delete=models.PROTECT, related_name="groupes", verbose_name="convention"
    )
    code = models.CharField("code", max_length=40)
    libelle = models.CharField("libellé", max_length=200)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sous_groupes",
        verbose_name="sous-groupe de",
    )
    niveau = models.PositiveSmallIntegerField("niveau", default=1)
    # « /12/45/ » : les identifiants des ancêtres puis le sien. Le sous-arbre d'un groupe est
    # ``chemin__startswith`` ; un groupe ne change jamais de parent.
    chemin = models.CharField("chemin", max_length=255, default="", editable=False, db_index=True)
    responsable = models.ForeignKey(
        Utilisateur,
        on_delete=models.PROTECT,
        related_name="groupes_responsable",
        verbose_name="responsable habilitations",
    )
    profils = models.ManyToManyField(
        "conventions.Profil", through="GroupeProfil", related_name="groupes", verbose_name="habilitations du groupe"
    )

    objects = GroupeQuerySet.as_manager()

    class Meta:
        verbose_name = "groupe d'utilisateurs"
        verbose_name_plural = "groupes d'utilisateurs"
        ordering = ["convention", "niveau", "code"]
        permissions = [("gerer_groupe", "Gérer les habilitations du groupe et de ses sous-groupes (responsable)")]
        constraints = [
            models.UniqueConstraint(fields=["convention", "code"], name="groupe_code_unique_par_convention"),
            contrainte_periode("groupe_periode_valide"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.libelle}"


class GroupeProfil(models.Model):
    groupe = models.ForeignKey(Groupe, on_delete=models.CASCADE, related_name="groupe_profils")
    profil = models.ForeignKey("conventions.Profil", on_delete=models.PROTECT, related_name="groupe_profils")

    class Meta:
        verbose_name = "habilitation du groupe"
        verbose_name_plural = "habilitations du groupe"
        constraints = [models.UniqueConstraint(fields=["groupe", "profil"], name="groupe_profil_unique")]

    def __str__(self) -> str:
        return f"{self.groupe_id} → {self.profil_id}"


class Appartenance(Datee):
    utilisateur = models.ForeignKey(Utilisateur, on_delete=models.PROTECT, related_name="appartenances")
    groupe = models.ForeignKey(Groupe, on_delete=models.PROTECT, related_name="appartenances")
    # Avis « votre appartenance se termine dans 7 jours » envoyé (une seule fois par date de fin).
    fin_notifiee_pour = models.DateField(null=True, blank=True, editable=False)

    objects = DateeQuerySet.as_manager()

    class Meta:
        verbose_name = "appartenance"
        verbose_name_plural = "appartenances"
        ordering = ["-date_ouverture"]
        constraints = [contrainte_periode("appartenance_periode_valide")]
        # « Appartenances qui se terminent dans les 30 jours » : une plage de dates de clôture,
        # puis le groupe et le compte lus dans l'index (7 600 appartenances du pays pour 30 jours,
        # sans aller à la table ; en fin de clé plutôt qu'en INCLUDE, que SQLite refuse).
        indexes = [
            models.Index(
                fields=["date_cloture", "groupe", "date_ouverture", "utilisateur", "id"],
                name="appartenance_cloture_groupe",
            ),
            # Les membres des groupes d'une convention (recherche AFAS « Actif » et « Inactif » :
            # les comptes des groupes AFAS-DECLARER du partenaire, lus une fois) : le compte et
            # les dates lus dans l'index, sans aller à la table (25 000 appartenances d'une grande
            # commune, 19 000 pages de la table lues une à une sans lui).
            models.Index(
                fields=["groupe", "utilisateur", "date_ouverture", "date_cloture"],
                name="appartenance_groupe_compte",
            ),
        ]


class SyntheseProfils(models.Model):
    """Chiffres de la nuit du tableau « Utilisateurs par service et profil » d'une grande
    convention (voir ``tableaux_de_bord.tableaux.synthese_profils_calculer``) : pour chaque
    profil accordé, le nombre d'utilisateurs qui le détiennent le ``jour`` ; la ligne sans profil
    compte ceux qui en détiennent au moins un. Un résumé daté, jamais une décision d'accès."""

    convention = models.ForeignKey(
        "conventions.Convention", on_delete=models.CASCADE, related_name="+", verbose_name="convention"
    )
    jour = models.DateField("chiffres au")
    profil = models.ForeignKey(
        "conventions.Profil", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name="profil"
    )
    nombre = models.PositiveIntegerField("nombre d'utilisateurs")

    class Meta:
        verbose_name = "synthèse des profils"
        verbose_name_plural = "synthèses des profils"
        indexes = [models.Index(fields=["convention", "-jour"], name="synthese_profils_convention")]

    def __str__(self) -> str:
        return f"{self.convention_id} {self.jour} {self.profil_id} : {self.nombre}"


class SyntheseGroupesOrphelins(models.Model):
    """Le tableau « Groupes sans membre ou sans responsable » d'une grande convention tel que la
    nuit l'a trouvé (voir ``tableaux_de_bord.tableaux.synthese_profils_calculer``) : leur nombre
    le ``jour`` et les premières lignes de l'écran, en textes (``lignes`` : ``[[clé du groupe,
    [cellules…]], …]``). Le compter à chaque affichage sondait chacun des ~2 000 groupes d'une
    grande commune (son responsable, un membre ouvert) : 8 à 10 ms. Un résumé daté, jamais une
    décision d'accès ; l'export compte à l'instant."""

    convention = models.ForeignKey(
        "conventions.Convention", on_delete=models.CASCADE, related_name="+", verbose_name="convention"
    )
    jour = models.DateField("chiffres au")
    nombre = models.PositiveIntegerField("nombre de groupes")
    lignes = models.JSONField("premières lignes", default=list)

    class Meta:
        verbose_name = "synthèse des groupes sans membre ou sans responsable"
        verbose_name_plural = "synthèses des groupes sans membre ou sans responsable"
        indexes = [models.Index(fields=["convention", "-jour"], name="synthese_orphelins_convention")]

    def __str__(self) -> str:
        return f"{self.convention_id} {self.jour} : {self.nombre}"


def empreinte_code_secours(code: str) -> str:
    """HMAC-SHA256 du code normalisé : les codes de secours ne sont jamais stockés en clair.

    Un code de secours a 50 bits d'entropie ou plus ; un hachage lent n'ajouterait rien.
    """
    normalise = code.replace(" ", "").replace("-", "").strip().lower()
    return hmac.new(settings.SECRET_KEY.encode(), normalise.encode(), hashlib.sha256).hexdigest()


class CodeSecoursDevice(ThrottlingMixin, Device):
    """Dispositif django-otp : une liste de codes de secours à usage unique, hachés."""

    class Meta(Device.Meta):
        verbose_name = "codes de secours"
        verbose_name_plural = "codes de secours"

    def verify_token(self, token) -> bool:
        verify_allowed, _ = self.verify_is_allowed()
        if not verify_allowed:
            return False
        code = self.codes.filter(empreinte=empreinte_code_secours(str(token)), utilise_le__isnull=True).first()
        if code is None:
            self.throttle_increment()
            return False
        code.utilise_le = timezone.now()
        code.save(update_fields=["utilise_le"])
        self.throttle_reset()
        return True

    def get_throttle_factor(self) -> int:
        return 1


class CodeSecours(models.Model):
    device = models.ForeignKey(CodeSecoursDevice, on_delete=models.CASCADE, related_name="codes")
    empreinte = models.CharField(max_length=64)
    utilise_le = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "code de secours"
        verbose_name_plural = "codes de secours"

    def __str__(self) -> str:
        return "code de secours utilisé" if self.utilise_le else "code de secours disponible"


class EtatImport(models.TextChoices):
    PREVISUALISE = "previsualise", "À confirmer"
    EN_COURS = "en_cours", "En cours"
    TERMINE = "termine", "Terminé"
    ABANDONNE = "abandonne", "Abandonné"


class ImportUtilisateurs(models.Model):
    """Un fichier CSV d'utilisateurs : lu et vérifié ligne à ligne (aperçu), puis, une fois
    confirmé, traité par une tâche Celery qui crée les lignes valides et tient la progression."""

    convention = models.ForeignKey(
        "conventions.Convention", on_delete=models.PROTECT, related_name="imports", verbose_name="convention"
    )
    groupe = models.ForeignKey(
        Groupe, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="groupe"
    )
    par = models.ForeignKey(Utilisateur, on_delete=models.PROTECT, related_name="+", verbose_name="importé par")
    nom_fichier = models.CharField("fichier", max_length=255)
    etat = models.CharField("état", max_length=20, choices=EtatImport, default=EtatImport.PREVISUALISE)
    total = models.PositiveIntegerField("lignes valides", default=0)
    traites = models.PositiveIntegerField("lignes traitées", default=0)
    crees = models.PositiveIntegerField("comptes créés", default=0)
    cree_le = models.DateTimeField("déposé le", default=timezone.now)
    confirme_le = models.DateTimeField("confirmé le", null=True, blank=True)
    termine_le = models.DateTimeField("terminé le", null=True, blank=True)

    class Meta:
        verbose_name = "import d'utilisateurs"
        verbose_name_plural = "imports d'utilisateurs"
        ordering = ["-cree_le"]

    def __str__(self) -> str:
        return f"{self.nom_fichier} ({self.get_etat_display()})"

    @property
    def pourcentage(self) -> int:
        return 100 if not self.total else round(100 * self.traites / self.total)


class LigneImport(models.Model):
    """Une ligne du fichier : ses valeurs lues, ses erreurs, puis le compte créé (ou l'échec)."""

    import_utilisateurs = models.ForeignKey(ImportUtilisateurs, on_delete=models.CASCADE, related_name="lignes")
    numero = models.PositiveIntegerField("ligne")
    valeurs = models.JSONField("valeurs", default=dict)
    erreurs = models.JSONField("erreurs", default=list)
    utilisateur = models.ForeignKey(Utilisateur, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    traitee = models.BooleanField(default=False)

    class Meta:
        verbose_name = "ligne d'import"
        verbose_name_plural = "lignes d'import"
        ordering = ["import_utilisateurs", "numero"]
        constraints = [models.UniqueConstraint(fields=["import_utilisateurs", "numero"], name="ligne_import_unique")]

    def __str__(self) -> str:
        return f"ligne {self.numero}"
