"""Le financement d'une déclaration : lire ses données et ses paramètres, appeler le calcul pur
(``calcul.py``), figer le montant à la transmission, écrire les paramètres d'une Caf et le label
Plan mercredi. Les écritures sont ici, chacune en une transaction avec sa ligne de journal."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from afas.enums import FIGES, NatureActivite, TypeActivite, TypeDeclaration
from afas.financement import calcul
from afas.financement.calcul import ZERO, Etape, HeuresNature, Parametres, Resultat
from afas.models import (
    Declaration,
    DonneesActivite,
    DonneesFinancieres,
    LabelPlanMercredi,
    MontantEstime,
    ParametreFinancement,
)
from portail.socle.audit import audit_enregistrer
from portail.socle.erreurs import ErreurMetier

if TYPE_CHECKING:
    from afas.models import Activite
    from habilitations.models import Utilisateur

CHAMPS_PARAMETRE = ("taux", "prix_plafond", "bonus_mercredi", "taux_avance_1", "taux_avance_2", "source")


# --- Paramètres -------------------------------------------------------------------------------


def parametres_resoudre(
    lignes: list[ParametreFinancement], caf_id: int | None, nature: str
) -> ParametreFinancement | None:
    """Parmi les lignes d'un exercice et d'un type, celle qui vaut pour (Caf, nature) : celle de la
    Caf avant le barème national, la nature exacte avant « toutes natures »."""
    rang = {
        (caf_id, nature): 0,
        (caf_id, ""): 1,
        (None, nature): 2,
        (None, ""): 3,
    }
    candidates = [p for p in lignes if (p.caf_id, p.nature) in rang]
    return min(candidates, key=lambda p: rang[(p.caf_id, p.nature)], default=None)


def _vers_calcul(p: ParametreFinancement) -> Parametres:
    return Parametres(p.taux, p.prix_plafond, p.bonus_mercredi, p.taux_avance_1, p.taux_avance_2)


def _instantane(p: ParametreFinancement) -> dict[str, Any]:
    """La copie figée d'un paramètre : ce qui a servi, même si la ligne change ensuite."""
    return {
        "id": p.pk,
        "caf": p.caf_id,
        "exercice": p.exercice,
        "type_activite": p.type_activite,
        "nature": p.nature,
        **{c: str(getattr(p, c)) for c in CHAMPS_PARAMETRE},
    }


# --- Estimation -------------------------------------------------------------------------------


@dataclass
class Indicateurs:
    """Les indicateurs d'une déclaration, lus par les statistiques (None : non calculable)."""

    heures_realisees: Decimal = ZERO
    total_charges: Decimal = ZERO
    prix_revient_horaire: Decimal | None = None
    heures_par_enfant: Decimal | None = None
    taux_remplissage: Decimal | None = None
    montant_par_heure: Decimal | None = None


@dataclass
class Estimation:
    """Le droit d'une déclaration, et pour un prévisionnel ses avances, pour un réel son solde."""

    droit: Resultat | None
    avances: Resultat | None = None
    solde: Resultat | None = None
    parametres: list[dict[str, Any]] = field(default_factory=list)
    indicateurs: Indicateurs = field(default_factory=Indicateurs)
    #: Pourquoi rien n'est calculé (aucun paramètre pour l'exercice), ou vide.
    impossible: str = ""
    #: Vrai pour un réel : les avances viennent d'un prévisionnel non encore figé.
    avances_provisoires: bool = False

    @property
    def montant(self) -> Decimal:
        return self.droit.montant if self.droit else ZERO

    def en_json(self) -> dict[str, Any]:
        def bloc(r: Resultat | None):
            if r is None:
                return None
            return {"montant": str(r.montant), "sens": r.sens, "etapes": [e.en_json() for e in r.etapes]}

        return {
            "droit": bloc(self.droit),
            "avances": bloc(self.avances),
            "solde": bloc(self.solde),
            "impossible": self.impossible,
            "avances_provisoires": self.avances_provisoires,
        }


