"""Empreinte du mot de passe provisoire : un HMAC, pas un hachage lent.

Le mot de passe provisoire est tiré au hasard (16 caractères parmi 56, environ 93 bits), valable
24 heures et une seule fois : un hachage lent (Argon2) ne protège que les secrets choisis par des
humains, il n'ajoute rien ici. Un HMAC (clé secrète du portail, sel par compte) suffit, comme
pour les liens de réinitialisation de Django.

Surtout, la connexion ne calcule ainsi qu'un seul hachage Argon2, que le compte existe ou non,
qu'il ait ou non un mot de passe provisoire en cours : le temps de réponse ne dit pas si un
identifiant existe (issue 10, point 2).
"""

from __future__ import annotations

import secrets

from django.contrib.auth.hashers import check_password
from django.utils.crypto import constant_time_compare, salted_hmac

PREFIXE = "hmac-sha256"
SEL_HMAC = "habilitations.mot-de-passe-provisoire"
# Empreinte d'un compte sans mot de passe provisoire : la vérification coûte le même HMAC.
EMPREINTE_FACTICE = f"{PREFIXE}${'0' * 32}${'0' * 64}"


def _hmac(sel: str, valeur: str) -> str:
    return salted_hmac(f"{SEL_HMAC}:{sel}", valeur, algorithm="sha256").hexdigest()


def provisoire_empreinte(valeur: str) -> str:
    sel = secrets.token_hex(16)
    return f"{PREFIXE}${sel}${_hmac(sel, valeur)}"


def provisoire_verifier(valeur: str, empreinte: str) -> bool:
    """Vrai si ``valeur`` est le mot de passe provisoire de cette empreinte. Coût constant (un
    HMAC) pour une empreinte vide ; une empreinte d'avant ce module (Argon2) reste lisible."""
    if empreinte and not empreinte.startswith(f"{PREFIXE}$"):
        return check_password(valeur, empreinte)
    _, sel, attendu = (empreinte or EMPREINTE_FACTICE).split("$", 2)
    calcule = _hmac(sel, valeur or "")
    return bool(empreinte) and constant_time_compare(calcule, attendu)
