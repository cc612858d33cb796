from django.utils.functional import SimpleLazyObject

from habilitations import perms


def portail(request) -> dict:
    """Le menu de gauche : les services que les profils effectifs ouvrent, et les rubriques des
    rôles (agent Caf, supervision nationale, administrateur partenaire). Chaque élément n'est
    calculé que si le gabarit l'affiche."""
    user = getattr(request, "user", None)
    connecte = user is not None and user.is_authenticated

    def services_menu():
        return list(perms.services_ouverts(user)) if connecte else []

    def roles_menu():
        if not connecte:
            return {}
        # Un compte est d'une Caf, d'un organisme, ou national : chaque question ne coûte une
        # requête que pour la sorte de compte qu'elle concerne.
        return {
            "agent_caf": perms.est_agent_caf(user),
            "superviseur": perms.est_superviseur_national(user),
            "administrateur": perms.est_gestionnaire_habilitations(user),
        }

    return {
        "services_menu": SimpleLazyObject(services_menu),
        "roles_menu": SimpleLazyObject(roles_menu),
        "nom_portail": "Portail Partenaires",
    }