def _resultat_json(donnees: dict | None) -> Resultat | None:
    if not donnees:
        return None
    return Resultat(
        Decimal(donnees["montant"]), [Etape.depuis_json(e) for e in donnees["etapes"]], donnees.get("sens", "")
    )


def estimation_depuis_fige(montant: MontantEstime) -> Estimation:
    """L'estimation telle qu'elle a été figée (étapes et paramètres de l'époque)."""
    e = montant.etapes
    return Estimation(
        droit=_resultat_json(e.get("droit")),
        avances=_resultat_json(e.get("avances")),
        solde=_resultat_json(e.get("solde")),
        parametres=montant.parametres,
        impossible=e.get("impossible", ""),
        avances_provisoires=e.get("avances_provisoires", False),
        indicateurs=Indicateurs(
            montant.heures_realisees,
            montant.total_charges,
            montant.prix_revient_horaire,
            montant.heures_par_enfant,
            montant.taux_remplissage,
            montant.montant_par_heure,
        ),
    )


def _d(valeur) -> Decimal:
    return valeur if valeur is not None else ZERO


def indicateurs_calculer(
    lignes: list[DonneesActivite], financieres: DonneesFinancieres | None, montant: Decimal
) -> Indicateurs:
    """Prix de revient horaire = charges ÷ heures réalisées ; heures par enfant = heures ÷ enfants
    inscrits ; taux de remplissage = heures réalisées ÷ heures offertes aux inscrits, les heures
    offertes d'une ligne étant jours d'ouverture × amplitude × enfants inscrits (le portail ne
    connaît pas de nombre de places : c'est la part du temps d'ouverture que les enfants inscrits
    ont effectivement passée dans l'accueil) ; montant par heure = montant ÷ heures réalisées."""
    heures = sum((_d(ligne.heures_realisees) for ligne in lignes), ZERO)
    enfants = sum((ligne.enfants_inscrits or 0 for ligne in lignes), 0)
    offertes = sum(
        (
            Decimal(ligne.jours_ouverture or 0) * _d(ligne.amplitude_ouverture) * (ligne.enfants_inscrits or 0)
            for ligne in lignes
        ),
        ZERO,
    )
    charges = financieres.total_charges if financieres else ZERO
    quatre = Decimal("0.0001")
    return Indicateurs(
        heures_realisees=heures,
        total_charges=charges,
        prix_revient_horaire=(charges / heures).quantize(quatre) if heures else None,
        heures_par_enfant=(heures / enfants).quantize(quatre) if enfants else None,
        taux_remplissage=(heures / offertes * 100).quantize(quatre) if offertes else None,
        montant_par_heure=(montant / heures).quantize(quatre) if heures else None,
    )


