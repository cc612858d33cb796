"""Les lignes AFAS de l'habilitateur (issue 12) : activités dont un rôle n'est tenu par personne,
approbateurs qui attendent la Caf, habilitations actives qui prennent fin bientôt. Montrées sur
l'Accueil AFAS et, composées par la coquille (``portail/urls.py``), dans « Mes tableaux de bord »
de la convention. Un nombre constant de requêtes, quel que soit le volume.

Les grandes conventions (``SEUIL_SYNTHESE`` habilitations AFAS) lisent deux de ces nombres dans
la synthèse de la nuit (``synthese_calculer``), datée sur la page : les compter à l'instant
demande de relire les droits du jour de chacune de leurs ~2 000 habilitations actives (compte,
appartenance AFAS-DECLARER, convention, activité, lieu, validation), 45 à 70 ms par affichage à
l'échelle nationale, soit le tiers de « Mes tableaux de bord » ; aucune requête ne les donne
sans cette relecture. Les approbateurs en attente restent comptés à l'instant (un index, 2 ms) :
ils changent dans la journée par la Caf. La recherche où l'on agit reste calculée à l'instant."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Count, F, Func, IntegerField, Q, QuerySet, Subquery
from django.urls import reverse

from afas import perms
from afas.habilitations import recherche as moteur
from afas.models import HabilitationAfas, SyntheseAfas, q_effective, q_historique
from conventions.models import Convention
from habilitations.administration.tableaux_de_bord.tableaux import LigneComplementaire
from portail.socle.dates import aujourdhui
from portail.socle.requetes import RequeteCompilee

if TYPE_CHECKING:
    from django.http import HttpRequest

    from habilitations.perms import Perimetre

JOURS_FIN_PROCHAINE = 30
# Habilitations AFAS (tous états) à partir desquelles une convention a ses lignes AFAS calculées
# chaque nuit (la grande commune du banc en a 9 000 ; 26 conventions du pays en ont plus).
SEUIL_SYNTHESE = 5_000


@dataclass(frozen=True)
class TableauAfas:
    non_attribues: int
    en_attente: int
    fin_prochaine: int
    jours: int = JOURS_FIN_PROCHAINE
    # Le jour des chiffres de la nuit (non attribuées, fin prochaine) ; None : comptés à l'instant.
    au: datetime.date | None = None


def tableau(ids: list[int], jour: datetime.date | None = None) -> TableauAfas:
    """Les trois nombres pour les conventions ``ids`` (celles où l'utilisateur habilite), ce jour.

    Une seule convention qui a sa synthèse de la nuit (calculée aujourd'hui, ou hier si la tâche
    de cette nuit n'est pas encore passée) : les activités non attribuées et les fins prochaines
    en viennent, datées (``au``), les approbateurs en attente sont comptés dans la même requête.
    Sinon (synthèse absente ou trop vieille, plusieurs conventions, ``jour`` donné) : tout est
    compté à l'instant (``compter``), une requête de plus pour chercher la synthèse."""
    if jour is None and len(ids) == 1:
        jour = aujourdhui()
        lignes = _SYNTHESE_ET_ATTENTE.lignes(convention=ids[0], jour=jour, veille=jour - datetime.timedelta(days=1))
        if lignes:
            au, non_attribues, fin_prochaine, en_attente = lignes[0]
            return TableauAfas(non_attribues=non_attribues, en_attente=en_attente, fin_prochaine=fin_prochaine, au=au)
    return compter(ids, jour or aujourdhui())


def _synthese_et_attente(convention: int, jour: datetime.date, veille: datetime.date) -> QuerySet:
    """La synthèse de la nuit d'une convention (calculée ``jour`` ou ``veille``), avec le compte
    des approbateurs en attente en sous-requête : une requête de moins (sur cette machine
    partagée, chaque aller-retour vers PostgreSQL coûte autant que ce compte)."""
    compte = Func(F("pk"), function="COUNT", output_field=IntegerField())
    en_attente = _habilitations_en_attente([convention], jour).order_by().annotate(nombre=compte).values("nombre")
    return (
        SyntheseAfas.objects.filter(convention_id=convention, jour__gte=veille)
        .annotate(en_attente=Subquery(en_attente, output_field=IntegerField()))
        .order_by("-jour")
        .values_list("jour", "non_attribues", "fin_prochaine", "en_attente")[:1]
    )


# Compilée une fois par processus (``portail.socle.requetes``) : l'assembler (sous-requête des
# approbateurs en attente, règle de l'historique) coûtait 1 à 1,5 ms de processeur à chaque
# « Mes tableaux de bord » et Accueil AFAS de l'habilitateur.
_SYNTHESE_ET_ATTENTE = RequeteCompilee(
    _synthese_et_attente,
    {
        "convention": (-1001, -1002),
        "jour": (datetime.date(1901, 2, 3), datetime.date(1902, 3, 4)),
        "veille": (datetime.date(1903, 4, 5), datetime.date(1904, 5, 6)),
    },
)


def _habilitations_en_attente(ids: list[int], jour: datetime.date) -> QuerySet[HabilitationAfas]:
    """Les approbateurs des conventions ``ids`` dont la Caf n'a pas encore décidé, pas historiques.

    La demande porte la Caf pivot et le partenaire de sa convention, copiés à sa création et que
    rien ne modifie (``afas.services._demander_validation``, ``ValidationApprobateur.
    champs_copies`` ; pas plus qu'on ne change la Caf ou le partenaire d'une convention) : les
    poser aussi sur la demande mène PostgreSQL aux quelques demandes en attente de cette Caf pour
    ce partenaire, dans l'index de sa file (``validation_caf_decision_tri``), au lieu de chercher
    l'habilitation de chacune des ~1 100 demandes en attente du pays (3 ms → 0,2 ms)."""
    conventions = Convention.objects.filter(pk__in=ids)
    habilitations = HabilitationAfas.objects.filter(
        convention__in=conventions,
        validation__caf_id__in=conventions.values("caf_id"),
        validation__organisme_id__in=conventions.values("organisme_id"),
    )
    return habilitations.en_attente().exclude(q_historique(jour))


def _en_attente(ids: list[int], jour: datetime.date) -> int:
    return _habilitations_en_attente(ids, jour).count()


def compter(ids: list[int], jour: datetime.date) -> TableauAfas:
    """Les trois nombres comptés à l'instant pour les conventions ``ids``. Trois
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
    return TableauAfas(
        non_attribues=len(moteur.activites_sans_titulaire(activites, lieux, tenus, criteres)),
        en_attente=_en_attente(ids, jour),
        fin_prochaine=fin_prochaine,
    )


def synthese_calculer(jour: datetime.date | None = None) -> int:
    """Chaque nuit : les activités non attribuées et les fins prochaines de chaque convention d'au
    moins ``SEUIL_SYNTHESE`` habilitations AFAS, comptées par la règle même de la page
    (``compter``), écrites pour ``jour`` ; les synthèses plus anciennes et celles des conventions
    passées sous le seuil sont effacées. Une transaction par convention. Rend le nombre de
    conventions calculées."""
    jour = jour or aujourdhui()
    grandes = sorted(
        HabilitationAfas.objects.order_by()
        .values("convention_id")
        .annotate(habilitations=Count("pk"))
        .filter(habilitations__gte=SEUIL_SYNTHESE)
        .values_list("convention_id", flat=True)
    )
    SyntheseAfas.objects.exclude(convention_id__in=grandes).delete()
    for convention_id in grandes:
        t = compter([convention_id], jour)
        with transaction.atomic():
            SyntheseAfas.objects.filter(convention_id=convention_id).delete()
            SyntheseAfas.objects.create(
                convention_id=convention_id, jour=jour, non_attribues=t.non_attribues, fin_prochaine=t.fin_prochaine
            )
    return len(grandes)


def lignes_tableaux_de_bord(request: HttpRequest, perimetre: Perimetre) -> list[LigneComplementaire]:
    """Le complément AFAS de « Mes tableaux de bord » : rien (une requête) pour qui n'habilite
    pas dans cette convention ; sinon ses trois lignes, liées à la recherche du partenaire. La
    question « habilite-t-il ici ? » est celle du menu (``conventions_habilitables_cles``, SQL
    écrit à la main, comparé aux prédicats de l'ORM par ses tests) : construite par l'ORM, elle
    coûtait 4 ms de processeur à chaque affichage ; lue avec le menu, elle ne coûte pas de requête
    de plus (``droits_de_la_requete``)."""
    convention = perimetre.convention
    if convention.pk not in perms.droits_de_la_requete(request).conventions_habilitables:
        return []
    t = tableau([convention.pk])
    recherche = reverse("afas:habilitations") + f"?partenaire={convention.pk}&lieux=oui"
    return [
        LigneComplementaire(
            "Activités dont un rôle AFAS n'est tenu par personne",
            t.non_attribues,
            recherche + "&etat=non_attribue",
            au=t.au,
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
            au=t.au,
        ),
    ]
