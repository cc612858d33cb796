"""Les chiffres d'une déclaration, lus pour être montrés : les lignes d'activité (lieu × nature),
les données financières avec leurs comptes et totaux, ce qui manque, l'historique des états.

Lu en un nombre fixe de requêtes, quel que soit le nombre de lieux (une pour les lignes, une pour
les données financières, une pour l'historique). Les gabarits partagés
``afas/declarations/_donnees.html`` (contexte ``donnees``) et ``_historique.html`` (contexte
``declaration`` et ``evenements``) les affichent ; l'écran de la Caf les inclut tels quels :
tout y est en lecture seule tant que la vue du déclarant n'ouvre pas une ligne à la saisie
(``ligne.editable``, ``donnees.financier_editable``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from afas.declarations import completude
from afas.enums import TypeActivite
from afas.models import (
    COMPTES_CHARGES,
    COMPTES_PRODUITS,
    Declaration,
    DonneesActivite,
    DonneesFinancieres,
    EvenementDeclaration,
)


@dataclass(frozen=True)
class LigneCompte:
    champ: str
    compte: str
    libelle: str
    montant: Decimal | None


@dataclass
class Donnees:
    """Ce que montre ``_donnees.html``. ``voir_activite`` / ``voir_financier`` : la part que le
    lecteur voit (tout, par défaut : l'approbateur et la Caf lisent tout)."""

    declaration: Declaration
    lignes: list[DonneesActivite]
    financieres: DonneesFinancieres | None
    manques: completude.Manques
    alsh: bool
    charges: list[LigneCompte] = field(default_factory=list)
    produits: list[LigneCompte] = field(default_factory=list)
    voir_activite: bool = True
    voir_financier: bool = True
    financier_editable: bool = False

    @property
    def lignes_editables(self) -> bool:
        return any(ligne.editable for ligne in self.lignes)

    @property
    def total_charges(self) -> Decimal | None:
        return self.financieres.total_charges if self.financieres else None

    @property
    def total_produits(self) -> Decimal | None:
        return self.financieres.total_produits if self.financieres else None

    @property
    def resultat(self) -> Decimal | None:
        if self.financieres is None:
            return None
        return self.financieres.total_produits - self.financieres.total_charges

    @property
    def total_heures_realisees(self) -> Decimal:
        return sum((ligne.heures_realisees or Decimal("0") for ligne in self.lignes), Decimal("0"))

    @property
    def total_heures_facturees(self) -> Decimal:
        return sum((ligne.heures_facturees or Decimal("0") for ligne in self.lignes), Decimal("0"))


def libelle_ligne(ligne: DonneesActivite) -> str:
    """« École de Lioujas (Extrascolaire) », ou « L'activité » sans lieu."""
    lieu = ligne.lieu.libelle if ligne.lieu_id else "L'activité"
    return f"{lieu} ({ligne.get_nature_display()})" if ligne.nature else lieu


def lire(declaration: Declaration) -> Donnees:
    """Les chiffres de ``declaration`` (son activité déjà jointe), en deux requêtes : les lignes
    avec leur lieu et leur auteur, les données financières avec leur auteur."""
    lignes = list(
        DonneesActivite.objects.filter(declaration=declaration)
        .select_related("lieu", "saisie_par")
        .order_by("lieu__libelle", "nature", "pk")
    )
    for ligne in lignes:
        ligne.libelle = libelle_ligne(ligne)
        ligne.editable = False
    financieres = DonneesFinancieres.objects.filter(declaration=declaration).select_related("saisie_par").first()
    charges = [
        LigneCompte(champ, compte, libelle, getattr(financieres, champ) if financieres else None)
        for champ, compte, libelle in COMPTES_CHARGES
    ]
    produits = [
        LigneCompte(champ, compte, libelle, getattr(financieres, champ) if financieres else None)
        for champ, compte, libelle in COMPTES_PRODUITS
    ]
    return Donnees(
        declaration=declaration,
        lignes=lignes,
        financieres=financieres,
        manques=completude.manques(declaration, lignes, financieres),
        alsh=declaration.activite.type_activite == TypeActivite.ALSH,
        charges=charges,
        produits=produits,
    )


def evenements(declaration: Declaration) -> list[EvenementDeclaration]:
    """L'historique des états, du plus ancien au plus récent, avec leur auteur (une requête)."""
    return list(EvenementDeclaration.objects.filter(declaration=declaration).select_related("par").order_by("le", "pk"))
