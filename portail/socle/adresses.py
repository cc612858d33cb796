"""Les adresses des lignes d'une liste : une par ligne et par action, résolues une seule fois."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

# Une clé qu'aucune ligne n'a et qu'aucune autre partie d'une adresse ne contient.
_TEMOIN = 987_654_321_987


def adresse_par_cle(nom: str, *avant: int) -> Callable[[int], str]:
    """``reverse(nom, args=[*avant, cle])`` pour chaque clé d'une page (``avant`` : la convention
    d'une adresse de la gestion, rien pour une adresse AFAS), l'adresse n'étant résolue qu'une
    fois (``<int:pk>`` s'écrit tel quel) : la balise ``{% url %}`` coûtait le quart du rendu de la
    liste des utilisateurs, six adresses sur chacune des 25 lignes."""
    modele = reverse(nom, args=[*avant, _TEMOIN])
    avant, temoin, apres = modele.partition(str(_TEMOIN))
    if not temoin or str(_TEMOIN) in apres:
        raise ValueError(f"adresse « {nom} » : la clé n'y paraît pas une seule fois")
    return lambda cle: f"{avant}{int(cle)}{apres}"
