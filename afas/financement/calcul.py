"""Le calcul du financement AFAS, en fonctions pures sur ``Decimal`` : aucune base, aucun modèle.

Chaque fonction rend un ``Resultat`` : le montant et ses ÉTAPES (libellé, formule écrite avec
les chiffres, valeur), que la page montre une à une ; le même résultat est figé à la
transmission (``afas.financement.services.montant_figer``).

Règle d'arrondi (écrite aussi sur la page) : chaque étape documentée qui produit un montant en
euros ou un prix en euros par heure est arrondie au centime, au plus proche, le demi-centime
vers le haut (``ROUND_HALF_UP``), et l'étape suivante part de cette valeur arrondie. Les heures
et les taux ne sont jamais arrondis.

Formules (les taux, plafonds et bonus viennent des ``Parametres`` de l'exercice) :

- PS ALSH (à l'acte), par nature : heures réalisées × taux (30 %) × min(prix de revient
  horaire, prix plafond) × taux de ressortissants du régime général ; plus, si l'activité est
  labellisée Plan mercredi pour l'exercice, heures du mercredi × bonus (0,46 €/h). Le prix de
  revient horaire est commun à la déclaration : total des charges ÷ somme des heures réalisées
  de toutes ses lignes (lieux et natures), les charges étant déclarées une fois pour l'activité.
- PSU (EAJE) : heures réalisées × 66 % × min(prix de revient horaire, plafond) − participations
  familiales, jamais moins que zéro.
- À la fonction (LAEP, RPE) : 30 % × min(prix de revient, plafond), le prix de revient étant le
  total annuel des charges de la fonction et le plafond un montant annuel.
- Avances : 35 % puis 35 % du droit prévisionnel (70 % au plus) ; le réel solde : droit réel −
  avances versées, à verser s'il est positif, à récupérer s'il est négatif.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0")
CENT_POUR_CENT = Decimal("100")
REGLE_ARRONDI = (
    "Chaque étape exprimée en euros (ou en euros par heure) est arrondie au centime le plus proche, "
    "le demi-centime vers le haut ; l'étape suivante part de la valeur arrondie. Heures et taux ne "
    "sont pas arrondis."
)


def arrondir(valeur: Decimal) -> Decimal:
    """Au centime, demi-centime vers le haut (ROUND_HALF_UP)."""
    return valeur.quantize(CENT, rounding=ROUND_HALF_UP)


def nombre_fr(valeur: Decimal, decimales: int = 2) -> str:
    """« 1 234,56 » : espace fine insécable pour les milliers, virgule décimale."""
    quantum = Decimal(1).scaleb(-decimales) if decimales else Decimal(1)
    texte = f"{valeur.quantize(quantum, rounding=ROUND_HALF_UP):,.{decimales}f}"
    return texte.replace(",", "\u202f").replace(".", ",")


def euros(valeur: Decimal) -> str:
    return f"{nombre_fr(valeur)}\u00a0€"


def heures(valeur: Decimal) -> str:
    texte = nombre_fr(valeur).removesuffix(",00")
    return f"{texte}\u00a0h"


def taux(pourcentage: Decimal) -> str:
    """« 30 % », « 87,5 % » : un pourcentage sans zéros inutiles."""
    texte = nombre_fr(pourcentage)
    if "," in texte:
        texte = texte.rstrip("0").rstrip(",")
    return f"{texte}\u00a0%"


@dataclass(frozen=True)
class Etape:
    libelle: str
    formule: str
    valeur: Decimal
    unite: str = "€"

    @property
    def valeur_texte(self) -> str:
        return {"€": euros, "€/h": lambda v: f"{euros(v)}/h", "h": heures, "%": taux}.get(self.unite, nombre_fr)(
            self.valeur
        )

    def en_json(self) -> dict:
        return {**asdict(self), "valeur": str(self.valeur)}

    @classmethod
    def depuis_json(cls, donnees: dict) -> Etape:
        return cls(donnees["libelle"], donnees["formule"], Decimal(donnees["valeur"]), donnees.get("unite", "€"))


@dataclass(frozen=True)
class Parametres:
    """Les paramètres d'un exercice pour un type d'activité (et une nature pour un ALSH).

    ``taux`` et les taux d'avance en pourcentage (30 pour 30 %) ; ``prix_plafond`` en €/h pour un
    ALSH ou un EAJE, en € par an pour une activité financée à la fonction ; ``bonus_mercredi`` en
    €/h (ALSH, Plan mercredi)."""

    taux: Decimal
    prix_plafond: Decimal
    bonus_mercredi: Decimal = ZERO
    taux_avance_1: Decimal = Decimal("35")
    taux_avance_2: Decimal = Decimal("35")


@dataclass(frozen=True)
class HeuresNature:
    """Les heures d'une nature d'ALSH, sommées sur ses lignes (lieux)."""

    nature: str
    libelle: str
    heures_realisees: Decimal
    heures_mercredi: Decimal = ZERO


@dataclass
class Resultat:
    montant: Decimal
    etapes: list[Etape] = field(default_factory=list)
    #: Pour un solde : « à verser » ou « à récupérer » ; vide sinon.
    sens: str = ""

    @property
    def montant_texte(self) -> str:
        return euros(self.montant)


def _pct(pourcentage: Decimal) -> Decimal:
    return pourcentage / CENT_POUR_CENT


def prix_de_revient_horaire(total_charges: Decimal, heures_realisees: Decimal) -> tuple[Decimal, Etape]:
    """Total des charges ÷ heures réalisées, au centime ; zéro heure : zéro (rien n'est dû)."""
    if heures_realisees <= ZERO:
        return ZERO, Etape(
            "Prix de revient horaire",
            f"Aucune heure réalisée : pas de prix de revient horaire (charges {euros(total_charges)})",
            ZERO,
            "€/h",
        )
    prh = arrondir(total_charges / heures_realisees)
    return prh, Etape(
        "Prix de revient horaire",
        f"{euros(total_charges)} de charges ÷ {heures(heures_realisees)} réalisées",
        prh,
        "€/h",
    )


def _prix_retenu(prh: Decimal, plafond: Decimal, unite: str = "€/h") -> tuple[Decimal, Etape]:
    retenu = min(prh, plafond)
    atteint = "plafond atteint" if prh >= plafond else "sous le plafond"
    montrer = (lambda v: f"{euros(v)}/h") if unite == "€/h" else euros
    return retenu, Etape(
        "Prix retenu",
        f"min({montrer(prh)}, plafond {montrer(plafond)}) : {atteint}",
        retenu,
        unite,
    )


def ps_alsh(
    natures: Sequence[HeuresNature],
    *,
    total_charges: Decimal,
    taux_ressortissants: Decimal,
    parametres: dict[str, Parametres],
    plan_mercredi: bool,
) -> Resultat:
    """PS ALSH à l'acte. ``parametres`` : ceux de chaque nature déclarée ; ``taux_ressortissants``
    en pourcentage. Le bonus Plan mercredi n'est pas pondéré par le taux de ressortissants : il
    est dû par heure nouvelle du mercredi réalisée."""
    total_heures = sum((n.heures_realisees for n in natures), ZERO)
    prh, etape_prh = prix_de_revient_horaire(total_charges, total_heures)
    etapes = [
        Etape(
            "Heures réalisées (toutes lignes)",
            " + ".join(heures(n.heures_realisees) for n in natures) or "aucune ligne",
            total_heures,
            "h",
        ),
        etape_prh,
    ]
    composantes: list[Decimal] = []
    for n in natures:
        p = parametres[n.nature]
        retenu, etape_retenu = _prix_retenu(prh, p.prix_plafond)
        etapes.append(Etape(f"{n.libelle} — {etape_retenu.libelle}", etape_retenu.formule, retenu, "€/h"))
        brut = arrondir(n.heures_realisees * _pct(p.taux) * retenu)
        etapes.append(
            Etape(
                f"{n.libelle} — Prestation avant ressortissants",
                f"{heures(n.heures_realisees)} × {taux(p.taux)} × {euros(retenu)}/h",
                brut,
            )
        )
        droit = arrondir(brut * _pct(taux_ressortissants))
        etapes.append(
            Etape(
                f"{n.libelle} — Prestation de service",
                f"{euros(brut)} × {taux(taux_ressortissants)} de ressortissants du régime général",
                droit,
            )
        )
        composantes.append(droit)
        if plan_mercredi and p.bonus_mercredi and n.heures_mercredi:
            bonus = arrondir(n.heures_mercredi * p.bonus_mercredi)
            etapes.append(
                Etape(
                    f"{n.libelle} — Bonus Plan mercredi",
                    f"{heures(n.heures_mercredi)} du mercredi × {euros(p.bonus_mercredi)}/h",
                    bonus,
                )
            )
            composantes.append(bonus)
    if not plan_mercredi:
        etapes.append(Etape("Bonus Plan mercredi", "Activité non labellisée Plan mercredi pour cet exercice", ZERO))
    total = sum(composantes, ZERO)
    etapes.append(Etape("Droit PS ALSH", " + ".join(euros(c) for c in composantes) or euros(ZERO), total))
    return Resultat(total, etapes)


def psu(
    *, heures_realisees: Decimal, total_charges: Decimal, participations_familiales: Decimal, parametres: Parametres
) -> Resultat:
    """PSU d'un EAJE : heures × 66 % × min(prix de revient horaire, plafond) − participations
    familiales, jamais moins que zéro."""
    prh, etape_prh = prix_de_revient_horaire(total_charges, heures_realisees)
    retenu, etape_retenu = _prix_retenu(prh, parametres.prix_plafond)
    brut = arrondir(heures_realisees * _pct(parametres.taux) * retenu)
    droit = max(ZERO, brut - arrondir(participations_familiales))
    plancher = " ; négatif, ramené à zéro" if brut < participations_familiales else ""
    etapes = [
        Etape("Heures réalisées", heures(heures_realisees), heures_realisees, "h"),
        etape_prh,
        etape_retenu,
        Etape(
            "Prestation avant participations familiales",
            f"{heures(heures_realisees)} × {taux(parametres.taux)} × {euros(retenu)}/h",
            brut,
        ),
        Etape(
            "Droit PSU",
            f"{euros(brut)} − {euros(participations_familiales)} de participations familiales{plancher}",
            droit,
        ),
    ]
    return Resultat(droit, etapes)


def a_la_fonction(
    *, total_charges: Decimal, parametres: Parametres, libelle: str = "Prestation de service"
) -> Resultat:
    """LAEP, RPE : taux (30 %) × min(prix de revient annuel, plafond annuel)."""
    retenu, etape_retenu = _prix_retenu(arrondir(total_charges), parametres.prix_plafond, unite="€")
    droit = arrondir(retenu * _pct(parametres.taux))
    etapes = [
        Etape("Prix de revient (total des charges)", euros(total_charges), arrondir(total_charges)),
        etape_retenu,
        Etape(libelle, f"{taux(parametres.taux)} × {euros(retenu)}", droit),
    ]
    return Resultat(droit, etapes)


def avances(droit_previsionnel: Decimal, parametres: Parametres) -> Resultat:
    """Deux avances sur le droit prévisionnel (35 % et 35 % : 70 % au plus)."""
    if parametres.taux_avance_1 + parametres.taux_avance_2 > Decimal("70"):
        raise ValueError("Les avances ne dépassent pas 70 % du droit prévisionnel.")
    premiere = arrondir(droit_previsionnel * _pct(parametres.taux_avance_1))
    seconde = arrondir(droit_previsionnel * _pct(parametres.taux_avance_2))
    etapes = [
        Etape("Première avance", f"{taux(parametres.taux_avance_1)} × {euros(droit_previsionnel)}", premiere),
        Etape("Seconde avance", f"{taux(parametres.taux_avance_2)} × {euros(droit_previsionnel)}", seconde),
        Etape("Total des avances", f"{euros(premiere)} + {euros(seconde)}", premiere + seconde),
    ]
    return Resultat(premiere + seconde, etapes)


A_VERSER = "à verser"
A_RECUPERER = "à récupérer"


def solde(droit_reel: Decimal, avances_versees: Decimal) -> Resultat:
    """Le réel solde le droit : positif, le solde est à verser ; négatif, la différence est à
    récupérer auprès du partenaire (le montant rendu est alors la valeur absolue)."""
    difference = arrondir(droit_reel) - arrondir(avances_versees)
    if difference >= ZERO:
        etape = Etape("Solde à verser", f"{euros(droit_reel)} − {euros(avances_versees)} d'avances", difference)
        return Resultat(difference, [etape], A_VERSER)
    etape = Etape(
        "Montant à récupérer",
        f"{euros(avances_versees)} d'avances − {euros(droit_reel)} de droit réel",
        -difference,
    )
    return Resultat(-difference, [etape], A_RECUPERER)
