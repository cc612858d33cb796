"""Un seul chemin pour les courriels : rendre le modèle, écrire la ligne de la boîte d'envoi,
programmer l'envoi après la validation de la transaction.

Chaque courriel a deux gabarits : ``emails/<nom>_subject.txt`` et ``emails/<nom>_body.txt``.
"""

import logging
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string

from portail.models import Courriel
from portail.socle.courriels import envoyer_courriel, sujet_normaliser

logger = logging.getLogger(__name__)

# L'adresse du portail telle que la requête en cours l'a atteint (« https://hôte:port »), posée
# par portail.socle.middleware.AdresseIPMiddleware ; vide hors requête (tâches Celery, commandes).
adresse_portail_courante: ContextVar[str] = ContextVar("adresse_portail_courante", default="")
ADRESSE_PAR_DEFAUT = "http://127.0.0.1:8000"


def adresse_portail() -> str:
    """L'adresse citée dans les liens des courriels : le réglage PORTAIL_URL s'il est donné
    (production : obligatoire, car les tâches de nuit écrivent aussi des courriels) ; sinon l'hôte
    qui a servi la requête (déjà validé par ALLOWED_HOSTS) ; sinon http://127.0.0.1:8000."""
    return settings.PORTAIL_URL or adresse_portail_courante.get() or ADRESSE_PAR_DEFAUT


def _rendre(*, modele: str, destinataire: str, contexte: dict[str, Any]) -> Courriel:
    contexte = {"portail_url": adresse_portail(), **contexte}
    sujet = sujet_normaliser(render_to_string(f"emails/{modele}_subject.txt", contexte))
    corps = render_to_string(f"emails/{modele}_body.txt", contexte)
    return Courriel(modele=modele, destinataire=destinataire, sujet=sujet, corps=corps)


def courriel_preparer(*, modele: str, destinataire: str, contexte: dict[str, Any]) -> Courriel:
    """Écrit le courriel dans la boîte d'envoi ; il part quand la transaction est validée."""
    return courriels_preparer([{"modele": modele, "destinataire": destinataire, "contexte": contexte}])[0]


def courriels_preparer(envois: list[dict[str, Any]]) -> list[Courriel]:
    """Plusieurs courriels d'un même acte (``modele``, ``destinataire``, ``contexte`` chacun),
    écrits en une insertion ; chacun part quand la transaction est validée, dans cet ordre."""
    courriels = Courriel.objects.bulk_create([_rendre(**envoi) for envoi in envois])
    for courriel in courriels:
        transaction.on_commit(lambda pk=courriel.pk: programmer_envoi(pk))
    return courriels


def programmer_envoi(courriel_id: int) -> None:
    """Confie l'envoi à Celery. Si le courtier est absent, le balayage périodique rattrapera."""
    try:
        envoyer_courriel.delay(courriel_id)
    except Exception:
        # Le courriel reste dans la boîte d'envoi : relancer_courriels le reprendra.
        logger.warning("courriel %s : courtier indisponible, envoi différé au balayage", courriel_id, exc_info=True)
