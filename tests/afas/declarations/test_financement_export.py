"""Ticket 11 : l'export du financement d'un appel écrit par PostgreSQL (``COPY``, montants figés
lus et estimations calculées dans la base) est, octet pour octet, celui du chemin Python
(``services.estimer`` déclaration par déclaration), sur des valeurs hostiles et sur chaque
branche du calcul ; ses requêtes ne grandissent pas avec l'appel."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from afas.enums import EtatDeclaration, NatureActivite, TypeActivite, TypeDeclaration
from afas.financement import statistiques
from afas.financement.views import ENTETES_EXPORT, lignes_export
from afas.models import Activite, Declaration, DonneesActivite, DonneesFinancieres, LabelPlanMercredi
from afas.models import ParametreFinancement as Parametre
from conventions.models import Organisme
from portail.socle.csv import contenu_csv
from tests.afas.conftest import creer_activite, creer_lieu
from tests.afas.declarations.fabriques_financement import creer_appel, creer_declaration, transmettre
from tests.conftest import connecter_verifie

pytestmark = pytest.mark.django_db

POSTGRESQL = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY : PostgreSQL seulement")

LIGNE = {"heures_realisees": "10000", "heures_mercredi": "1000", "enfants_inscrits": 50, "jours_ouverture": 100}


def _deux_chemins(appel) -> tuple[bytes, bytes, list[str]]:
    lignes = lignes_export(appel)
    attendu = b"".join(contenu_csv(ENTETES_EXPORT, lignes.repli()))
    with CaptureQueriesContext(connection) as requetes:
        obtenu = b"".join(contenu_csv(ENTETES_EXPORT, lignes))
    return attendu, obtenu, [q["sql"] for q in requetes.captured_queries]


def _cellules(contenu: bytes) -> dict[str, list[str]]:
    """Les lignes du fichier par numéro d'équipement (3e colonne), découpées sans guillemets."""
    import csv
    import io

    lecteur = csv.reader(io.StringIO(contenu.decode("utf-8-sig")), delimiter=";")
    next(lecteur)
    return {ligne[2]: ligne for ligne in lecteur}


