"""Les lignes AFAS de l'habilitateur (issue 12) : activités dont un rôle n'est tenu par personne,
approbateurs qui attendent la Caf, habilitations actives qui prennent fin bientôt. Montrées sur
l'Accueil AFAS et, composées par la coquille (``portail/urls.py``), dans « Mes tableaux de bord »
de la convention. Un nombre constant de requêtes, quel que soit le volume."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, Q
from django.urls import reverse

from afas import perms
from afas.habilitations import recherche as moteur
from afas.models import HabilitationAfas, q_effective, q_historique
from conventions.models import Convention
from habilitations.administration.tableaux_de_bord.tableaux import LigneComplementaire
from portail.socle.dates import aujourdhui

if TYPE_CHECKING:
    from django.http import HttpRequest

    from habilitations.perms import Perimetre

JOURS_FIN_PROCHAINE = 30


@dataclass(frozen=True)
class TableauAfas:
    non_attribues: int
    en_attente: int
    fin_prochaine: int
    jours: int = JOURS_FIN_PROCHAINE


def tableau(ids: list[int], jour: datetime.date | None = None) -> TableauAfas:
    """Les trois nombres pour les conventions ``ids`` (celles où l'utilisateur habilite). Trois
    requêtes. « Prend fin » : active ce jour et plus active dans ``JOURS_FIN_PROCHAINE`` jours,
    quelle qu'en soit la cause (sa date de fin, ou celle du compte, de l'appartenance
    AFAS-DECLARER, de la convention, de l'activité ou du lieu : les droits sont relus à la date).

    Les rôles tenus (pour « Non attribué ») et les habilitations qui prennent fin se lisent dans
    la même requête : ce sont les habilitations actives ce jour sur les activités des partenaires
    (celles d'une convention sont sur les activités de son partenaire : ``afas.services``), et
    vérifier les droits du jour, ligne par ligne, est ce qui coûte. Deux requêtes les relisaient
    deux fois (≈ 60 % du temps de la page d'une grande commune)."""
    jour = jour or aujourdhui()
    conventions = Convention.objects.filter(pk__in=ids)
    criteres = {"lieux": "oui", "role": ""}
    limite = jour + datetime.timedelta(days=JOURS_FIN_PROCHAINE)
    activites, lieux = moteur.activites_et_lieux_ouverts(conventions, criteres, jour)
    # Droits du jour relus par sous-requête corrélée, sans la liste des déclarants (des milliers
    # d'identifiants dans une grande commune : des secondes de planification). Un agrégat filtré
    # pour la fin prochaine : les droits à la date limite ne sont relus que pour les
    # habilitations actives des conventions ``ids``.
    actives = (
        HabilitationAfas.objects.filter(q_effective(jour), activite_id__in=activites or [0])
        .order_by()
        .values("activite_id", "lieu_id", "role")
        .annotate(fin=Count("pk", filter=Q(convention_id__in=ids or [0]) & ~q_effective(limite)))
        .values_list("activite_id", "lieu_id", "role", "fin")
    )
    tenus, fin_prochaine = [], 0
    for activite, lieu, role, fin in actives:
        tenus.append((activite, lieu, role))
        fin_prochaine += fin
    en_attente = HabilitationAfas.objects.filter(convention__in=conventions).en_attente().exclude(q_historique(jour))
    return TableauAfas(
        non_attribues=len(moteur.activites_sans_titulaire(activites, lieux, tenus, criteres)),
        en_attente=en_attente.count(),
        fin_prochaine=fin_prochaine,
    )


def lignes_tableaux_de_bord(request: HttpRequest, perimetre: Perimetre) -> list[LigneComplementaire]:
    """Le complément AFAS de « Mes tableaux de bord » : rien (une requête) pour qui n'habilite
    pas dans cette convention ; sinon ses trois lignes, liées à la recherche du partenaire."""
    convention = perimetre.convention
    if not perms.conventions_habilitables(request.user).filter(pk=convention.pk).exists():
        return []
    t = tableau([convention.pk])
    recherche = reverse("afas:habilitations") + f"?partenaire={convention.pk}&lieux=oui"
    return [
        LigneComplementaire(
            "Activités dont un rôle AFAS n'est tenu par personne", t.non_attribues, recherche + "&etat=non_attribue"
        ),
        LigneComplementaire(
            "Approbateurs en attente de validation par la Caf",
            t.en_attente,
            recherche + "&etat=inactif&role=APPROBATEUR",
        ),
        LigneComplementaire(
            f"Habilitations AFAS actives qui prennent fin dans les {t.jours} jours",
            t.fin_prochaine,
            recherche + "&etat=actif",
        ),
    ]
