"""Le lancement d'un appel de déclaration avec un vrai worker Celery sur Redis et PostgreSQL :
1 000 activités de quatre partenaires, 1 000 déclarations créées une fois, et une fois encore
quand la tâche est livrée deux fois ; les courriels des approbateurs partent par la boîte
d'envoi, un récapitulatif par approbateur. Mêmes conditions que tests/portail/test_worker_celery.py
(ignoré sans CELERY_BROKER_URL ni PostgreSQL)."""

import datetime
import uuid

import pytest

from afas.campagnes import services as campagnes
from afas.enums import EtatDeclaration, EtatLancement, TypeDeclaration
from afas.models import AppelDeclaration, Declaration, DonneesActivite, DonneesFinancieres, EvenementDeclaration
from afas.tasks import deployer_appel
from portail.models import Courriel
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from tests import factories
from tests.afas.declarations.outils_campagnes import activites_en_masse, approbateur_en_masse, partenaire_pret
from tests.portail.test_worker_celery import pytestmark, worker  # noqa: F401 (fixture)

__all__ = ["pytestmark"]

PARTENAIRES = 4
PAR_PARTENAIRE = 250


def taches_reussies(worker) -> int:  # noqa: F811 (le paramètre porte le nom de la fixture)
    return worker.journal().count(" succeeded in ")


def lancer(agent, cle):
    jour = aujourdhui()
    return campagnes.appel_lancer(
        par=agent,
        cle=cle,
        exercice=jour.year,
        type_declaration=TypeDeclaration.PREVISIONNEL,
        criteres=campagnes.Criteres(),
        date_ouverture=jour,
        date_limite=jour + datetime.timedelta(days=45),
    )


def comptes():
    return (
        Declaration.objects.count(),
        DonneesActivite.objects.count(),
        DonneesFinancieres.objects.count(),
        EvenementDeclaration.objects.count(),
        Courriel.objects.filter(modele="afas_appel_declaration").count(),
    )


def test_mille_activites_une_fois_meme_livree_deux_fois(worker):  # noqa: F811
    caf = factories.CafFactory()
    agent = factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=caf)
    approbateurs = []
    for i in range(PARTENAIRES):
        convention, _admin, declarant = partenaire_pret(caf, agent, nom=f"Appro{i}")
        approbateur_en_masse(
            convention, declarant, activites_en_masse(convention, PAR_PARTENAIRE, prefixe=f"W{i}"), caf
        )
        approbateurs.append(declarant.email)
    worker.demarrer()

    cle = uuid.uuid4()
    appel = lancer(agent, cle)
    assert appel.total == PARTENAIRES * PAR_PARTENAIRE
    # Le même formulaire renvoyé pendant que le worker travaille : le même appel, rien de plus.
    assert lancer(agent, cle).pk == appel.pk
    worker.attendre(
        lambda: AppelDeclaration.objects.get(pk=appel.pk).etat_lancement == EtatLancement.TERMINE,
        "le lancement terminé",
    )
    appel.refresh_from_db()
    assert appel.creees == 1000 and appel.termine_le is not None
    assert comptes() == (1000, 1000, 1000, 1000, PARTENAIRES)
    assert set(Declaration.objects.values_list("etat", flat=True)) == {EtatDeclaration.A_SAISIR}
    # Un récapitulatif par approbateur, parti par la boîte d'envoi.
    worker.attendre(
        lambda: (
            Courriel.objects.filter(modele="afas_appel_declaration", envoye_le__isnull=False).count() == PARTENAIRES
        ),
        "les courriels des approbateurs envoyés",
    )
    assert sorted(Courriel.objects.filter(modele="afas_appel_declaration").values_list("destinataire", flat=True)) == (
        sorted(approbateurs)
    )
    assert all(
        corps.count("\n- Activité") == PAR_PARTENAIRE
        for corps in Courriel.objects.filter(modele="afas_appel_declaration").values_list("corps", flat=True)
    )

    # La tâche livrée deux fois (et une fois encore comme si le worker s'était arrêté avant de
    # marquer la fin) : rien de créé, rien d'envoyé de plus.
    faites = taches_reussies(worker)
    deployer_appel.delay(appel.pk)
    deployer_appel.delay(appel.pk)
    worker.attendre(lambda: taches_reussies(worker) >= faites + 2, "les livraisons en double traitées")
    AppelDeclaration.objects.filter(pk=appel.pk).update(etat_lancement=EtatLancement.EN_COURS, termine_le=None)
    faites = taches_reussies(worker)
    deployer_appel.delay(appel.pk)
    worker.attendre(lambda: taches_reussies(worker) >= faites + 1, "la reprise traitée")
    assert comptes() == (1000, 1000, 1000, 1000, PARTENAIRES)
    appel.refresh_from_db()
    assert appel.creees == 1000 and appel.etat_lancement == EtatLancement.TERMINE
    # Un nouvel appel du même exercice et du même type n'a plus rien à créer.
    with pytest.raises(ErreurMetier):
        lancer(agent, uuid.uuid4())
    assert "Traceback" not in worker.journal()
