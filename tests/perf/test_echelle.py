"""Le banc d'essai en petit, dans `make test` : le générateur écrit des données valides, et aucune
page ne coûte plus de requêtes SQL quand les données doublent (une requête par ligne, un N+1, se
voit ici bien avant la production).

Les pages sont celles de ``bench/banc.py`` (une seule liste : une page ajoutée au banc entre ici),
visitées avec le client de test de Django, sans gunicorn, pour rester rapide.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from afas.enums import EtatDeclaration, RoleAfas
from afas.habilitations import tableau_de_bord
from afas.models import (
    Activite,
    Declaration,
    DonneesFinancieres,
    HabilitationAfas,
    LieuImplantation,
    Recepisse,
    StatistiqueReference,
    SyntheseAfas,
    ValidationApprobateur,
)
from bench.banc import pages
from conventions.enums import EtatConvention
from conventions.models import Caf, Convention, Mandat, Organisme
from conventions.services import droits_reconcilier
from conventions.validators import valider_siret
from habilitations.administration.tableaux_de_bord import tableaux
from habilitations.models import Appartenance, Groupe, GroupeProfil, SyntheseProfils, Utilisateur
from habilitations.services import droits_groupes_reconcilier
from portail import generation
from portail.generation import Echelle, EchelleAfas, GrandeCommune
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie

# Deux échelles où chaque liste a plus d'une page (25 lignes) : seules les données changent.
PETITE = Echelle(
    nom="petite",
    cafs=2,
    organismes=60,
    conventions=66,
    utilisateurs=420,
    appartenances=650,
    groupes=80,
    journal=400,
    grande_commune=GrandeCommune(utilisateurs=150, groupes=35, appartenances=260, journal=80, grand_groupe=40),
    autres_grandes=(30,),
    agents_par_caf=2,
    afas=EchelleAfas(
        activites=60, activites_caf_principale=45, grande_commune=30, persona=12, habilitations=500,
        appels_caf_principale=3, appels_autres=2,
    ),
)  # fmt: skip
DOUBLE = Echelle(
    nom="double",
    cafs=2,
    organismes=120,
    conventions=132,
    utilisateurs=900,
    appartenances=1_400,
    groupes=170,
    journal=900,
    grande_commune=GrandeCommune(utilisateurs=320, groupes=75, appartenances=560, journal=170, grand_groupe=90),
    autres_grandes=(60, 40),
    agents_par_caf=2,
    afas=EchelleAfas(
        activites=120, activites_caf_principale=90, grande_commune=60, persona=24, habilitations=1_000,
        appels_caf_principale=3, appels_autres=2,
    ),
)  # fmt: skip


def _generer(echelle: Echelle) -> dict:
    resume = generation.Generateur(echelle, graine=3, progression=False).generer()
    if connection.vendor == "postgresql":
        generation.analyser()
    return resume


def _requetes_par_page(client, resume: dict) -> dict[str, int]:
    """Nombre de requêtes SQL de chaque page du banc, pour la persona qui la visite."""
    personas = resume["personas"]
    comptes = {
        role: Utilisateur.objects.get(identifiant=compte["identifiant"]) for role, compte in personas["comptes"].items()
    }
    mesures = {}
    connecte = None
    for page in pages(personas):
        if page.persona != connecte:
            client.logout()
            connecter_verifie(client, comptes[page.persona])
            connecte = page.persona
            # Les caches du processus (types de contenu, permissions) se remplissent au premier
            # passage, dans la première échelle seulement : une visite d'échauffement les égalise.
            client.get("/")
        with CaptureQueriesContext(connection) as requetes:
            reponse = client.get(page.chemin)
            if reponse.streaming:
                b"".join(reponse.streaming_content)
        assert reponse.status_code == 200, (page.nom, reponse.status_code)
        mesures[page.nom] = len(requetes)
    return mesures


@pytest.mark.django_db
def test_aucune_page_ne_coute_plus_de_requetes_quand_les_donnees_doublent(client):
    mesures = {}
    for echelle in (PETITE, DOUBLE):
        with transaction.atomic():
            resume = _generer(echelle)
            mesures[echelle.nom] = _requetes_par_page(client, resume)
            transaction.set_rollback(True)
        client.logout()
    ecarts = {
        page: (mesures["petite"][page], mesures["double"][page])
        for page in mesures["petite"]
        if mesures["petite"][page] != mesures["double"][page]
    }
    assert not ecarts, f"requêtes (petite, double) qui changent avec le volume : {ecarts}"
    assert len(mesures["petite"]) >= 40
    # Les pages AFAS existantes sont de la comparaison (celles des issues 13 et 14 s'y ajoutent).
    afas = {nom for nom in mesures["petite"] if nom.startswith("AFAS")}
    assert {
        "AFAS activités, page 1 (agent Caf)",
        "AFAS lieux, page 1 000 (agent Caf)",
        "AFAS activité à 30 lieux (agent Caf)",
        "AFAS approbateurs à valider (agent Caf)",
        "AFAS préparation des partenaires (agent Caf)",
        "AFAS habilitations actives",
        "AFAS habilitations inactives",
        "AFAS habilitations historiques",
        "AFAS rôles non attribués",
        "AFAS accueil (déclarant)",
        "AFAS mes déclarations (déclarant)",
    } <= afas


@pytest.mark.django_db
def test_les_donnees_generees_respectent_les_regles_du_portail():
    resume = _generer(PETITE)
    jour = aujourdhui()
    # Les droits objets sont exactement ceux que la réconciliation nocturne calculerait.
    assert droits_reconcilier() == (0, 0)
    assert droits_groupes_reconcilier() == (0, 0)
    # SIRET à clé de Luhn ; une convention ouverte a exactement un mandat ouvert.
    for siret in Organisme.objects.values_list("siret", flat=True):
        valider_siret(siret)
    for convention in Convention.objects.effectives(jour):
        assert convention.mandats.ouverts(jour).count() == 1
    # Chemins matérialisés ; un sous-groupe n'a que des profils de son parent ; quatre niveaux au plus.
    groupes = {g.pk: g for g in Groupe.objects.all()}
    profils = {}
    for gp in GroupeProfil.objects.all():
        profils.setdefault(gp.groupe_id, set()).add(gp.profil_id)
    for g in groupes.values():
        parent = groupes.get(g.parent_id)
        assert g.chemin == (parent.chemin if parent else "/") + f"{g.pk}/"
        assert g.niveau == (parent.niveau + 1 if parent else 1) <= 4
        if parent:
            assert profils[g.pk] <= profils[parent.pk]
            assert g.convention_id == parent.convention_id
    # Appartenances : aux groupes de sa convention, dates cohérentes, sans doublon.
    vues = set()
    for a in Appartenance.objects.select_related("utilisateur", "groupe"):
        assert a.utilisateur.convention_id == a.groupe.convention_id
        assert a.date_cloture is None or a.date_cloture > a.date_ouverture
        assert a.utilisateur.date_cloture is None or a.date_ouverture < a.utilisateur.date_cloture
        assert (a.utilisateur_id, a.groupe_id) not in vues
        vues.add((a.utilisateur_id, a.groupe_id))
    # Les proportions : la grande commune en tête, des conventions de toutes les tailles.
    grande = Convention.objects.get(pk=resume["personas"]["convention"])
    assert grande.utilisateurs.count() == PETITE.grande_commune.utilisateurs
    assert Appartenance.objects.filter(groupe_id=resume["personas"]["grand_groupe"]).count() == 40
    assert Convention.objects.filter(etat=EtatConvention.EN_COURS).exists()
    assert Mandat.objects.count() == PETITE.conventions


@pytest.mark.django_db
def test_le_generateur_est_deterministe():
    with transaction.atomic():
        _generer(PETITE)
        premier = list(Utilisateur.objects.order_by("pk").values_list("identifiant", "nom", "prenom", "email"))
        transaction.set_rollback(True)
    _generer(PETITE)
    second = list(Utilisateur.objects.order_by("pk").values_list("identifiant", "nom", "prenom", "email"))
    assert [ligne[:3] for ligne in premier] == [ligne[:3] for ligne in second]


@pytest.mark.django_db
def test_la_generation_finit_par_les_calculs_de_la_nuit(tmp_path, monkeypatch):
    """Une base générée ressemble à la production au matin : les tâches de nuit du beat qui
    écrivent des synthèses datées ont tourné (sans elles, le banc mesurait les tableaux de bord
    des grandes conventions sans leurs chiffres de la nuit). Le seuil des grandes conventions est
    abaissé à la taille de la grande commune de l'échelle « demo »."""
    monkeypatch.setattr(tableaux, "SEUIL_SYNTHESE", 1_000)
    monkeypatch.setattr(tableau_de_bord, "SEUIL_SYNTHESE", 100)
    resume = tmp_path / "resume.json"
    call_command("generer_donnees", "--echelle", "demo", "--sans-progression", "--resume", str(resume))
    calculs = json.loads(resume.read_text())["calculs_de_nuit"]
    assert set(calculs) == {
        "habilitations.tasks.syntheses_tableaux_de_bord",
        "afas.tasks.syntheses_tableaux_de_bord_afas",
        "afas.tasks.statistiques_calculer",
    }
    assert calculs["habilitations.tasks.syntheses_tableaux_de_bord"]["resultat"] >= 1
    assert calculs["afas.tasks.syntheses_tableaux_de_bord_afas"]["resultat"] >= 1
    grande = json.loads(resume.read_text())["personas"]["convention"]
    assert SyntheseProfils.objects.filter(convention_id=grande, jour=aujourdhui()).exists()
    assert SyntheseAfas.objects.filter(convention_id=grande, jour=aujourdhui()).exists()
    # Effacées avec les données générées (elles en dépendent).
    assert {SyntheseProfils, SyntheseAfas, StatistiqueReference} <= set(generation.TABLES_USAGE)


