"""Le calcul pur, contre des exemples faits à la main (l'arithmétique est écrite à côté)."""

from decimal import Decimal as D

import pytest

from afas.financement import calcul
from afas.financement.calcul import HeuresNature, Parametres

ALSH = Parametres(taux=D("30"), prix_plafond=D("4.60"), bonus_mercredi=D("0.46"))
PSU = Parametres(taux=D("66"), prix_plafond=D("8.50"))
FONCTION = Parametres(taux=D("30"), prix_plafond=D("40000"))


def test_arrondi_au_centime_demi_centime_vers_le_haut():
    assert calcul.arrondir(D("0.125")) == D("0.13")
    assert calcul.arrondir(D("2.675")) == D("2.68")  # exact en Decimal (2,67 en flottant)
    assert calcul.arrondir(D("2.674999")) == D("2.67")


def test_ps_alsh_sous_le_plafond_avec_plan_mercredi():
    # Prix de revient horaire : 40 000 € ÷ 10 000 h = 4,00 €/h, sous le plafond de 4,60 €/h.
    # 10 000 h × 30 % × 4,00 €/h = 12 000,00 € ; × 90 % de ressortissants = 10 800,00 €.
    # Plan mercredi : 1 000 h × 0,46 €/h = 460,00 €. Total : 11 260,00 €.
    r = calcul.ps_alsh(
        [HeuresNature("EXTRA", "Extrascolaire", D("10000"), D("1000"))],
        total_charges=D("40000"),
        taux_ressortissants=D("90"),
        parametres={"EXTRA": ALSH},
        plan_mercredi=True,
    )
    assert r.montant == D("11260.00")
    valeurs = {e.libelle: e.valeur for e in r.etapes}
    assert valeurs["Prix de revient horaire"] == D("4.00")
    assert valeurs["Extrascolaire — Prix retenu"] == D("4.00")
    assert valeurs["Extrascolaire — Prestation avant ressortissants"] == D("12000.00")
    assert valeurs["Extrascolaire — Prestation de service"] == D("10800.00")
    assert valeurs["Extrascolaire — Bonus Plan mercredi"] == D("460.00")
    retenu = next(e for e in r.etapes if e.libelle == "Extrascolaire — Prix retenu")
    assert "sous le plafond" in retenu.formule
    assert "10\u202f000\u00a0h × 30\u00a0% × 4,00\u00a0€/h" in r.etapes[3].formule
    assert r.montant_texte == "11\u202f260,00\u00a0€"


def test_ps_alsh_plafond_atteint_deux_natures_sans_label():
    # Prix de revient : 60 000 € ÷ (6 000 h + 4 000 h) = 6,00 €/h > plafond 4,60 €/h : 4,60.
    # Périscolaire : 6 000 × 30 % × 4,60 = 8 280,00 € ; × 87,5 % = 7 245,00 €.
    # Extrascolaire : 4 000 × 30 % × 4,60 = 5 520,00 € ; × 87,5 % = 4 830,00 €.
    # Pas de label Plan mercredi : pas de bonus malgré 500 h du mercredi. Total : 12 075,00 €.
    r = calcul.ps_alsh(
        [
            HeuresNature("PERI", "Périscolaire", D("6000"), D("500")),
            HeuresNature("EXTRA", "Extrascolaire", D("4000")),
        ],
        total_charges=D("60000"),
        taux_ressortissants=D("87.5"),
        parametres={"PERI": ALSH, "EXTRA": ALSH},
        plan_mercredi=False,
    )
    assert r.montant == D("12075.00")
    valeurs = {e.libelle: e.valeur for e in r.etapes}
    assert valeurs["Prix de revient horaire"] == D("6.00")
    assert valeurs["Périscolaire — Prix retenu"] == D("4.60")
    assert valeurs["Périscolaire — Prestation de service"] == D("7245.00")
    assert valeurs["Extrascolaire — Prestation de service"] == D("4830.00")
    assert "plafond atteint" in next(e for e in r.etapes if e.libelle == "Périscolaire — Prix retenu").formule
    assert not any("Bonus" in e.libelle and e.valeur for e in r.etapes)


def test_ps_alsh_arrondi_a_chaque_etape():
    # 10 000 € ÷ 3 000 h = 3,3333… → 3,33 €/h ; 3 000 × 30 % × 3,33 = 2 997,00 € ;
    # × 33,33 % = 998,9001 → 998,90 €.
    r = calcul.ps_alsh(
        [HeuresNature("PERI", "Périscolaire", D("3000"))],
        total_charges=D("10000"),
        taux_ressortissants=D("33.33"),
        parametres={"PERI": ALSH},
        plan_mercredi=False,
    )
    assert r.montant == D("998.90")


