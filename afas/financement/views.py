"""Financement AFAS : le montant d'une déclaration et ses étapes, l'historique et les statistiques
d'une activité, le financement d'un appel pour la Caf (et son export), les paramètres de la Caf.
Hors rôle : 403 ; objet hors périmètre : 404. Les droits sont dans ``afas.perms``."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from afas import perms
from afas.enums import FIGES, EtatDeclaration, NatureActivite, TypeActivite, TypeDeclaration
from afas.financement import calcul, export, services, statistiques
from afas.financement.forms import ParametreFiltre, ParametreForm, PlanMercrediForm
from afas.models import (
    Declaration,
    DonneesActivite,
    DonneesFinancieres,
    LabelPlanMercredi,
    MontantEstime,
    ParametreFinancement,
    Recepisse,
    StatistiqueReference,
)
from habilitations import perms as perms_habilitations
from portail.socle.csv import LignesSQL, OuiNon, reponse_csv
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from portail.socle.forms import refus_afficher
from portail.socle.listes import PAR_PAGE, PaginateurParLeBoutLePlusProche, cle_primaire, paginer
from portail.socle.navigation import fil_ariane

#: L'ordre du calendrier : le plus avancé d'un exercice fait foi dans la comparaison annuelle.
ORDRE_TYPES = [
    TypeDeclaration.PREVISIONNEL,
    TypeDeclaration.ACTUALISE_JUIN,
    TypeDeclaration.ACTUALISE_SEPTEMBRE,
    TypeDeclaration.REEL,
]


def _fil(*liens):
    return fil_ariane(("Aides financières d'action sociale", reverse("afas:accueil")), *liens)


def _fil_caf(*liens):
    return fil_ariane(("Aides financières d'action sociale", reverse("afas:activites")), *liens)


def url_recepisse(pk: int) -> str:
    """L'adresse du récépissé PDF (``afas:recepisse``)."""
    return reverse("afas:recepisse", kwargs={"pk": pk})


def _url_declaration(pk: int, *, caf: bool = False) -> str:
    """La page de la déclaration : celle de l'instruction pour un agent Caf, sinon celle des déclarants."""
    return reverse("afas:declaration_caf" if caf else "afas:declaration", kwargs={"pk": pk})


# --- Montant d'une déclaration ------------------------------------------------------------------


@require_GET
def declaration_financement(request, pk: int):
    """Le montant estimé d'une déclaration et chaque étape de son calcul ; figé à la transmission."""
    declaration = get_object_or_404(
        perms.declarations_lisibles(request.user).select_related("activite__organisme", "appel"), pk=pk
    )
    return render(
        request,
        "afas/financement/declaration.html",
        {
            "declaration": declaration,
            "url_declaration": _url_declaration(declaration.pk, caf=perms_habilitations.est_agent_caf(request.user)),
            "fil": (_fil_caf if perms_habilitations.est_agent_caf(request.user) else _fil)(
                ("Historique", reverse("afas:activite_historique", args=[declaration.activite_id]))
            ),
        },
    )


# --- Historique d'une activité ------------------------------------------------------------------


def _contextes(declarations: list[Declaration]) -> dict[int, services.Contexte]:
    """Ce que lit l'estimation de chaque déclaration, en deux requêtes pour toutes (paramètres et
    labels Plan mercredi) ; lignes et données financières sont déjà préchargées."""
    if not declarations:
        return {}
    caf_ids = {d.caf_id for d in declarations}
    exercices = {d.exercice for d in declarations}
    parametres = list(
        ParametreFinancement.objects.filter(
            Q(caf_id__in=caf_ids) | Q(caf__isnull=True),
            exercice__in=exercices,
            type_activite__in={d.activite.type_activite for d in declarations},
        )
    )
    labels = set(
        LabelPlanMercredi.objects.filter(
            activite_id__in={d.activite_id for d in declarations}, exercice__in=exercices, labellise=True
        ).values_list("activite_id", "exercice")
    )
    par_groupe = defaultdict(list)
    for p in parametres:
        par_groupe[(p.exercice, p.type_activite)].append(p)
    return {
        d.pk: services.Contexte(
            lignes=list(d.donnees_activite.all()),
            financieres=_financieres(d),
            parametres=[p for p in par_groupe[(d.exercice, d.activite.type_activite)] if p.caf_id in (None, d.caf_id)],
            plan_mercredi=(d.activite_id, d.exercice) in labels,
        )
        for d in declarations
    }


