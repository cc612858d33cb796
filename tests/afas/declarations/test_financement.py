"""Le financement en base : paramètres résolus (Caf avant national), montant figé à la
transmission et versionné par exercice, réel qui solde le prévisionnel, statistiques de
référence, pages (droits, contenu, budgets de requêtes), paramètres de la Caf, label Plan mercredi."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from afas import services as services_afas
from afas.enums import EtatDeclaration, RoleAfas, TypeActivite, TypeDeclaration
from afas.financement import services, statistiques
from afas.models import Declaration, LabelPlanMercredi, MontantEstime, ParametreFinancement, StatistiqueReference
from portail.models import EvenementAudit
from portail.socle.dates import aujourdhui
from tests.afas.conftest import creer_activite
from tests.afas.declarations.fabriques_financement import creer_appel, creer_declaration, transmettre
from tests.conftest import connecter_verifie

pytestmark = pytest.mark.django_db

# 60 000 € ÷ 10 000 h = 6,00 €/h, plafond national 2025 de 4,60 €/h (migration) :
# 10 000 × 30 % × 4,60 = 13 800,00 € ; × 90 % = 12 420,00 €.
LIGNE_ALSH = {
    "heures_realisees": "10000",
    "heures_mercredi": "1000",
    "enfants_inscrits": 50,
    "jours_ouverture": 100,
    "amplitude_ouverture": "10",
}


@pytest.fixture
def activite(convention):
    return creer_activite(convention.organisme, numero="EQ-F1")


@pytest.fixture
def fdf(declarant, activite, administrateur):
    services_afas.habilitation_afas_affecter(
        par=administrateur, utilisateur=declarant, role=RoleAfas.FDF, date_ouverture=aujourdhui(), activites=[activite]
    )
    return declarant


def previsionnel(activite, **kw):
    return creer_declaration(activite, lignes=[LIGNE_ALSH], charges="60000", ressortissants="90", **kw)


def test_le_bareme_national_est_pose_par_la_migration_avec_ses_sources():
    lignes = ParametreFinancement.objects.filter(caf__isnull=True, exercice=2025)
    assert {(p.type_activite, p.nature, p.taux) for p in lignes} == {
        ("ALSH", "PERI", D("30")),
        ("ALSH", "EXTRA", D("30")),
        ("ALSH", "ADO", D("30")),
        ("EAJE", "", D("66")),
        ("LAEP", "", D("30")),
        ("RPE", "", D("30")),
    }
    assert all("à confirmer par la Caf" in p.source for p in lignes)
    assert lignes.get(type_activite="ALSH", nature="PERI").bonus_mercredi == D("0.46")


def test_estimation_d_un_previsionnel_et_ses_avances(activite):
    estimation = services.estimer(previsionnel(activite))
    assert estimation.montant == D("12420.00")
    # Avances : 35 % × 12 420,00 = 4 347,00 € deux fois, 8 694,00 €.
    assert estimation.avances.montant == D("8694.00")
    assert estimation.solde is None


def test_plan_mercredi_suit_le_label_de_l_exercice(activite, agent_caf):
    declaration = previsionnel(activite)
    assert services.plan_mercredi_definir(par=agent_caf, activite=activite, exercice=2025, labellise=True)
    assert not services.plan_mercredi_definir(par=agent_caf, activite=activite, exercice=2025, labellise=True)
    # 1 000 h du mercredi × 0,46 €/h = 460,00 € de plus.
    assert services.estimer(declaration).montant == D("12880.00")
    services.plan_mercredi_definir(par=agent_caf, activite=activite, exercice=2025, labellise=False)
    assert services.estimer(declaration).montant == D("12420.00")
    assert LabelPlanMercredi.objects.get().labellise is False  # rien ne s'efface
    assert EvenementAudit.objects.filter(action__startswith="plan_mercredi_").count() == 2


def test_parametre_de_la_caf_l_emporte_sur_le_bareme_national(activite, agent_caf):
    national = ParametreFinancement.objects.get(caf__isnull=True, exercice=2025, type_activite="ALSH", nature="EXTRA")
    valeurs = {c: getattr(national, c) for c in services.CHAMPS_PARAMETRE}
    services.parametre_enregistrer(
        par=agent_caf, modele=national, valeurs={**valeurs, "prix_plafond": D("5.00"), "source": "Délibération du CA"}
    )
    national.refresh_from_db()
    assert national.prix_plafond == D("4.60")  # le barème national ne change pas
    # 10 000 × 30 % × 5,00 = 15 000,00 € ; × 90 % = 13 500,00 €.
    assert services.estimer(previsionnel(activite)).montant == D("13500.00")


def test_avances_au_dela_de_70_pour_cent_refusees(agent_caf):
    national = ParametreFinancement.objects.get(caf__isnull=True, exercice=2025, type_activite="EAJE")
    valeurs = {c: getattr(national, c) for c in services.CHAMPS_PARAMETRE}
    with pytest.raises(Exception, match="70 %"):
        services.parametre_enregistrer(par=agent_caf, modele=national, valeurs={**valeurs, "taux_avance_1": D("40")})
    assert not ParametreFinancement.objects.filter(caf__isnull=False).exists()


def test_le_montant_transmis_ne_change_pas_quand_les_parametres_changent(activite, agent_caf, declarant):
    """Versionnement : le montant figé garde les paramètres de la transmission ; changer le plafond
    de l'exercice suivant ne touche rien, et même changer celui de l'exercice ne touche pas ce qui
    est transmis (seulement les estimations à venir)."""
    declaration = transmettre(previsionnel(activite), par=declarant)
    fige = MontantEstime.objects.get(declaration=declaration, actuel=True)
    assert fige.montant == D("12420.00")
    assert fige.parametres[0]["prix_plafond"] == "4.60"
    for exercice in (2026, 2025):
        modele = ParametreFinancement.objects.get(
            caf__isnull=True, exercice=exercice, type_activite="ALSH", nature="EXTRA"
        )
        valeurs = {c: getattr(modele, c) for c in services.CHAMPS_PARAMETRE}
        services.parametre_enregistrer(par=agent_caf, modele=modele, valeurs={**valeurs, "prix_plafond": D("9.99")})
        page = services.montant_pour_page(declaration)
        assert page["fige"] == fige
        assert page["estimation"].montant == D("12420.00")
    # L'estimation à jour, elle, suit le nouveau plafond : 6,00 < 9,99 ; 10 000 × 30 % × 6,00 × 90 % = 16 200,00.
    assert services.estimer(declaration).montant == D("16200.00")
    assert EvenementAudit.objects.filter(action="montant_figer").count() == 1


def test_retransmission_un_seul_montant_actuel(activite, declarant):
    declaration = transmettre(previsionnel(activite), par=declarant)
    transmettre(declaration, par=declarant)
    assert MontantEstime.objects.filter(declaration=declaration).count() == 2
    assert MontantEstime.objects.filter(declaration=declaration, actuel=True).count() == 1


def test_reel_sous_les_avances_montant_a_recuperer(activite, declarant):
    transmettre(previsionnel(activite), par=declarant)
    # Réel : 25 000 € ÷ 5 000 h = 5,00 €/h, plafond 4,60 : 5 000 × 30 % × 4,60 = 6 900,00 € ;
    # × 90 % = 6 210,00 €. Avances versées : 8 694,00 €. À récupérer : 8 694,00 − 6 210,00 = 2 484,00 €.
    reel = creer_declaration(
        activite,
        type_declaration=TypeDeclaration.REEL,
        lignes=[{"heures_realisees": "5000"}],
        charges="25000",
        ressortissants="90",
    )
    estimation = services.estimer(reel)
    assert estimation.montant == D("6210.00")
    assert estimation.avances.montant == D("8694.00")
    assert (estimation.solde.montant, estimation.solde.sens) == (D("2484.00"), "à récupérer")
    assert not estimation.avances_provisoires
    fige = services.montant_figer(reel, par=declarant)
    assert fige.etapes["solde"]["sens"] == "à récupérer"


def test_eaje_et_fonction_en_base(convention):
    creche = creer_activite(convention.organisme, "Crèche", numero="EQ-F2", type_activite=TypeActivite.EAJE)
    # 500 000 € ÷ 50 000 h = 10,00 > 8,50 : 50 000 × 66 % × 8,50 = 280 500,00 − 90 000,00 = 190 500,00 €.
    d = creer_declaration(creche, lignes=[{"heures_realisees": "50000"}], charges="500000", participations="90000")
    assert services.estimer(d).montant == D("190500.00")
    rpe = creer_activite(convention.organisme, "RPE", numero="EQ-F3", type_activite=TypeActivite.RPE)
    # 30 % × min(80 000, 50 000) = 15 000,00 €.
    assert services.estimer(creer_declaration(rpe, charges="80000")).montant == D("15000.00")


def test_sans_parametre_pour_l_exercice_rien_n_est_calcule(activite):
    estimation = services.estimer(previsionnel(activite, exercice=2031))
    assert estimation.droit is None
    assert "Aucun paramètre" in estimation.impossible


# --- Statistiques --------------------------------------------------------------------------------


def test_quartiles_calcules_dans_la_base_comme_a_la_main(convention, declarant):
    """Cinq ALSH extrascolaires transmis, montants par heure calculés : quartiles par
    interpolation linéaire (percentile_cont), identiques sous PostgreSQL et en repli SQLite."""
    valeurs = []
    for i, charges in enumerate(("10000", "20000", "30000", "40000", "46000")):
        a = creer_activite(convention.organisme, f"ALSH {i}", numero=f"EQ-S{i}")
        d = creer_declaration(a, lignes=[LIGNE_ALSH], charges=charges, ressortissants="100")
        transmettre(d, par=declarant)
        valeurs.append(MontantEstime.objects.get(declaration=d).prix_revient_horaire)
    # Prix de revient horaire : 1,00 ; 2,00 ; 3,00 ; 4,00 ; 4,60 €/h.
    assert valeurs == [D("1"), D("2"), D("3"), D("4"), D("4.6")]
    assert statistiques.statistiques_calculer() > 0
    nation = StatistiqueReference.objects.get(caf__isnull=True, indicateur="prix_revient_horaire")
    # n = 5 : Q1 au rang 0,25 × 4 = 1 → 2,00 ; médiane rang 2 → 3,00 ; Q3 rang 3 → 4,00.
    assert (nation.effectif, nation.q1, nation.mediane, nation.q3) == (5, D("2"), D("3"), D("4"))
    caf = StatistiqueReference.objects.get(caf__isnull=False, indicateur="prix_revient_horaire")
    assert caf.mediane == D("3")
    assert statistiques.quantile([D("1"), D("2")], 0.5) == D("1.5")


def test_hors_norme_regle_de_tukey():
    ref = StatistiqueReference(effectif=10, q1=D("2"), mediane=D("3"), q3=D("4"))
    # Écart interquartile 2 : bornes [2 − 3 ; 4 + 3] = [−1 ; 7].
    assert statistiques.hors_norme(D("7.01"), ref)
    assert not statistiques.hors_norme(D("7"), ref)
    assert not statistiques.hors_norme(D("100"), StatistiqueReference(effectif=3, q1=D("2"), mediane=D("3"), q3=D("4")))


# --- Pages -------------------------------------------------------------------------------------


def test_declarant_voit_le_montant_et_chaque_etape(client, fdf, activite):
    declaration = previsionnel(activite)
    connecter_verifie(client, fdf)
    reponse = client.get(reverse("afas:declaration_financement", args=[declaration.pk]))
    assert reponse.status_code == 200
    texte = reponse.content.decode()
    assert "Estimation provisoire" in texte
    assert "12\u202f420,00\u00a0€" in texte
    assert "min(6,00\u00a0€/h, plafond 4,60\u00a0€/h) : plafond atteint" in texte
    assert "Première avance" in texte
    assert "Règle d'arrondi" in texte


def test_historique_et_recepisse(client, fdf, activite):
    transmettre(previsionnel(activite), par=fdf)
    declaration_2024 = previsionnel(activite, exercice=2024)
    connecter_verifie(client, fdf)
    reponse = client.get(reverse("afas:activite_historique", args=[activite.pk]))
    texte = reponse.content.decode()
    assert reponse.status_code == 200
    recepisse = declaration_2024.activite.declarations.get(exercice=2025).recepisses.get()
    # L'empreinte entière, coupable tous les 16 caractères (<wbr>) pour tenir dans sa cellule.
    assert "<wbr>".join(recepisse.empreinte[i : i + 16] for i in range(0, 64, 16)) in texte
    assert "Comparaison annuelle" in texte
    assert "+0,0 %" in texte or "0,0 %" in texte


def test_pages_d_une_activite_hors_perimetre_404(client, activite, agent_autre_caf, exterieur, declarant):
    for user in (agent_autre_caf, exterieur, declarant):  # déclarant sans rôle sur l'activité
        connecter_verifie(client, user)
        for nom in ("afas:activite_historique", "afas:activite_statistiques"):
            assert client.get(reverse(nom, args=[activite.pk])).status_code == 404


def test_statistiques_graphique_et_tableau(client, fdf, activite, convention, declarant):
    for i, charges in enumerate(("10000", "20000", "30000", "40000")):
        a = creer_activite(convention.organisme, f"Pair {i}", numero=f"EQ-P{i}")
        transmettre(creer_declaration(a, lignes=[LIGNE_ALSH], charges=charges), par=declarant)
    transmettre(previsionnel(activite), par=declarant)
    statistiques.statistiques_calculer()
    connecter_verifie(client, fdf)
    reponse = client.get(reverse("afas:activite_statistiques", args=[activite.pk]))
    texte = reponse.content.decode()
    assert 'role="img"' in texte and '<title id="graphique-titre">' in texte and "<desc" in texte
    assert "Prix de revient horaire" in texte
    assert "Références calculées le" in texte


# Budgets (mesurés) : session, compte, appareil de double authentification, puis la page, puis le
# menu (convention ouverte, profils effectifs) et l'écriture de la session (point de sauvegarde,
# mise à jour, libération).
# Historique (déclarant) : ses activités (droits), l'activité, ses déclarations, leurs lignes,
# récépissés et montants figés (préchargés), les paramètres des exercices, les labels Plan mercredi.
BUDGET_HISTORIQUE = 16
# Statistiques (déclarant) : mêmes lectures que l'historique sans les récépissés, plus les
# références de la nuit (une requête par index).
BUDGET_STATISTIQUES = 16
# Financement d'un appel (agent) : l'appel, nombre des déclarations et leurs Caf (une lecture
# groupée ; les montants lus par l'index de leur Caf), page des déclarations, lignes et montants
# figés préchargés, paramètres, labels, bornes nationales de l'appel (les hors norme de la page
# jugés sur leurs montants préchargés), total de la Caf, liste des hors norme.
BUDGET_APPEL = 17


def _compter(client, url):
    with CaptureQueriesContext(connection) as requetes:
        reponse = client.get(url)
    assert reponse.status_code == 200
    return len(requetes)


def test_budget_de_l_historique_ne_grandit_pas_avec_les_declarations(client, fdf, activite):
    previsionnel(activite, exercice=2024)
    url = reverse("afas:activite_historique", args=[activite.pk])
    connecter_verifie(client, fdf)
    client.get(url)
    peu = _compter(client, url)
    for exercice, type_declaration in ((2025, "previsionnel"), (2025, "reel"), (2026, "previsionnel"), (2024, "reel")):
        transmettre(previsionnel(activite, exercice=exercice, type_declaration=type_declaration), par=fdf)
    statistiques.statistiques_calculer()
    assert _compter(client, url) == peu == BUDGET_HISTORIQUE
    url_statistiques = reverse("afas:activite_statistiques", args=[activite.pk])
    client.get(url_statistiques)
    assert _compter(client, url_statistiques) == BUDGET_STATISTIQUES


def test_caf_financement_d_un_appel_total_et_export(client, agent_caf, activite, declarant, convention):
    appel = creer_appel(activite.organisme.caf)
    d = transmettre(previsionnel(activite, appel=appel), par=declarant)
    autre = creer_activite(convention.organisme, "CLSH", numero="EQ-F9")
    previsionnel(autre, appel=appel)
    connecter_verifie(client, agent_caf)
    url = reverse("afas:appel_financement", args=[appel.pk])
    reponse = client.get(url)
    texte = reponse.content.decode()
    assert "12\u202f420,00\u00a0€" in texte  # total : la seule déclaration transmise
    assert "1 déclaration transmise" in texte
    # Les bornes des hors norme existent dès 4 pairs transmis : on mesure à 4, puis à 9.
    for i in range(8):
        if i == 3:
            statistiques.statistiques_calculer()
            peu = _compter(client, url)
        a = creer_activite(convention.organisme, f"CLSH {i}", numero=f"EQ-G{i}")
        transmettre(previsionnel(a, appel=appel), par=declarant)
    statistiques.statistiques_calculer()
    assert _compter(client, url) == peu == BUDGET_APPEL
    export = client.get(reverse("afas:appel_financement_export", args=[appel.pk]))
    contenu = b"".join(export.streaming_content).decode("utf-8-sig")
    assert contenu.count("\r\n") == 1 + 10
    assert "12420,00" in contenu
    assert str(d.activite.numero_equipement) in contenu


def test_parametres_ecran_de_la_caf(client, agent_caf, agent_autre_caf):
    national = ParametreFinancement.objects.get(caf__isnull=True, exercice=2025, type_activite="EAJE")
    connecter_verifie(client, agent_caf)
    assert client.get(reverse("afas:parametres") + "?exercice=2025").status_code == 200
    url = reverse("afas:parametre_modifier", args=[national.pk])
    donnees = {
        "taux": "66",
        "prix_plafond": "9,10",
        "bonus_mercredi": "0",
        "taux_avance_1": "35",
        "taux_avance_2": "35",
        "source": "Délibération 2025-12",
    }
    assert client.post(url, {**donnees, "taux_avance_2": "40"}).status_code == 200  # refus sous son champ
    assert not ParametreFinancement.objects.filter(caf__isnull=False).exists()
    assert client.post(url, donnees).status_code == 302
    propre = ParametreFinancement.objects.get(caf=agent_caf.caf)
    assert propre.prix_plafond == D("9.10")
    assert client.post(url, donnees).status_code == 302  # double envoi : une seule ligne
    assert ParametreFinancement.objects.filter(caf__isnull=False).count() == 1
    connecter_verifie(client, agent_autre_caf)
    assert client.get(reverse("afas:parametre_modifier", args=[propre.pk])).status_code == 404


def test_label_plan_mercredi_par_l_agent_de_la_caf(client, agent_caf, agent_autre_caf, activite):
    previsionnel(activite)
    url = reverse("afas:activite_plan_mercredi", args=[activite.pk])
    connecter_verifie(client, agent_autre_caf)
    assert client.post(url, {"exercice": "2025", "labellise": "oui"}).status_code == 404
    connecter_verifie(client, agent_caf)
    exercice = str(aujourdhui().year)
    assert client.post(url, {"exercice": exercice, "labellise": "oui"}).status_code == 302
    assert LabelPlanMercredi.objects.get(activite=activite, exercice=int(exercice)).labellise
    assert client.get(url).status_code == 200
    refus = client.post(url, {"exercice": "1999", "labellise": "oui"})
    assert refus.status_code == 200 and "Sélectionnez un choix valide" in refus.content.decode()
    assert LabelPlanMercredi.objects.count() == 1


def test_renvoyee_montre_l_estimation_a_jour_et_actualise_sans_avances(activite, declarant):
    """Une déclaration renvoyée pour correction n'est plus figée : la page montre l'estimation à
    jour (provisoire) ; un actualisé donne un droit, sans avances ni solde."""
    declaration = transmettre(previsionnel(activite), par=declarant)
    Declaration.objects.filter(pk=declaration.pk).update(etat=EtatDeclaration.RENVOYEE)
    declaration.refresh_from_db()
    page = services.montant_pour_page(declaration)
    assert page["fige"] is None
    assert page["estimation"].montant == D("12420.00")
    actualise = previsionnel(activite, type_declaration=TypeDeclaration.ACTUALISE_JUIN)
    estimation = services.estimer(actualise)
    assert (estimation.montant, estimation.avances, estimation.solde) == (D("12420.00"), None, None)


def test_balise_montant_declaration_avec_la_seule_declaration(activite):
    from django.template import Context, Template

    declaration = previsionnel(activite)
    html = Template("{% load afas_financement %}{% montant_declaration declaration %}").render(
        Context({"declaration": declaration})
    )
    assert "Financement estimé" in html and "12\u202f420,00\u00a0€" in html


def test_appel_signale_l_activite_hors_norme(client, agent_caf, convention, declarant):
    """Cinq pairs au plafond : 0,3 × 4,60 × 90 % = 1,242 €/h chacun, écart interquartile nul ;
    une sixième à 10 000 € ÷ 10 000 h = 1,00 €/h : 0,3 × 1,00 × 90 % = 0,27 €/h, hors norme."""
    appel = creer_appel(convention.organisme.caf)
    for i in range(5):
        a = creer_activite(convention.organisme, f"Pair {i}", numero=f"EQ-H{i}")
        transmettre(previsionnel(a, appel=appel), par=declarant)
    basse = creer_activite(convention.organisme, "Accueil économe", numero="EQ-H9")
    transmettre(
        creer_declaration(basse, appel=appel, lignes=[LIGNE_ALSH], charges="10000", ressortissants="90"), par=declarant
    )
    statistiques.statistiques_calculer()
    connecter_verifie(client, agent_caf)
    reponse = client.get(reverse("afas:appel_financement", args=[appel.pk]))
    lignes_hors_norme = [h["activite"] for h in reponse.context["hors_norme"]]
    assert lignes_hors_norme == ["Accueil économe"]
    assert [ligne["d"].activite.libelle for ligne in reponse.context["lignes"] if ligne["hors_norme"]] == [
        "Accueil économe"
    ]
    export = client.get(reverse("afas:appel_financement_export", args=[appel.pk]))
    contenu = b"".join(export.streaming_content).decode("utf-8-sig")
    assert [ligne.split(";")[1] for ligne in contenu.splitlines() if ligne.endswith(";Oui")] == ["Accueil économe"]


def test_appel_ses_seuls_montants_parmi_ceux_de_la_caf(client, agent_caf, convention, declarant):
    """Deux appels de la même Caf, même exercice et même type (activités différentes) : les montants
    sont lus par l'index de la Caf, de l'exercice et du type, mais chaque page n'a que ceux de son
    appel (total, nombre, hors norme) ; deux hors norme au même montant par heure : par clé."""
    premier, second = creer_appel(convention.organisme.caf), creer_appel(convention.organisme.caf)
    for i in range(12):
        a = creer_activite(convention.organisme, f"Pair {i}", numero=f"EQ-J{i:02d}")
        transmettre(previsionnel(a, appel=premier if i % 2 else second), par=declarant)
    economes = []
    for i, appel in enumerate((premier, premier, second)):
        basse = creer_activite(convention.organisme, f"Accueil économe {i}", numero=f"EQ-J9{i}")
        economes.append(
            transmettre(
                creer_declaration(basse, appel=appel, lignes=[LIGNE_ALSH], charges="10000", ressortissants="90"),
                par=declarant,
            )
        )
    statistiques.statistiques_calculer()
    connecter_verifie(client, agent_caf)
    reponse = client.get(reverse("afas:appel_financement", args=[premier.pk]))
    assert [h["declaration_id"] for h in reponse.context["hors_norme"]] == [economes[0].pk, economes[1].pk]
    assert reponse.context["nombre_figes"] == 8  # six pairs et deux économes
    assert reponse.context["total"] == 6 * D("12420.00") + 2 * economes[0].montants.get(actuel=True).montant
    reponse = client.get(reverse("afas:appel_financement", args=[second.pk]))
    assert [h["declaration_id"] for h in reponse.context["hors_norme"]] == [economes[2].pk]
    assert reponse.context["nombre_figes"] == 7  # six pairs et un économe


def test_appel_sans_declaration(client, agent_caf, convention):
    """Aucune déclaration encore créée : ni Caf à lire pour les montants, total nul, page vide."""
    appel = creer_appel(convention.organisme.caf)
    connecter_verifie(client, agent_caf)
    reponse = client.get(reverse("afas:appel_financement", args=[appel.pk]))
    assert reponse.status_code == 200
    assert reponse.context["total"] == 0 and reponse.context["nombre_figes"] == 0
    assert reponse.context["hors_norme"] == []
    assert "Aucune déclaration n'est encore créée pour cet appel." in reponse.content.decode()