def test_ps_alsh_zero_heure():
    # Aucune heure réalisée : pas de prix de revient horaire, droit nul (et pas de division par zéro).
    r = calcul.ps_alsh(
        [HeuresNature("EXTRA", "Extrascolaire", D("0"))],
        total_charges=D("5000"),
        taux_ressortissants=D("100"),
        parametres={"EXTRA": ALSH},
        plan_mercredi=True,
    )
    assert r.montant == D("0.00")
    assert "Aucune heure réalisée" in r.etapes[1].formule


def test_psu_plafond_atteint():
    # 500 000 € ÷ 50 000 h = 10,00 €/h > 8,50 : 8,50 ; 50 000 × 66 % × 8,50 = 280 500,00 € ;
    # − 90 000,00 € de participations familiales = 190 500,00 €.
    r = calcul.psu(
        heures_realisees=D("50000"),
        total_charges=D("500000"),
        participations_familiales=D("90000"),
        parametres=PSU,
    )
    assert r.montant == D("190500.00")
    assert [e.valeur for e in r.etapes][2:] == [D("8.50"), D("280500.00"), D("190500.00")]


def test_psu_sous_le_plafond():
    # 350 000 € ÷ 50 000 h = 7,00 €/h < 8,50 ; 50 000 × 66 % × 7,00 = 231 000,00 € − 60 000,00 €
    # = 171 000,00 €.
    r = calcul.psu(
        heures_realisees=D("50000"),
        total_charges=D("350000"),
        participations_familiales=D("60000"),
        parametres=PSU,
    )
    assert r.montant == D("171000.00")


@pytest.mark.parametrize(
    ("heures", "charges"),
    [
        # 5 000 € ÷ 1 000 h = 5,00 €/h ; 1 000 × 66 % × 5,00 = 3 300,00 € − 4 000,00 € < 0 : zéro.
        ("1000", "5000"),
        # Zéro heure : 0,00 € − 4 000,00 € < 0 : zéro.
        ("0", "5000"),
    ],
)
def test_psu_jamais_negative(heures, charges):
    r = calcul.psu(
        heures_realisees=D(heures),
        total_charges=D(charges),
        participations_familiales=D("4000"),
        parametres=PSU,
    )
    assert r.montant == D("0")
    assert "ramené à zéro" in r.etapes[-1].formule


def test_a_la_fonction_sous_et_au_plafond():
    # LAEP : 30 % × min(30 000 €, 40 000 €) = 9 000,00 €.
    assert calcul.a_la_fonction(total_charges=D("30000"), parametres=FONCTION).montant == D("9000.00")
    # RPE : 30 % × min(80 000 €, 40 000 €) = 12 000,00 € (plafond atteint).
    r = calcul.a_la_fonction(total_charges=D("80000"), parametres=FONCTION)
    assert r.montant == D("12000.00")
    assert "plafond atteint" in r.etapes[1].formule


def test_avances_35_et_35_pour_cent():
    # 35 % × 12 075,00 € = 4 226,25 € ; deux fois : 8 452,50 €.
    r = calcul.avances(D("12075.00"), ALSH)
    assert [e.valeur for e in r.etapes] == [D("4226.25"), D("4226.25"), D("8452.50")]
    # 35 % × 1 000,01 € = 350,0035 → 350,00 € ; total 700,00 €.
    assert calcul.avances(D("1000.01"), ALSH).montant == D("700.00")


def test_avances_jamais_plus_de_70_pour_cent():
    with pytest.raises(ValueError, match="70 %"):
        calcul.avances(D("1000"), Parametres(D("30"), D("4"), taux_avance_1=D("40"), taux_avance_2=D("35")))


def test_solde_a_verser():
    # Réel 10 000,00 € − 8 452,50 € d'avances = 1 547,50 € à verser.
    r = calcul.solde(D("10000.00"), D("8452.50"))
    assert (r.montant, r.sens) == (D("1547.50"), calcul.A_VERSER)
    assert r.etapes[0].libelle == "Solde à verser"


def test_reel_sous_les_avances_montant_a_recuperer():
    # Réel 7 000,00 € < 8 452,50 € d'avances : 1 452,50 € à récupérer.
    r = calcul.solde(D("7000.00"), D("8452.50"))
    assert (r.montant, r.sens) == (D("1452.50"), calcul.A_RECUPERER)
    assert r.etapes[0].libelle == "Montant à récupérer"


def test_etapes_en_json_aller_retour():
    etape = calcul.Etape("Prix", "x", D("4.60"), "€/h")
    assert calcul.Etape.depuis_json(etape.en_json()) == etape
    assert etape.valeur_texte == "4,60\u00a0€/h"