def _financieres(declaration: Declaration) -> DonneesFinancieres | None:
    """Les données financières préchargées (``select_related``), ou None si elles manquent."""
    try:
        return declaration.donnees_financieres
    except DonneesFinancieres.DoesNotExist:
        return None


def _montants_actuels():
    return Prefetch("montants", queryset=MontantEstime.objects.filter(actuel=True), to_attr="montants_actuels")


def _lignes_a_estimer() -> Prefetch:
    """Les lignes (données d'activité) des seules déclarations que ``_estimations`` estime : pas
    celles d'une déclaration figée (transmise ou validée, avec son montant actuel), qui se lit
    dans son montant figé. Une activité aux 30 lieux et neuf déclarations, dont sept figées,
    chargeait 270 lignes pour en lire 60 (historique et statistiques d'une activité). Une seule
    requête, figées ou non."""
    figee = Q(declaration__etat__in=FIGES) & Exists(
        MontantEstime.objects.filter(declaration=OuterRef("declaration"), actuel=True)
    )
    return Prefetch("donnees_activite", queryset=DonneesActivite.objects.exclude(figee))


def _recepisses_affiches() -> Prefetch:
    """Les récépissés tels que l'historique les montre (numéro, date, empreinte) : sans le contenu
    transmis ni le PDF, lus pour rien à chaque affichage."""
    return Prefetch("recepisses", queryset=Recepisse.objects.defer("contenu", "pdf"))


def _estimations(declarations: list[Declaration]) -> dict[int, services.Estimation]:
    """Le droit de chaque déclaration : figé s'il est transmis, sinon estimé (sans avances, qui
    demanderaient le prévisionnel de chacune)."""
    contextes = _contextes(declarations)
    resultat = {}
    for d in declarations:
        fige = d.montants_actuels[0] if d.etat in FIGES and d.montants_actuels else None
        resultat[d.pk] = (
            services.estimation_depuis_fige(fige)
            if fige
            else services.estimer(d, contexte=contextes[d.pk], avec_reglement=False)
        )
    return resultat


@require_GET
def activite_historique(request, pk: int):
    """L'historique d'une activité : toutes ses déclarations (exercices et types), leurs chiffres,
    montants, états et récépissés, et la comparaison d'une année sur l'autre."""
    activite = get_object_or_404(perms.activite_consultable(request.user, pk).select_related("organisme"))
    declarations = list(
        Declaration.objects.filter(activite=activite)
        .select_related("activite", "donnees_financieres")
        .prefetch_related(_lignes_a_estimer(), _recepisses_affiches(), _montants_actuels())
        .order_by("-exercice", "pk")
    )
    declarations.sort(key=lambda d: (-d.exercice, ORDRE_TYPES.index(d.type_declaration)))
    estimations = _estimations(declarations)
    lignes = [
        {
            "declaration": d,
            "estimation": estimations[d.pk],
            "fige": bool(d.montants_actuels) and d.etat in FIGES,
            "url": _url_declaration(d.pk),
            "recepisses": [
                {"r": r, "url": url_recepisse(r.pk), "morceaux": [r.empreinte[i : i + 16] for i in range(0, 64, 16)]}
                for r in d.recepisses.all()
            ],
        }
        for d in declarations
    ]
    # Comparaison annuelle : pour chaque exercice, la déclaration la plus avancée du calendrier.
    par_exercice: dict[int, dict] = {}
    for ligne in lignes:
        d = ligne["declaration"]
        courant = par_exercice.get(d.exercice)
        if courant is None or ORDRE_TYPES.index(d.type_declaration) > ORDRE_TYPES.index(
            courant["declaration"].type_declaration
        ):
            par_exercice[d.exercice] = ligne
    comparaison = []
    precedent = None
    for exercice in sorted(par_exercice):
        ligne = par_exercice[exercice]
        montant = ligne["estimation"].montant
        variation = None
        if precedent is not None and precedent:
            variation = ((montant - precedent) / precedent * 100).quantize(Decimal("0.1"))
        comparaison.append({**ligne, "exercice": exercice, "variation": variation})
        precedent = montant
    comparaison.reverse()
    agent = perms.peut_labelliser_plan_mercredi(request.user, activite)
    return render(
        request,
        "afas/financement/historique.html",
        {
            "activite": activite,
            "lignes": lignes,
            "comparaison": comparaison,
            "agent": agent,
            "fil": _fil_caf(("Activités", reverse("afas:activites"))) if agent else _fil(),
        },
    )


