"""Lecture de l'environnement : toute valeur invalide lève une erreur au démarrage."""

import os

from django.core.exceptions import ImproperlyConfigured

_VRAI = {"1", "true", "yes", "on", "oui"}
_FAUX = {"0", "false", "no", "off", "non", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"La variable d'environnement {name} est requise.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _VRAI:
        return True
    if lowered in _FAUX:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} n'est pas un booléen (1/0, true/false).")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} n'est pas un entier.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]
