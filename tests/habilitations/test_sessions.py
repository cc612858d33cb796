"""Sessions : 30 minutes d'inactivité, 12 heures au plus, fermeture à la clôture du compte."""

import datetime

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from habilitations import services
from portail.socle.dates import aujourdhui
from tests import factories
from tests.utils import texte

ACCUEIL = reverse("portail:accueil")
CONNEXION = reverse("habilitations:connexion")


def se_connecter(client, user):
    client.post(CONNEXION, {"username": user.identifiant, "password": factories.MOT_DE_PASSE})
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
class TestInactivite:
    def test_deconnecte_apres_30_minutes_sans_activite_avec_message(self, client):
        with time_machine.travel(timezone.now(), tick=False) as voyage:
            user = factories.creer_utilisateur()
            se_connecter(client, user)
            voyage.shift(datetime.timedelta(minutes=30, seconds=1))
            reponse = client.get(ACCUEIL, follow=True)
        assert reponse.redirect_chain[0][0].startswith(CONNEXION)
        assert "30 minutes sans activité" in texte(reponse)
        assert "_auth_user_id" not in client.session

    def test_l_activite_repousse_l_echeance(self, client):
        with time_machine.travel(timezone.now(), tick=False) as voyage:
            user = factories.creer_utilisateur()
            se_connecter(client, user)
            for _ in range(3):
                voyage.shift(datetime.timedelta(minutes=25))
                assert client.get(ACCUEIL).status_code == 200

    def test_session_limitee_a_12_heures_meme_active(self, client):
        with time_machine.travel(timezone.now(), tick=False) as voyage:
            user = factories.creer_utilisateur()
            se_connecter(client, user)
            for _ in range(12 * 3):
                voyage.shift(datetime.timedelta(minutes=20))
                client.get(ACCUEIL)
            voyage.shift(datetime.timedelta(minutes=1))
            reponse = client.get(ACCUEIL, follow=True)
        assert "_auth_user_id" not in client.session
        assert "12 heures" in texte(reponse)


@pytest.mark.django_db
class TestClotureDuCompte:
    def test_cloturer_aujourd_hui_ferme_toutes_les_sessions(self, client, django_capture_on_commit_callbacks):
        from django.test import Client

        user = factories.creer_utilisateur()
        autre_navigateur = Client()
        se_connecter(client, user)
        se_connecter(autre_navigateur, user)
        assert Session.objects.count() == 2
        with django_capture_on_commit_callbacks(execute=True):
            services.utilisateur_cloturer(par=None, utilisateur=user, date_cloture=aujourdhui())
        assert Session.objects.count() == 0
        assert client.get(ACCUEIL).status_code == 302

    def test_cloture_future_prend_effet_a_sa_date_sans_tache(self, client):
        with time_machine.travel(timezone.now(), tick=False) as voyage:
            user = factories.creer_utilisateur()
            services.utilisateur_cloturer(
                par=None, utilisateur=user, date_cloture=aujourdhui() + datetime.timedelta(days=1)
            )
            se_connecter(client, user)
            assert client.get(ACCUEIL).status_code == 200
            # Le lendemain, la même session n'ouvre plus rien (les dates sont relues à chaque requête).
            voyage.shift(datetime.timedelta(days=1))
            client.cookies.load({})
            reponse = client.get(ACCUEIL)
        assert reponse.status_code == 302

    def test_cloture_dans_le_passe_refusee(self):
        user = factories.creer_utilisateur()
        with pytest.raises(services.ErreurMetier):
            services.utilisateur_cloturer(
                par=None, utilisateur=user, date_cloture=aujourdhui() - datetime.timedelta(days=1)
            )

    def test_deconnexion_par_post(self, client):
        user = factories.creer_utilisateur()
        se_connecter(client, user)
        reponse = client.post(reverse("habilitations:deconnexion"))
        assert reponse.status_code == 302
        assert "_auth_user_id" not in client.session