def _exercices_label() -> list[int]:
    """Les exercices qu'un agent labellise : les trois derniers, l'année et la suivante."""
    annee = aujourdhui().year
    return list(range(annee + 1, annee - 4, -1))


@require_http_methods(["GET", "POST"])
def activite_plan_mercredi(request, pk: int):
    """Poser ou retirer le label Plan mercredi d'un exercice (agent de la Caf de l'activité)."""
    activite = get_object_or_404(perms.activites_consultables(request.user).select_related("organisme"), pk=pk)
    if not perms.peut_labelliser_plan_mercredi(request.user, activite):
        raise PermissionDenied
    form = PlanMercrediForm(request.POST or None, exercices=_exercices_label())
    if request.method == "POST" and form.is_valid():
        try:
            change = services.plan_mercredi_definir(par=request.user, activite=activite, **form.cleaned_data)
        except ErreurMetier as erreur:
            refus_afficher(form, erreur)
        else:
            etat = "posé" if form.cleaned_data["labellise"] else "retiré"
            messages.success(
                request,
                f"Label Plan mercredi {etat} pour l'exercice {form.cleaned_data['exercice']}."
                if change
                else "Rien n'a changé : le label était déjà dans cet état.",
            )
            return redirect("afas:activite_historique", activite.pk)
    labels = list(
        LabelPlanMercredi.objects.filter(activite=activite, labellise=True)
        .order_by("-exercice")
        .values_list("exercice", flat=True)
    )
    return render(
        request,
        "afas/formulaire.html",
        {
            "form": form,
            "titre": f"Plan mercredi — {activite.libelle}",
            "avertissement": "Exercices labellisés : "
            + (", ".join(str(e) for e in labels) or "aucun")
            + ". Le label donne le bonus par heure du mercredi ; un montant déjà figé à la transmission ne change pas.",
            "retour": reverse("afas:activite_historique", args=[activite.pk]),
            "fil": _fil_caf(
                ("Activités", reverse("afas:activites")),
                ("Historique", reverse("afas:activite_historique", args=[activite.pk])),
            ),
        },
    )


# --- Statistiques d'une activité ----------------------------------------------------------------

LARGEUR, HAUTEUR_LIGNE, MARGE = 720, 84, 12


def _svg(nombre: float) -> str:
    """Une coordonnée SVG : point décimal, jamais la virgule de la locale française."""
    return f"{nombre:.1f}"


