"""Personas permanentes : agent Caf, administrateur, responsable, déclarant, extérieur."""

import contextlib

import pytest
from django.core.cache import cache
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests import factories
from tests.referentiel import referentiel_recreer


@pytest.fixture(autouse=True)
def _cache_vide():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _taches_dans_le_processus(request):
    """Les tests exécutent les tâches Celery dans le processus, même quand CELERY_BROKER_URL est
    défini (CI) ; seuls les tests marqués `worker` publient vers Redis pour un vrai worker."""
    from portail.celery import app

    if request.node.get_closest_marker("worker"):
        yield
        return
    avant = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = avant


def _transactionnel(item: pytest.Item) -> bool:
    """Marqué ``django_db(transaction=True)``, ou servi par ``live_server`` / ``transactional_db``
    (les parcours navigateur) : la base est vidée à la fin, pas ramenée en arrière."""
    marqueur = item.get_closest_marker("django_db")
    if marqueur and marqueur.kwargs.get("transaction"):
        return True
    return bool({"live_server", "transactional_db"} & set(getattr(item, "fixturenames", ())))


@pytest.fixture(autouse=True)
def _referentiel_des_tests_transactionnels(request):
    """Un test transactionnel (navigateur, vrai worker, verrous réels) part d'une base que le test
    précédent a pu vider : le référentiel est recréé avant lui. (serialized_rollback ne convient
    pas : après le vidage, post_migrate recrée les types de contenu sous d'autres clés et la
    restauration échoue.)"""
    if not _transactionnel(request.node):
        return
    request.getfixturevalue("transactional_db")
    referentiel_recreer()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Et après lui : son vidage de fin emporte le référentiel, que les tests suivants du même
    processus (non transactionnels, ou le monde des gardes construit par module) lisent. Sans
    cela, leur ordre (xdist vole des tests d'un processus à l'autre) décidait de leur sort."""
    yield
    # Après le dernier test, la base de test est déjà détruite : rien à recréer.
    if _transactionnel(item) and nextitem is not None:
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            referentiel_recreer()


@pytest.fixture
def caf(db):
    return factories.CafFactory()


@pytest.fixture
def convention(db, caf):
    return factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))


@pytest.fixture
def agent_caf(caf):
    return factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=caf)


@pytest.fixture
def administrateur(convention):
    user = factories.creer_utilisateur(nom="Castan", prenom="Hugo", organisme=convention.organisme)
    factories.nommer_administrateur(convention, user)
    return user


@pytest.fixture
def declarant(convention, administrateur):
    user = factories.creer_utilisateur(nom="Ferrand", prenom="Paul", organisme=convention.organisme)
    factories.habiliter(user, convention, "AFAS-DECLARER", responsable=administrateur)
    return user


@pytest.fixture
def responsable(convention):
    user = factories.creer_utilisateur(nom="Lacombe", prenom="Ines", organisme=convention.organisme)
    factories.habiliter(user, convention, "CDAP-T1")
    return user


@pytest.fixture
def superviseur(db):
    """Supervision nationale (Cnaf) : lit toutes les conventions, n'en gère aucune."""
    from django.contrib.auth.models import Permission

    user = factories.creer_utilisateur(nom="Delmas", prenom="Rose", organisme=None, caf=None, national=True)
    user.user_permissions.add(Permission.objects.get(codename="superviser_national"))
    return user


@pytest.fixture
def autre_caf(db):
    return factories.CafFactory(code="006", nom="Caf des Alpes-Maritimes")


@pytest.fixture
def agent_autre_caf(autre_caf):
    return factories.creer_utilisateur(nom="Giraud", prenom="Marc", caf=autre_caf)


@pytest.fixture
def convention_autre_partenaire(caf):
    """Convention de la même Caf avec un autre organisme, et son propre administrateur."""
    convention = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))
    user = factories.creer_utilisateur(nom="Roux", prenom="Lina", organisme=convention.organisme)
    factories.nommer_administrateur(convention, user)
    return convention


@pytest.fixture
def admin_autre_partenaire(convention_autre_partenaire):
    return convention_autre_partenaire.mandats.get().administrateur


@pytest.fixture
def exterieur(db):
    """Utilisateur d'un autre organisme, sans aucun profil."""
    return factories.creer_utilisateur(nom="Autre", prenom="Jules")


def connecter_verifie(client, user):
    """Session ouverte et double authentification vérifiée (pour les rôles qui l'exigent)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=True, defaults={"name": "test"})
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


@pytest.fixture(autouse=True)
def _statistiques_apres_chargement_en_masse(monkeypatch):
    """Les budgets de requêtes mesurent des pages sur des tables de 5 000 ou 10 000 lignes
    chargées par bulk_create. En production, l'autovacuum tient les statistiques de PostgreSQL à
    jour après de tels chargements ; ici, on les calcule aussitôt (dans la transaction du test,
    donc annulées avec elle), sinon le planificateur raisonne sur les tables vides des tests
    précédents et choisit des boucles imbriquées sur 10 000 lignes."""
    from django.db.models.query import QuerySet

    origine_create, origine_update = QuerySet.bulk_create, QuerySet.bulk_update

    def bulk_create(self, objs, *args, **kwargs):
        crees = origine_create(self, objs, *args, **kwargs)
        analyser(self.model, len(crees))
        return crees

    # Une mise à jour en masse change aussi les statistiques (les chemins des 1 000 groupes
    # renseignés après leur création : sans elles, 100 s de boucles imbriquées pour une page).
    def bulk_update(self, objs, *args, **kwargs):
        modifies = origine_update(self, objs, *args, **kwargs)
        analyser(self.model, modifies)
        return modifies

    monkeypatch.setattr(QuerySet, "bulk_create", bulk_create)
    monkeypatch.setattr(QuerySet, "bulk_update", bulk_update)


def analyser(modele, nombre: int = 1000) -> None:
    """Statistiques de PostgreSQL à jour pour la table de ``modele`` après un chargement en masse."""
    from django.db import connection

    if connection.vendor == "postgresql" and nombre >= 1000:
        with connection.cursor() as curseur:
            curseur.execute(f'ANALYZE "{modele._meta.db_table}"')


@contextlib.contextmanager
def transaction_partagee(django_db_blocker):
    """Pour une fixture de classe ou de module : les grands volumes d'un budget de requêtes créés
    une fois, dans une transaction annulée à la fin de la classe. Chaque test tourne dans un point
    de sauvegarde de celle-ci (fixture ``db`` de pytest-django) : ce qu'il écrit (session, appareil)
    est annulé après lui, et le test suivant retrouve les données telles que la fixture les a créées.
    Les fixtures de test (tâches Celery sur place, statistiques après bulk_create) n'y sont pas
    encore actives : appeler ``analyser`` après chaque chargement en masse."""
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)
