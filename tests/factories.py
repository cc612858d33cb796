"""Fabriques de test. Les comptes passent par le service de création (une seule porte)."""

import datetime
import itertools
import unicodedata

import factory

from conventions import services as conventions_services
from conventions.enums import EtatConvention
from conventions.models import Caf, Convention, Mandat, Organisme, Profil, TypeOrganisme
from habilitations import services
from habilitations.models import Utilisateur
from portail.socle.dates import aujourdhui

MOT_DE_PASSE = "une phrase de passe solide"


class CafFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Caf
        django_get_or_create = ["code"]

    code = "012"
    nom = "Caf de l'Aveyron"


class TypeOrganismeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TypeOrganisme
        django_get_or_create = ["code"]

    code = "commune"
    libelle = "Commune"


def siret_valide(n: int) -> str:
    """Un SIRET de 14 chiffres à clé de Luhn valide, dérivé de n."""
    base = f"{n:013d}"
    for cle in range(10):
        candidat = base + str(cle)
        total = 0
        for i, c in enumerate(reversed(candidat)):
            d = int(c) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return candidat
    raise AssertionError("inatteignable")


class OrganismeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisme

    raison_sociale = factory.Sequence(lambda n: f"Commune de Test-{n}")
    siret = factory.Sequence(lambda n: siret_valide(n + 1000))
    type_organisme = factory.SubFactory(TypeOrganismeFactory)
    caf = factory.SubFactory(CafFactory)


class ConventionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Convention
        skip_postgeneration_save = True

    caf = factory.SelfAttribute("organisme.caf")
    organisme = factory.SubFactory(OrganismeFactory)
    libelle = factory.Sequence(lambda n: f"Convention {n}")
    date_ouverture = factory.LazyFunction(lambda: aujourdhui() - datetime.timedelta(days=30))
    etat = EtatConvention.VALIDEE
    validee_le = factory.LazyFunction(lambda: aujourdhui() - datetime.timedelta(days=30))

    @factory.post_generation
    def profils(self, create, extracted, **kwargs):
        codes = extracted if extracted is not None else ["CDAP-T1", "AFAS-HABILITER", "AFAS-DECLARER"]
        self.profils.set(Profil.objects.filter(code__in=codes))


def adresse_de_test(prenom: str, nom: str) -> str:
    """« chloé », « Cayrol » → « chloe.cayrol.7@exemple.test » : sans accents (Django refuse une
    adresse accentuée à la saisie) et unique."""
    local = unicodedata.normalize("NFKD", f"{prenom}.{nom}").encode("ascii", "ignore").decode().lower()
    return f"{local}.{Utilisateur.objects.count()}@exemple.test"


def creer_utilisateur(
    *,
    nom: str = "Durand",
    prenom: str = "Camille",
    email: str | None = None,
    caf: Caf | None = None,
    organisme: Organisme | None = None,
    mot_de_passe: str | None = MOT_DE_PASSE,
    date_ouverture: datetime.date | None = None,
    date_cloture: datetime.date | None = None,
    national: bool = False,
    convention: Convention | None = None,
) -> Utilisateur:
    """Un compte créé comme en vrai, puis doté d'un mot de passe personnel (sauf si None).
    Sans Caf ni organisme, le compte est rattaché à un nouvel organisme, sauf ``national``.
    Un compte d'un organisme qui n'a qu'une convention est créé sous elle, comme depuis son
    écran « Créer un utilisateur »."""
    if caf is None and organisme is None and convention is None and not national:
        organisme = OrganismeFactory()
    if convention is None and organisme is not None:
        conventions = list(organisme.conventions.all()[:2])
        convention = conventions[0] if len(conventions) == 1 else None
    if convention is not None:
        organisme = None
    user = services.utilisateur_creer(
        par=None,
        nom=nom,
        prenom=prenom,
        email=email or adresse_de_test(prenom, nom),
        caf=caf,
        organisme=organisme,
        convention=convention,
        date_ouverture=date_ouverture or aujourdhui() - datetime.timedelta(days=10),
    )
    if date_cloture is not None:
        Utilisateur.objects.filter(pk=user.pk).update(date_cloture=date_cloture)
        user.refresh_from_db()
    if mot_de_passe:
        user.set_password(mot_de_passe)
        user.save(update_fields=["password"])
    return user


_numeros_groupe = itertools.count(1)


def habiliter(user: Utilisateur, convention: Convention, profil_code: str, *, responsable: Utilisateur | None = None):
    """Rattache l'utilisateur à un groupe de la convention qui porte ce profil."""
    groupe = services.groupe_creer(
        par=None,
        convention=convention,
        code=f"G-{profil_code}-{next(_numeros_groupe)}",
        libelle=f"Groupe {profil_code}",
        responsable=responsable or user,
        date_ouverture=convention.date_ouverture,
    )
    services.groupe_profil_ajouter(par=None, groupe=groupe, profil=Profil.objects.get(code=profil_code))
    return services.appartenance_ouvrir(
        par=None, utilisateur=user, groupe=groupe, date_ouverture=aujourdhui() - datetime.timedelta(days=5)
    )


def nommer_administrateur(convention: Convention, user: Utilisateur) -> Mandat:
    """Mandat couvrant toute la convention, puis droits objets alignés (comme après validation)."""
    mandat = Mandat.objects.create(
        convention=convention,
        administrateur=user,
        date_ouverture=convention.date_ouverture,
        date_cloture=convention.date_cloture,
    )
    conventions_services.droits_reconcilier(conventions=[convention.pk])
    return mandat