def _graphique(indicateurs: list[dict]) -> list[dict]:
    """Les coordonnées du graphique SVG : pour chaque indicateur, son libellé, une bande par
    référence (Caf, nation) du premier au troisième quartile avec un trait à la médiane, et un
    losange à la valeur de l'activité ; chaque indicateur a son échelle (ils n'ont pas la même
    unité), de la plus petite à la plus grande valeur montrée, élargie d'un dixième de chaque
    côté, bornes écrites sous l'axe. Les coordonnées sont du texte écrit ici : le gabarit les
    localiserait (« 559,3 »)."""
    utile = LARGEUR - 2 * MARGE
    rangees = []
    for i, ind in enumerate(indicateurs):
        valeurs = [v for v in [ind["valeur"]] if v is not None]
        for ref in (ind["caf"], ind["nation"]):
            if ref:
                valeurs += [ref.q1, ref.q3]
        bas, haut = (min(valeurs), max(valeurs)) if valeurs else (Decimal(0), Decimal(1))
        marge = (haut - bas) / 10 or (abs(haut) / 10) or Decimal(1)
        bas, haut = max(bas - marge, Decimal(0)) if bas >= 0 else bas - marge, haut + marge

        def x(v, bas=bas, haut=haut):
            return MARGE + float((v - bas) / (haut - bas)) * utile

        y = 8 + i * HAUTEUR_LIGNE
        bandes = []
        for j, (nom, ref) in enumerate((("Caf", ind["caf"]), ("Nation", ind["nation"]))):
            if ref:
                y_bande = y + 22 + j * 20
                bandes.append(
                    {
                        "x": _svg(x(ref.q1)),
                        "largeur": _svg(max(x(ref.q3) - x(ref.q1), 2)),
                        "mediane": _svg(x(ref.mediane)),
                        "y": str(y_bande),
                        "y2": str(y_bande + 16),
                        "classe": "caf" if nom == "Caf" else "nation",
                    }
                )
        point = None
        if ind["valeur"] is not None:
            cx, cy = x(ind["valeur"]), y + 40
            point = {"x": _svg(cx - 6), "y": str(cy - 6), "cx": _svg(cx), "cy": str(cy)}
        rangees.append(
            {
                "libelle": ind["libelle"],
                "y_texte": str(y + 14),
                "bandes": bandes,
                "point": point,
                "y_axe": str(y + 62),
                "y_bornes": str(y + 76),
                "x_fin": str(LARGEUR - MARGE),
                "bas": _valeur_texte(bas, ind["unite"]),
                "haut": _valeur_texte(haut, ind["unite"]),
            }
        )
    return rangees


def _valeur_texte(valeur: Decimal | None, unite: str) -> str:
    if valeur is None:
        return "—"
    if unite == "€/h":
        return f"{calcul.euros(valeur)}/h"
    if unite == "%":
        return calcul.taux(valeur.quantize(Decimal("0.1")))
    return calcul.heures(valeur.quantize(Decimal("0.01")))


@require_GET
def activite_statistiques(request, pk: int):
    """Les indicateurs d'une activité pour une déclaration (exercice et type), à côté du premier
    quartile, de la médiane et du troisième quartile de sa Caf et de la nation (même exercice,
    type de déclaration, type et nature d'activité), lus dans le résumé calculé chaque nuit."""
    activite = get_object_or_404(perms.activite_consultable(request.user, pk).select_related("organisme"))
    declarations = list(
        Declaration.objects.filter(activite=activite)
        .select_related("activite", "donnees_financieres")
        .prefetch_related(_lignes_a_estimer(), _montants_actuels())
        .order_by("-exercice", "pk")
    )
    declarations.sort(key=lambda d: (-d.exercice, -ORDRE_TYPES.index(d.type_declaration)))
    demandee = cle_primaire(request.GET.get("declaration", ""))
    figees = [d for d in declarations if d.etat in FIGES]
    choisie = next((d for d in declarations if d.pk == demandee), None) or (figees or declarations or [None])[0]
    indicateurs, calculee_le = [], None
    if choisie is not None:
        estimation = _estimations([choisie])[choisie.pk]
        refs = statistiques.references(
            caf_id=choisie.caf_id,
            exercice=choisie.exercice,
            type_declaration=choisie.type_declaration,
            type_activite=activite.type_activite,
            nature=activite.nature,
        )
        for ind in statistiques.INDICATEURS:
            valeur = getattr(estimation.indicateurs, ind.code)
            caf, nation = refs[ind.code]["caf"], refs[ind.code]["nation"]
            for ref in (caf, nation):
                if ref is not None and calculee_le is None:
                    calculee_le = ref.calculee_le
            indicateurs.append(
                {
                    "code": ind.code,
                    "libelle": ind.libelle,
                    "unite": ind.unite,
                    "valeur": valeur,
                    "valeur_texte": _valeur_texte(valeur, ind.unite),
                    "caf": caf,
                    "nation": nation,
                    "textes": {
                        nom: {
                            "q1": _valeur_texte(ref.q1, ind.unite),
                            "mediane": _valeur_texte(ref.mediane, ind.unite),
                            "q3": _valeur_texte(ref.q3, ind.unite),
                            "effectif": ref.effectif,
                        }
                        if ref
                        else None
                        for nom, ref in (("caf", caf), ("nation", nation))
                    },
                    "hors_norme": statistiques.hors_norme(valeur, nation),
                }
            )
    agent = perms.peut_labelliser_plan_mercredi(request.user, activite)
    return render(
        request,
        "afas/financement/statistiques.html",
        {
            "activite": activite,
            "declarations": declarations,
            "choisie": choisie,
            "provisoire": choisie is not None and choisie.etat not in FIGES,
            "indicateurs": indicateurs,
            "graphique": _graphique(indicateurs),
            "hauteur_graphique": 12 + len(indicateurs) * HAUTEUR_LIGNE,
            "largeur_graphique": LARGEUR,
            "calculee_le": calculee_le,
            "fil": _fil_caf(("Activités", reverse("afas:activites"))) if agent else _fil(),
        },
    )


