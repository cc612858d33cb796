"""Sessions en base, sans les allers-retours que la connexion n'a pas à payer (ticket 11).

Le moteur de Django (``django.contrib.sessions.backends.db``) fait, pour ouvrir une session :
un ``SELECT`` pour vérifier que la clé tirée au hasard est libre, puis ``BEGIN``, ``INSERT``,
``COMMIT`` ; et pour l'enregistrer en fin de requête ``BEGIN``, ``UPDATE``, ``COMMIT``. Sept
allers-retours vers PostgreSQL par connexion, quand deux suffisent :

- la clé (32 caractères sur 36 possibles, 165 bits) n'est pas vérifiée d'avance : l'``INSERT``
  la refuse si elle existait (clé primaire), et ``create()`` en tire une autre, comme Django le
  fait déjà quand deux processus tirent la même clé en même temps ;
- hors transaction (mode autocommit, le cas de la connexion et de la fin de requête), une
  instruction seule est atomique : pas de ``BEGIN`` / ``COMMIT`` autour. Dans une transaction
  ouverte, le comportement de Django est gardé (point de sauvegarde, pour qu'un refus n'annule
  pas la transaction englobante).

À la connexion, ``cycle_key`` (nouvelle clé contre la fixation de session) écrivait la ligne
aussitôt (``INSERT`` des données d'avant la connexion), puis la fin de requête la réécrivait
(``UPDATE``). Ici la nouvelle clé est tirée sans écrire, et la fin de requête fait l'``INSERT``
seul, avec les données complètes : une instruction de moins par connexion. Sous PostgreSQL, cet
``INSERT`` est même joint à l'écriture combinée de la connexion (``insertion_a_joindre``,
``habilitations.receivers``) et la fin de requête ne fait rien si les données n'ont pas changé
depuis. Une réponse en erreur (500) ne pose pas de cookie, comme avant : si la ligne a déjà été
écrite, personne n'en connaît la clé, et elle expire comme les autres. Une fermeture des
sessions du compte (clôture, suspension, mot de passe changé) qui tomberait entre la connexion
et la fin de sa requête peut ne pas trouver encore la ligne ; la session ouverte ne sert pourtant à rien : chaque requête
relit le compte (``IdentifiantBackend.get_user`` refuse un compte clôturé ou suspendu) et Django
refuse une session dont l'empreinte du mot de passe a changé.

Le reste est celui de Django : données signées et sérialisées de même, ``UPDATE`` forcé (une
session fermée entre-temps, par la clôture du compte ou un changement de mot de passe, n'est
jamais recréée par une requête en vol : ``UpdateError``), expiration, nettoyage.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import DatabaseError, IntegrityError, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from portail.socle.requetes import sql_insertion

_ESPACE_DES_CLES = len(VALID_KEY_CHARS) ** 32


def cle_aleatoire() -> str:
    """Une clé de session comme celles de Django (32 caractères tirés uniformément parmi
    ``VALID_KEY_CHARS``, 165 bits), d'un seul tirage du générateur du système : ``get_random_string``
    en fait un par caractère (32 appels à ``os.urandom`` par connexion)."""
    nombre = secrets.randbelow(_ESPACE_DES_CLES)
    base = len(VALID_KEY_CHARS)
    caracteres = []
    for _ in range(32):
        nombre, reste = divmod(nombre, base)
        caracteres.append(VALID_KEY_CHARS[reste])
    return "".join(caracteres)


class SessionStore(db.SessionStore):
    def _get_new_session_key(self) -> str:
        # Unicité garantie par la clé primaire à l'INSERT (voir save) : pas de SELECT d'avance.
        return cle_aleatoire()

    def cycle_key(self) -> None:
        donnees = self._session
        ancienne = self.session_key
        self._session_key = self._get_new_session_key()
        self._a_inserer = True
        self._session_cache = donnees
        self.modified = True
        if ancienne:
            self.delete(ancienne)

    def insertion_a_joindre(self, connexion: BaseDatabaseWrapper) -> tuple[str, list[Any]] | None:
        """L'``INSERT`` de la session à la clé tirée par ``cycle_key``, pas encore écrite, à joindre
        à une autre instruction (l'écriture combinée de la connexion : ``WITH … INSERT``), avec
        les données du moment ; ``None`` s'il n'y a rien à insérer ou dans une transaction ouverte
        (le chemin de Django s'applique). Une fois l'instruction exécutée, ``inseree`` le dit à la
        session : la fin de requête ne réécrit la ligne que si les données ont changé depuis."""
        if not getattr(self, "_a_inserer", False) or connexion.in_atomic_block:
            return None
        return sql_insertion(self.create_model_instance(self._get_session(no_load=True)), connexion)

    def inseree(self) -> None:
        self._a_inserer = False
        self._donnees_ecrites = self._empreinte()

    def _empreinte(self) -> bytes:
        # Les données sérialisées (sans la signature) : une liste modifiée sur place se verrait.
        return self.serializer().dumps(self._get_session(no_load=True))

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        ecrites, self._donnees_ecrites = getattr(self, "_donnees_ecrites", None), None
        if ecrites is not None and not must_create and self._empreinte() == ecrites:
            return None  # insérée par l'écriture combinée de la connexion, inchangée depuis
        if getattr(self, "_a_inserer", False):
            # Clé tirée par cycle_key, ligne pas encore écrite : c'est l'INSERT.
            must_create = True
            self._a_inserer = False
        data = self._get_session(no_load=must_create)
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        if connections[using].in_atomic_block:
            return super().save(must_create=must_create)
        try:
            obj.save(force_insert=must_create, force_update=not must_create, using=using)
        except IntegrityError as erreur:
            if must_create:
                raise CreateError from erreur
            raise
        except DatabaseError as erreur:
            if not must_create:
                raise UpdateError from erreur
            raise
        return None
