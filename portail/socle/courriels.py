"""Envoi effectif des courriels de la boîte d'envoi, et ses deux tâches Celery.

Les tâches gardent leur nom historique (``portail.tasks.…``, celui du planning de beat et des
messages déjà en file) ; ``portail/tasks.py`` les expose à la découverte automatique de Celery.
"""

import logging
import unicodedata
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from portail.models import Courriel

logger = logging.getLogger(__name__)

DELAI_INITIAL = timedelta(minutes=1)
DELAI_MAX = timedelta(hours=6)

SUJET_LONGUEUR_MAX = 250  # portail.Courriel.sujet


def sujet_normaliser(texte: str) -> str:
    """Un sujet tient sur une ligne : un en-tête ne peut contenir ni saut de ligne ni caractère
    de contrôle (« Header values may not contain linefeed »), et le sujet se construit souvent
    avec un texte saisi (libellé de convention, nom). Tout caractère de contrôle ou séparateur de
    ligne devient une espace, les espaces se réduisent à une, le tout est borné à la colonne."""
    propre = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in texte)
    propre = " ".join(propre.split())
    if len(propre) > SUJET_LONGUEUR_MAX:
        propre = propre[: SUJET_LONGUEUR_MAX - 1].rstrip() + "…"
    return propre


def delai_avant_nouvel_essai(tentatives: int) -> timedelta:
    """1, 2, 4, 8… minutes après chaque échec, plafonné à 6 heures."""
    return min(DELAI_INITIAL * (2 ** max(tentatives - 1, 0)), DELAI_MAX)


def courriel_envoyer(*, courriel_id: int) -> bool:
    """Envoie un courriel s'il ne l'est pas déjà. Renvoie True s'il est parti.

    La ligne est verrouillée le temps de l'envoi : deux workers (tâche et balayage) ne
    l'enverront jamais deux fois.
    """
    with transaction.atomic():
        courriel = Courriel.objects.select_for_update(skip_locked=True).filter(pk=courriel_id).first()
        if courriel is None or courriel.envoye_le is not None:
            return False
        courriel.tentatives += 1
        try:
            message = EmailMessage(
                # Une ligne écrite avant la normalisation du sujet partirait en erreur à jamais.
                subject=sujet_normaliser(courriel.sujet),
                body=courriel.corps,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[courriel.destinataire],
            )
            if courriel.piece_jointe_nom:
                message.attach(
                    courriel.piece_jointe_nom, bytes(courriel.piece_jointe or b""), courriel.piece_jointe_type
                )
            message.send(fail_silently=False)
        except Exception as exc:
            courriel.derniere_erreur = f"{type(exc).__name__}: {exc}"[:2000]
            courriel.prochaine_tentative_le = timezone.now() + delai_avant_nouvel_essai(courriel.tentatives)
            courriel.save(update_fields=["tentatives", "derniere_erreur", "prochaine_tentative_le"])
            logger.warning("courriel %s : échec de l'envoi (tentative %s)", courriel.pk, courriel.tentatives)
            return False
        courriel.envoye_le = timezone.now()
        courriel.derniere_erreur = ""
        courriel.save(update_fields=["tentatives", "envoye_le", "derniere_erreur"])
        logger.info("courriel %s envoyé (%s)", courriel.pk, courriel.modele)
        return True


def courriels_relancer(*, limite: int = 200) -> int:
    """Envoie les courriels en attente dont l'heure est venue ; renvoie le nombre partis."""
    ids = list(Courriel.objects.a_envoyer().order_by("prochaine_tentative_le").values_list("pk", flat=True)[:limite])
    return sum(courriel_envoyer(courriel_id=pk) for pk in ids)


@shared_task(name="portail.tasks.envoyer_courriel", ignore_result=True)
def envoyer_courriel(courriel_id: int) -> None:
    # Un échec n'est pas relevé ici : le balayage périodique relance avec un délai croissant.
    courriel_envoyer(courriel_id=courriel_id)


@shared_task(name="portail.tasks.envoyer_courriels", ignore_result=True)
def envoyer_courriels(courriel_ids: list[int]) -> None:
    """Les courriels d'un même acte, l'un après l'autre (un import de 10 000 comptes en écrit
    20 000 : une publication par courriel coûterait 2 ms chacune au worker qui les crée)."""
    for courriel_id in courriel_ids:
        courriel_envoyer(courriel_id=courriel_id)


@shared_task(name="portail.tasks.relancer_courriels", ignore_result=True)
def relancer_courriels() -> int:
    return courriels_relancer()