# --- Financement d'un appel (Caf) ---------------------------------------------------------------


def _references_hors_norme(appel) -> dict[tuple[str, str], list[StatistiqueReference]]:
    """Les références nationales de la nuit (même exercice et type de déclaration que l'appel, au
    moins 4 déclarations comparables), par (type d'activité, nature)."""
    references = defaultdict(list)
    for ref in StatistiqueReference.objects.filter(
        caf__isnull=True,
        indicateur="montant_par_heure",
        exercice=appel.exercice,
        type_declaration=appel.type_declaration,
        effectif__gte=4,
    ):
        references[(ref.type_activite, ref.nature)].append(ref)
    return references


def _hors_norme(
    appel, references: dict[tuple[str, str], list[StatistiqueReference]] | None = None
) -> tuple[QuerySet[MontantEstime], dict[tuple[str, str], Decimal]]:
    """Les montants figés de l'appel dont le montant par heure sort de [Q1 − 1,5 × EIQ,
    Q3 + 1,5 × EIQ] de leurs pairs de la nation (même exercice, type de déclaration, type et
    nature ; au moins 4), d'après le résumé de la nuit. Les bornes de chaque groupe (quelques
    lignes) sont lues d'abord puis écrites dans le filtre : une sous-requête corrélée par montant
    coûtait 4 s pour un appel de 50 000 déclarations (mesuré), ce filtre se lit par index. La même
    règle, en Python, pour un montant déjà lu : ``_est_hors_norme``."""
    un_et_demi = Decimal("1.5")
    bornes = Q(pk__in=[])
    medianes = {}
    if references is None:
        references = _references_hors_norme(appel)
    for (type_activite, nature), refs in references.items():
        for ref in refs:
            ecart = ref.q3 - ref.q1
            bornes |= Q(type_activite=type_activite, nature=nature) & (
                Q(montant_par_heure__lt=ref.q1 - un_et_demi * ecart)
                | Q(montant_par_heure__gt=ref.q3 + un_et_demi * ecart)
            )
            medianes[(type_activite, nature)] = ref.mediane
    return MontantEstime.objects.filter(bornes, actuel=True, declaration__appel=appel), medianes


def _est_hors_norme(montant: MontantEstime, references: dict[tuple[str, str], list[StatistiqueReference]]) -> bool:
    """Le filtre de ``_hors_norme`` appliqué à un montant actuel déjà lu (règle de Tukey de
    ``statistiques.hors_norme``, mêmes bornes, mêmes références)."""
    return any(
        statistiques.hors_norme(montant.montant_par_heure, ref)
        for ref in references.get((montant.type_activite, montant.nature), ())
    )


def _declarations_appel(appel):
    return (
        Declaration.objects.filter(appel=appel)
        .select_related("activite__organisme", "donnees_financieres")
        .prefetch_related("donnees_activite", _montants_actuels())
        .order_by("activite__organisme__raison_sociale", "activite__libelle", "pk")
    )


