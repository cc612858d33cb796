"""Ce qui manque encore à une déclaration pour être approuvée : lu par la saisie (qui passe la
déclaration « À approuver » quand rien ne manque), par l'approbateur (qui voit la liste) et par
la transmission (qui refuse une déclaration incomplète)."""

from __future__ import annotations

from dataclasses import dataclass, field

from afas.enums import TypeActivite
from afas.models import Declaration, DonneesActivite, DonneesFinancieres

#: Champs de l'activité exigés pour chaque ligne (lieu × nature) ; les heures du mercredi
#: (Plan mercredi) ne concernent que les ALSH et peuvent valoir zéro, mais doivent être dites.
CHAMPS_ACTIVITE: tuple[str, ...] = (
    "heures_realisees",
    "heures_facturees",
    "enfants_inscrits",
    "jours_ouverture",
    "amplitude_ouverture",
)
CHAMPS_ACTIVITE_ALSH: tuple[str, ...] = (*CHAMPS_ACTIVITE, "heures_mercredi")
#: Champs financiers exigés ; les comptes laissés vides valent zéro, mais les charges de personnel
#: (64) et le taux de ressortissants doivent être dits.
CHAMPS_FINANCIERS: tuple[str, ...] = ("c64", "p70", "participations_familiales", "taux_ressortissants")


@dataclass
class Manques:
    activite: list[str] = field(default_factory=list)
    financier: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.activite and not self.financier

    def __iter__(self):
        yield from self.activite
        yield from self.financier


def champs_activite(declaration: Declaration) -> tuple[str, ...]:
    return CHAMPS_ACTIVITE_ALSH if declaration.activite.type_activite == TypeActivite.ALSH else CHAMPS_ACTIVITE


def _libelle_ligne(ligne: DonneesActivite) -> str:
    lieu = ligne.lieu.libelle if ligne.lieu_id else "l'activité"
    return f"{lieu} ({ligne.get_nature_display()})" if ligne.nature else lieu


def manques(
    declaration: Declaration,
    lignes: list[DonneesActivite] | None = None,
    financieres: DonneesFinancieres | None = None,
) -> Manques:
    """Les libellés de ce qui manque, part par part. ``lignes`` et ``financieres`` : déjà lues par
    l'appelant (sinon lues ici, en deux requêtes)."""
    if lignes is None:
        lignes = list(declaration.donnees_activite.select_related("lieu"))
    if financieres is None:
        financieres = DonneesFinancieres.objects.filter(declaration=declaration).first()
    resultat = Manques()
    exiges = champs_activite(declaration)
    for ligne in lignes:
        vides = [str(DonneesActivite._meta.get_field(c).verbose_name) for c in exiges if getattr(ligne, c) is None]
        if vides:
            resultat.activite.append(f"Données d'activité de {_libelle_ligne(ligne)} : {', '.join(vides)}")
    if not lignes:
        resultat.activite.append("Aucune ligne de données d'activité")
    if financieres is None:
        resultat.financier.append("Données financières : non saisies")
    else:
        vides = [
            str(DonneesFinancieres._meta.get_field(c).verbose_name)
            for c in CHAMPS_FINANCIERS
            if getattr(financieres, c) is None
        ]
        if vides:
            resultat.financier.append(f"Données financières : {', '.join(vides)}")
    return resultat
