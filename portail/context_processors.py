from django.utils.functional import SimpleLazyObject

from habilitations import perms


def portail(request) -> dict:
    """Le menu de gauche : les services que les profils effectifs ouvrent (une requête, faite
    seulement si le gabarit affiche le menu)."""
    user = getattr(request, "user", None)

    def services_menu():
        if user is None or not user.is_authenticated:
            return []
        return list(perms.services_ouverts(user))

    return {"services_menu": SimpleLazyObject(services_menu), "nom_portail": "Portail Partenaires"}