def _droit(
    declaration: Declaration,
    lignes: list[DonneesActivite],
    financieres: DonneesFinancieres | None,
    parametres: list[ParametreFinancement],
    plan_mercredi: bool,
) -> tuple[Resultat | None, list[ParametreFinancement], str]:
    activite = declaration.activite
    charges = financieres.total_charges if financieres else ZERO
    type_activite = activite.type_activite
    if type_activite == TypeActivite.ALSH:
        natures: dict[str, list[DonneesActivite]] = {}
        for ligne in lignes:
            natures.setdefault(ligne.nature or activite.nature, []).append(ligne)
        utilises = {n: parametres_resoudre(parametres, declaration.caf_id, n) for n in natures}
        manquants = [n for n, p in utilises.items() if p is None]
        if manquants or not natures:
            return None, [], f"Aucun paramètre de financement ALSH pour l'exercice {declaration.exercice}."
        heures_natures = [
            HeuresNature(
                nature=n,
                libelle=NatureActivite(n).label if n in NatureActivite.values else "Activité",
                heures_realisees=sum((_d(x.heures_realisees) for x in ls), ZERO),
                heures_mercredi=sum((_d(x.heures_mercredi) for x in ls), ZERO),
            )
            for n, ls in natures.items()
        ]
        resultat = calcul.ps_alsh(
            heures_natures,
            total_charges=charges,
            taux_ressortissants=_d(financieres.taux_ressortissants if financieres else None),
            parametres={n: _vers_calcul(p) for n, p in utilises.items()},
            plan_mercredi=plan_mercredi,
        )
        return resultat, list(utilises.values()), ""
    p = parametres_resoudre(parametres, declaration.caf_id, "")
    if p is None:
        return None, [], f"Aucun paramètre de financement {type_activite} pour l'exercice {declaration.exercice}."
    if type_activite == TypeActivite.EAJE:
        resultat = calcul.psu(
            heures_realisees=sum((_d(x.heures_realisees) for x in lignes), ZERO),
            total_charges=charges,
            participations_familiales=_d(financieres.participations_familiales if financieres else None),
            parametres=_vers_calcul(p),
        )
    else:
        resultat = calcul.a_la_fonction(total_charges=charges, parametres=_vers_calcul(p))
    return resultat, [p], ""


@dataclass
class Contexte:
    """Ce que lit l'estimation d'une déclaration ; lu une fois par l'appelant pour une page de
    plusieurs déclarations (aucune requête de plus par ligne)."""

    lignes: list[DonneesActivite]
    financieres: DonneesFinancieres | None
    parametres: list[ParametreFinancement]
    plan_mercredi: bool


def contexte_lire(
    declaration: Declaration, lues: tuple[list[DonneesActivite], DonneesFinancieres | None] | None = None
) -> Contexte:
    """Quatre requêtes : lignes, données financières, paramètres de l'exercice, label. ``lues`` :
    toutes les lignes et les données financières, déjà lues par la page (deux requêtes de moins)."""
    if lues is None:
        lues = (
            list(declaration.donnees_activite.all()),
            DonneesFinancieres.objects.filter(declaration=declaration).first(),
        )
    return Contexte(
        lignes=lues[0],
        financieres=lues[1],
        parametres=list(
            ParametreFinancement.objects.applicables(
                declaration.caf_id, declaration.exercice, declaration.activite.type_activite
            )
        ),
        plan_mercredi=LabelPlanMercredi.objects.filter(
            activite_id=declaration.activite_id, exercice=declaration.exercice, labellise=True
        ).exists(),
    )


def _previsionnel(declaration: Declaration) -> tuple[Decimal, bool] | None:
    """Le droit prévisionnel du même exercice : figé s'il a été transmis, sinon estimé (et dit
    provisoire). None s'il n'y a pas de prévisionnel."""
    previsionnel = (
        Declaration.objects.filter(
            activite_id=declaration.activite_id,
            exercice=declaration.exercice,
            type_declaration=TypeDeclaration.PREVISIONNEL,
        )
        .select_related("activite")
        .first()
    )
    if previsionnel is None:
        return None
    fige = MontantEstime.objects.filter(declaration=previsionnel, actuel=True).first()
    if fige is not None:
        return fige.montant, False
    return estimer(previsionnel, avec_reglement=False).montant, True


#: ``estimer`` lit lui-même le prévisionnel d'un réel (``_previsionnel``).
PREVISIONNEL_A_LIRE: Any = object()


