"""Un seul chemin pour les courriels : rendre le modèle, écrire la ligne de la boîte d'envoi,
programmer l'envoi après la validation de la transaction.

Chaque courriel a deux gabarits : ``emails/<nom>_subject.txt`` et ``emails/<nom>_body.txt``.
"""

import logging
import unicodedata
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string

from portail.models import Courriel

logger = logging.getLogger(__name__)

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


def courriel_preparer(*, modele: str, destinataire: str, contexte: dict[str, Any]) -> Courriel:
    """Écrit le courriel dans la boîte d'envoi ; il part quand la transaction est validée."""
    contexte = {"portail_url": settings.PORTAIL_URL, **contexte}
    sujet = sujet_normaliser(render_to_string(f"emails/{modele}_subject.txt", contexte))
    corps = render_to_string(f"emails/{modele}_body.txt", contexte)
    courriel = Courriel.objects.create(modele=modele, destinataire=destinataire, sujet=sujet, corps=corps)
    transaction.on_commit(lambda: programmer_envoi(courriel.pk))
    return courriel


def programmer_envoi(courriel_id: int) -> None:
    """Confie l'envoi à Celery. Si le courtier est absent, le balayage périodique rattrapera."""
    from portail.tasks import envoyer_courriel

    try:
        envoyer_courriel.delay(courriel_id)
    except Exception:
        # Le courriel reste dans la boîte d'envoi : relancer_courriels le reprendra.
        logger.warning("courriel %s : courtier indisponible, envoi différé au balayage", courriel_id, exc_info=True)
