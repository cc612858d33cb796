"""Règles de mot de passe (ASVS 5.0 §6.2, ANSSI PG-078) : longueur, pas de mot de passe courant,
pas l'identifiant ni le nom. Aucune règle de composition."""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from portail.socle.chiffres import chiffres_normaliser


def _sans_accents(texte: str) -> str:
    decompose = unicodedata.normalize("NFKD", texte)
    return "".join(c for c in decompose if not unicodedata.combining(c)).casefold()


class LongueurMaximaleValidator:
    """Au moins 64 caractères acceptés ; au-delà de 128, refus (borne le coût du hachage)."""

    def __init__(self, max_length: int = 128):
        self.max_length = max_length

    def validate(self, password: str, user=None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                ngettext(
                    "Ce mot de passe est trop long : %(max)d caractère au plus.",
                    "Ce mot de passe est trop long : %(max)d caractères au plus.",
                    self.max_length,
                ),
                code="password_too_long",
                params={"max": self.max_length},
            )

    def get_help_text(self) -> str:
        return f"Votre mot de passe peut compter jusqu'à {self.max_length} caractères."


class SansIdentifiantNiNomValidator:
    """Le mot de passe ne contient ni l'identifiant, ni le nom, ni le prénom (sans tenir compte
    des majuscules ni des accents). Les fragments de moins de 3 lettres ne sont pas testés."""

    ATTRIBUTS = (("identifiant", "votre identifiant"), ("nom", "votre nom"), ("prenom", "votre prénom"))

    def validate(self, password: str, user=None) -> None:
        if user is None:
            return
        mot = _sans_accents(password)
        for attribut, libelle in self.ATTRIBUTS:
            valeur = getattr(user, attribut, "") or ""
            for morceau in _sans_accents(valeur).replace("-", " ").split():
                if len(morceau) >= 3 and morceau in mot:
                    raise ValidationError(
                        "Le mot de passe ne doit pas contenir %(quoi)s.",
                        code="password_contains_user_data",
                        params={"quoi": libelle},
                    )

    def get_help_text(self) -> str:
        return "Votre mot de passe ne doit contenir ni votre identifiant, ni votre nom, ni votre prénom."


# --- Téléphone ----------------------------------------------------------------------------------

# Après retrait des espaces et des points : 0 puis 9 chiffres, ou +33 puis 9 chiffres.
TELEPHONE_FRANCAIS = re.compile(r"^(?:0|\+33)([1-9][0-9]{8})$")


def telephone_normaliser(texte: str) -> str:
    """La règle unique du téléphone (créer un utilisateur, responsable créé sur place, import
    CSV) : un numéro français, 10 chiffres ou +33, espaces et points acceptés, rendu sous la
    forme ``0565483356`` (les confirmations se comparent et la liste s'affiche sans dépendre des
    séparateurs) ; vide s'il n'est pas donné ; ValidationError sinon."""
    # NFKC : chiffres pleine chasse ou en exposant recopiés deviennent ASCII ; les autres
    # chiffres (arabes-indiens…) sont refusés par [0-9] (portail.socle.chiffres).
    compact = re.sub(r"[\s.]", "", chiffres_normaliser(texte))
    if not compact:
        return ""
    if trouve := TELEPHONE_FRANCAIS.fullmatch(compact):
        return f"0{trouve.group(1)}"
    if re.fullmatch(r"[1-9][0-9]{8}", compact):
        # Un tableur qui prend le numéro pour un nombre efface le zéro initial.
        raise ValidationError(
            f"Le téléphone « {texte} » n'a que 9 chiffres : le 0 initial a-t-il été effacé par le tableur ?"
        )
    raise ValidationError(
        f"Le téléphone « {texte} » n'est pas valide : 10 chiffres (par exemple 05 65 48 33 56) ou au format +33."
    )
