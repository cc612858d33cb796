"""Transmission d'une déclaration par l'approbateur, et son instruction par la Caf (valider,
renvoyer pour correction). Chaque service : une transaction, la déclaration verrouillée
(``select_for_update``), le passage d'état par ``etats.transitionner`` (événement daté et ligne
de journal), les courriels par la boîte d'envoi.

Un double clic sur « Transmettre à la Caf » (ou deux agents qui décident en même temps) : la
seconde requête attend le verrou, relit la déclaration déjà transmise (ou déjà instruite) et est
refusée avec un message clair ; aucun second récépissé, aucun second courriel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from afas import perms
from afas.declarations import completude, etats
from afas.enums import EtatDeclaration as E
from afas.enums import RoleAfas
from afas.financement.services import montant_figer
from afas.instruction import recepisse as recepisse_module
from afas.models import Declaration, DonneesActivite, DonneesFinancieres, HabilitationAfas, Recepisse
from portail.socle.emails import adresse_portail, courriels_preparer
from portail.socle.erreurs import ErreurMetier

if TYPE_CHECKING:
    from habilitations.models import Utilisateur

COMMENTAIRE_LONGUEUR_MAX = 2000


def _verrouiller(declaration: Declaration) -> Declaration:
    """Relit la déclaration sous verrou (la ligne seule), avec ce que le récépissé cite."""
    return (
        Declaration.objects.select_for_update(of=("self",))
        .select_related("activite__organisme", "caf")
        .get(pk=declaration.pk)
    )


def _deja_transmise(declaration: Declaration) -> ErreurMetier:
    dernier = declaration.recepisses.select_related("transmise_par").order_by("-numero").first()
    if dernier is None:  # pragma: no cover - une déclaration transmise a toujours son récépissé
        return ErreurMetier("Cette déclaration a déjà été transmise à la Caf.")
    return ErreurMetier(
        f"Cette déclaration a déjà été transmise à la Caf le {timezone.localtime(dernier.transmise_le):%d/%m/%Y à %Hh%M}"
        f" par {dernier.transmise_par.get_full_name()} (récépissé n° {dernier.numero}) : rien n'a été envoyé une "
        "seconde fois."
    )


def _declarants(declaration: Declaration, roles: tuple[str, ...]) -> list[Utilisateur]:
    """Les comptes qui tiennent ce jour l'un de ``roles`` (actif) sur l'activité."""
    habilitations = (
        HabilitationAfas.objects.filter(activite_id=declaration.activite_id, role__in=roles)
        .actives()
        .select_related("utilisateur")
        .order_by("utilisateur_id")
    )
    vus: dict[int, Utilisateur] = {}
    for h in habilitations:
        vus.setdefault(h.utilisateur_id, h.utilisateur)
    return [u for u in vus.values() if u.email]


@transaction.atomic
def declaration_transmettre(*, par: Utilisateur, declaration: Declaration) -> Recepisse:
    """« Transmettre à la Caf » : l'approbateur actif de l'activité, quand rien ne manque.

    Fige le contenu (JSON canonique) et son SHA-256 dans un récépissé numéroté (1 à la première
    transmission, 2 après un renvoi pour correction…), passe la déclaration à « Transmise », rend
    le PDF du récépissé (WeasyPrint, dans la transaction : le récépissé existe dès la réponse) et
    écrit à l'approbateur un courriel qui en donne le lien (le PDF se lit une fois connecté : les
    chiffres d'un partenaire ne voyagent pas en pièce jointe).

    Refus : pas approbateur actif ce jour (FDA, FDF, rôle Inactif ou Historique) ; déjà transmise
    (double clic) ; données incomplètes (la liste de ce qui manque) ; état qui ne se transmet pas."""
    declaration = _verrouiller(declaration)
    roles = perms.roles_sur_declaration(par, declaration)
    if not roles.approbateur:
        raise ErreurMetier("Seul un approbateur actif de l'activité peut transmettre la déclaration à la Caf.")
    if declaration.etat in (E.TRANSMISE, E.VALIDEE):
        raise _deja_transmise(declaration)
    lignes = list(declaration.donnees_activite.select_related("lieu").order_by("lieu__libelle", "nature", "pk"))
    financieres = DonneesFinancieres.objects.filter(declaration=declaration).first()
    manques = completude.manques(declaration, lignes=lignes, financieres=financieres)
    if not manques.complete:
        raise ErreurMetier(
            "La déclaration n'est pas complète, elle ne peut pas être transmise. Il manque : "
            + " ; ".join(manques)
            + "."
        )
    if declaration.etat == E.EN_COURS:
        # Complète, mais la saisie ne l'a pas encore marquée « À approuver » : le passage est
        # fait ici, daté, pour que l'historique reste complet.
        etats.transitionner(declaration, E.A_APPROUVER, par=par)
    if declaration.etat == E.RENVOYEE:
        raise ErreurMetier(
            "La Caf a renvoyé cette déclaration pour correction : elle se transmet à nouveau une fois corrigée "
            "(le premier enregistrement la remet en saisie)."
        )
    if not perms.peut_transmettre(roles, declaration):
        raise ErreurMetier(
            f"Cette déclaration est « {declaration.get_etat_display()} » : elle ne peut pas être transmise."
        )
    recepisse = recepisse_creer(par=par, declaration=declaration, lignes=lignes, financieres=financieres)
    etats.transitionner(declaration, E.TRANSMISE, par=par, commentaire=f"Récépissé n° {recepisse.numero}")
    # Le montant estimé est figé avec les paramètres du jour : les changer plus tard ne le change plus.
    montant_figer(declaration, par=par)
    courriels_preparer(
        [
            {
                "modele": "afas_declaration_transmise",
                "destinataire": par.email,
                "contexte": {
                    "declaration": declaration,
                    "recepisse": recepisse,
                    "lien": adresse_portail() + reverse("afas:recepisse", kwargs={"pk": recepisse.pk}),
                },
                "piece_jointe": (recepisse_module.nom_fichier(recepisse), bytes(recepisse.pdf), "application/pdf"),
            }
        ]
        if par.email
        else []
    )
    return recepisse


def recepisse_creer(
    *,
    par: Utilisateur,
    declaration: Declaration,
    lignes: list[DonneesActivite] | None = None,
    financieres: DonneesFinancieres | None = None,
) -> Recepisse:
    """Écrit le récépissé de la transmission en cours : numéro suivant, contenu figé, empreinte,
    PDF. L'appelant tient la déclaration verrouillée (avec activité, organisme et Caf) et fait le
    passage d'état ; ``declaration_transmettre`` est la seule porte des utilisateurs (la
    démonstration l'appelle aussi pour ses déclarations déjà transmises)."""
    if lignes is None:
        lignes = list(declaration.donnees_activite.select_related("lieu").order_by("lieu__libelle", "nature", "pk"))
    if financieres is None:
        financieres = DonneesFinancieres.objects.filter(declaration=declaration).first()
    maintenant = timezone.now()
    numero = declaration.recepisses.count() + 1
    contenu = recepisse_module.contenu_construire(
        declaration, lignes=lignes, financieres=financieres, numero=numero, par=par, le=maintenant
    )
    recepisse = Recepisse.objects.create(
        declaration=declaration,
        numero=numero,
        transmise_par=par,
        transmise_le=maintenant,
        contenu=contenu,
        empreinte=recepisse_module.empreinte_calculer(contenu),
    )
    recepisse.pdf = recepisse_module.pdf_rendre(recepisse)
    recepisse.save(update_fields=["pdf"])
    return recepisse