def _groupe_des_montants(appel, cafs: list[int]) -> dict:
    """Ce que les montants figés de l'appel ont en commun (``services.montant_valeurs`` les copie
    de leur déclaration) : son exercice, son type, et les Caf de ses déclarations ``cafs`` (celle
    de l'appel : le lancement ne prend que des activités de sa Caf ; lues et non supposées)."""
    return {"caf_id__in": cafs, "exercice": appel.exercice, "type_declaration": appel.type_declaration}


def _plus_ecartes(
    hors_norme: QuerySet[MontantEstime], medianes: dict[tuple[str, str], Decimal], nombre: int = 50
) -> list[dict]:
    """Les ``nombre`` montants hors norme au plus fort montant par heure, avec leur déclaration,
    activité et partenaire : clés d'abord (les montants par l'index, les déclarations de l'appel
    par l'index seul), puis ces lignes par leur clé. En une requête, PostgreSQL hachait les 6 000
    déclarations entières de l'appel pour en joindre deux douzaines. La clé départage les égalités.
    Les seules colonnes que montre la liste, en tuples : ni les paramètres et étapes (JSON décodé
    par ligne), ni quatre objets par ligne."""
    cles = hors_norme.order_by("-montant_par_heure", "pk").values("pk")[:nombre]
    lignes = (
        MontantEstime.objects.filter(pk__in=cles)
        .order_by("-montant_par_heure", "pk")
        .values_list(
            "declaration_id",
            "declaration__activite_id",
            "declaration__activite__libelle",
            "declaration__activite__organisme__raison_sociale",
            "montant_par_heure",
            "type_activite",
            "nature",
        )
    )
    return [
        {
            "declaration_id": declaration,
            "activite_id": activite,
            "activite": libelle,
            "partenaire": partenaire,
            "montant_par_heure": montant_par_heure,
            "mediane": medianes.get((type_activite, nature)),
        }
        for declaration, activite, libelle, partenaire, montant_par_heure, type_activite, nature in lignes
    ]


