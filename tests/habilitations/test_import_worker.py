"""L'import CSV confirmé, exécuté par un vrai worker Celery : les comptes sont créés par un autre
processus, la page suit la progression par son adresse JSON, une double confirmation ne publie
qu'une tâche.

Mêmes conditions que tests/portail/test_worker_celery.py (Redis et PostgreSQL requis)."""

import threading
import time

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from habilitations.models import Appartenance, EtatImport, ImportUtilisateurs, LigneImport, Utilisateur
from portail.models import Courriel, EvenementAudit
from tests.conftest import connecter_verifie
from tests.portail.test_worker_celery import pytestmark, worker  # noqa: F401 (fixture)
from tests.utils import texte

__all__ = ["pytestmark"]

NOMBRE = 20
NOM_TACHE = "habilitations.importer_utilisateurs"


def fichier_de(nombre: int) -> SimpleUploadedFile:
    lignes = ["Nom;Prénom;Adresse mail"] + [f"Àlvarez{i};Hélène;helene.{i}@exemple.test" for i in range(nombre)]
    return SimpleUploadedFile("equipe.csv", "\r\n".join(lignes).encode("cp1252"), content_type="text/csv")


def confirmer_en_meme_temps(clients: list[Client], url: str) -> list[int]:
    """Chaque client clique « Confirmer » au même instant, depuis son propre fil (et sa propre
    connexion à la base) : les deux requêtes se disputent réellement l'import."""
    barriere = threading.Barrier(len(clients))
    statuts: list[int] = []

    def cliquer(client: Client) -> None:
        try:
            barriere.wait(timeout=10)
            statuts.append(client.post(url, {"action": "confirmer"}).status_code)
        finally:
            connection.close()

    fils = [threading.Thread(target=cliquer, args=(client,)) for client in clients]
    for fil in fils:
        fil.start()
    for fil in fils:
        fil.join(timeout=30)
    return statuts


def test_le_worker_cree_les_comptes_et_la_progression_avance(
    client,
    worker,  # noqa: F811
    convention,
    administrateur,
    groupe_a,
):
    connecter_verifie(client, administrateur)
    client.post(
        reverse("gestion:import_deposer", args=[convention.pk]), {"fichier": fichier_de(NOMBRE), "groupe": groupe_a.pk}
    )
    import_utilisateurs = ImportUtilisateurs.objects.get(convention=convention)
    apercu = reverse("gestion:import_apercu", args=[convention.pk, import_utilisateurs.pk])
    progression = reverse("gestion:import_progression", args=[convention.pk, import_utilisateurs.pk])

    # Deux confirmations simultanées (deux onglets) avant que le worker ne tourne : l'import est
    # relu sous verrou, une seule tâche est publiée.
    onglets = [Client(), Client()]
    for onglet in onglets:
        connecter_verifie(onglet, administrateur)
    assert confirmer_en_meme_temps(onglets, apercu) == [302, 302]
    import_utilisateurs.refresh_from_db()
    assert (import_utilisateurs.etat, import_utilisateurs.total) == (EtatImport.EN_COURS, NOMBRE)
    assert not Utilisateur.objects.filter(email__startswith="helene.").exists()
    assert "Création des comptes en cours" in texte(client.get(apercu))

    worker.demarrer()
    observees = []

    def termine() -> bool:
        etat = client.get(progression).json()
        observees.append(etat)
        return etat["etat"] == EtatImport.TERMINE

    worker.attendre(termine, f"l'import terminé ({NOMBRE} comptes) par le worker")

    assert observees[-1] == {"etat": "termine", "total": NOMBRE, "traites": NOMBRE, "crees": NOMBRE, "pourcentage": 100}
    traites = [etat["traites"] for etat in observees]
    assert traites == sorted(traites), "la progression ne recule jamais"
    crees = Utilisateur.objects.filter(email__startswith="helene.", convention=convention)
    assert crees.count() == NOMBRE
    assert Appartenance.objects.ouverts().filter(groupe=groupe_a, utilisateur__in=crees).count() == NOMBRE
    assert "20 comptes créés" in texte(client.get(apercu))

    # Les deux courriels de chaque compte partent aussi par le worker.
    courriels = Courriel.objects.filter(destinataire__startswith="helene.")
    worker.attendre(
        lambda: courriels.filter(envoye_le__isnull=False).count() == 2 * NOMBRE,
        "les courriels d'identifiant et de mot de passe provisoire envoyés",
    )
    assert courriels.count() == 2 * NOMBRE

    journal = worker.journal()
    recues = [ligne for ligne in journal.splitlines() if f"{NOM_TACHE}[" in ligne and "received" in ligne]
    assert len(recues) == 1, recues
    assert "Traceback" not in journal


