"""La saisie des déclarants : une porte par part, chacune en une transaction qui verrouille la
déclaration, vérifie les droits et les règles, écrit la part, sa ligne de journal, et fait
avancer l'état par ``etats.transitionner`` :

- premier enregistrement d'une déclaration « À saisir » ou « Renvoyée pour correction » : elle
  passe « En cours de saisie » ;
- rien ne manque plus (``completude.manques``) : « À approuver » ; quelque chose manque à nouveau
  (un champ vidé) : retour « En cours de saisie ».

Brouillons permis : un champ laissé vide est « non saisi » (None) et l'enregistrement réussit ;
un champ rempli est vérifié. Pas de mise à jour perdue : chaque formulaire porte la ``version``
lue ; l'écriture ne se fait que si elle n'a pas changé (sous le verrou de la déclaration, puis
``UPDATE … WHERE version = n``), sinon un refus dit qui a enregistré entre-temps, et à quelle
heure : rien de ce que l'autre a enregistré n'est perdu. Un double envoi (même auteur, mêmes
valeurs, version déjà passée) ne réécrit rien et n'est pas un conflit.

Règles de cohérence (chacune refusée sous son champ, en français) :

- Activité (par ligne lieu × nature) : pas de valeur négative ; amplitude d'ouverture ≤ 24 h par
  jour ; jours d'ouverture ≤ 366 ; heures du mercredi ≤ heures réalisées (le Plan mercredi en est
  une partie) ; heures facturées et réalisées ≤ jours × amplitude × enfants inscrits (la capacité :
  chaque enfant présent toute l'amplitude de chaque jour d'ouverture ; au-delà c'est une erreur
  d'unité) ; heures réalisées ≤ 1,5 × heures facturées : en prestation de service, on facture
  d'ordinaire au moins ce qui est réalisé (contrats, forfaits) ; des heures réalisées au-delà de
  moitié plus que les facturées signalent des colonnes inversées ou des minutes saisies pour des
  heures (un accueil gratuit déclare ses heures en facturées aussi, comme le demande la Caf).
- Finances : montants positifs ou nuls ; taux de ressortissants entre 0 et 100 % ; participations
  familiales ≤ produits du compte 70, qui les comprend.
- Un RÉEL qui s'écarte de plus de 20 % de son PRÉVISIONNEL (même activité, même exercice) exige un
  commentaire (``Declaration.commentaire_ecart``) : sur le total des heures réalisées, comparé dès
  que toutes les lignes du réel en ont (avant, le total partiel s'écarterait toujours) ; sur le
  total des charges, comparé dès que les charges de personnel (64, exigées) sont dites. Sans
  prévisionnel, ou avec un prévisionnel nul ou incomplet sur ce point, rien n'est comparé.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from afas import perms
from afas.declarations import completude, etats
from afas.enums import FIGES, EtatDeclaration, TypeDeclaration
from afas.models import COMPTES_CHARGES, COMPTES_PRODUITS, Declaration, DonneesActivite, DonneesFinancieres
from portail.socle.audit import audit_enregistrer
from portail.socle.erreurs import ErreurMetier

if TYPE_CHECKING:
    from habilitations.models import Utilisateur

#: Les champs que le FDA saisit, et ceux du FDF.
CHAMPS_ACTIVITE: tuple[str, ...] = (
    "heures_realisees",
    "heures_facturees",
    "heures_mercredi",
    "enfants_inscrits",
    "jours_ouverture",
    "amplitude_ouverture",
)
CHAMPS_FINANCIERS: tuple[str, ...] = (
    *(champ for champ, _, _ in COMPTES_CHARGES),
    *(champ for champ, _, _ in COMPTES_PRODUITS),
    "participations_familiales",
    "taux_ressortissants",
)
#: Un réel qui s'écarte de plus de 20 % de son prévisionnel doit être expliqué.
SEUIL_ECART = Decimal("0.20")
#: Heures réalisées au plus 1,5 fois les heures facturées.
RAPPORT_REALISEES_FACTUREES = Decimal("1.5")


def _conflit(donnees: DonneesActivite | DonneesFinancieres) -> ErreurMetier:
    if donnees.saisie_le is not None:
        qui = donnees.saisie_par.get_full_name() if donnees.saisie_par else "une autre personne"
        quand = timezone.localtime(donnees.saisie_le).strftime("%Hh%M")
        auteur = f"par {qui} à {quand}"
    else:
        auteur = "par une autre personne"
    return ErreurMetier(
        f"Ces données ont été modifiées {auteur} pendant votre saisie : rechargez la page pour voir "
        "leurs nouvelles valeurs, puis saisissez à nouveau vos changements. Rien n'a été enregistré."
    )


def _deja_enregistre(donnees: DonneesActivite | DonneesFinancieres, par: Utilisateur, valeurs: dict[str, Any]) -> bool:
    """Un double envoi : la version a changé, mais par ce même utilisateur et avec exactement ces
    valeurs ; le second envoi ne réécrit rien et n'est pas un conflit."""
    return donnees.saisie_par_id == par.pk and all(getattr(donnees, c) == v for c, v in valeurs.items())