def _verrouiller_pour_instruire(par: Utilisateur, declaration: Declaration) -> Declaration:
    """Relit sous verrou ; refuse qui n'est pas agent de la Caf de la déclaration, puis une
    déclaration qui n'est pas (ou plus) « Transmise » : le second de deux agents qui décident en
    même temps apprend qu'elle est déjà instruite."""
    declaration = _verrouiller(declaration)
    if not perms.est_agent_de_la_declaration(par, declaration):
        raise ErreurMetier("Seul un agent de la Caf de la déclaration peut l'instruire.")
    if not perms.peut_instruire(par, declaration):
        raise ErreurMetier(
            f"Cette déclaration est « {declaration.get_etat_display()} » : seule une déclaration transmise "
            "peut être validée ou renvoyée pour correction."
        )
    return declaration


@transaction.atomic
def declaration_valider(*, par: Utilisateur, declaration: Declaration) -> Declaration:
    """« Valider » : un agent de la Caf de la déclaration, sur une déclaration transmise ; les
    approbateurs actifs de l'activité sont prévenus."""
    declaration = _verrouiller_pour_instruire(par, declaration)
    etats.transitionner(declaration, E.VALIDEE, par=par)
    courriels_preparer(
        [
            {
                "modele": "afas_declaration_validee",
                "destinataire": u.email,
                "contexte": {"declaration": declaration, "lien": _lien_declaration(declaration)},
            }
            for u in _declarants(declaration, (RoleAfas.APPROBATEUR,))
        ]
    )
    return declaration


@transaction.atomic
def declaration_renvoyer(*, par: Utilisateur, declaration: Declaration, commentaire: str) -> Declaration:
    """« Renvoyer pour correction » : commentaire obligatoire ; la déclaration rouvre à la saisie
    (« Renvoyée pour correction », puis « En cours de saisie » au premier enregistrement) et ses
    déclarants actifs (FDA, FDF, approbateur) reçoivent le commentaire par courriel."""
    commentaire = (commentaire or "").strip()
    if not commentaire:
        raise ErreurMetier("Le commentaire est obligatoire pour renvoyer la déclaration.", champ="commentaire")
    if len(commentaire) > COMMENTAIRE_LONGUEUR_MAX:
        raise ErreurMetier(
            f"Le commentaire ne doit pas dépasser {COMMENTAIRE_LONGUEUR_MAX} caractères.", champ="commentaire"
        )
    declaration = _verrouiller_pour_instruire(par, declaration)
    etats.transitionner(declaration, E.RENVOYEE, par=par, commentaire=commentaire)
    courriels_preparer(
        [
            {
                "modele": "afas_declaration_renvoyee",
                "destinataire": u.email,
                "contexte": {
                    "declaration": declaration,
                    "commentaire": commentaire,
                    "lien": _lien_declaration(declaration),
                },
            }
            for u in _declarants(declaration, (RoleAfas.FDA, RoleAfas.FDF, RoleAfas.APPROBATEUR))
        ]
    )
    return declaration


def _lien_declaration(declaration: Declaration) -> str:
    """La page de la déclaration côté déclarant (``afas:declaration``, écrans de saisie)."""
    return adresse_portail() + reverse("afas:declaration", kwargs={"pk": declaration.pk})
