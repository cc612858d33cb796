"""Budgets de requêtes : la même page coûte le même nombre de requêtes avec 10 activités ou avec
2 000 activités, 5 000 lieux et 20 000 habilitations ; la file de la Caf avec 10 ou 5 000
approbateurs en attente. Chaque page est filtrée et paginée dans la base."""

import datetime
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from afas.enums import DecisionCaf, NatureActivite, RoleAfas, TypeActivite
from afas.habilitations import tableau_de_bord
from afas.models import Activite, HabilitationAfas, LieuImplantation, ValidationApprobateur
from habilitations.models import Appartenance
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db

J = aujourdhui()
DEBUT = J - datetime.timedelta(days=60)
# Recherche (Actif, Inactif, Historique) : session, compte, double authentification, droit
# d'habiliter et menu (gestionnaire et habilitateur) en une seule requête, la liste
# (identifiants ; Historique : ses groupes comptés), page d'habilitations (utilisateur, activité,
# lieu et validation joints), profils effectifs du menu, partenaires du filtre ; puis
# l'écriture de la session (point de sauvegarde, mise à jour, libération : le délai d'inactivité). Actif, Inactif : les droits du jour relus par
# sous-requête corrélée (plus de liste des déclarants). Non attribué : les activités filtrées
# avec leurs libellés et leurs lieux ouverts, les conventions de leurs partenaires (en liste),
# les rôles tenus sur elles (la règle en Python) ; la page s'écrit avec ces mêmes lignes.
BUDGET_HISTORIQUE = 11
BUDGET_RECHERCHE = 11
BUDGET_NON_ATTRIBUE = 12
# File de la Caf : session, compte, double authentification, comptage, profils du menu, page
# (habilitation, utilisateur, activité, organisme, demandeur joints), écriture de la session (3).
BUDGET_FILE_CAF = 9


