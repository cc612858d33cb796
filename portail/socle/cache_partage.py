"""Le cache partagé (Redis en production) pour ce qui doit être compté ou réservé entre tous les
processus : limites de débit, jetons à usage unique. Une panne du cache dégrade, elle ne casse
rien (issue 10, point 5).

Repli choisi : le cache du processus. Pendant la panne, chaque processus compte et réserve pour
lui seul : une limite vaut au plus « limite × nombre de processus web » (3 avec docker compose),
un double clic qui tomberait sur deux processus différents pourrait passer. C'est une protection
réduite mais réelle, sans 500 ni refus général :

- refuser tout (« fail closed ») empêcherait chacun de se connecter ou de recevoir un mot de
  passe provisoire tant que Redis est arrêté : la panne d'un cache deviendrait celle du portail ;
- un compteur en base ajouterait une écriture à chaque tentative de connexion, sur la base que
  ces limites protègent justement d'une avalanche.

Chaque repli est journalisé (avertissement), pour que l'exploitation voie la panne.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

_SECOURS = LocMemCache("portail-cache-de-secours", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
ERREURS_CACHE = (RedisError, OSError)


def _appeler(methode: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return getattr(cache, methode)(*args, **kwargs)
    except ERREURS_CACHE as exc:
        logger.warning("cache partagé indisponible (%s) : repli sur le cache du processus", type(exc).__name__)
        return getattr(_SECOURS, methode)(*args, **kwargs)


def reserver(cle: str, *, duree: int) -> bool:
    """Vrai pour le premier qui réserve ``cle`` (atomique entre processus tant que Redis répond)."""
    return bool(_appeler("add", cle, True, timeout=duree))


def liberer(cle: str) -> None:
    _appeler("delete", cle)


def limite_atteinte(espace: str, cle: str, limite: int, *, fenetre: int = 3600) -> bool:
    """Compte un essai de plus dans une fenêtre fixe de ``fenetre`` secondes ; vrai au-delà de
    ``limite`` essais. La clé saisie (un identifiant : caractères de contrôle, 5 000 caractères)
    est réduite à son empreinte : une clé de cache n'accepte ni l'un ni l'autre."""
    nom = f"limite:{espace}:{hashlib.sha256(cle.encode()).hexdigest()}"

    def compter(cache_) -> int:
        cache_.add(nom, 0, timeout=fenetre)
        try:
            return cache_.incr(nom)
        except ValueError:  # la clé a expiré entre les deux appels : nouvelle fenêtre
            cache_.add(nom, 1, timeout=fenetre)
            return 1

    try:
        total = _compter_redis(nom, fenetre)
        if total is None:
            total = compter(cache)
    except ERREURS_CACHE as exc:
        logger.warning("cache partagé indisponible (%s) : limite comptée par processus", type(exc).__name__)
        total = compter(_SECOURS)
    return total > limite


def _compter_redis(nom: str, fenetre: int) -> int | None:
    """Sous Redis, le compte en une seule commande : un script Lua (``SET … NX EX`` puis ``INCR``,
    atomique : la clé ne peut pas expirer entre les deux et laisser un compteur sans durée),
    appelé par son empreinte (``EVALSHA``, rechargé par redis-py si Redis l'a oublié). Une
    transaction MULTI / EXEC faisait le même aller-retour avec quatre commandes à écrire et à
    relire ; ``add`` puis ``incr`` du cache de Django ouvraient deux clients Redis et faisaient
    deux allers-retours (ticket 11 : le processeur de chaque connexion compte). ``None`` : pas
    Redis."""
    cache_defaut = caches["default"]
    if not isinstance(cache_defaut, RedisCache):
        return None
    cle = cache_defaut.make_and_validate_key(nom)
    # Le pool de connexions du cache de Django (mêmes réglages) ; la valeur 0 est écrite comme
    # l'écrirait le cache (entier en clair) : cache.get la relit.
    return int(_script_compter(cache_defaut)(keys=[cle], args=[fenetre]))


_COMPTER = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
return redis.call('INCR', KEYS[1])
"""


# Un client Redis et son script par pool de connexions, gardés : ``get_client`` du cache de Django
# construit un client à chaque appel (170 rappels de réponse inscrits dans un dictionnaire, 0,2 ms
# par connexion). Un client ne garde pas de connexion à lui : il en emprunte une au pool à chaque
# commande.
_SCRIPTS: dict[int, tuple[Any, Any]] = {}


def _script_compter(cache_defaut: RedisCache) -> Any:
    pool = cache_defaut._cache._get_connection_pool(write=True)
    garde = _SCRIPTS.get(id(pool))
    if garde is None or garde[0] is not pool:
        garde = (pool, cache_defaut._cache._client(connection_pool=pool).register_script(_COMPTER))
        _SCRIPTS[id(pool)] = garde
    return garde[1]


def vider_secours() -> None:
    """Pour les tests : le cache de secours est propre au processus."""
    _SECOURS.clear()