GRAND_IMPORT = 10_000
DUREE_MAX_GRAND_IMPORT = 60.0  # secondes, ticket 11


def test_dix_mille_lignes_en_moins_d_une_minute(
    client,
    worker,  # noqa: F811
    convention,
    administrateur,
    groupe_a,
):
    """Ticket 11 : un fichier de 10 000 lignes, confirmé, est entièrement créé par le vrai worker
    en moins de 60 s (de la confirmation à « Terminé ») ; chaque compte a son appartenance, ses
    trois lignes d'audit et ses deux courriels dans la boîte d'envoi."""
    connecter_verifie(client, administrateur)
    reponse = client.post(
        reverse("gestion:import_deposer", args=[convention.pk]),
        {"fichier": fichier_de(GRAND_IMPORT), "groupe": groupe_a.pk},
    )
    assert reponse.status_code == 302
    import_utilisateurs = ImportUtilisateurs.objects.get(convention=convention)
    apercu = reverse("gestion:import_apercu", args=[convention.pk, import_utilisateurs.pk])
    progression = reverse("gestion:import_progression", args=[convention.pk, import_utilisateurs.pk])
    worker.demarrer()
    # Le worker prêt (il a traité une tâche) avant de chronométrer : son démarrage n'est pas l'import.
    worker.attendre(lambda: "ready" in worker.journal(), "le worker prêt")

    debut = time.monotonic()
    assert client.post(apercu, {"action": "confirmer"}).status_code == 302
    observees = []
    while True:
        etat = client.get(progression).json()
        observees.append(etat["traites"])
        if etat["etat"] == EtatImport.TERMINE:
            break
        assert time.monotonic() - debut < DUREE_MAX_GRAND_IMPORT, f"toujours pas terminé : {etat}"
        assert worker.processus.poll() is None, "le worker s'est arrêté"
        time.sleep(0.5)
    duree = time.monotonic() - debut
    print(f"\nimport de {GRAND_IMPORT} lignes par le worker : {duree:.1f} s")

    assert etat == {
        "etat": "termine",
        "total": GRAND_IMPORT,
        "traites": GRAND_IMPORT,
        "crees": GRAND_IMPORT,
        "pourcentage": 100,
    }
    assert observees == sorted(observees), "la progression ne recule jamais"
    crees = Utilisateur.objects.filter(email__startswith="helene.", convention=convention)
    assert crees.count() == GRAND_IMPORT
    assert crees.values("identifiant").distinct().count() == GRAND_IMPORT
    assert Appartenance.objects.ouverts().filter(groupe=groupe_a, utilisateur__in=crees).count() == GRAND_IMPORT
    ids = [str(pk) for pk in crees.values_list("pk", flat=True)]
    assert EvenementAudit.objects.filter(action="utilisateur_creer", cible_id__in=ids).count() == GRAND_IMPORT
    assert Courriel.objects.filter(destinataire__startswith="helene.").count() == 2 * GRAND_IMPORT
    assert not LigneImport.objects.filter(import_utilisateurs=import_utilisateurs, utilisateur__isnull=True).exists()
    assert "Traceback" not in worker.journal()