def estimer(
    declaration: Declaration,
    *,
    contexte: Contexte | None = None,
    avec_reglement: bool = True,
    previsionnel: tuple[Decimal, bool] | None = PREVISIONNEL_A_LIRE,
) -> Estimation:
    """L'estimation à jour d'une déclaration, à partir de ses données telles qu'elles sont saisies
    (un champ vide vaut zéro) et des paramètres de son exercice. Prévisionnel : droit et avances ;
    réel : droit, avances versées sur le prévisionnel et solde (à verser ou à récupérer).

    ``previsionnel`` (un réel seulement) : le droit du prévisionnel et s'il est provisoire, ou None
    sans prévisionnel, comme ``_previsionnel`` le lirait ; donné par un appelant qui le connaît
    déjà (le générateur de données, qui estime sans base), il évite ces lectures."""
    contexte = contexte or contexte_lire(declaration)
    droit, utilises, impossible = _droit(
        declaration, contexte.lignes, contexte.financieres, contexte.parametres, contexte.plan_mercredi
    )
    estimation = Estimation(droit=droit, parametres=[_instantane(p) for p in utilises], impossible=impossible)
    estimation.indicateurs = indicateurs_calculer(contexte.lignes, contexte.financieres, estimation.montant)
    if droit is None or not avec_reglement:
        return estimation
    reference = utilises[0]
    if declaration.type_declaration == TypeDeclaration.PREVISIONNEL:
        estimation.avances = calcul.avances(droit.montant, _vers_calcul(reference))
    elif declaration.type_declaration == TypeDeclaration.REEL:
        if previsionnel is PREVISIONNEL_A_LIRE:
            previsionnel = _previsionnel(declaration)
        if previsionnel is None:
            estimation.avances = Resultat(
                ZERO, [Etape("Avances versées", "Aucun prévisionnel pour cet exercice : aucune avance", ZERO)]
            )
        else:
            droit_previsionnel, estimation.avances_provisoires = previsionnel
            estimation.avances = calcul.avances(droit_previsionnel, _vers_calcul(reference))
        estimation.solde = calcul.solde(droit.montant, estimation.avances.montant)
    return estimation


def montant_valeurs(declaration: Declaration, estimation: Estimation) -> dict[str, Any]:
    """Ce qu'un montant figé garde de l'estimation (étapes, paramètres, indicateurs) et de la
    déclaration (Caf, exercice, types, nature) : écrit par ``montant_figer``, et tel quel par le
    générateur de données (``portail.generation``) pour les déclarations qu'il dit transmises."""
    i = estimation.indicateurs
    return {
        "parametres": estimation.parametres,
        "etapes": estimation.en_json(),
        "montant": estimation.montant,
        "caf_id": declaration.caf_id,
        "exercice": declaration.exercice,
        "type_declaration": declaration.type_declaration,
        "type_activite": declaration.activite.type_activite,
        "nature": declaration.activite.nature,
        "heures_realisees": i.heures_realisees,
        "total_charges": i.total_charges,
        "prix_revient_horaire": i.prix_revient_horaire,
        "heures_par_enfant": i.heures_par_enfant,
        "taux_remplissage": i.taux_remplissage,
        "montant_par_heure": i.montant_par_heure,
    }


def montant_figer(declaration: Declaration, *, par: Utilisateur | None = None) -> MontantEstime:
    """Fige le montant de ``declaration`` à sa transmission : étapes, copie des paramètres
    utilisés et indicateurs. Appelée par le service de transmission dans sa transaction ; le
    montant figé précédent (transmission antérieure) cesse d'être « actuel ». Changer ensuite un
    paramètre ne change plus ce montant."""
    with transaction.atomic():
        declaration = Declaration.objects.select_related("activite").get(pk=declaration.pk)
        estimation = estimer(declaration)
        MontantEstime.objects.filter(declaration=declaration, actuel=True).update(actuel=False)
        montant = MontantEstime.objects.create(
            declaration=declaration,
            calcule_le=timezone.now(),
            calcule_par=par if par is not None and par.pk else None,
            actuel=True,
            **montant_valeurs(declaration, estimation),
        )
        audit_enregistrer(
            par=par,
            action="montant_figer",
            cible=declaration,
            apres={"montant": str(montant.montant), "parametres": [p["id"] for p in estimation.parametres]},
        )
    return montant