def charger(convention, administrateur, nombre_activites: int):
    """``nombre_activites`` activités, 2,5 lieux par activité, 10 habilitations par activité
    (trois rôles actifs sur l'activité, un FDA par lieu, le reste terminé), réparties entre
    dix déclarants d'un groupe AFAS-DECLARER ; une activité sur dix n'a pas de FDF."""
    declarants = [
        factories.creer_utilisateur(nom=f"Declarant{i}", prenom="Paul", organisme=convention.organisme)
        for i in range(10)
    ]
    appartenance = factories.habiliter(declarants[0], convention, "AFAS-DECLARER", responsable=administrateur)
    Appartenance.objects.bulk_create(
        Appartenance(utilisateur=u, groupe=appartenance.groupe, date_ouverture=DEBUT) for u in declarants[1:]
    )
    activites = Activite.objects.bulk_create(
        Activite(
            organisme=convention.organisme,
            numero_equipement=f"B{convention.pk}-{i:06d}",
            libelle=f"Accueil de loisirs {i:05d}",
            type_activite=TypeActivite.ALSH,
            nature=NatureActivite.PERISCOLAIRE,
            date_ouverture=DEBUT,
        )
        for i in range(nombre_activites)
    )
    lieux = LieuImplantation.objects.bulk_create(
        LieuImplantation(activite=activites[i // 5 * 2 + (i % 5 > 2)], libelle=f"Lieu {i:05d}", date_ouverture=DEBUT)
        for i in range(nombre_activites * 5 // 2)
    )
    habilitations = []
    for i, activite in enumerate(activites):
        u = declarants[i % 10]
        commun = {"utilisateur": u, "convention": convention, "activite": activite, "date_ouverture": DEBUT}
        habilitations.append(HabilitationAfas(role=RoleAfas.APPROBATEUR, **commun))
        habilitations.append(HabilitationAfas(role=RoleAfas.FDA, **commun))
        if i % 10:
            habilitations.append(HabilitationAfas(role=RoleAfas.FDF, **commun))
    for lieu in lieux:
        habilitations.append(
            HabilitationAfas(
                role=RoleAfas.FDA,
                utilisateur=declarants[lieu.pk % 10],
                convention=convention,
                activite_id=lieu.activite_id,
                lieu=lieu,
                date_ouverture=DEBUT,
            )
        )
    anciennes = nombre_activites * 10 - len(habilitations)
    for i in range(anciennes):
        habilitations.append(
            HabilitationAfas(
                role=RoleAfas.FDF,
                utilisateur=declarants[i % 10],
                convention=convention,
                activite=activites[i % nombre_activites],
                date_ouverture=DEBUT,
                date_cloture=DEBUT + datetime.timedelta(days=1 + i % 30),
            )
        )
    habilitations = HabilitationAfas.objects.bulk_create(habilitations, batch_size=2000)
    ValidationApprobateur.objects.bulk_create(
        (
            ValidationApprobateur(
                habilitation=h,
                caf_id=convention.caf_id,
                decision=DecisionCaf.VALIDEE,
                decidee_le=datetime.datetime.now(tz=datetime.UTC),
                **ValidationApprobateur.champs_copies(h),
            )
            for h in habilitations
            if h.role == RoleAfas.APPROBATEUR
        ),
        batch_size=2000,
    )
    assert HabilitationAfas.objects.count() == nombre_activites * 10


def compter(client, url, params) -> tuple[int, str]:
    debut = time.perf_counter()
    with CaptureQueriesContext(connection) as requetes:
        reponse = client.get(url, params)
    print(f"  {params.get('etat', 'file')} : {time.perf_counter() - debut:.2f} s")
    assert reponse.status_code == 200
    if IMPRIMER:
        for q in requetes.captured_queries:
            print("   ", q["sql"][:150])
    return len(requetes), texte(reponse)


IMPRIMER = False


@pytest.mark.parametrize("nombre", [10, 2000])
def test_recherche_et_non_attribue(client, convention, administrateur, nombre):
    charger(convention, administrateur, nombre)
    connecter_verifie(client, administrateur)
    url = reverse("afas:habilitations")
    client.get(url)  # première page de la session : caches de types de contenu et de droits remplis
    n_actif, page = compter(client, url, {"etat": "actif", "lieux": "oui", "page": "2"})
    assert "Activité : Accueil de loisirs" in page
    n_historique, page = compter(client, url, {"etat": "historique", "lieux": "non", "utilisateur": "declarant1"})
    n_non_attribue, page = compter(client, url, {"etat": "non_attribue", "lieux": "oui"})
    assert "Activité : Accueil de loisirs 00000" in page and "<td>Fournisseur de données financières</td>" in page
    print(f"{nombre} activités : actif {n_actif}, historique {n_historique}, non attribué {n_non_attribue}")
    # Le même nombre exact aux deux volumes.
    assert (n_actif, n_historique, n_non_attribue) == (BUDGET_RECHERCHE, BUDGET_HISTORIQUE, BUDGET_NON_ATTRIBUE)


@pytest.mark.parametrize("nombre", [10, 5000])
def test_file_de_la_caf(client, agent_caf, convention, administrateur, nombre):
    declarant = factories.creer_utilisateur(nom="Ferrand", prenom="Paul", organisme=convention.organisme)
    activites = Activite.objects.bulk_create(
        Activite(
            organisme=convention.organisme,
            numero_equipement=f"F{i:06d}",
            libelle=f"Crèche {i:05d}",
            type_activite=TypeActivite.EAJE,
            date_ouverture=DEBUT,
        )
        for i in range(nombre)
    )
    habilitations = HabilitationAfas.objects.bulk_create(
        (
            HabilitationAfas(
                utilisateur=declarant, convention=convention, activite=a, role=RoleAfas.APPROBATEUR, date_ouverture=J
            )
            for a in activites
        ),
        batch_size=2000,
    )
    ValidationApprobateur.objects.bulk_create(
        (
            ValidationApprobateur(
                habilitation=h,
                caf_id=convention.caf_id,
                demandee_par=administrateur,
                **ValidationApprobateur.champs_copies(h),
            )
            for h in habilitations
        ),
        batch_size=2000,
    )
    connecter_verifie(client, agent_caf)
    client.get(reverse("afas:validations"))
    n, page = compter(client, reverse("afas:validations"), {"tri": "-demandee_le", "partenaire": "", "page": "1"})
    assert f"{nombre} demande" in page
    print(f"{nombre} approbateurs en attente : {n} requêtes")
    assert n == BUDGET_FILE_CAF


# 25, plus les chiffres de profils de la nuit et le tableau de la nuit des groupes sans membre ou
# sans responsable (issue 11 : lus s'il y en a, comptés sinon ; cherchés ici, absents). Les
# lignes AFAS : leur synthèse de la nuit (cherchée), puis sans elle les activités et lieux
# ouverts et les habilitations actives (rôles tenus et fins prochaines dans la même requête) ;
# les approbateurs en attente. Avec la synthèse : trois requêtes de moins (les approbateurs en
# attente sont alors comptés dans la lecture de la synthèse). Un tableau de comptes
# vide (trois des quatre dans ce jeu) coûte une requête au lieu de deux : ses clés et son
# nombre, pas de lignes à lire ensuite ; les comptes inactifs et jamais activés, une requête
# toujours (lignes et nombre ensemble, ``Tableau.ordre_indexe``). Le menu du partenaire et les
# conventions où il habilite se lisent ensemble, une fois par requête
# (``afas.perms.droits_de_la_requete``) : une requête de moins sur les tableaux de bord ; sur
# l'Accueil AFAS, trois (l'accès relisait les profils du menu et, pour l'habilitateur, ses
# conventions deux fois).
BUDGET_TABLEAUX_DE_BORD = 23
BUDGET_ACCUEIL = 13


@pytest.mark.parametrize("nuit", [False, True], ids=["a_l_instant", "synthese_de_la_nuit"])
@pytest.mark.parametrize("nombre", [10, 2000])
def test_lignes_afas_des_tableaux_de_bord(client, monkeypatch, convention, administrateur, nombre, nuit):
    """« Mes tableaux de bord » et l'Accueil AFAS de l'administrateur : les lignes AFAS (rôles non
    tenus, approbateurs en attente, fins prochaines) coûtent le même nombre de requêtes avec 2 000
    activités, 5 000 lieux et 20 000 habilitations qu'avec 10 activités ; comptées à l'instant ou
    lues dans la synthèse de la nuit (seuil abaissé : toute convention a la sienne)."""
    charger(convention, administrateur, nombre)
    if nuit:
        monkeypatch.setattr(tableau_de_bord, "SEUIL_SYNTHESE", 1)
        assert tableau_de_bord.synthese_calculer() == 1
    connecter_verifie(client, administrateur)
    tableaux = reverse("gestion:tableaux_de_bord", args=[convention.pk])
    client.get(tableaux)  # première page de la session : caches remplis
    n_tableaux, page = compter(client, tableaux, {})
    assert "Activités dont un rôle AFAS n'est tenu par personne" in page
    n_accueil, page = compter(client, reverse("afas:accueil"), {})
    assert "Tableau de bord des habilitations AFAS" in page
    print(f"{nombre} activités : tableaux de bord {n_tableaux}, accueil AFAS {n_accueil}")
    moins = 3 if nuit else 0
    assert (n_tableaux, n_accueil) == (BUDGET_TABLEAUX_DE_BORD - moins, BUDGET_ACCUEIL - moins)