@pytest.mark.django_db
def test_le_generateur_refuse_une_base_qui_contient_des_donnees_saisies():
    factories.creer_utilisateur(nom="Saisi", prenom="Vraiment")
    with pytest.raises(CommandError, match="ne viennent pas du générateur"):
        call_command("generer_donnees", "--echelle", "demo", "--sans-progression", "--resume", "/dev/null")
    with pytest.raises(CommandError, match="ne viennent pas du générateur"):
        call_command("generer_donnees", "--echelle", "demo", "--remplacer", "--sans-progression")
    assert Utilisateur.objects.count() == 1


@pytest.mark.django_db
def test_la_page_plancher_n_existe_que_dans_les_reglages_du_banc(client, administrateur):
    connecter_verifie(client, administrateur)
    assert client.get("/banc/plancher/").status_code == 404


@pytest.mark.django_db
def test_le_banc_compte_les_requetes_de_chaque_reponse(client, administrateur, settings):
    # Comme portail.settings.bench (qui exige les variables de production pour s'importer).
    settings.ROOT_URLCONF = "portail.urls_banc"
    settings.MIDDLEWARE = ["portail.banc.RequetesSQLMiddleware", *settings.MIDDLEWARE]
    connecter_verifie(client, administrateur)
    with CaptureQueriesContext(connection) as requetes:
        reponse = client.get("/banc/plancher/")
    assert reponse.status_code == 200
    assert reponse["X-Requetes-SQL"] == str(len(requetes))