@require_GET
def appel_financement(request, pk: int):
    """Pour un appel : le montant de chaque activité (figé s'il est transmis, estimé sinon), par
    partenaire, le total de la Caf (montants figés, dans la base) et les activités hors norme."""
    appel = get_object_or_404(perms.appels_visibles(request.user), pk=pk)
    # Les dernières pages se lisent depuis la fin : PostgreSQL parcourt alors les partenaires par
    # l'index de leur raison sociale à rebours et s'arrête à la page, comme pour la première. Depuis
    # le début, il joignait les 6 000 déclarations de l'appel aux 80 000 activités du pays (hachage
    # parallèle) et les triait toutes pour en garder les dix dernières (60 à 100 ms).
    #
    # Le nombre de déclarations de l'appel et les Caf de leurs montants en une lecture, groupée par
    # Caf (index de l'appel seul) : deux requêtes jusque-là.
    par_caf = dict(Declaration.objects.filter(appel=appel).order_by().values_list("caf_id").annotate(nombre=Count("*")))
    paginateur = PaginateurParLeBoutLePlusProche(_declarations_appel(appel), PAR_PAGE)
    paginateur.count = sum(par_caf.values())
    page = paginateur.get_page(request.GET.get("page"))
    page.pages_list = list(paginateur.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
    declarations = list(page)
    estimations = _estimations(declarations)
    # Hors norme : les lignes de la page jugées sur leur montant actuel, déjà lu (préchargé pour
    # l'estimation), par la règle du filtre des hors norme de l'appel : une requête de moins.
    references = _references_hors_norme(appel)
    hors_norme, medianes = _hors_norme(appel, references)
    ids_hors_norme = {d.pk for d in declarations if any(_est_hors_norme(m, references) for m in d.montants_actuels)}
    # Les montants de l'appel sont parmi ceux de sa Caf, de son exercice et de son type (copiés de la
    # déclaration par ``services.montant_valeurs``) : dit à PostgreSQL, il les lit dans l'index
    # ``montant_actuel_par_caf``. Sans cela, il lisait le montant de chacune des 6 000 déclarations
    # de l'appel (les hors norme en parcourant toutes les déclarations du pays : 30 à 50 ms).
    groupe = _groupe_des_montants(appel, list(par_caf))
    # La déclaration en EXISTS et COUNT(*) : le total se lit dans l'index seul (montant inclus),
    # les déclarations figées de l'appel hachées une fois.
    figees = Declaration.objects.filter(pk=OuterRef("declaration_id"), appel=appel, etat__in=FIGES)
    totaux = MontantEstime.objects.filter(Exists(figees), actuel=True, **groupe).aggregate(
        total=Sum("montant"), nombre=Count("*")
    )
    return render(
        request,
        "afas/financement/appel.html",
        {
            "appel": appel,
            "page": page,
            "lignes": [
                {
                    "d": d,
                    "estimation": estimations[d.pk],
                    "hors_norme": d.pk in ids_hors_norme,
                }
                for d in declarations
            ],
            "total": totaux["total"] or Decimal(0),
            "total_texte": calcul.euros(totaux["total"] or Decimal(0)),
            "nombre_figes": totaux["nombre"],
            "hors_norme": _plus_ecartes(hors_norme.filter(**groupe), medianes),
            "filtre_actif": False,
            "fil": _fil_caf(),
        },
    )


ENTETES_EXPORT = [
    "Partenaire",
    "Activité",
    "Numéro d'équipement",
    "Type d'activité",
    "Nature",
    "Exercice",
    "Type de déclaration",
    "État",
    "Montant (euros)",
    "Montant figé à la transmission",
    "Montant par heure (euros)",
    "Hors norme",
]


def lignes_export(appel) -> LignesSQL:
    """Toutes les déclarations de l'appel, écrites par PostgreSQL : montants figés ou estimés
    dans la base (``export.montants_sql``), hors norme par la même sous-requête que la page.
    ``repli`` : les mêmes lignes estimées en Python (le chemin de SQLite, et la référence :
    tests/afas/declarations/test_financement_export.py compare les deux octet pour octet)."""
    # Trié comme la page, sur les colonnes du calcul joint : l'activité et le partenaire y sont lus
    # par index (joints par l'ORM, PostgreSQL hachait les 80 000 activités du pays).
    declarations = Declaration.objects.filter(appel=appel).order_by(
        export.colonne("raison_sociale"), export.colonne("libelle"), "pk"
    )

    def repli():
        ids_hors_norme = set(_hors_norme(appel)[0].values_list("declaration_id", flat=True))
        paquet: list[Declaration] = []
        for d in _declarations_appel(appel).iterator(chunk_size=500):
            paquet.append(d)
            if len(paquet) == 500:
                yield from _lignes_export(paquet, ids_hors_norme)
                paquet = []
        yield from _lignes_export(paquet, ids_hors_norme)

    def colonnes():
        # Lu à l'envoi : les déclarations hors norme de l'appel (une vingtaine, d'après les bornes
        # du résumé de la nuit), lues à part en partant des déclarations de l'appel
        # (``export.parmi_l_appel``), puis écrites dans la requête ; en sous-requête, PostgreSQL
        # en calculait l'ensemble en parcourant toutes les déclarations du pays.
        # Les colonnes du calcul joint sont lues et mises en forme par des textes SQL fixes
        # (``export.colonne``, ``libelle``, ``nombre``…), une seule fois par cellule.
        hors_norme = list(export.parmi_l_appel(_hors_norme(appel)[0], appel).values_list("declaration_id", flat=True))
        return [
            export.colonne("raison_sociale"),
            export.colonne("libelle"),
            export.colonne("numero_equipement"),
            export.libelle("type_activite", TypeActivite.choices),
            export.libelle("nature", NatureActivite.choices),
            "exercice",
            export.libelle_declaration("type_declaration", TypeDeclaration.choices),
            export.libelle_declaration("etat", EtatDeclaration.choices),
            export.nombre("montant"),
            export.oui_non("fige"),
            export.nombre("par_heure"),
            OuiNon(Q(pk__in=hors_norme)),
        ]

    return LignesSQL(export.avec_montants(declarations, appel), colonnes, repli=repli)


@require_GET
def appel_financement_export(request, pk: int):
    """Le même tableau en CSV, toutes les déclarations de l'appel, écrit en flux par PostgreSQL."""
    appel = get_object_or_404(perms.appels_visibles(request.user), pk=pk)
    return reponse_csv(f"financement-appel-{appel.pk}", ENTETES_EXPORT, lignes_export(appel))


def _lignes_export(declarations: list[Declaration], ids_hors_norme: set[int]):
    estimations = _estimations(declarations)
    for d in declarations:
        e = estimations[d.pk]
        par_heure = e.indicateurs.montant_par_heure
        yield [
            d.activite.organisme.raison_sociale,
            d.activite.libelle,
            d.activite.numero_equipement,
            d.activite.get_type_activite_display(),
            d.activite.get_nature_display() if d.activite.nature else "",
            d.exercice,
            d.get_type_declaration_display(),
            d.get_etat_display(),
            calcul.nombre_fr(e.montant).replace("\u202f", ""),
            bool(d.montants_actuels) and d.etat in FIGES,
            calcul.nombre_fr(par_heure).replace("\u202f", "") if par_heure is not None else "",
            d.pk in ids_hors_norme,
        ]


# --- Paramètres de financement (agents Caf) ------------------------------------------------------


def _exiger_agent(request) -> None:
    if not perms.peut_gerer_parametres(request.user):
        raise PermissionDenied


@require_GET
def parametres(request):
    """Le barème national et les paramètres de la Caf de l'agent, par exercice et type."""
    _exiger_agent(request)
    filtre = ParametreFiltre(request.GET or None, queryset=perms.parametres_visibles(request.user))
    qs = filtre.qs if filtre.is_valid() else perms.parametres_visibles(request.user)
    page = paginer(request, qs.order_by("-exercice", "type_activite", "nature", F("caf").asc(nulls_first=True), "pk"))
    propres = set(
        ParametreFinancement.objects.filter(
            caf_id=request.user.caf_id, exercice__in={p.exercice for p in page}
        ).values_list("exercice", "type_activite", "nature")
    )
    return render(
        request,
        "afas/financement/parametres.html",
        {
            "filtre": filtre,
            "page": page,
            "propres": propres,
            "filtre_actif": any(request.GET.get(nom) for nom in filtre.filters),
            "fil": _fil_caf(),
        },
    )


@require_http_methods(["GET", "POST"])
def parametre_modifier(request, pk: int):
    """Modifier les paramètres de sa Caf ; depuis une ligne du barème national : les adapter pour
    sa Caf (une ligne de la Caf est créée ; le barème national ne change pas)."""
    _exiger_agent(request)
    modele = get_object_or_404(perms.parametres_visibles(request.user), pk=pk)
    initial = {c: getattr(modele, c) for c in services.CHAMPS_PARAMETRE}
    form = ParametreForm(request.POST or None, initial=initial, unite_plafond=modele.unite_plafond)
    if request.method == "POST" and form.is_valid():
        try:
            services.parametre_enregistrer(par=request.user, modele=modele, valeurs=form.cleaned_data)
        except ErreurMetier as erreur:
            refus_afficher(form, erreur)
        else:
            messages.success(
                request, f"Les paramètres {modele.type_activite} {modele.exercice} de votre Caf sont enregistrés."
            )
            return redirect(f"{reverse('afas:parametres')}?exercice={modele.exercice}")
    return render(
        request,
        "afas/financement/parametre.html",
        {
            "form": form,
            "modele": modele,
            "national": modele.caf_id is None,
            "titre": f"Paramètres {modele.get_type_activite_display()}"
            + (f" {modele.get_nature_display()}" if modele.nature else "")
            + f" — exercice {modele.exercice}",
            "fil": _fil_caf(("Paramètres de financement", reverse("afas:parametres"))),
        },
    )
