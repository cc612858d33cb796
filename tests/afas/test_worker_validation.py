"""La validation des approbateurs avec un vrai worker Celery sur Redis et PostgreSQL : demande,
relances à 3 et 7 jours, décision, livraison en double. Mêmes conditions que
tests/portail/test_worker_celery.py (ignoré sans CELERY_BROKER_URL ni PostgreSQL)."""

import datetime

from django.utils import timezone

from afas import services
from afas.enums import DecisionCaf, RoleAfas
from afas.models import HabilitationAfas, ValidationApprobateur
from afas.tasks import relancer_validation, relancer_validations
from portail.models import Courriel
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.conftest import creer_activite
from tests.portail.test_worker_celery import pytestmark, worker  # noqa: F401 (fixture)

__all__ = ["pytestmark"]


def mise_en_place():
    caf = factories.CafFactory()
    convention = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))
    agent = factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=caf)
    admin = factories.creer_utilisateur(nom="Castan", prenom="Hugo", organisme=convention.organisme)
    factories.nommer_administrateur(convention, admin)
    declarant = factories.creer_utilisateur(nom="Ferrand", prenom="Paul", organisme=convention.organisme)
    factories.habiliter(declarant, convention, "AFAS-DECLARER", responsable=admin)
    activite = creer_activite(convention.organisme, numero="EQW001")
    (h,) = services.habilitation_afas_affecter(
        par=admin, utilisateur=declarant, role=RoleAfas.APPROBATEUR, date_ouverture=aujourdhui(), activites=[activite]
    )
    return agent, admin, declarant, h


def envoyes(modele: str):
    return Courriel.objects.filter(modele=modele, envoye_le__isnull=False)


def actif(h) -> bool:
    return HabilitationAfas.objects.filter(pk=h.pk).actives().exists()


def taches_reussies(worker) -> int:  # noqa: F811 (le paramètre porte le nom de la fixture)
    return worker.journal().count(" succeeded in ")


def vieillir(validation, jours: int) -> None:
    ValidationApprobateur.objects.filter(pk=validation.pk).update(
        demandee_le=timezone.now() - datetime.timedelta(days=jours, minutes=1)
    )


def test_demande_relances_decision_et_livraisons_en_double(worker):  # noqa: F811
    agent, admin, declarant, h = mise_en_place()
    v = h.validation
    worker.demarrer()

    # La demande : les agents de la Caf pivot sont prévenus par la boîte d'envoi.
    worker.attendre(lambda: envoyes("afas_approbateur_a_valider").count() == 1, "le courriel de demande envoyé")
    assert envoyes("afas_approbateur_a_valider").get().destinataire == agent.email

    # Trois jours sans décision : la tâche périodique programme une relance, livrée deux fois.
    vieillir(v, 3)
    relancer_validations.delay()
    relancer_validation.delay(v.pk)
    relancer_validation.delay(v.pk)
    worker.attendre(lambda: envoyes("afas_approbateur_relance").count() == 1, "la relance à 3 jours envoyée")
    # Les livraisons en double passent sans rien refaire (elles sont traitées avant ce point :
    # une seule file, un seul worker ; la suivante sert de témoin).
    faites = taches_reussies(worker)
    relancer_validation.delay(v.pk)
    worker.attendre(lambda: taches_reussies(worker) >= faites + 1, "la livraison témoin traitée")
    assert Courriel.objects.filter(modele="afas_approbateur_relance").count() == 1
    v.refresh_from_db()
    assert v.relance_3j_le is not None and v.relance_7j_le is None
    # Une relance ne décide jamais : toujours pas active.
    assert not actif(h)

    vieillir(v, 7)
    relancer_validation.delay(v.pk)
    relancer_validation.delay(v.pk)
    worker.attendre(lambda: envoyes("afas_approbateur_relance").count() == 2, "la relance à 7 jours envoyée")
    assert not actif(h)

    # Décision de la Caf : l'approbateur et l'administrateur sont prévenus.
    services.approbateur_valider(par=agent, validation=v)
    assert actif(h)
    worker.attendre(lambda: envoyes("afas_approbateur_decision").count() == 2, "les deux avis de décision envoyés")
    assert set(envoyes("afas_approbateur_decision").values_list("destinataire", flat=True)) == {
        declarant.email,
        admin.email,
    }
    # Une relance en retard, livrée après la décision, ne fait rien.
    vieillir(v, 30)
    faites = taches_reussies(worker)
    relancer_validation.delay(v.pk)
    relancer_validations.delay()
    worker.attendre(lambda: taches_reussies(worker) >= faites + 2, "les tâches tardives traitées")
    assert Courriel.objects.filter(modele="afas_approbateur_relance").count() == 2
    v.refresh_from_db()
    assert v.decision == DecisionCaf.VALIDEE and v.decidee_par == agent
    assert "Traceback" not in worker.journal()


def test_refus_par_la_caf(worker):  # noqa: F811
    agent, admin, declarant, h = mise_en_place()
    worker.demarrer()
    services.approbateur_refuser(par=agent, validation=h.validation, motif="Personne inconnue")
    worker.attendre(lambda: envoyes("afas_approbateur_decision").count() == 2, "les avis de refus envoyés")
    assert set(envoyes("afas_approbateur_decision").values_list("destinataire", flat=True)) == {
        declarant.email,
        admin.email,
    }
    textes = worker.textes_envoyes()
    assert any("Motif : Personne inconnue" in t for t in textes), textes
    assert HabilitationAfas.objects.filter(pk=h.pk).historiques().exists()
    vieillir(h.validation, 8)
    faites = taches_reussies(worker)
    relancer_validation.delay(h.validation.pk)
    worker.attendre(lambda: taches_reussies(worker) >= faites + 1, "la relance tardive traitée")
    assert not Courriel.objects.filter(modele="afas_approbateur_relance").exists()
    assert "Traceback" not in worker.journal()
