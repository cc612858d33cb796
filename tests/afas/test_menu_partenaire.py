"""Le menu d'un partenaire (``afas.perms.menu_partenaire``) est une requête SQL écrite à la main,
posée sur chaque page : elle doit répondre exactement comme les prédicats de l'ORM qu'elle
résume (``est_gestionnaire_habilitations``, ``peut_habiliter``), dans chaque situation qui
ouvre ou ferme l'un des deux droits, et dès que les faits changent (rien n'est gardé d'une page
à l'autre)."""

import datetime

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm

from afas import perms
from conventions.models import Convention, Mandat
from habilitations import perms as perms_habilitations
from habilitations.models import Appartenance, Groupe, Utilisateur
from portail.socle.dates import aujourdhui
from tests import factories

pytestmark = pytest.mark.django_db


def attendu(user) -> tuple[bool, bool]:
    """La réponse de référence, par les prédicats de l'ORM."""
    user = Utilisateur.objects.get(pk=user.pk)
    gestionnaire = perms_habilitations.est_gestionnaire_habilitations(user)
    # Sa définition : « Consulter les conventions » montre au moins une convention.
    assert gestionnaire == perms_habilitations.conventions_consultables(user).exists()
    return gestionnaire, perms.peut_habiliter(user)


def menu(user) -> tuple[bool, bool]:
    user = Utilisateur.objects.get(pk=user.pk)
    reponse = perms.menu_partenaire(user)
    # Les pages AFAS lisent le menu avec les conventions où l'on habilite (une requête) : mêmes
    # réponses, dans chaque situation des tests qui suivent.
    assert perms.DroitsDeLaRequete(user).menu == reponse
    # Conventions lues d'abord (pages AFAS) : le menu en découle.
    droits = perms.DroitsDeLaRequete(user)
    habilitables = droits.conventions_habilitables
    assert (droits.gestionnaire, bool(habilitables)) == droits.menu == reponse
    assert sorted(droits.conventions_habilitables) == sorted(perms.conventions_habilitables_cles(user))
    assert droits.est_declarant == perms.est_declarant(user)
    return reponse


@pytest.fixture
def comptes(convention, administrateur, declarant, responsable, exterieur, convention_autre_partenaire):
    habilitateur = factories.creer_utilisateur(nom="Albouy", prenom="Céline", organisme=convention.organisme)
    factories.habiliter(habilitateur, convention, "AFAS-HABILITER", responsable=administrateur)
    return {
        "administrateur": administrateur,
        "declarant": declarant,
        "responsable": responsable,
        "habilitateur": habilitateur,
        "exterieur": exterieur,
        "admin_autre": convention_autre_partenaire.mandats.get().administrateur,
    }


def test_memes_reponses_que_les_predicats_pour_chaque_persona(comptes):
    reponses = {nom: menu(u) for nom, u in comptes.items()}
    assert reponses == {nom: attendu(u) for nom, u in comptes.items()}
    # Le test n'est pas vide : chaque droit est vrai pour l'un et faux pour un autre.
    assert reponses["administrateur"] == (True, True)
    assert reponses["responsable"] == (True, False)
    assert reponses["habilitateur"] == (False, True)
    assert reponses["exterieur"] == (False, False)


def cles_attendues(user) -> list[int]:
    return sorted(perms.conventions_habilitables(Utilisateur.objects.get(pk=user.pk)).values_list("pk", flat=True))


def cles(user) -> list[int]:
    user = Utilisateur.objects.get(pk=user.pk)
    reponse = sorted(perms.conventions_habilitables_cles(user))
    assert sorted(perms.DroitsDeLaRequete(user).conventions_habilitables) == reponse
    return reponse


def test_conventions_habilitables_memes_cles_que_le_queryset(comptes, convention, convention_autre_partenaire):
    """La page de l'habilitateur lit ses conventions par la même requête écrite à la main."""
    # L'habilitateur est aussi membre AFAS-HABILITER de l'autre convention (compte de l'autre organisme).
    autre = factories.creer_utilisateur(nom="Bru", prenom="Léa", organisme=convention_autre_partenaire.organisme)
    factories.habiliter(autre, convention_autre_partenaire, "AFAS-HABILITER")
    comptes = {**comptes, "autre": autre}
    assert {n: cles(u) for n, u in comptes.items()} == {n: cles_attendues(u) for n, u in comptes.items()}
    assert cles(comptes["administrateur"]) == [convention.pk]
    assert cles(comptes["habilitateur"]) == [convention.pk]
    assert cles(autre) == [convention_autre_partenaire.pk]
    assert cles(comptes["exterieur"]) == []
    # La convention n'accorde plus AFAS-DECLARER : plus rien à habiliter, pour personne.
    convention.profils.remove(*convention.profils.filter(code="AFAS-DECLARER"))
    assert cles(comptes["administrateur"]) == cles_attendues(comptes["administrateur"]) == []
    assert cles(comptes["habilitateur"]) == cles_attendues(comptes["habilitateur"]) == []


