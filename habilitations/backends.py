"""Authentification par identifiant, avec le mot de passe personnel ou provisoire.

Un compte qui n'est pas ouvert ce jour (pas encore ouvert, ou clôturé) ne se connecte pas.
Le mot de passe provisoire n'est accepté qu'une fois et dans les 24 heures ; la connexion
qu'il ouvre marque l'utilisateur ``connexion_provisoire`` : la vue impose alors le choix d'un
mot de passe personnel avant toute autre page.
"""

from django.contrib.auth.backends import ModelBackend
from django.utils import timezone

from habilitations.models import Utilisateur
from habilitations.perms import compte_a_la_connexion
from habilitations.provisoire import EMPREINTE_FACTICE, provisoire_verifier
from habilitations.verrouillage import ATTRIBUT_COMPTE

# Raison d'un refus, lue par le formulaire quand le mot de passe fourni était pourtant le bon.
REFUS_COMPTE_CLOTURE = "compte_cloture"
REFUS_PROVISOIRE_EXPIRE = "provisoire_expire"
REFUS_PROVISOIRE_UTILISE = "provisoire_utilise"
REFUS_COMPTE_SUSPENDU = "compte_suspendu"


class IdentifiantBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(Utilisateur.USERNAME_FIELD)
        if not username or not password:
            return None
        # Comme ``get_by_natural_key`` (identifiant sans espaces, en majuscules) ; déjà lu par le
        # contrôle d'axes, avec l'état de la double authentification, dans la même requête
        # (habilitations.verrouillage ; ticket 11, 15 connexions par seconde et par cœur).
        identifiant = username.strip().upper()
        compte = getattr(request, ATTRIBUT_COMPTE, None) if request is not None else None
        if compte is None or compte.identifiant != identifiant:
            compte = compte_a_la_connexion(identifiant, timezone.now())
        user = compte.utilisateur
        if user is None:
            # Même coût qu'un compte existant : un hachage Argon2 et un HMAC, pas d'énumération
            # par le temps de réponse (tests/habilitations/test_temps_constant.py).
            Utilisateur().set_password(password)
            provisoire_verifier(password, EMPREINTE_FACTICE)
            return None

        # Un seul hachage lent par tentative : le mot de passe personnel (Django calcule un
        # hachage factice si le compte n'en a pas encore) ; le provisoire n'est qu'un HMAC,
        # calculé à chaque fois, même quand le personnel est le bon.
        personnel = user.check_password(password)
        provisoire = provisoire_verifier(password, user.mot_de_passe_provisoire) and not personnel
        if not (personnel or provisoire):
            return None
        if not self.user_can_authenticate(user) or not user.est_ouvert():
            self._refus(request, REFUS_COMPTE_CLOTURE)
            return None
        if user.est_suspendu:
            self._refus(request, REFUS_COMPTE_SUSPENDU)
            return None
        if provisoire:
            if user.mot_de_passe_provisoire_utilise_le is not None:
                self._refus(request, REFUS_PROVISOIRE_UTILISE)
                return None
            if (
                user.mot_de_passe_provisoire_expire_le is None
                or user.mot_de_passe_provisoire_expire_le <= timezone.now()
            ):
                self._refus(request, REFUS_PROVISOIRE_EXPIRE)
                return None
            user.mot_de_passe_provisoire_utilise_le = timezone.now()
            user.save(update_fields=["mot_de_passe_provisoire_utilise_le"])
            user.connexion_provisoire = True
        return user

    @staticmethod
    def _refus(request, raison: str) -> None:
        if request is not None:
            request.refus_connexion = raison

    def get_user(self, user_id):
        user = super().get_user(user_id)
        # Un compte clôturé (ou suspendu) depuis l'ouverture de la session n'est plus reconnu.
        if user is not None and (not user.est_ouvert() or user.est_suspendu):
            return None
        return user


def identifiant_axes(request, credentials=None) -> str:
    """Clé de verrouillage d'axes : l'identifiant normalisé (« enf0120009 » = « ENF0120009 »)."""
    valeur = (credentials or {}).get("username")
    if valeur is None and request is not None:
        valeur = request.POST.get("username", "")
    return str(valeur or "").strip().upper()
