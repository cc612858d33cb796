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
from portail.socle.courriels import envoyer_courriels, sujet_normaliser

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


def _rendre(
    *, modele: str, destinataire: str, contexte: dict[str, Any], piece_jointe: tuple[str, bytes, str] | None = None
) -> Courriel:
    """``piece_jointe`` : (nom du fichier, contenu, type MIME), facultative."""
    contexte = {"portail_url": adresse_portail(), **contexte}
    sujet = sujet_normaliser(render_to_string(f"emails/{modele}_subject.txt", contexte))
    corps = render_to_string(f"emails/{modele}_body.txt", contexte)
    nom, contenu, type_mime = piece_jointe or ("", None, "")
    return Courriel(
        modele=modele,
        destinataire=destinataire,
        sujet=sujet,
        corps=corps,
        piece_jointe_nom=nom,
        piece_jointe=contenu,
        piece_jointe_type=type_mime,
    )


def courriel_preparer(*, modele: str, destinataire: str, contexte: dict[str, Any]) -> Courriel:
    """Écrit le courriel dans la boîte d'envoi ; il part quand la transaction est validée."""
    return courriels_preparer([{"modele": modele, "destinataire": destinataire, "contexte": contexte}])[0]


# Courriels confiés à une même tâche : un acte ordinaire en écrit un ou deux (une tâche), un
# import de 10 000 comptes 20 000 (100 tâches plutôt que 20 000 publications de 2 ms chacune).
COURRIELS_PAR_TACHE = 200


def courriels_preparer(envois: list[dict[str, Any]]) -> list[Courriel]:
    """Plusieurs courriels d'un même acte (``modele``, ``destinataire``, ``contexte`` chacun, et
    une ``piece_jointe`` facultative),
    écrits en une insertion ; ils partent quand la transaction est validée, dans cet ordre, par
    paquets de ``COURRIELS_PAR_TACHE``."""
    courriels = Courriel.objects.bulk_create([_rendre(**envoi) for envoi in envois])
    ids = [courriel.pk for courriel in courriels]
    for debut in range(0, len(ids), COURRIELS_PAR_TACHE):
        transaction.on_commit(lambda paquet=ids[debut : debut + COURRIELS_PAR_TACHE]: programmer_envois(paquet))
    return courriels


def programmer_envois(courriel_ids: list[int]) -> None:
    """Confie l'envoi d'un paquet à Celery. Si le courtier est absent, le balayage rattrapera."""
    try:
        envoyer_courriels.delay(courriel_ids)
    except Exception:
        logger.warning(
            "courriels %s… : courtier indisponible, envoi différé au balayage", courriel_ids[0], exc_info=True
        )
