from django.utils.functional import SimpleLazyObject

from afas import perms as perms_afas
from afas.models import PROFIL_DECLARER
from habilitations import perms


def portail(request) -> dict:
    """Le menu de gauche : les services que les profils effectifs ouvrent, et les rubriques des
    rôles (agent Caf, supervision nationale, administrateur partenaire, AFAS). Chaque élément
    n'est calculé que si le gabarit l'affiche, et une seule fois par requête."""
    user = getattr(request, "user", None)
    connecte = user is not None and user.is_authenticated

    def profils():
        # Une requête : les profils effectifs, avec leur service (les services du menu et la
        # rubrique AFAS du déclarant en découlent) ; déjà lus si la vue AFAS les a demandés.
        return perms_afas.droits_de_la_requete(request).profils if connecte else []

    def services_menu():
        services = {}
        for profil in profils():
            services.setdefault(profil.service_id, profil.service)
        return sorted(services.values(), key=lambda s: (s.ordre, s.code))

    def roles_menu():
        if not connecte:
            return {}
        # Un compte est d'une Caf, d'un organisme, ou national : chaque question ne coûte une
        # requête que pour la sorte de compte qu'elle concerne. Le menu du partenaire
        # (``menu_partenaire``) vient des conventions où il habilite quand la vue AFAS les a lues.
        gestionnaire, afas_habiliter = perms_afas.droits_de_la_requete(request).menu
        return {
            "agent_caf": perms.est_agent_caf(user),
            "superviseur": perms.est_superviseur_national(user),
            "administrateur": gestionnaire,
            # Rubrique « Aides financières d'action sociale » d'un partenaire.
            "afas_declarant": user.organisme_id is not None and any(p.code == PROFIL_DECLARER for p in profils()),
            "afas_habiliter": afas_habiliter,
        }

    return {
        "services_menu": SimpleLazyObject(services_menu),
        "roles_menu": SimpleLazyObject(roles_menu),
        "nom_portail": "Portail Partenaires",
    }
