"""Ce que les dates déclenchent chaque nuit : avis de fin d'appartenance, comptes inactifs
avertis puis suspendus (pas supprimés), réouverture par l'administrateur."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from habilitations import services
from habilitations.models import Appartenance, Utilisateur
from habilitations.tasks import taches_quotidiennes
from portail.models import Courriel, EvenementAudit
from portail.socle.dates import aujourdhui
from tests import factories
from tests.utils import texte

pytestmark = pytest.mark.django_db


def courriels(destinataire: str, modele: str) -> list[Courriel]:
    return list(Courriel.objects.filter(destinataire=destinataire, modele=modele))


class TestAvisDEcheance:
    def test_sept_jours_avant_l_utilisateur_et_son_responsable_sont_prevenus_une_fois(
        self, convention, groupe_b, resp_b
    ):
        user = factories.creer_utilisateur(nom="Fin", prenom="Fanny", convention=convention)
        fin = aujourdhui() + datetime.timedelta(days=7)
        services.appartenance_ouvrir(par=None, utilisateur=user, groupe=groupe_b, date_cloture=fin)

        assert taches_quotidiennes.delay().get()["avis_echeance"] == 1
        (a_l_utilisateur,) = courriels(user.email, "echeance_appartenance")
        (au_responsable,) = courriels(resp_b.email, "echeance_appartenance")
        assert f"se termine le {fin:%d/%m/%Y}" in a_l_utilisateur.corps
        assert "Votre appartenance au groupe B" in a_l_utilisateur.corps
        assert user.identifiant in au_responsable.corps and "dont vous êtes responsable" in au_responsable.corps

        # Relancée le même jour (ou rejouée après une panne) : rien de plus.
        assert services.echeances_notifier() == 0
        assert len(courriels(user.email, "echeance_appartenance")) == 1

    def test_huit_jours_avant_rien(self, convention, groupe_b):
        user = factories.creer_utilisateur(nom="Tot", prenom="Théo", convention=convention)
        services.appartenance_ouvrir(
            par=None, utilisateur=user, groupe=groupe_b, date_cloture=aujourdhui() + datetime.timedelta(days=8)
        )
        assert services.echeances_notifier() == 0

    def test_fin_repoussee_puis_ramenee_previent_a_nouveau(self, convention, groupe_b):
        user = factories.creer_utilisateur(nom="Re", prenom="Rita", convention=convention)
        appartenance = services.appartenance_ouvrir(
            par=None, utilisateur=user, groupe=groupe_b, date_cloture=aujourdhui() + datetime.timedelta(days=7)
        )
        assert services.echeances_notifier() == 1
        with time_machine.travel(timezone.now() + datetime.timedelta(days=3), tick=False):
            services.appartenance_modifier(
                par=None,
                appartenance=appartenance,
                date_ouverture=appartenance.date_ouverture,
                date_cloture=aujourdhui() + datetime.timedelta(days=7),
            )
            assert services.echeances_notifier() == 1
        assert len(courriels(user.email, "echeance_appartenance")) == 2


class TestInactivite:
    @pytest.fixture
    def compte(self, convention, administrateur, groupe_b):
        user = factories.creer_utilisateur(nom="Dormeur", prenom="Denis", convention=convention)
        Utilisateur.objects.filter(pk=user.pk).update(last_login=timezone.now())
        # Tous les autres comptes se connecteront dans 330 jours : seul celui-ci reste inactif.
        Utilisateur.objects.exclude(pk=user.pk).update(last_login=timezone.now() + datetime.timedelta(days=330))
        return user

    def test_averti_a_onze_mois_avec_son_administrateur_une_seule_fois(self, compte, administrateur):
        with time_machine.travel(timezone.now() + datetime.timedelta(days=336), tick=False):
            assert services.inactivite_traiter() == (1, 0)
            assert services.inactivite_traiter() == (0, 0)
        (a_lui,) = courriels(compte.email, "inactivite")
        (a_l_admin,) = courriels(administrateur.email, "inactivite")
        assert "il sera suspendu" in a_lui.corps and "Connectez-vous" in a_lui.corps
        assert compte.identifiant in a_l_admin.sujet
        compte.refresh_from_db()
        assert not compte.est_suspendu

    def test_suspendu_a_douze_mois_sans_etre_supprime_puis_rouvert(self, client, compte, administrateur):
        with time_machine.travel(timezone.now() + datetime.timedelta(days=366), tick=False):
            assert taches_quotidiennes.delay().get()["comptes_suspendus"] == 1
            compte.refresh_from_db()
            assert compte.est_suspendu and Utilisateur.objects.filter(pk=compte.pk).exists()
            assert "est suspendu" in courriels(compte.email, "inactivite")[0].corps
            assert EvenementAudit.objects.filter(action="utilisateur_suspendre", cible_id=str(compte.pk)).exists()

            reponse = client.post(
                reverse("habilitations:connexion"),
                {"username": compte.identifiant, "password": factories.MOT_DE_PASSE},
            )
            assert "Votre compte est suspendu" in texte(reponse)

            services.utilisateur_rouvrir(par=administrateur, utilisateur=compte)
            assert services.inactivite_traiter() == (0, 0)  # le délai repart de la réouverture
            reponse = client.post(
                reverse("habilitations:connexion"),
                {"username": compte.identifiant, "password": factories.MOT_DE_PASSE},
            )
            assert reponse.status_code == 302

    def test_une_connexion_recente_remet_le_compteur_a_zero(self, compte):
        with time_machine.travel(timezone.now() + datetime.timedelta(days=366), tick=False):
            Utilisateur.objects.filter(pk=compte.pk).update(last_login=timezone.now() - datetime.timedelta(days=2))
            assert services.inactivite_traiter() == (0, 0)

    def test_compte_clos_ni_averti_ni_suspendu(self, compte):
        Utilisateur.objects.filter(pk=compte.pk).update(date_cloture=aujourdhui() + datetime.timedelta(days=1))
        with time_machine.travel(timezone.now() + datetime.timedelta(days=366), tick=False):
            assert services.inactivite_traiter() == (0, 0)

    def test_agents_caf_hors_du_dispositif(self, agent_caf):
        with time_machine.travel(timezone.now() + datetime.timedelta(days=400), tick=False):
            assert services.inactivite_traiter() == (0, 0)


def test_les_appartenances_ne_sont_jamais_supprimees_par_les_taches(convention, membre_b):
    avant = Appartenance.objects.count()
    with time_machine.travel(timezone.now() + datetime.timedelta(days=800), tick=False):
        taches_quotidiennes.delay().get()
    assert Appartenance.objects.count() == avant