@POSTGRESQL
def test_export_ecrit_par_postgresql_comme_par_python(convention, declarant, agent_caf):
    """Chaque branche du calcul, les montants figés (paramètre changé depuis), une déclaration
    renvoyée, les hors norme, et des noms hostiles : même fichier par les deux chemins."""
    organisme = convention.organisme
    caf = organisme.caf
    appel = creer_appel(caf)

    def activite(numero, **kw):
        return creer_activite(organisme, f"Activité {numero}", numero=numero, **kw)

    # Hors norme : cinq pairs au plafond et une sixième très économe, transmises (montants figés).
    for i in range(5):
        transmettre(
            creer_declaration(activite(f"PAIR{i}"), appel=appel, lignes=[LIGNE], charges="60000", ressortissants="90"),
            par=declarant,
        )
    econome = activite("ECONOME")
    transmettre(
        creer_declaration(econome, appel=appel, lignes=[LIGNE], charges="10000", ressortissants="90"), par=declarant
    )
    statistiques.statistiques_calculer()
    # Un paramètre de la Caf posé après ces transmissions : les figés ne bougent pas, les
    # estimations le suivent (Caf avant national, nature exacte avant « toutes natures »).
    Parametre.objects.create(
        caf=caf, exercice=2025, type_activite="ALSH", nature="PERI", taux="31.5", prix_plafond="4.13", source="Caf"
    )
    Parametre.objects.create(
        caf=caf, exercice=2025, type_activite="ALSH", nature="", taux="29", prix_plafond="5.07", source="Caf"
    )
    # ALSH à deux natures et deux lieux, labellisée Plan mercredi.
    multiple = activite("MULTI", nature=NatureActivite.PERISCOLAIRE)
    lieux = [creer_lieu(multiple, f"Lieu {i}") for i in range(2)]
    d = creer_declaration(
        multiple,
        appel=appel,
        lignes=[{**LIGNE, "heures_realisees": "1234.57", "heures_mercredi": "99.99"}],
        charges="9876.55",
        ressortissants="87.33",
    )
    DonneesActivite.objects.filter(declaration=d).update(lieu=lieux[0])
    DonneesActivite.objects.create(declaration=d, lieu=lieux[1], nature="PERI", heures_realisees=D("0.05"))
    DonneesActivite.objects.create(declaration=d, nature="ADO", heures_realisees=D("765.43"), heures_mercredi=D("0.01"))
    LabelPlanMercredi.objects.create(activite=multiple, exercice=2025, labellise=True)
    # Ligne et activité sans nature, puis une nature inconnue : le paramètre « toutes natures » de
    # la Caf vaut pour elles ; un exercice sans aucun paramètre : rien n'est calculable, zéro.
    sans_nature = activite("SANSNAT")
    creer_declaration(sans_nature, appel=appel, lignes=[LIGNE], charges="4321")
    DonneesActivite.objects.filter(declaration__activite=sans_nature).update(nature="")
    Activite.objects.filter(pk=sans_nature.pk).update(nature="")  # hors des règles de la saisie
    inconnue = activite("INCONNUE")
    creer_declaration(inconnue, appel=appel, lignes=[LIGNE], charges="4321")
    DonneesActivite.objects.filter(declaration__activite=inconnue).update(nature="XYZ")
    creer_declaration(activite("SANSPARAM"), appel=appel, exercice=2031, lignes=[LIGNE], charges="4321")
    # ALSH sans ligne ; LAEP sans ligne ni données financières ; RPE au-dessus du plafond annuel.
    vide = activite("VIDE")
    Declaration.objects.filter(pk=creer_declaration(vide, appel=appel).pk).update(etat=EtatDeclaration.A_SAISIR)
    DonneesActivite.objects.filter(declaration__activite=vide).delete()
    laep = activite("LAEP", type_activite=TypeActivite.LAEP)
    creer_declaration(laep, appel=appel, charges="12345.675")
    DonneesFinancieres.objects.filter(declaration__activite=laep).delete()
    laep2 = activite("LAEP2", type_activite=TypeActivite.LAEP)
    creer_declaration(laep2, appel=appel, lignes=[], charges="33333.33")
    DonneesActivite.objects.filter(declaration__activite=laep2).delete()
    rpe = activite("RPE", type_activite=TypeActivite.RPE)
    creer_declaration(rpe, appel=appel, charges="987654.32")
    # EAJE : participations au-dessus du brut (ramené à zéro), et sous le brut.
    for numero, participations in (("EAJE1", "999999"), ("EAJE2", "1234.56")):
        creer_declaration(
            activite(numero, type_activite=TypeActivite.EAJE),
            appel=appel,
            lignes=[{"heures_realisees": "7777.77"}],
            charges="76543.21",
            participations=participations,
        )
    # Zéro heure et des charges : prix de revient nul.
    creer_declaration(activite("ZERO"), appel=appel, lignes=[{"heures_realisees": "0"}], charges="5000")
    # Renvoyée pour correction après transmission : elle garde un montant actuel, mais la page
    # et l'export montrent l'estimation à jour (non figée).
    renvoyee = transmettre(
        creer_declaration(activite("RENVOI"), appel=appel, lignes=[LIGNE], charges="60000", ressortissants="90"),
        par=declarant,
    )
    Declaration.objects.filter(pk=renvoyee.pk).update(etat=EtatDeclaration.RENVOYEE)
    # Des chiffres tirés (graine fixe) : les arrondis au demi-centime, des deux côtés.
    tirage = random.Random(14)
    for i in range(40):
        type_activite = tirage.choice([TypeActivite.ALSH, TypeActivite.EAJE, TypeActivite.LAEP])
        creer_declaration(
            activite(f"T{i:02d}", type_activite=type_activite),
            appel=appel,
            lignes=[{"heures_realisees": f"{tirage.uniform(1, 20000):.2f}", "heures_mercredi": "3.33"}],
            charges=f"{tirage.uniform(0, 200000):.2f}",
            participations=f"{tirage.uniform(0, 30000):.2f}",
            ressortissants=f"{tirage.uniform(50, 100):.2f}",
        )
    # Un montant négatif (charges négatives, à la fonction) : « - » en tête, neutralisé.
    creer_declaration(activite("NEG", type_activite=TypeActivite.LAEP), appel=appel, lignes=[LIGNE], charges="-5000")
    # Des noms hostiles : formules, guillemets, « ; », sauts de ligne, tiret en tête ; une nature
    # hors des choix (écrite telle quelle, neutralisée).
    Activite.objects.filter(pk=inconnue.pk).update(nature="-HORS")
    Organisme.objects.filter(pk=organisme.pk).update(raison_sociale='=HYPERLINK("x");"a"')
    Activite.objects.filter(pk=multiple.pk).update(libelle="ALSH\nsur deux lignes ; -moins")
    Activite.objects.filter(pk=rpe.pk).update(libelle="@SOMME(A1)", numero_equipement="+RPE")

    attendu, obtenu, requetes = _deux_chemins(appel)
    # Une lecture des bornes des hors norme (résumé de la nuit), une des déclarations hors norme de
    # l'appel (``export.parmi_l_appel``), puis le COPY.
    assert [sql[:6] for sql in requetes] == ["SELECT", "SELECT", "COPY ("]
    assert obtenu == attendu
    cellules = _cellules(obtenu)
    assert len(cellules) == 6 + 12 + 40 + 1
    assert cellules["NEG"][8].startswith("'-") and cellules["NEG"][10].startswith("'-")
    assert cellules["INCONNUE"][4] == "'-HORS"
    # Les figés gardent 12 420,00 € malgré le paramètre de la Caf posé depuis ; l'économe est hors norme.
    assert cellules["PAIR0"][8:] == ["12420,00", "Oui", "1,24", "Non"]
    assert cellules["ECONOME"][8:] == ["2700,00", "Oui", "0,27", "Oui"]
    # La renvoyée, non figée, estimée avec le paramètre « toutes natures » de la Caf :
    # 10 000 h × 29 % × min(6,00 ; 5,07) €/h = 14 703,00 € × 90 % = 13 232,70 €, 1,3233 €/h ; son
    # montant encore actuel (figé au même prix) sort des bornes des pairs (1,242 €/h) : hors norme.
    assert cellules["RENVOI"][8:] == ["13232,70", "Non", "1,32", "Oui"]
    assert cellules["SANSPARAM"][8:11] == ["0,00", "Non", "0,00"] and cellules["VIDE"][8:11] == ["0,00", "Non", ""]
    assert cellules["INCONNUE"][8] == cellules["SANSNAT"][8] != "0,00"
    assert cellules["EAJE1"][8] == "0,00" and cellules["'+RPE"][8] == "15000,00"
    assert cellules["'+RPE"][1] == "'@SOMME(A1)" and cellules["MULTI"][1] == "ALSH\nsur deux lignes ; -moins"
    assert '"\'=HYPERLINK(""x"");""a"""' in obtenu.decode("utf-8")


