"""Contrôle du numéro SIRET : 14 chiffres et clé de Luhn (exception de La Poste comprise)."""

from django.core.exceptions import ValidationError

from portail.socle.chiffres import chiffres_normaliser, sont_chiffres_ascii

# Les établissements de La Poste partagent le SIREN 356 000 000 : la clé de Luhn ne s'y applique
# pas toujours : la somme des chiffres du SIRET doit être un multiple de 5 (règle de l'Insee).
SIREN_LA_POSTE = "356000000"


def siret_normaliser(valeur: str) -> str:
    """Retire les espaces et les points qu'on recopie souvent d'un courrier (« 211 201 999 00018 »),
    après normalisation NFKC (portail.socle.chiffres)."""
    return chiffres_normaliser(valeur, separateurs=" .\u00a0")


def cle_luhn_valide(chiffres: str) -> bool:
    total = 0
    for rang, caractere in enumerate(reversed(chiffres)):
        chiffre = int(caractere) * (2 if rang % 2 else 1)
        total += chiffre - 9 if chiffre > 9 else chiffre
    return total % 10 == 0


def valider_siret(valeur: str) -> None:
    siret = siret_normaliser(valeur)
    if len(siret) != 14 or not sont_chiffres_ascii(siret):
        raise ValidationError("Le SIRET doit comporter exactement 14 chiffres.", code="siret_format")
    valide = cle_luhn_valide(siret)
    if not valide and siret.startswith(SIREN_LA_POSTE):
        valide = sum(int(c) for c in siret) % 5 == 0
    if not valide:
        raise ValidationError(
            "Ce SIRET n'est pas valide (clé de contrôle incorrecte) : vérifiez les 14 chiffres.",
            code="siret_cle",
        )
