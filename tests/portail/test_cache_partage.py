"""Les limites de débit comptent sous une clé de cache sûre, quelle que soit la saisie."""

import hashlib
import os
import uuid
import warnings

import pytest
from django.test import override_settings

from portail.socle import cache_partage


@pytest.mark.parametrize("cle", ["\x08", "a b\r\n", "É" * 300])
def test_limite_sur_une_saisie_quelconque(cle):
    """Un identifiant saisi avec un caractère de contrôle faisait lever CacheKeyWarning (erreur en
    test, clé refusée par memcached) : relevé par la garde des entrées hostiles sur « Mot de passe
    oublié »."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not cache_partage.limite_atteinte("essai", cle, 2)
        assert not cache_partage.limite_atteinte("essai", cle, 2)
        assert cache_partage.limite_atteinte("essai", cle, 2)


REDIS_REEL = os.environ.get("CELERY_BROKER_URL", "")


@pytest.mark.skipif(not REDIS_REEL.startswith("redis://"), reason="pas de Redis réel (CELERY_BROKER_URL)")
def test_sous_redis_un_aller_retour_une_fenetre_et_un_compte_que_le_cache_relit():
    """Sous un vrai Redis, le compte se fait en une commande (script Lua : SET NX EX puis INCR) :
    la clé a bien sa durée (pas de compteur éternel), le cache de Django relit le même nombre, la
    limite tombe au bon essai et une autre clé a son propre compte. Un Redis redémarré a oublié
    le script : il est rechargé, le compte continue."""
    prefixe = f"essai-{uuid.uuid4().hex}"
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_REEL,
            "KEY_PREFIX": prefixe,
        }
    }
    with override_settings(CACHES=caches):
        from django.core.cache import cache

        assert [cache_partage.limite_atteinte("essai", "Zoé", 2, fenetre=120) for _ in range(3)] == [False, False, True]
        assert not cache_partage.limite_atteinte("essai", "Hugo", 2, fenetre=120)
        nom = f"limite:essai:{hashlib.sha256('Zoé'.encode()).hexdigest()}"
        assert cache.get(nom) == 3
        client = cache._cache.get_client(cache.make_key(nom))
        assert 0 < client.ttl(cache.make_key(nom)) <= 120
        client.script_flush()
        assert cache_partage.limite_atteinte("essai", "Zoé", 2, fenetre=120)
        assert cache.get(nom) == 4
        cache.clear()
