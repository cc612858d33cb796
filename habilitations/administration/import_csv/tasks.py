"""La confirmation d'un import CSV et la création de ses comptes, par Celery.

La tâche est nommée explicitement : le worker la connaît par ce nom, quel que soit le module qui
l'importe le premier.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from habilitations import services
from habilitations.administration.import_csv import imports
from habilitations.models import EtatImport, ImportUtilisateurs, LigneImport, Utilisateur
from portail.socle.audit import audit_enregistrer
from portail.socle.erreurs import ErreurMetier

logger = logging.getLogger(__name__)


@shared_task(
    name="habilitations.importer_utilisateurs",
    ignore_result=True,
    # Base momentanément injoignable : on reprend plus tard, les lignes déjà faites sont sautées.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def importer_utilisateurs(import_id: int) -> None:
    import_executer(import_id=import_id)


def import_publier(import_id: int) -> None:
    """Publie la tâche (appelé après la validation de la confirmation). Si le courtier est
    injoignable, l'import revient « À confirmer » (aucune ligne n'a été traitée) : l'utilisateur
    pourra confirmer de nouveau, au lieu d'attendre une progression qui ne viendrait jamais."""
    try:
        importer_utilisateurs.delay(import_id)
    except Exception:
        logger.warning("import %s : publication de la tâche impossible", import_id, exc_info=True)
        ImportUtilisateurs.objects.filter(pk=import_id, etat=EtatImport.EN_COURS, traites=0).update(
            etat=EtatImport.PREVISUALISE, total=0, confirme_le=None
        )


@transaction.atomic
def import_confirmer(*, par: Utilisateur, import_utilisateurs: ImportUtilisateurs) -> int:
    """Confirme l'aperçu : l'import passe « En cours » et la tâche de création est publiée après
    la validation de la transaction. L'import est relu sous verrou : deux confirmations simultanées
    (double clic, deux onglets) n'en publient qu'une, la seconde voit l'état déjà changé.
    Renvoie le nombre de comptes à créer."""
    verrouille = ImportUtilisateurs.objects.select_for_update().get(pk=import_utilisateurs.pk)
    if verrouille.etat != EtatImport.PREVISUALISE:
        raise ErreurMetier(f"Cet import est déjà {verrouille.get_etat_display().lower()} : rien n'a été relancé.")
    total = imports.lignes_valides(verrouille).count()
    if not total:
        raise ErreurMetier("Aucune ligne du fichier n'est valide : il n'y a aucun compte à créer.")
    verrouille.etat, verrouille.total, verrouille.confirme_le = EtatImport.EN_COURS, total, timezone.now()
    verrouille.save(update_fields=["etat", "total", "confirme_le"])
    audit_enregistrer(
        par=par,
        action="import_confirmer",
        cible=verrouille,
        apres={"fichier": verrouille.nom_fichier, "groupe": verrouille.groupe_id, "comptes_a_creer": total},
    )
    transaction.on_commit(lambda: import_publier(verrouille.pk))
    return total


# Lignes créées par transaction : la page de progression avance lot après lot, et une reprise
# ne refait qu'un lot au plus. Mille comptes : environ une seconde d'écriture, des verrous brefs.
TAILLE_LOT = 1000


