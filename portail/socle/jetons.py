"""Jetons à usage unique contre la double soumission d'un formulaire de création.

Émis dans la session à chaque affichage du formulaire, réservés dans le cache partagé à l'envoi
(``cache.add`` est atomique, même entre processus avec Redis : un double clic n'en réserve qu'un),
libérés si l'envoi est refusé (le formulaire corrigé peut être renvoyé), consommés au succès en
retenant l'objet créé (le second envoi y mène au lieu d'en créer un autre). Cache indisponible :
la réservation se replie sur le cache du processus (``portail.socle.cache_partage``).
"""

from __future__ import annotations

import secrets

from django.http import HttpRequest

from portail.socle import cache_partage

JETONS_GARDES = 20
DUREE_RESERVATION = 10 * 60


class Jetons:
    """Les jetons d'un formulaire, nommé par ``nom`` (« conventions:formaliser »…)."""

    def __init__(self, nom: str) -> None:
        self.cle_emis = f"{nom}:jetons"
        self.cle_utilises = f"{nom}:utilises"
        self.cle_reservation = f"{nom}:reserve:{{}}"

    def emettre(self, request: HttpRequest) -> str:
        jeton = secrets.token_urlsafe(24)
        emis = request.session.get(self.cle_emis, [])
        request.session[self.cle_emis] = [*emis, jeton][-JETONS_GARDES:]
        return jeton

    def reserver(self, request: HttpRequest, jeton: str) -> bool:
        """Vrai si ce jeton a été émis pour cette session, pas encore consommé, et que personne
        d'autre ne l'a réservé à l'instant."""
        if not jeton or jeton not in request.session.get(self.cle_emis, []):
            return False
        return cache_partage.reserver(self.cle_reservation.format(jeton), duree=DUREE_RESERVATION)

    def liberer(self, jeton: str) -> None:
        """Envoi refusé : rien n'a été créé, le même formulaire corrigé peut être renvoyé."""
        cache_partage.liberer(self.cle_reservation.format(jeton))

    def consommer(self, request: HttpRequest, jeton: str, objet_pk: int) -> None:
        request.session[self.cle_emis] = [j for j in request.session.get(self.cle_emis, []) if j != jeton]
        utilises = dict(request.session.get(self.cle_utilises, {}))
        utilises[jeton] = objet_pk
        request.session[self.cle_utilises] = dict(list(utilises.items())[-JETONS_GARDES:])

    def objet_cree(self, request: HttpRequest, jeton: str) -> int | None:
        """La clé de l'objet qu'un envoi précédent de ce jeton a créé, s'il y en a un."""
        return request.session.get(self.cle_utilises, {}).get(jeton)
