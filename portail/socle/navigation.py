"""Fil d'Ariane : la vue construit les liens, ``templates/portail/_fil_ariane.html`` les affiche."""

from __future__ import annotations

from typing import TypedDict

from django.urls import reverse


class Lien(TypedDict):
    titre: str
    url: str


def fil_ariane(*liens: tuple[str, str]) -> list[Lien]:
    """Les liens du fil d'Ariane, de l'accueil à la page parente : « Accueil > » puis ``liens``
    (titre, url). La page courante n'en fait pas partie : le gabarit l'ajoute, sans lien. Chaque
    lien mène à la page qu'il nomme : pas de « Partenaires » (les guides l'affichent, mais le
    portail n'a pas de page de rubrique, et le lien menait à l'accueil)."""
    return [
        {"titre": "Accueil", "url": reverse("portail:accueil")},
        *({"titre": titre, "url": url} for titre, url in liens),
    ]
