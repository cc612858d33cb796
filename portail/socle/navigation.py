"""Fil d'Ariane : la vue construit les liens, ``templates/portail/_fil_ariane.html`` les affiche."""

from __future__ import annotations

from typing import TypedDict

from django.urls import reverse


class Lien(TypedDict):
    titre: str
    url: str


def fil_ariane(*liens: tuple[str, str]) -> list[Lien]:
    """Les liens du fil d'Ariane, de l'accueil à la page parente : « Accueil > Partenaires > »
    puis ``liens`` (titre, url), comme dans les guides. La page courante n'en fait pas partie : le
    gabarit l'ajoute, sans lien. « Partenaires » mène à l'accueil, faute de page propre à la
    rubrique."""
    accueil = reverse("portail:accueil")
    return [
        {"titre": "Accueil", "url": accueil},
        {"titre": "Partenaires", "url": accueil},
        *({"titre": titre, "url": url} for titre, url in liens),
    ]
