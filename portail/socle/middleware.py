from django.conf import settings

from portail.socle.audit import adresse_ip_courante
from portail.socle.emails import adresse_portail_courante


def adresse_client(request) -> str | None:
    """Adresse du client. Derrière le proxy inverse de production (PROXY_INVERSE_DE_CONFIANCE),
    c'est la dernière adresse de X-Forwarded-For, celle que notre proxy a ajoutée : les
    précédentes viennent du client et peuvent être forgées. Sans proxy, REMOTE_ADDR."""
    if request is None:
        return None
    if settings.PROXY_INVERSE_DE_CONFIANCE:
        transmis = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if transmis:
            return transmis.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class AdresseIPMiddleware:
    """Rend l'adresse de la requête visible aux fonctions de service : celle du client (piste
    d'audit) et celle du portail telle que le client l'a atteint (liens des courriels)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        jeton = adresse_ip_courante.set(adresse_client(request))
        jeton_portail = adresse_portail_courante.set(request.build_absolute_uri("/").rstrip("/"))
        try:
            return self.get_response(request)
        finally:
            adresse_portail_courante.reset(jeton_portail)
            adresse_ip_courante.reset(jeton)