def _valider_champs(modele: type, valeurs: dict[str, Any]) -> None:
    """Les bornes du modèle (positif, amplitude ≤ 24, jours ≤ 366, taux ≤ 100), vérifiées ici
    aussi : la porte de service ne dépend pas d'un formulaire."""
    for nom, valeur in valeurs.items():
        if valeur is None:
            continue
        try:
            modele._meta.get_field(nom).run_validators(valeur)
        except ValidationError as erreur:
            raise ErreurMetier(" ".join(erreur.messages), champ=nom) from erreur


def _fr(nombre: Decimal | int) -> str:
    """Un nombre à la française dans un message : « 1 234,5 »."""
    texte = f"{nombre:,.2f}".replace(",", " ").replace(".", ",")
    return texte.removesuffix(",00")


def verifier_activite(valeurs: dict[str, Any]) -> None:
    """Les règles de cohérence d'une ligne d'activité (voir le module) ; les champs vides ne sont
    pas encore saisis et ne se comparent pas."""
    _valider_champs(DonneesActivite, valeurs)
    realisees = valeurs.get("heures_realisees")
    facturees = valeurs.get("heures_facturees")
    mercredi = valeurs.get("heures_mercredi")
    jours, amplitude, enfants = (
        valeurs.get("jours_ouverture"),
        valeurs.get("amplitude_ouverture"),
        valeurs.get("enfants_inscrits"),
    )
    if mercredi is not None and realisees is not None and mercredi > realisees:
        raise ErreurMetier(
            f"Les heures du mercredi ({_fr(mercredi)}) font partie des heures réalisées ({_fr(realisees)}) : "
            "elles ne peuvent pas les dépasser.",
            champ="heures_mercredi",
        )
    if None not in (jours, amplitude, enfants):
        capacite = Decimal(jours) * amplitude * enfants
        for champ, heures, libelle in (
            ("heures_facturees", facturees, "heures facturées"),
            ("heures_realisees", realisees, "heures réalisées"),
        ):
            if heures is not None and heures > capacite:
                raise ErreurMetier(
                    f"Les {libelle} ({_fr(heures)}) dépassent ce que l'accueil peut offrir : {jours} jours × "
                    f"{_fr(amplitude)} h × {enfants} enfants = {_fr(capacite)} heures. Vérifiez l'unité (des "
                    "heures, pas des minutes) et les jours, l'amplitude et les enfants inscrits.",
                    champ=champ,
                )
    if realisees is not None and facturees is not None and realisees > facturees * RAPPORT_REALISEES_FACTUREES:
        raise ErreurMetier(
            f"Les heures réalisées ({_fr(realisees)}) dépassent de plus de moitié les heures facturées "
            f"({_fr(facturees)}) : vérifiez que les deux colonnes ne sont pas inversées.",
            champ="heures_realisees",
        )


def verifier_financier(valeurs: dict[str, Any]) -> None:
    """Les règles des données financières (voir le module)."""
    _valider_champs(DonneesFinancieres, valeurs)
    participations = valeurs.get("participations_familiales")
    p70 = valeurs.get("p70")
    if participations is not None and participations > (p70 or Decimal("0")):
        raise ErreurMetier(
            f"Les participations familiales ({_fr(participations)} €) sont comprises dans le compte 70 "
            f"({_fr(p70 or 0)} €) : elles ne peuvent pas le dépasser.",
            champ="participations_familiales",
        )


def ecart(reel: Decimal, prevu: Decimal | None) -> Decimal | None:
    """L'écart relatif |réel − prévu| / prévu, ou None sans prévisionnel (ou prévisionnel nul)."""
    if prevu is None or prevu <= 0:
        return None
    return abs(reel - prevu) / prevu


