"""Exports CSV du portail, lisibles tels quels par un tableur français.

UTF-8 avec BOM (sans lui, Excel lit les accents en Windows-1252), séparateur « ; » (la virgule
est le séparateur décimal en France), en-têtes en français, dates JJ/MM/AAAA. La réponse est
écrite en flux : les lignes sont lues de la base par un itérateur et envoyées par paquets, si
bien qu'un export de 10 000 lignes ne tient jamais tout entier en mémoire.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

from portail.socle.dates import aujourdhui

BOM = "\ufeff"
SEPARATEUR = ";"
LIGNES_PAR_PAQUET = 500
# Une cellule qui commence par l'un de ces caractères serait exécutée comme une formule par le
# tableur (injection CSV) : on la préfixe d'une apostrophe, qu'il n'affiche pas.
DEBUTS_DE_FORMULE = ("=", "+", "-", "@", "\t", "\r")


def texte_cellule(valeur: Any) -> str:
    """Une valeur comme l'utilisateur la lit : date JJ/MM/AAAA, date et heure à Paris
    (« 30/11/2026 à 09h04 », le format des guides), Oui/Non, rien pour une valeur absente. Sert
    aussi aux tableaux HTML et au filtre de gabarit ``date_heure`` : l'écran et l'export disent pareil."""
    if valeur is None:
        return ""
    if isinstance(valeur, bool):
        return "Oui" if valeur else "Non"
    if isinstance(valeur, datetime.datetime):
        if timezone.is_aware(valeur):
            valeur = timezone.localtime(valeur)
        return horodatage_texte(valeur)
    if isinstance(valeur, datetime.date):
        return f"{valeur.day:02d}/{valeur.month:02d}/{valeur.year:04d}"  # sans strftime, plus lent
    return str(valeur)


def horodatage_texte(moment: datetime.datetime) -> str:
    """« 30/11/2026 à 09h04 », l'heure telle quelle (déjà à Paris). Sans ``strftime``, quatre fois
    plus lent, pour les exports qui en écrivent une par ligne."""
    return f"{moment.day:02d}/{moment.month:02d}/{moment.year:04d} à {moment.hour:02d}h{moment.minute:02d}"


def cellule_csv(valeur: Any) -> str:
    """``texte_cellule``, protégé contre l'injection de formules. Appelée pour chaque cellule des
    exports (des centaines de milliers) : un texte évite la chaîne de ``isinstance``."""
    texte = valeur if type(valeur) is str else texte_cellule(valeur)
    return f"'{texte}" if texte.startswith(DEBUTS_DE_FORMULE) else texte


class _Echo:
    """Pseudo-fichier : ``csv.writer`` y « écrit » une ligne, qu'on récupère aussitôt."""

    def write(self, valeur: str) -> str:
        return valeur


def contenu_csv(entetes: Sequence[str], lignes: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """Le fichier, paquet par paquet : le BOM et les en-têtes, puis les lignes."""
    ecrivain = csv.writer(_Echo(), delimiter=SEPARATEUR, lineterminator="\r\n")
    paquet = [BOM + ecrivain.writerow(entetes)]
    for ligne in lignes:
        # ``cellule_csv`` sans un appel de fonction par cellule (des centaines de milliers).
        textes = [v if type(v) is str else texte_cellule(v) for v in ligne]
        paquet.append(ecrivain.writerow([f"'{t}" if t.startswith(DEBUTS_DE_FORMULE) else t for t in textes]))
        if len(paquet) >= LIGNES_PAR_PAQUET:
            yield "".join(paquet).encode("utf-8")
            paquet = []
    if paquet:
        yield "".join(paquet).encode("utf-8")


def reponse_csv(
    nom: str, entetes: Sequence[str], lignes: Iterable[Sequence[Any]], *, jour: datetime.date | None = None
) -> StreamingHttpResponse:
    """Le téléchargement « <nom>-AAAA-MM-JJ.csv ». ``nom`` est un nom de fichier sûr (lettres,
    chiffres, tirets), choisi par le code et jamais par l'utilisateur. ``lignes`` n'est lu
    qu'au moment de l'envoi : c'est à l'appelant d'avoir vérifié l'accès avant."""
    nom_fichier = f"{nom}-{(jour or aujourdhui()):%Y-%m-%d}.csv"
    return StreamingHttpResponse(
        contenu_csv(entetes, lignes),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{nom_fichier}"',
            # Des données personnelles : ni cache partagé, ni copie gardée par le navigateur.
            "Cache-Control": "private, no-store",
        },
    )
