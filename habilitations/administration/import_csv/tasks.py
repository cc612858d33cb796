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


def import_executer(*, import_id: int) -> None:
    """Crée, ligne après ligne, les comptes des lignes valides pas encore traitées, puis passe
    l'import à « Terminé ».

    Une transaction par ligne, et non une seule pour tout le fichier :
    - la progression est visible : chaque ligne validée fait avancer ``traites`` et ``crees``, que
      la page relit chaque seconde ; une transaction unique ne montrerait rien avant la fin ;
    - une ligne refusée n'annule pas les autres : si le service lève ``ErreurMetier`` (l'adresse
      vient d'être prise, le groupe s'est fermé…), seule cette ligne échoue et son erreur est
      enregistrée ; les comptes déjà créés restent, avec leurs courriels, qui ne partent qu'à la
      validation de leur propre transaction ;
    - la reprise est sûre : si le worker s'arrête en cours de route (redémarrage, coupure), chaque
      ligne est soit entièrement faite (compte, appartenance, courriels, ``traitee``), soit pas du
      tout ; la tâche relancée saute les lignes traitées et ne crée aucun doublon. Une seule
      transaction de 2 000 comptes tiendrait aussi des verrous longtemps et repartirait de zéro.
    """
    import_utilisateurs = (
        ImportUtilisateurs.objects.select_related("convention", "groupe", "par").filter(pk=import_id).first()
    )
    if import_utilisateurs is None or import_utilisateurs.etat != EtatImport.EN_COURS:
        logger.info("import %s : rien à faire (absent ou pas en cours)", import_id)
        return
    a_traiter = imports.lignes_valides(import_utilisateurs).filter(traitee=False).order_by("numero")
    for ligne_id in list(a_traiter.values_list("pk", flat=True)):
        _ligne_traiter(import_utilisateurs, ligne_id)
    with transaction.atomic():
        # Une autre exécution a pu reprendre une ligne entre-temps : terminé quand il n'en reste plus.
        if not a_traiter.exists():
            ImportUtilisateurs.objects.filter(pk=import_id, etat=EtatImport.EN_COURS).update(
                etat=EtatImport.TERMINE, termine_le=timezone.now()
            )
    logger.info("import %s : terminé", import_id)


def _ligne_traiter(import_utilisateurs: ImportUtilisateurs, ligne_id: int) -> None:
    """Une ligne, dans sa propre transaction : le compte (et son appartenance au groupe), ou
    l'erreur qui le refuse ; puis la ligne marquée traitée et les compteurs de l'import avancés."""
    with transaction.atomic():
        # Relue sous verrou : deux exécutions simultanées ne créent pas deux fois le même compte.
        ligne = LigneImport.objects.select_for_update().filter(pk=ligne_id, traitee=False).first()
        if ligne is None:
            return
        donnees, erreurs = imports.ligne_interpreter(ligne.valeurs)
        utilisateur = None
        if not erreurs:
            try:
                with transaction.atomic():  # un refus annule les écritures du service, pas la ligne
                    utilisateur = services.utilisateur_creer_dans_convention(
                        par=import_utilisateurs.par,
                        convention=import_utilisateurs.convention,
                        groupe=import_utilisateurs.groupe,
                        **donnees,
                    )
            except ErreurMetier as exc:
                erreurs = [str(exc)]
        ligne.utilisateur, ligne.erreurs, ligne.traitee = utilisateur, erreurs, True
        ligne.save(update_fields=["utilisateur", "erreurs", "traitee"])
        ImportUtilisateurs.objects.filter(pk=import_utilisateurs.pk).update(
            traites=F("traites") + 1, crees=F("crees") + (1 if utilisateur else 0)
        )
    if erreurs:
        logger.info("import %s : ligne %s refusée à la création", import_utilisateurs.pk, ligne.numero)