def _exiger_commentaire(
    declaration: Declaration, reel: Decimal, prevu: Decimal | None, quoi: str, commentaire: str
) -> None:
    e = ecart(reel, prevu)
    if e is not None and e > SEUIL_ECART and not commentaire.strip():
        raise ErreurMetier(
            f"Le {quoi} de ce réel ({_fr(reel)}) s'écarte de {_fr((e * 100).quantize(Decimal('1')))} % de celui du "
            f"prévisionnel {declaration.exercice} ({_fr(prevu)}) : expliquez cet écart dans le commentaire.",
            champ="commentaire_ecart",
        )


def _previsionnel(declaration: Declaration) -> Q:
    return Q(
        declaration__activite_id=declaration.activite_id,
        declaration__exercice=declaration.exercice,
        declaration__type_declaration=TypeDeclaration.PREVISIONNEL,
    )


def _verifier_ecart_activite(declaration: Declaration, ligne_id: int, valeurs: dict[str, Any], commentaire: str):
    if declaration.type_declaration != TypeDeclaration.REEL:
        return
    autres = DonneesActivite.objects.filter(declaration=declaration).exclude(pk=ligne_id)
    agregat = autres.aggregate(total=Sum("heures_realisees"), vides=Count("pk", filter=Q(heures_realisees=None)))
    if agregat["vides"] or valeurs.get("heures_realisees") is None:
        return  # le total n'est pas encore connu
    reel = (agregat["total"] or Decimal("0")) + valeurs["heures_realisees"]
    prevu = DonneesActivite.objects.filter(_previsionnel(declaration)).aggregate(
        total=Sum("heures_realisees"), lignes=Count("pk"), vides=Count("pk", filter=Q(heures_realisees=None))
    )
    if not prevu["lignes"] or prevu["vides"]:
        return
    _exiger_commentaire(declaration, reel, prevu["total"], "total des heures réalisées", commentaire)


def _verifier_ecart_financier(declaration: Declaration, valeurs: dict[str, Any], commentaire: str):
    if declaration.type_declaration != TypeDeclaration.REEL or valeurs.get("c64") is None:
        return
    prevu = DonneesFinancieres.objects.filter(_previsionnel(declaration)).first()
    if prevu is None or prevu.c64 is None:
        return
    reel = sum((valeurs.get(champ) or Decimal("0") for champ, _, _ in COMPTES_CHARGES), Decimal("0"))
    _exiger_commentaire(declaration, reel, prevu.total_charges, "total des charges", commentaire)


def _exiger_saisie_ouverte(declaration: Declaration) -> None:
    if perms.saisie_ouverte(declaration):
        return
    if declaration.etat in FIGES:
        raise ErreurMetier(f"La saisie de cette déclaration est close : elle est « {declaration.get_etat_display()} ».")
    raise ErreurMetier(f"La saisie de cette déclaration ouvre le {declaration.date_ouverture:%d/%m/%Y}.")


def _verrouiller(declaration_id: int) -> Declaration:
    return Declaration.objects.select_for_update(of=("self",)).select_related("activite").get(pk=declaration_id)


def _avancer(declaration: Declaration, *, par: Utilisateur) -> None:
    """Fait suivre à l'état ce qui vient d'être enregistré (voir le module)."""
    if declaration.etat in (EtatDeclaration.A_SAISIR, EtatDeclaration.RENVOYEE):
        etats.transitionner(declaration, EtatDeclaration.EN_COURS, par=par)
    complete = completude.manques(declaration).complete
    if declaration.etat == EtatDeclaration.EN_COURS and complete:
        etats.transitionner(declaration, EtatDeclaration.A_APPROUVER, par=par)
    elif declaration.etat == EtatDeclaration.A_APPROUVER and not complete:
        etats.transitionner(declaration, EtatDeclaration.EN_COURS, par=par)


def _commentaire_ecrire(declaration: Declaration, commentaire: str | None) -> None:
    if commentaire is not None and commentaire != declaration.commentaire_ecart:
        declaration.commentaire_ecart = commentaire
        declaration.save(update_fields=["commentaire_ecart"])


def _journal(valeurs: dict[str, Any]) -> dict[str, str | None]:
    return {nom: (None if v is None else str(v)) for nom, v in valeurs.items()}


