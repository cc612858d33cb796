"""La tâche quotidienne de réconciliation des droits objets, exécutée par un vrai worker Celery.

Mêmes conditions que tests/portail/test_worker_celery.py (Redis et PostgreSQL requis)."""

from guardian.models import UserObjectPermission

from conventions import perms
from conventions.models import Mandat
from conventions.tasks import reconcilier_droits
from tests import factories
from tests.portail.test_worker_celery import pytestmark, worker  # noqa: F401 (fixture)

__all__ = ["pytestmark"]


def test_le_worker_accorde_le_droit_d_un_mandat_qui_commence_aujourd_hui(worker):  # noqa: F811
    convention = factories.ConventionFactory()
    user = factories.creer_utilisateur(organisme=convention.organisme)
    # Mandat écrit comme par un avenant d'hier qui prend effet aujourd'hui : aucun droit encore.
    Mandat.objects.create(convention=convention, administrateur=user, date_ouverture=convention.date_ouverture)
    assert not perms.conventions_administrees(user).exists()

    worker.demarrer()
    reconcilier_droits.delay()

    worker.attendre(
        lambda: UserObjectPermission.objects.filter(user=user, object_pk=str(convention.pk)).exists(),
        "le droit « administrer_convention » accordé par la tâche de réconciliation",
    )
    assert list(perms.conventions_administrees(user)) == [convention]
    assert "Traceback" not in worker.journal()
