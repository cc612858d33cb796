"""Toutes les adresses du projet, trouvées en parcourant ``get_resolver().url_patterns``
(inclusions et espaces de noms compris, administration technique comprise)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Adresse:
    nom: str | None  # « espace:nom », ou None pour un motif sans nom
    route: str
    espace: str  # l'espace de noms de tête (« gestion », « admin »…)
    converters: tuple[tuple[str, str], ...]  # (argument, type) : ("pk", "int")


def _parcourir(motifs, prefixe: str = "", espaces: tuple[str, ...] = (), converters=()):
    for motif in motifs:
        route = prefixe + str(motif.pattern)
        propres = tuple((nom, type(c).__name__) for nom, c in getattr(motif.pattern, "converters", {}).items())
        if not propres and motif.pattern.regex.groupindex:  # motif en expression régulière
            propres = tuple((nom, "regex") for nom in motif.pattern.regex.groupindex)
        if isinstance(motif, URLResolver):
            suite = (*espaces, motif.namespace) if motif.namespace else espaces
            yield from _parcourir(motif.url_patterns, route, suite, converters + propres)
        elif isinstance(motif, URLPattern):
            nom = ":".join((*espaces, motif.name)) if motif.name else None
            yield Adresse(nom, route, espaces[0] if espaces else "", converters + propres)


def toutes() -> list[Adresse]:
    return list(_parcourir(get_resolver().url_patterns))


def arguments_generiques(adresse: Adresse) -> dict:
    """Des arguments quelconques, du bon type, pour une adresse de l'administration technique."""
    valeurs = {"IntConverter": 1, "SlugConverter": "x", "PathConverter": "1", "StringConverter": "1", "regex": "auth"}
    return {nom: valeurs.get(type_, "1") for nom, type_ in adresse.converters}