def _ecrire(
    declaration: Declaration,
    actuelle: DonneesActivite | DonneesFinancieres,
    *,
    par: Utilisateur,
    version: int,
    valeurs: dict[str, Any],
    commentaire_ecart: str | None,
    action: str,
    repere: dict[str, Any] | None = None,
) -> None:
    """L'écriture commune aux deux parts, sous le verrou de la déclaration et après les
    vérifications : seulement si la version lue par le formulaire est encore celle de la base,
    puis le commentaire d'écart, la ligne de journal et l'avancement de l'état."""
    ecrites = (
        type(actuelle)
        .objects.filter(pk=actuelle.pk, version=version)
        .update(**valeurs, version=F("version") + 1, saisie_par=par, saisie_le=timezone.now())
    )
    if ecrites != 1:  # pragma: no cover — le verrou de la déclaration l'empêche déjà
        raise _conflit(actuelle)
    _commentaire_ecrire(declaration, commentaire_ecart)
    repere = repere or {}
    audit_enregistrer(
        par=par,
        action=action,
        cible=declaration,
        avant={**repere, **_journal({c: getattr(actuelle, c) for c in valeurs})},
        apres={**repere, **_journal(valeurs)},
    )
    _avancer(declaration, par=par)


def donnees_activite_enregistrer(
    *,
    par: Utilisateur,
    ligne: DonneesActivite,
    version: int,
    valeurs: dict[str, Any],
    commentaire_ecart: str | None = None,
) -> DonneesActivite:
    """Enregistre une ligne d'activité (lieu × nature) : le FDA de l'activité ou de ce lieu, la
    saisie ouverte, la version lue par le formulaire inchangée. ``valeurs`` : les champs de
    ``CHAMPS_ACTIVITE`` (None = non saisi). ``commentaire_ecart`` : None le laisse tel quel."""
    inconnus = set(valeurs) - set(CHAMPS_ACTIVITE)
    if inconnus:
        raise ValueError(f"Champs inconnus : {sorted(inconnus)}")
    with transaction.atomic():
        declaration = _verrouiller(ligne.declaration_id)
        actuelle = DonneesActivite.objects.select_related("lieu", "saisie_par").get(pk=ligne.pk)
        _exiger_saisie_ouverte(declaration)
        if not perms.peut_saisir_ligne(perms.roles_sur_declaration(par, declaration), declaration, actuelle):
            raise ErreurMetier("Vous ne tenez pas aujourd'hui le rôle qui permet de saisir ces données.")
        if actuelle.version != version:
            if _deja_enregistre(actuelle, par, valeurs):
                return actuelle
            raise _conflit(actuelle)
        verifier_activite(valeurs)
        commentaire = declaration.commentaire_ecart if commentaire_ecart is None else commentaire_ecart
        _verifier_ecart_activite(declaration, actuelle.pk, valeurs, commentaire)
        _ecrire(
            declaration,
            actuelle,
            par=par,
            version=version,
            valeurs=valeurs,
            commentaire_ecart=commentaire_ecart,
            action="declaration_donnees_activite",
            repere={"ligne": actuelle.pk},
        )
    actuelle.refresh_from_db()
    return actuelle


def donnees_financieres_enregistrer(
    *,
    par: Utilisateur,
    declaration: Declaration,
    version: int,
    valeurs: dict[str, Any],
    commentaire_ecart: str | None = None,
) -> DonneesFinancieres:
    """Enregistre les données financières : le FDF, la saisie ouverte, la version inchangée.
    ``valeurs`` : les champs de ``CHAMPS_FINANCIERS`` (None = non saisi)."""
    inconnus = set(valeurs) - set(CHAMPS_FINANCIERS)
    if inconnus:
        raise ValueError(f"Champs inconnus : {sorted(inconnus)}")
    with transaction.atomic():
        verrouillee = _verrouiller(declaration.pk)
        _exiger_saisie_ouverte(verrouillee)
        if not perms.peut_saisir_financier(perms.roles_sur_declaration(par, verrouillee), verrouillee):
            raise ErreurMetier("Vous ne tenez pas aujourd'hui le rôle qui permet de saisir ces données.")
        actuelles, _ = DonneesFinancieres.objects.select_related("saisie_par").get_or_create(declaration=verrouillee)
        if actuelles.version != version:
            if _deja_enregistre(actuelles, par, valeurs):
                return actuelles
            raise _conflit(actuelles)
        verifier_financier(valeurs)
        commentaire = verrouillee.commentaire_ecart if commentaire_ecart is None else commentaire_ecart
        _verifier_ecart_financier(verrouillee, valeurs, commentaire)
        _ecrire(
            verrouillee,
            actuelles,
            par=par,
            version=version,
            valeurs=valeurs,
            commentaire_ecart=commentaire_ecart,
            action="declaration_donnees_financieres",
        )
    actuelles.refresh_from_db()
    return actuelles
