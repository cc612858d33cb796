"""Le périmètre de chacun dans une convention (habilitations/perms.py) et la porte unique des
appartenances, y compris par ses portes dérobées (administration technique, démonstration)."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import remove_perm

from conventions import services as conventions_services
from conventions.models import Convention, Profil
from conventions.perms import conventions_administrees, est_agent_caf, est_superviseur_national
from habilitations import perms, services
from habilitations.models import Appartenance, Groupe, Utilisateur
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db


def identifiants(queryset) -> set[str]:
    return set(queryset.values_list("identifiant", flat=True))


class TestPerimetre:
    def test_administrateur_gere_toute_la_convention(self, convention, administrateur, arbre, membre_a1, membre_b):
        p = perms.perimetre(administrateur, convention)
        assert p.administrateur and p.peut_ecrire and not p.lecture_seule
        assert set(perms.groupes_du_perimetre(p).values_list("code", flat=True)) >= {"A", "A1", "B"}
        assert {membre_a1.identifiant, membre_b.identifiant, administrateur.identifiant} <= identifiants(
            perms.utilisateurs_du_perimetre(p)
        )

    def test_responsable_voit_son_sous_arbre_sans_les_administrateurs(
        self, convention, administrateur, resp_a, resp_a1, arbre, membre_a1, membre_b
    ):
        p = perms.perimetre(resp_a, convention)
        assert p.responsable and p.peut_ecrire
        assert set(perms.groupes_du_perimetre(p).values_list("code", flat=True)) == {"A", "A1"}
        assert identifiants(perms.utilisateurs_du_perimetre(p)) == {
            resp_a.identifiant,
            resp_a1.identifiant,
            membre_a1.identifiant,
        }
        # Même membre d'un de ses groupes, l'administrateur reste hors de sa portée.
        services.appartenance_ouvrir(par=None, utilisateur=administrateur, groupe=arbre["A1"])
        assert administrateur.identifiant not in identifiants(perms.utilisateurs_du_perimetre(p))

    def test_responsable_d_un_sous_groupe_ne_remonte_pas(self, convention, resp_a1, arbre):
        p = perms.perimetre(resp_a1, convention)
        assert set(perms.groupes_du_perimetre(p).values_list("code", flat=True)) == {"A1"}

    def test_simple_membre_et_autres_n_ont_aucun_perimetre(
        self, convention, membre_a1, admin_autre_partenaire, admin_autre_convention, exterieur
    ):
        for user in (membre_a1, admin_autre_partenaire, admin_autre_convention, exterieur):
            assert perms.perimetre(user, convention) is None

    def test_agent_de_la_caf_et_superviseur_lisent_seulement(self, convention, agent_caf, agent_autre_caf, superviseur):
        assert perms.perimetre(agent_caf, convention).lecture_seule
        assert not perms.perimetre(agent_caf, convention).peut_ecrire
        assert perms.perimetre(superviseur, convention).lecture_seule
        assert perms.perimetre(agent_autre_caf, convention) is None

    def test_responsable_d_un_groupe_clos_perd_son_perimetre(self, convention, resp_a, arbre):
        Groupe.objects.filter(pk=arbre["A"].pk).update(date_cloture=aujourdhui())
        assert perms.perimetre(resp_a, convention) is None

    def test_le_droit_objet_seul_ne_suffit_pas_les_dates_font_foi(self, convention, resp_a, arbre):
        # Le groupe se ferme aujourd'hui mais la réconciliation n'a pas encore tourné : le droit
        # guardian est toujours là, l'accès non.
        Groupe.objects.filter(pk=arbre["A"].pk).update(date_cloture=aujourdhui())
        assert resp_a.has_perm(perms.PERMISSION_GERER_GROUPE, arbre["A"])
        assert not perms.groupes_responsable(resp_a).exists()
        assert services.droits_groupes_reconcilier() == (0, 1)
        assert not Utilisateur.objects.get(pk=resp_a.pk).has_perm(perms.PERMISSION_GERER_GROUPE, arbre["A"])

    def test_droit_du_responsable_accorde_a_la_creation_et_reconcilie(self, convention, resp_b, groupe_b):
        assert list(perms.groupes_responsable(resp_b)) == [groupe_b]
        assert services.droits_groupes_reconcilier() == (0, 0)  # idempotent


class TestComptesDeLaConvention:
    """``utilisateurs_du_perimetre`` : les comptes créés sous la convention et ses administrateurs,
    d'où qu'ils viennent ; la convention lue par ``conventions_pour_perimetre`` dit si la condition
    se réduit à la convention (le cas ordinaire, qui suit l'index)."""

    def _perimetre(self, administrateur, convention):
        lue = perms.conventions_pour_perimetre(Convention.objects.all()).get(pk=convention.pk)
        return perms.perimetre(administrateur, lue)

    def test_administrateur_venu_d_ailleurs_reste_dans_les_comptes(self, convention, administrateur, arbre, membre_a1):
        # Un compte créé hors de cette convention, qui l'administre par son mandat.
        Utilisateur.objects.filter(pk=administrateur.pk).update(convention=None)
        p = self._perimetre(administrateur, convention)
        assert getattr(p.convention, perms.ADMINISTRATEURS_D_AILLEURS) is True
        assert {administrateur.identifiant, membre_a1.identifiant} <= identifiants(perms.utilisateurs_du_perimetre(p))

    def test_administrateurs_de_la_maison_la_convention_suffit(
        self, convention, administrateur, arbre, membre_a1, admin_autre_convention
    ):
        Utilisateur.objects.filter(pk=administrateur.pk).update(convention=convention)
        p = self._perimetre(administrateur, convention)
        assert getattr(p.convention, perms.ADMINISTRATEURS_D_AILLEURS) is False
        comptes = perms.utilisateurs_du_perimetre(p)
        assert "conventions_mandat" not in str(comptes.query)
        assert set(comptes.values_list("pk", flat=True)) == set(
            Utilisateur.objects.filter(convention=convention).values_list("pk", flat=True)
        )
        assert {administrateur.identifiant, membre_a1.identifiant} <= identifiants(comptes)
        assert admin_autre_convention.identifiant not in identifiants(comptes)

    def test_la_liste_des_utilisateurs_montre_l_administrateur_d_ailleurs(
        self, client, convention, administrateur, arbre
    ):
        Utilisateur.objects.filter(pk=administrateur.pk).update(convention=None)
        connecter_verifie(client, administrateur)
        page = texte(client.get(reverse("gestion:utilisateurs", args=[convention.pk]), {"nom": "Castan"}))
        assert administrateur.identifiant in page


def _perimetre_par_l_orm(user, convention):
    """``perms.perimetre`` écrit avec les QuerySet, comme avant ses requêtes compilées."""
    if est_agent_caf(user):
        return perms.Perimetre(convention, lecture_seule=True) if convention.caf_id == user.caf_id else None
    if est_superviseur_national(user):
        return perms.Perimetre(convention, lecture_seule=True)
    if conventions_administrees(user).filter(pk=convention.pk).exists():
        return perms.Perimetre(convention, administrateur=True)
    racines = tuple(perms.groupes_responsable(user).filter(convention=convention).values_list("chemin", flat=True))
    return perms.Perimetre(convention, racines=racines) if racines else None


class TestPerimetreCompile:
    """Les questions de ``perimetre`` compilées une fois (``RequeteCompilee``) répondent comme les
    QuerySet de ``conventions_administrees`` et ``groupes_responsable`` : comptes ouverts,
    clos, d'une autre convention, de la Caf, nationaux, responsables d'un groupe clos ou sans
    droit objet."""

    PERSONAS = [
        "administrateur",
        "resp_a",
        "resp_a1",
        "resp_b",
        "membre_a1",
        "admin_autre_convention",
        "admin_autre_partenaire",
        "agent_caf",
        "agent_autre_caf",
        "superviseur",
        "exterieur",
    ]

    @pytest.mark.parametrize("persona", PERSONAS)
    def test_comme_les_queryset(self, request, convention, arbre, resp_b, persona):
        user = request.getfixturevalue(persona)
        for autre in (convention, request.getfixturevalue("autre_convention_meme_partenaire")):
            assert perms.perimetre(user, autre) == _perimetre_par_l_orm(user, autre), autre.libelle

    def test_compte_clos_groupe_clos_mandat_clos_droit_retire(self, convention, administrateur, resp_a, resp_a1, arbre):
        Utilisateur.objects.filter(pk=resp_a1.pk).update(date_cloture=aujourdhui())
        Groupe.objects.filter(pk=arbre["A"].pk).update(date_cloture=aujourdhui())
        administrateur.mandats.update(date_cloture=aujourdhui())
        for user in (administrateur, resp_a, resp_a1):
            user.refresh_from_db()
            assert perms.perimetre(user, convention) is None
            assert _perimetre_par_l_orm(user, convention) is None
        # Un droit objet retiré suffit à refuser, même quand les dates suivent.
        Groupe.objects.filter(pk=arbre["A"].pk).update(date_cloture=None)
        assert perms.perimetre(resp_a, convention) is not None
        remove_perm(perms.PERMISSION_GERER_GROUPE, resp_a, arbre["A"])
        assert perms.perimetre(resp_a, convention) is None

    def test_deux_questions_au_plus(self, convention, resp_a, arbre, django_assert_num_queries):
        with django_assert_num_queries(2):
            p = perms.perimetre(resp_a, convention)
        assert p.racines == (arbre["A"].chemin,)


class TestMembresDuPerimetre:
    """``q_membre_du_perimetre`` (les membres d'un groupe du périmètre, « Gérer l'appartenance ») :
    les mêmes appartenances que « le membre est un compte du périmètre »
    (``utilisateurs_du_perimetre``), pour chaque lecteur et chaque groupe qu'il voit, y compris un
    administrateur membre d'un groupe, un administrateur venu d'ailleurs et un compte d'une autre
    convention glissé dans un groupe (écrit directement : le service le refuserait)."""

    @pytest.fixture
    def cas_limites(self, convention, administrateur, arbre, admin_autre_convention):
        services.appartenance_ouvrir(par=None, utilisateur=administrateur, groupe=arbre["A1"])
        Appartenance.objects.create(utilisateur=admin_autre_convention, groupe=arbre["A"], date_ouverture=aujourdhui())
        return arbre

    @pytest.mark.parametrize("d_ailleurs", [False, True], ids=["administrateur-de-la-maison", "venu-d-ailleurs"])
    @pytest.mark.parametrize("lecteur", ["administrateur", "resp_a", "resp_a1", "agent_caf", "superviseur"])
    def test_memes_appartenances_que_les_comptes_du_perimetre(
        self, request, convention, administrateur, cas_limites, lecteur, d_ailleurs
    ):
        Utilisateur.objects.filter(pk=administrateur.pk).update(convention=None if d_ailleurs else convention)
        lue = perms.conventions_pour_perimetre(Convention.objects.all()).get(pk=convention.pk)
        p = perms.perimetre(request.getfixturevalue(lecteur), lue)
        groupes = list(perms.groupes_du_perimetre(p))
        assert groupes
        vus = set()
        for groupe in groupes:
            attendu = set(
                Appartenance.objects.filter(
                    groupe=groupe, utilisateur__in=perms.utilisateurs_du_perimetre(p)
                ).values_list("pk", flat=True)
            )
            obtenu = set(
                Appartenance.objects.filter(perms.q_membre_du_perimetre(p), groupe=groupe).values_list("pk", flat=True)
            )
            assert obtenu == attendu, groupe.code
            vus |= set(Appartenance.objects.filter(pk__in=obtenu).values_list("utilisateur__identifiant", flat=True))
        # Le compte d'une autre convention n'est vu de personne ; l'administrateur, de tous sauf
        # des responsables (pour l'administrateur venu d'ailleurs : par son mandat).
        assert request.getfixturevalue("admin_autre_convention").identifiant not in vus
        assert (administrateur.identifiant in vus) is not p.responsable


class TestProfilsEffectifs:
    def test_convention_close_retire_tout_profil(self, convention, membre_a1, arbre):
        assert perms.services_ouverts(membre_a1).exists()
        conventions_services.convention_cloturer(
            par=None, convention=convention, date_cloture=aujourdhui() + datetime.timedelta(days=1)
        )
        assert perms.services_ouverts(membre_a1).exists()
        with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
            assert not perms.services_ouverts(membre_a1).exists()

    def test_appartenance_de_demain_effective_demain(self, convention, groupe_b):
        user = factories.creer_utilisateur(nom="Demain", prenom="Dora", convention=convention)
        services.appartenance_ouvrir(
            par=None, utilisateur=user, groupe=groupe_b, date_ouverture=aujourdhui() + datetime.timedelta(days=1)
        )
        assert not perms.profils_effectifs(user).exists()
        with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
            assert list(perms.profils_effectifs(user).values_list("code", flat=True)) == ["AFAS-DECLARER"]


class TestPorteUniqueDesAppartenances:
    def test_un_compte_d_une_autre_convention_n_entre_pas(self, convention, groupe_b, admin_autre_convention):
        with pytest.raises(services.ErreurMetier, match="pas un utilisateur de la convention"):
            services.appartenance_ouvrir(par=None, utilisateur=admin_autre_convention, groupe=groupe_b)

    def test_chevauchement_refuse(self, convention, groupe_b, membre_b):
        with pytest.raises(services.ErreurMetier, match="appartient déjà"):
            services.appartenance_ouvrir(par=None, utilisateur=membre_b, groupe=groupe_b)

    def test_groupe_clos_refuse(self, convention, groupe_b):
        user = factories.creer_utilisateur(nom="Tardif", prenom="Tom", convention=convention)
        Groupe.objects.filter(pk=groupe_b.pk).update(date_cloture=aujourdhui())
        groupe_b.refresh_from_db()
        with pytest.raises(services.ErreurMetier, match="clôturé"):
            services.appartenance_ouvrir(par=None, utilisateur=user, groupe=groupe_b)

    def test_administration_technique_passe_par_la_porte_unique(self, client, admin_user, groupe_b, membre_b):
        connecter_verifie(client, admin_user)
        avant = Appartenance.objects.count()
        reponse = client.post(
            reverse("admin:habilitations_appartenance_add"),
            {"utilisateur": membre_b.pk, "groupe": groupe_b.pk, "date_ouverture": aujourdhui().isoformat()},
        )
        assert reponse.status_code == 200  # formulaire réaffiché avec le refus
        assert "appartient déjà à ce groupe" in texte(reponse)
        assert Appartenance.objects.count() == avant

    def test_administration_technique_cree_par_le_service(self, client, admin_user, convention, groupe_b):
        user = factories.creer_utilisateur(nom="Neuf", prenom="Nina", convention=convention)
        connecter_verifie(client, admin_user)
        reponse = client.post(
            reverse("admin:habilitations_appartenance_add"),
            {"utilisateur": user.pk, "groupe": groupe_b.pk, "date_ouverture": aujourdhui().isoformat()},
        )
        assert reponse.status_code == 302
        assert Appartenance.objects.filter(utilisateur=user, groupe=groupe_b).count() == 1
        from portail.models import EvenementAudit

        evenement = EvenementAudit.objects.get(action="appartenance_ouvrir", apres__utilisateur=user.identifiant)
        assert evenement.acteur == admin_user and evenement.convention_id == convention.pk

    def test_administration_technique_groupe_par_le_service(self, client, admin_user, convention, resp_b):
        connecter_verifie(client, admin_user)
        donnees = {
            "convention": convention.pk,
            "code": "b",
            "libelle": "Doublon",
            "responsable": resp_b.pk,
            "date_ouverture": aujourdhui().isoformat(),
        }
        assert client.post(reverse("admin:habilitations_groupe_add"), donnees).status_code == 302
        groupe = Groupe.objects.get(convention=convention, code="B")
        assert groupe.chemin == f"/{groupe.pk}/" and resp_b.has_perm(perms.PERMISSION_GERER_GROUPE, groupe)
        reponse = client.post(reverse("admin:habilitations_groupe_add"), donnees)
        assert "déjà celui d'un groupe" in texte(reponse)


class TestDelegation:
    def test_un_sous_groupe_ne_recoit_pas_plus_que_son_parent(self, convention, groupe_a1):
        with pytest.raises(services.ErreurMetier, match="parent ne détient pas"):
            services.groupe_profil_ajouter(par=None, groupe=groupe_a1, profil=Profil.objects.get(code="AFAS-HABILITER"))

    def test_retirer_au_parent_retire_aux_sous_groupes(self, convention, groupe_a, groupe_a1, membre_a1):
        assert perms.services_ouverts(membre_a1).filter(code="CDAP").exists()
        retires = services.groupe_profil_retirer(par=None, groupe=groupe_a, profil=Profil.objects.get(code="CDAP-T1"))
        assert retires == 1
        assert not perms.services_ouverts(membre_a1).filter(code="CDAP").exists()


def test_un_compte_cree_sous_une_convention_y_est_rattache(convention):
    user = services.utilisateur_creer(
        par=None, nom="Rattaché", prenom="Rémi", email="remi@exemple.test", convention=convention
    )
    assert user.convention == convention and user.organisme == convention.organisme
    with pytest.raises(services.ErreurMetier, match="déjà celle d'un utilisateur ouvert"):
        services.utilisateur_creer(
            par=None, nom="Autre", prenom="Rémi", email="REMI@exemple.test", convention=convention
        )
    assert not Convention.objects.exclude(pk=convention.pk).exists()