@pytest.mark.django_db
def test_les_donnees_afas_generees_respectent_les_regles_du_portail():
    resume = _generer(PETITE)
    jour = aujourdhui()
    personas = resume["personas"]
    # Un rôle AFAS : dans la convention du compte, sur une activité de son organisme, un lieu de
    # cette activité (FDA seulement) ; un approbateur a sa demande à la Caf pivot de la convention.
    for h in HabilitationAfas.objects.select_related("utilisateur", "convention", "activite", "lieu", "validation"):
        assert h.utilisateur.convention_id == h.convention_id
        assert h.activite.organisme_id == h.convention.organisme_id
        assert h.lieu is None or (h.lieu.activite_id == h.activite_id and h.role == RoleAfas.FDA)
        if h.role == RoleAfas.APPROBATEUR:
            assert h.validation.caf_id == h.convention.caf_id
        else:
            assert not ValidationApprobateur.objects.filter(habilitation=h).exists()
    # Chaque état de la recherche a des lignes ; des approbateurs attendent la Caf de l'agent.
    assert HabilitationAfas.objects.actives(jour).exists()
    assert HabilitationAfas.objects.historiques(jour).exists()
    assert HabilitationAfas.objects.inactives(jour).exists()
    agent = Utilisateur.objects.get(identifiant=personas["comptes"]["agent_caf"]["identifiant"])
    assert ValidationApprobateur.objects.en_attente().filter(caf_id=agent.caf_id).exists()
    # La persona déclarante tient des rôles actifs sur les activités annoncées, dont celle à 30 lieux.
    declarant = Utilisateur.objects.get(identifiant=personas["comptes"]["declarant"]["identifiant"])
    tenues = set(declarant.habilitations_afas.actives(jour).values_list("activite_id", flat=True))
    assert len(tenues) == PETITE.afas.persona
    assert personas["afas"]["activite"] in tenues
    assert LieuImplantation.objects.filter(activite_id=personas["afas"]["activite"]).count() == 30
    # Déclarations : tous les états ; les données d'activité suivent les lieux ouverts à l'appel ;
    # l'historique mène à l'état ; un récépissé par transmission, à l'empreinte exacte.
    assert set(Declaration.objects.values_list("etat", flat=True)) == set(EtatDeclaration.values)
    assert Declaration.objects.filter(caf_id=agent.caf_id).count() == personas["afas"]["declarations_caf"]
    for d in Declaration.objects.select_related("activite", "appel").prefetch_related("evenements", "recepisses"):
        assert d.caf_id == d.appel.caf_id == d.activite.organisme.caf_id
        assert (d.exercice, d.type_declaration) == (d.appel.exercice, d.appel.type_declaration)
        lieux = set(
            LieuImplantation.objects.ouverts(d.date_ouverture).filter(activite=d.activite).values_list("pk", flat=True)
        )
        lignes = list(d.donnees_activite.values_list("lieu_id", "nature"))
        assert {lieu for lieu, _n in lignes} == (lieux or {None})
        assert all(n == d.activite.nature for _l, n in lignes)
        assert DonneesFinancieres.objects.filter(declaration=d).count() == 1
        evenements = sorted(d.evenements.all(), key=lambda e: (e.le, e.pk))
        assert (evenements[-1].etat_apres if evenements else EtatDeclaration.A_SAISIR) == d.etat
        transmissions = sum(e.etat_apres == EtatDeclaration.TRANSMISE for e in evenements)
        assert len(d.recepisses.all()) == transmissions
        for r in d.recepisses.all():
            assert r.empreinte == hashlib.sha256(generation.contenu_canonique(r.contenu)).hexdigest()
    assert Recepisse.objects.exists()


