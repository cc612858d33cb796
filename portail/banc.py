"""Outils du banc d'essai (``make bench``), actifs seulement avec ``portail.settings.bench``.

- ``RequetesSQLMiddleware`` ajoute à chaque réponse l'en-tête ``X-Requetes-SQL`` : le nombre de
  requêtes SQL qu'elle a coûtées (réponses en flux comprises, comptées jusqu'au dernier octet
  produit par la vue, donc sans le flux lui-même pour un export : celui-ci est mesuré en lignes/s).
- ``plancher`` : la page authentifiée la plus nue (le gabarit de base, sans contenu). Son p95 est
  la référence des objectifs « p95 ≤ 3 × plancher » ; l'adresse n'existe dans aucun autre réglage.
"""

from django.db import connection
from django.shortcuts import render
from django.views.decorators.http import require_GET

EN_TETE = "X-Requetes-SQL"


class RequetesSQLMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        compteur = [0]

        def compter(execute, sql, params, many, context):
            compteur[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(compter):
            response = self.get_response(request)
        response[EN_TETE] = str(compteur[0])
        return response


@require_GET
def plancher(request):
    return render(request, "portail/banc_plancher.html")