@POSTGRESQL
def test_un_reel_et_un_appel_sans_bornes_ni_declaration(convention, declarant):
    """Un réel (le prévisionnel n'entre pas dans le droit montré) ; un appel sans hors norme
    calculables (aucune référence de la nuit) ; un appel vide : l'en-tête seul."""
    appel = creer_appel(convention.organisme.caf, type_declaration=TypeDeclaration.REEL)
    activite = creer_activite(convention.organisme, numero="REEL1")
    creer_declaration(activite, lignes=[LIGNE], charges="60000", ressortissants="90")
    transmettre(
        creer_declaration(
            activite,
            appel=appel,
            type_declaration=TypeDeclaration.REEL,
            lignes=[LIGNE],
            charges="50000",
            ressortissants="90",
        ),
        par=declarant,
    )
    attendu, obtenu, _requetes = _deux_chemins(appel)
    assert obtenu == attendu and _cellules(obtenu)["REEL1"][8:] == ["12420,00", "Oui", "1,24", "Non"]
    vide = creer_appel(convention.organisme.caf, exercice=2024)
    attendu, obtenu, _requetes = _deux_chemins(vide)
    assert obtenu == attendu and obtenu.count(b"\r\n") == 1


def test_export_meme_nombre_de_requetes_avec_plus_de_declarations(client, agent_caf, convention, declarant):
    """La vue lit l'appel, puis le flux : les bornes des hors norme et un ``COPY`` (PostgreSQL),
    ou les déclarations par paquets de 500 (SQLite) ; autant avec 2 qu'avec 12 déclarations."""
    appel = creer_appel(convention.organisme.caf)
    url = reverse("afas:appel_financement_export", args=[appel.pk])
    connecter_verifie(client, agent_caf)

    def compter() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as requetes:
            contenu = b"".join(client.get(url).streaming_content)
        return len(requetes), contenu.count(b"\r\n") - 1

    for i in range(2):
        transmettre(creer_declaration(creer_activite(convention.organisme, numero=f"P{i}"), appel=appel), par=declarant)
    peu, lignes = compter()
    assert lignes == 2
    for i in range(10):
        creer_declaration(creer_activite(convention.organisme, numero=f"Q{i}"), appel=appel, lignes=[LIGNE])
    assert compter() == (peu, 12)