def test_un_changement_de_droits_se_voit_a_la_page_suivante(comptes, convention):
    """Chaque fait qui ouvre un droit, retiré l'un après l'autre : le menu suit aussitôt, comme
    les prédicats (aucune mémoire entre deux pages)."""
    admin, habilitateur = comptes["administrateur"], comptes["habilitateur"]
    # Droit objet guardian retiré (la réconciliation de nuit le fera) : le mandat seul ne suffit pas.
    UserObjectPermission.objects.filter(user=admin, permission__codename="administrer_convention").delete()
    assert menu(admin) == attendu(admin)
    # Rendu à un groupe Django du compte : guardian l'accepte aussi.
    groupe_django = Group.objects.create(name="Administrateurs")
    admin.groups.add(groupe_django)
    assign_perm("conventions.administrer_convention", groupe_django, convention)
    assert menu(admin) == attendu(admin) == (True, True)
    # Le mandat finit aujourd'hui.
    Mandat.objects.filter(administrateur=admin).update(date_cloture=aujourdhui())
    assert menu(admin) == attendu(admin)
    assert menu(admin)[1] is False
    # L'appartenance AFAS-HABILITER de l'habilitateur finit aujourd'hui.
    Appartenance.objects.filter(utilisateur=habilitateur).update(date_cloture=aujourdhui())
    assert menu(habilitateur) == attendu(habilitateur)
    assert menu(habilitateur)[1] is False
    # Le responsable : son groupe clos, puis la convention elle-même.
    responsable = comptes["responsable"]
    Groupe.objects.filter(responsable=responsable).update(date_cloture=aujourdhui())
    assert menu(responsable) == attendu(responsable) == (False, False)


def test_convention_close_et_compte_ferme(comptes, convention):
    Convention.objects.filter(pk=convention.pk).update(date_cloture=aujourdhui())
    for u in comptes.values():
        assert menu(u) == attendu(u)
    assert menu(comptes["administrateur"]) == (False, False)
    assert menu(comptes["admin_autre"]) == (True, True)
    autre = comptes["admin_autre"]
    Utilisateur.objects.filter(pk=autre.pk).update(date_cloture=aujourdhui())
    assert menu(autre) == attendu(autre) == (False, False)


def test_le_jour_compte(comptes, convention):
    """Une convention qui finit demain : le menu le sait demain, sans que rien ne soit écrit."""
    Convention.objects.filter(pk=convention.pk).update(date_cloture=aujourdhui() + datetime.timedelta(days=1))
    admin = comptes["administrateur"]
    assert menu(admin) == attendu(admin) == (True, True)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
        assert menu(admin) == attendu(admin) == (False, False)


def test_une_requete_pour_un_partenaire_aucune_pour_les_autres(
    comptes, agent_caf, superviseur, django_assert_num_queries
):
    admin = Utilisateur.objects.get(pk=comptes["administrateur"].pk)
    with django_assert_num_queries(1):  # la requête du menu
        assert perms.menu_partenaire(admin) == (True, True)
    for user in (agent_caf, superviseur):
        with django_assert_num_queries(0):
            assert perms.menu_partenaire(user) == (False, False)


def test_droits_de_la_requete_lus_une_fois(comptes, declarant, agent_caf, rf, django_assert_num_queries):
    """La vue AFAS et le menu posent les mêmes questions : deux requêtes en tout (profils
    effectifs ; gestionnaire et conventions habilitables), quel que soit le nombre de questions,
    et rien de gardé d'une requête HTTP à l'autre."""
    admin = Utilisateur.objects.get(pk=comptes["administrateur"].pk)
    requete = rf.get("/afas/")
    requete.user = admin
    habilitables = perms.conventions_habilitables_cles(admin)
    assert habilitables
    with django_assert_num_queries(2):
        for _ in range(3):
            droits = perms.droits_de_la_requete(requete)
            assert droits is perms.droits_de_la_requete(requete)
            assert (droits.gestionnaire, droits.conventions_habilitables) == (True, habilitables)
            assert droits.menu == (True, True)
            assert droits.est_declarant == any(p.code == "AFAS-DECLARER" for p in droits.profils)
    autre = rf.get("/afas/")
    autre.user = admin
    assert perms.droits_de_la_requete(autre) is not droits
    # Le déclarant : déclarant, n'habilite pas ; l'agent Caf : aucune requête pour le partenaire.
    droits = perms.DroitsDeLaRequete(Utilisateur.objects.get(pk=declarant.pk))
    assert (droits.est_declarant, droits.gestionnaire, droits.conventions_habilitables) == (True, False, [])
    droits = perms.DroitsDeLaRequete(Utilisateur.objects.get(pk=agent_caf.pk))
    with django_assert_num_queries(0):
        assert (droits.gestionnaire, droits.conventions_habilitables, droits.menu) == (False, [], (False, False))
    # Sans les conventions habilitables (pages hors AFAS) : la requête du menu seule.
    droits = perms.DroitsDeLaRequete(admin)
    with django_assert_num_queries(1, info="_SQL_MENU"):
        assert droits.menu == (True, True)
    assert "_partenaire" not in droits.__dict__


@pytest.mark.django_db(transaction=True)  # la connexion est fermée et rouverte
def test_les_conventions_habilitables_sont_une_instruction_preparee(administrateur):
    """Sous PostgreSQL, la lecture des conventions où l'on habilite (pages AFAS de l'habilitateur,
    « Mes tableaux de bord ») est préparée : la connexion la garde, planifiée une fois et non à
    chaque page ; les réponses ne changent pas d'un appel à l'autre."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("instructions préparées : PostgreSQL seulement")
    connection.close()
    connection.ensure_connection()
    user = Utilisateur.objects.get(pk=administrateur.pk)
    reponses = {tuple(perms.DroitsDeLaRequete(user).conventions_habilitables) for _ in range(8)}
    assert reponses == {tuple(perms.conventions_habilitables_cles(user))}
    with connection.cursor() as curseur:
        curseur.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT NULL, %'")
        assert curseur.fetchone()[0] == 1