def montant_pour_page(
    declaration: Declaration, lues: tuple[list[DonneesActivite], DonneesFinancieres | None] | None = None
) -> dict[str, Any]:
    """Le contexte du fragment ``afas/financement/_montant.html`` : le montant figé à la
    transmission pour une déclaration transmise ou validée (les paramètres de l'époque font
    foi), sinon l'estimation à jour, dite provisoire. ``lues`` : voir ``contexte_lire``."""
    fige = None
    if declaration.etat in FIGES:
        fige = MontantEstime.objects.filter(declaration=declaration, actuel=True).first()
    estimation = (
        estimation_depuis_fige(fige) if fige else estimer(declaration, contexte=contexte_lire(declaration, lues))
    )
    return {
        "estimation": estimation,
        "fige": fige,
        "regle_arrondi": calcul.REGLE_ARRONDI,
        "declaration": declaration,
    }


# --- Écritures de la Caf ----------------------------------------------------------------------


def parametre_enregistrer(
    *, par: Utilisateur, modele: ParametreFinancement, valeurs: dict[str, Any]
) -> ParametreFinancement:
    """Enregistre les paramètres de la Caf de ``par`` pour l'exercice, le type et la nature de
    ``modele`` : met à jour sa ligne, ou la crée à partir du barème national. Le barème national
    ne s'écrit jamais ici. Les avances ne dépassent pas 70 % du prévisionnel."""
    if par.caf_id is None:
        raise ErreurMetier("Seul un agent Caf enregistre les paramètres de sa Caf.")
    if valeurs["taux_avance_1"] + valeurs["taux_avance_2"] > Decimal("70"):
        raise ErreurMetier("Les deux avances ne dépassent pas 70 % du droit prévisionnel.", champ="taux_avance_2")
    with transaction.atomic():
        ligne, creee = ParametreFinancement.objects.select_for_update().get_or_create(
            caf_id=par.caf_id,
            exercice=modele.exercice,
            type_activite=modele.type_activite,
            nature=modele.nature,
            defaults={**{c: valeurs[c] for c in CHAMPS_PARAMETRE}, "modifie_par": par},
        )
        avant = None if creee else {c: str(getattr(ligne, c)) for c in CHAMPS_PARAMETRE}
        if not creee:
            for c in CHAMPS_PARAMETRE:
                setattr(ligne, c, valeurs[c])
            ligne.modifie_par = par
            ligne.modifie_le = timezone.now()
            ligne.save()
        audit_enregistrer(
            par=par,
            action="parametre_financement_enregistrer",
            cible=ligne,
            avant=avant,
            apres={c: str(getattr(ligne, c)) for c in CHAMPS_PARAMETRE},
        )
    return ligne


def plan_mercredi_definir(*, par: Utilisateur, activite: Activite, exercice: int, labellise: bool) -> bool:
    """Pose ou retire le label Plan mercredi d'un ALSH pour un exercice ; rend vrai si quelque
    chose a changé (un second envoi identique ne fait rien). Un montant déjà figé ne change pas."""
    if activite.type_activite != TypeActivite.ALSH:
        raise ErreurMetier("Le Plan mercredi ne concerne que les accueils de loisirs (ALSH).", champ="labellise")
    with transaction.atomic():
        label, cree = LabelPlanMercredi.objects.select_for_update().get_or_create(
            activite=activite, exercice=exercice, defaults={"labellise": labellise, "pose_par": par}
        )
        if not cree:
            if label.labellise == labellise:
                return False
            label.labellise = labellise
            label.pose_par = par
            label.pose_le = timezone.now()
            label.save(update_fields=["labellise", "pose_par", "pose_le"])
        elif not labellise:
            return False
        audit_enregistrer(
            par=par,
            action="plan_mercredi_poser" if labellise else "plan_mercredi_retirer",
            cible=activite,
            apres={"exercice": exercice},
        )
    return True
