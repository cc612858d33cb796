"""Les identifiants numériques (SIRET, code postal, téléphone, code de Caf) sont des chiffres
ASCII, partout (issue 10, point 4).

Python tient pour chiffres bien d'autres caractères : « ١٢٣ » (chiffres arabes-indiens),
« ²³ » (exposants), « １２ » (pleine chasse) passent ``str.isdigit()`` et ``\\d``, et ``int()``
accepte les premiers. Un même SIRET écrit en chiffres arabes-indiens était ainsi enregistré
comme un second organisme. La règle : normaliser en NFKC (pleine chasse et exposants deviennent
des chiffres ASCII, comme les recopie un lecteur humain), puis refuser tout chiffre qui n'est
pas ASCII.
"""

import unicodedata

CHIFFRES_ASCII = frozenset("0123456789")


def chiffres_normaliser(valeur: str | None, *, separateurs: str = "") -> str:
    """NFKC, puis retrait des ``separateurs`` (espaces, points… recopiés d'un courrier)."""
    texte = unicodedata.normalize("NFKC", valeur or "")
    return "".join(c for c in texte if c not in separateurs)


def sont_chiffres_ascii(texte: str) -> bool:
    """Vrai si ``texte`` n'est fait que de chiffres 0 à 9 ASCII (et n'est pas vide)."""
    return bool(texte) and all(c in CHIFFRES_ASCII for c in texte)