def import_executer(*, import_id: int) -> None:
    """Crée, lot après lot, les comptes des lignes valides pas encore traitées, puis passe
    l'import à « Terminé ».

    Une transaction par lot de ``TAILLE_LOT`` lignes, et dans chacune des écritures en nombre
    (``services.utilisateurs_creer_dans_convention`` : une insertion par table, aucune requête par
    ligne). Mesuré (ticket 11, PostgreSQL et un vrai worker sur la machine de référence chargée) :
    10 000 lignes en 14,5 à 28 s, contre 34 s pour 1 000 lignes quand chaque ligne avait sa
    transaction et ses requêtes (tests/habilitations/test_import_worker.py).
    - la progression reste visible : chaque lot validé fait avancer ``traites`` et ``crees``, que
      la page relit chaque seconde ; une transaction unique pour tout le fichier ne montrerait
      rien avant la fin, et tiendrait ses verrous (compteur d'identifiants de la Caf) tout du long ;
    - une ligne refusée n'annule pas les autres : si le service refuse un compte (l'adresse vient
      d'être prise, le groupe s'est fermé…), seule cette ligne échoue et son erreur est
      enregistrée ; les courriels d'un lot ne partent qu'à la validation de sa transaction ;
    - la reprise est sûre : si le worker s'arrête en cours de route, chaque lot est soit
      entièrement fait (comptes, appartenances, audit, courriels, lignes ``traitee``), soit pas du
      tout ; la tâche relancée saute les lignes traitées et ne crée aucun doublon.
    """
    import_utilisateurs = (
        ImportUtilisateurs.objects.select_related("convention__organisme__caf", "groupe", "par")
        .filter(pk=import_id)
        .first()
    )
    if import_utilisateurs is None or import_utilisateurs.etat != EtatImport.EN_COURS:
        logger.info("import %s : rien à faire (absent ou pas en cours)", import_id)
        return
    a_traiter = imports.lignes_valides(import_utilisateurs).filter(traitee=False).order_by("numero")
    ids = list(a_traiter.values_list("pk", flat=True))
    for debut in range(0, len(ids), TAILLE_LOT):
        _lot_traiter(import_utilisateurs, ids[debut : debut + TAILLE_LOT])
    with transaction.atomic():
        # Une autre exécution a pu reprendre un lot entre-temps : terminé quand il n'en reste plus.
        if not a_traiter.exists():
            ImportUtilisateurs.objects.filter(pk=import_id, etat=EtatImport.EN_COURS).update(
                etat=EtatImport.TERMINE, termine_le=timezone.now()
            )
    logger.info("import %s : terminé", import_id)


def _lot_traiter(import_utilisateurs: ImportUtilisateurs, ligne_ids: list[int]) -> None:
    """Un lot de lignes, dans sa propre transaction : les comptes (et leurs appartenances au
    groupe), ou l'erreur qui refuse chacun ; puis les lignes marquées traitées et les compteurs
    de l'import avancés. Un nombre constant de requêtes, quelle que soit la taille du lot."""
    with transaction.atomic():
        # Relues sous verrou : deux exécutions simultanées ne créent pas deux fois les mêmes comptes.
        lignes = list(
            LigneImport.objects.select_for_update().filter(pk__in=ligne_ids, traitee=False).order_by("numero")
        )
        if not lignes:
            return
        a_creer: list[tuple[LigneImport, dict]] = []
        for ligne in lignes:
            donnees, erreurs = imports.ligne_interpreter(ligne.valeurs)
            ligne.utilisateur, ligne.erreurs, ligne.traitee = None, erreurs, True
            if not erreurs:
                a_creer.append((ligne, donnees))
        resultats = services.utilisateurs_creer_dans_convention(
            par=import_utilisateurs.par,
            convention=import_utilisateurs.convention,
            groupe=import_utilisateurs.groupe,
            comptes=[donnees for _ligne, donnees in a_creer],
        )
        for (ligne, _donnees), resultat in zip(a_creer, resultats, strict=True):
            if isinstance(resultat, ErreurMetier):
                ligne.erreurs = [str(resultat)]
            else:
                ligne.utilisateur = resultat
        # Réécrites en une insertion « ou mise à jour » (ON CONFLICT) : bulk_update construirait un
        # CASE par ligne et par champ, dont Django met plusieurs secondes à composer mille lignes.
        LigneImport.objects.bulk_create(
            lignes, update_conflicts=True, unique_fields=["pk"], update_fields=["utilisateur", "erreurs", "traitee"]
        )
        crees = sum(1 for ligne in lignes if ligne.utilisateur is not None)
        ImportUtilisateurs.objects.filter(pk=import_utilisateurs.pk).update(
            traites=F("traites") + len(lignes), crees=F("crees") + crees
        )
    refusees = len(lignes) - crees
    if refusees:
        logger.info("import %s : %s lignes refusées à la création", import_utilisateurs.pk, refusees)
