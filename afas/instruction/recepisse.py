"""Le récépissé d'une transmission : le contenu transmis figé, son empreinte et son PDF.

Le contenu est un JSON canonique fait seulement de textes, d'entiers, de ``null``, de listes et
d'objets (les montants et heures en texte décimal, « 1234.50 », jamais en nombre flottant) :
relu depuis la base (``jsonb`` sous PostgreSQL réordonne les clés), il se sérialise à
l'identique, si bien que l'empreinte se recalcule à tout moment depuis ``Recepisse.contenu``.

Le PDF est rendu par WeasyPrint depuis ce contenu figé (et non depuis les données, qui changent
si la déclaration est renvoyée pour correction) : ce qu'il montre est exactement ce qui est haché.
Comme la convention, il ne charge aucune ressource (feuille de style dans le gabarit, police du
système, récupérateur d'URL qui refuse tout protocole).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string

from afas.models import COMPTES_CHARGES, COMPTES_PRODUITS, DonneesActivite, DonneesFinancieres

if TYPE_CHECKING:
    from afas.models import Declaration, Recepisse
    from habilitations.models import Utilisateur

#: Version du format du contenu : un changement de format garde lisibles les anciens récépissés.
FORMAT = 1

CHAMPS_LIGNE = (
    "heures_realisees",
    "heures_facturees",
    "heures_mercredi",
    "enfants_inscrits",
    "jours_ouverture",
    "amplitude_ouverture",
)


def _valeur(v: Decimal | int | None) -> str | int | None:
    """Montants et heures en texte décimal (pas de flottant : l'empreinte serait fragile)."""
    if v is None or isinstance(v, int):
        return v
    return str(v)


def contenu_construire(
    declaration: Declaration,
    *,
    lignes: list[DonneesActivite],
    financieres: DonneesFinancieres | None,
    numero: int | None = None,
    par: Utilisateur | None = None,
    le: datetime.datetime | None = None,
) -> dict[str, Any]:
    """Le contenu transmis : activité, partenaire, exercice et type, chaque ligne de données
    d'activité, les comptes financiers avec leurs totaux, le commentaire sur l'écart, qui et
    quand. ``declaration`` vient avec son activité, son organisme et sa Caf. Sans ``par`` : les
    données du moment, non transmises (``transmission`` vaut ``None``), pour les montrer."""
    activite = declaration.activite
    organisme = activite.organisme
    if financieres is not None:
        charges = [
            {"compte": compte, "libelle": libelle, "montant": _valeur(getattr(financieres, champ))}
            for champ, compte, libelle in COMPTES_CHARGES
        ]
        produits = [
            {"compte": compte, "libelle": libelle, "montant": _valeur(getattr(financieres, champ))}
            for champ, compte, libelle in COMPTES_PRODUITS
        ]
        financier: dict[str, Any] | None = {
            "charges": charges,
            "produits": produits,
            "total_charges": _valeur(financieres.total_charges),
            "total_produits": _valeur(financieres.total_produits),
            "participations_familiales": _valeur(financieres.participations_familiales),
            "taux_ressortissants": _valeur(financieres.taux_ressortissants),
        }
    else:
        financier = None
    return {
        "format": FORMAT,
        "declaration": {
            "id": declaration.pk,
            "exercice": declaration.exercice,
            "type": declaration.type_declaration,
            "type_libelle": declaration.get_type_declaration_display(),
            "date_limite": declaration.date_limite.isoformat(),
        },
        "caf": {"code": declaration.caf.code, "nom": declaration.caf.nom},
        "partenaire": {"id": organisme.pk, "raison_sociale": organisme.raison_sociale, "siret": organisme.siret},
        "activite": {
            "id": activite.pk,
            "numero_equipement": activite.numero_equipement,
            "libelle": activite.libelle,
            "type": activite.type_activite,
            "type_libelle": activite.get_type_activite_display(),
            "nature": activite.nature,
            "nature_libelle": activite.get_nature_display() if activite.nature else "",
        },
        "donnees_activite": [
            {
                "lieu_id": ligne.lieu_id,
                "lieu": ligne.lieu.libelle if ligne.lieu_id else None,
                "nature": ligne.nature,
                "nature_libelle": ligne.get_nature_display() if ligne.nature else "",
                **{champ: _valeur(getattr(ligne, champ)) for champ in CHAMPS_LIGNE},
            }
            for ligne in lignes
        ],
        "donnees_financieres": financier,
        "commentaire_ecart": declaration.commentaire_ecart,
        "transmission": None
        if par is None or le is None
        else {
            "numero": numero,
            "par": {"id": par.pk, "identifiant": par.identifiant, "nom": par.get_full_name()},
            "le": le.astimezone(datetime.UTC).isoformat(),
        },
    }


def contenu_canonique(contenu: dict[str, Any]) -> bytes:
    """Les octets hachés : clés triées, sans espaces, UTF-8 (les accents tels quels)."""
    return json.dumps(contenu, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def empreinte_calculer(contenu: dict[str, Any]) -> str:
    """SHA-256 (hexadécimal, 64 caractères) du contenu canonique."""
    return hashlib.sha256(contenu_canonique(contenu)).hexdigest()


def pdf_rendre(recepisse: Recepisse) -> bytes:
    """Le PDF du récépissé : qui, quand, quoi, les chiffres transmis et l'empreinte en entier."""
    # WeasyPrint (Pango, fontTools) coûte près d'une seconde à l'import : chargé au premier PDF.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    contenu = recepisse.contenu
    html = render_to_string(
        "afas/instruction/recepisse_pdf.html",
        {
            "recepisse": recepisse,
            "contenu": contenu,
            "transmise_le": datetime.datetime.fromisoformat(contenu["transmission"]["le"]),
            "date_limite": datetime.date.fromisoformat(contenu["declaration"]["date_limite"]),
        },
    )
    aucun_acces = URLFetcher(allowed_protocols=frozenset(), fail_on_errors=True)
    return HTML(string=html, url_fetcher=aucun_acces).write_pdf()


def nom_fichier(recepisse: Recepisse) -> str:
    """``recepisse-<équipement>-<exercice>-<type>-<n°>.pdf`` : au téléchargement et en pièce jointe."""
    d = recepisse.declaration
    return f"recepisse-{d.activite.numero_equipement}-{d.exercice}-{d.type_declaration}-{recepisse.numero}.pdf"