@pytest.mark.django_db
def test_les_donnees_afas_sont_deterministes():
    def releve():
        return (
            list(Activite.objects.order_by("pk").values_list("numero_equipement", "libelle", "type_activite")),
            list(
                HabilitationAfas.objects.order_by("pk").values_list("utilisateur_id", "role", "activite_id", "lieu_id")
            ),
            list(Declaration.objects.order_by("pk").values_list("activite_id", "exercice", "type_declaration", "etat")),
            list(Recepisse.objects.order_by("pk").values_list("empreinte", flat=True)),
        )

    with transaction.atomic():
        _generer(PETITE)
        premier = releve()
        transaction.set_rollback(True)
    _generer(PETITE)
    assert releve() == premier


@pytest.mark.django_db
def test_les_montants_generes_sont_ceux_que_la_transmission_fige():
    """Un montant figé par transmission, le dernier actuel, et l'actuel est celui qu'écrirait
    ``montant_figer`` sur les données de la base (étapes, paramètres, indicateurs ; pour un réel,
    le prévisionnel figé ou estimé) ; le barème national survit à l'effacement des données."""
    from afas.financement import services
    from afas.models import MontantEstime, ParametreFinancement

    bareme = set(
        ParametreFinancement.objects.filter(caf__isnull=True).values_list("exercice", "type_activite", "nature")
    )
    _generer(PETITE)
    montants: dict[int, list[MontantEstime]] = {}
    for m in MontantEstime.objects.order_by("declaration_id", "calcule_le", "pk"):
        montants.setdefault(m.declaration_id, []).append(m)
    declarations = Declaration.objects.select_related("activite").prefetch_related("recepisses")
    for d in declarations:
        des_montants = montants.get(d.pk, [])
        assert len(des_montants) == len(d.recepisses.all())
        assert [m.actuel for m in des_montants] == [False] * (len(des_montants) - 1) + [True] * bool(des_montants)
        if des_montants:
            actuel = des_montants[-1]
            attendu = services.montant_valeurs(d, services.estimer(d))
            assert {c: getattr(actuel, c) for c in attendu} == attendu, d.pk
            assert actuel.calcule_le == max(r.transmise_le for r in d.recepisses.all())
    assert MontantEstime.objects.filter(actuel=True, montant__gt=0).exists()
    assert MontantEstime.objects.filter(type_declaration="reel", actuel=True).exists()
    if connection.vendor == "postgresql":
        with connection.cursor() as curseur:  # TRUNCATE dans la transaction du test
            curseur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    generation.vider_donnees_generees()
    assert not MontantEstime.objects.exists()
    assert (
        set(ParametreFinancement.objects.filter(caf__isnull=True).values_list("exercice", "type_activite", "nature"))
        == bareme
    )
    # Leur séquence suit : un paramètre de Caf créé ensuite a sa propre clé.
    ParametreFinancement.objects.create(
        caf=Caf.objects.create(code="999", nom="Caf d'après"),
        exercice=2025,
        type_activite="EAJE",
        taux=66,
        prix_plafond=9,
        source="test",
    )
