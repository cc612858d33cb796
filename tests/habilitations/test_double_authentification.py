"""Double authentification : enrôlement TOTP, vérification à la connexion, codes de secours."""

import re

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from habilitations.models import CodeSecours
from tests import factories
from tests.utils import texte

ACCUEIL = reverse("portail:accueil")
ACTIVER = reverse("habilitations:activer_otp")
VERIFIER = reverse("habilitations:verifier_otp")


def code_courant(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def se_connecter(client, user):
    return client.post(
        reverse("habilitations:connexion"), {"username": user.identifiant, "password": factories.MOT_DE_PASSE}
    )


@pytest.mark.django_db
class TestObligation:
    def test_agent_caf_doit_activer_avant_tout(self, client, agent_caf):
        se_connecter(client, agent_caf)
        reponse = client.get(ACCUEIL)
        assert reponse.status_code == 302
        assert reponse.url.startswith(ACTIVER)

    def test_administrateur_et_responsable_aussi(self, client, administrateur, responsable):
        for user in (administrateur, responsable):
            client.logout()
            se_connecter(client, user)
            assert client.get(ACCUEIL).url.startswith(ACTIVER)

    def test_utilisateur_simple_n_y_est_pas_tenu(self, client, declarant):
        se_connecter(client, declarant)
        assert client.get(ACCUEIL).status_code == 200

    def test_qui_l_a_activee_sans_y_etre_tenu_la_passe_aussi(self, client, declarant):
        TOTPDevice.objects.create(user=declarant, name="app", confirmed=True)
        se_connecter(client, declarant)
        assert client.get(ACCUEIL).url.startswith(VERIFIER)
        # Et ne peut pas contourner la vérification en enrôlant une nouvelle application.
        assert client.get(ACTIVER).url.startswith(VERIFIER)

    def test_un_reglage_la_rend_obligatoire_pour_tous(self, client, declarant, settings):
        settings.DOUBLE_AUTHENTIFICATION_POUR_TOUS = True
        se_connecter(client, declarant)
        assert client.get(ACCUEIL).url.startswith(ACTIVER)


@pytest.mark.django_db
class TestEnrolement:
    def test_qr_code_puis_code_valide_puis_codes_de_secours(self, client, agent_caf):
        se_connecter(client, agent_caf)
        page = client.get(ACTIVER)
        assert 'src="data:image/svg+xml;base64,' in texte(page)
        device = TOTPDevice.objects.get(user=agent_caf, confirmed=False)
        reponse = client.post(ACTIVER, {"code": code_courant(device)})
        assert reponse.status_code == 200
        codes = re.findall(r"<li>([a-z0-9]{5}-[a-z0-9]{5})</li>", texte(reponse))
        assert len(codes) == 10
        # Les codes ne sont stockés que hachés.
        empreintes = list(CodeSecours.objects.values_list("empreinte", flat=True))
        assert len(empreintes) == 10 and not set(codes) & set(empreintes)
        assert client.get(ACCUEIL).status_code == 200

    def test_mauvais_code_a_l_enrolement(self, client, agent_caf):
        se_connecter(client, agent_caf)
        client.get(ACTIVER)
        reponse = client.post(ACTIVER, {"code": "000000"})
        assert "Code incorrect" in texte(reponse)
        assert not TOTPDevice.objects.filter(user=agent_caf, confirmed=True).exists()
        assert client.get(ACCUEIL).status_code == 302


@pytest.mark.django_db
class TestVerification:
    @pytest.fixture
    def device(self, agent_caf):
        return TOTPDevice.objects.create(user=agent_caf, name="app", confirmed=True)

    def test_code_demande_a_chaque_connexion(self, client, agent_caf, device):
        se_connecter(client, agent_caf)
        reponse = client.get(ACCUEIL)
        assert reponse.url.startswith(VERIFIER)
        reponse = client.post(VERIFIER, {"code": code_courant(device), "next": ACCUEIL})
        assert reponse.url == ACCUEIL
        assert client.get(ACCUEIL).status_code == 200

    def test_mauvais_code_refuse(self, client, agent_caf, device):
        se_connecter(client, agent_caf)
        reponse = client.post(VERIFIER, {"code": "123456"})
        assert reponse.status_code == 200
        assert "Code incorrect ou expiré" in texte(reponse)
        assert client.get(ACCUEIL).status_code == 302

    def test_essais_repetes_ralentis(self, client, agent_caf, device):
        se_connecter(client, agent_caf)
        for _ in range(3):
            client.post(VERIFIER, {"code": "123456"})
        # Même le bon code est refusé pendant le délai imposé par django-otp après des échecs.
        client.post(VERIFIER, {"code": code_courant(device)})
        assert client.get(ACCUEIL).status_code == 302

    def test_code_de_secours_a_usage_unique(self, client, agent_caf, device):
        from habilitations.compte import otp

        codes = otp.codes_secours_generer(utilisateur=agent_caf)
        se_connecter(client, agent_caf)
        assert client.post(VERIFIER, {"code": codes[0].upper()}).status_code == 302
        assert client.get(ACCUEIL).status_code == 200
        client.logout()
        se_connecter(client, agent_caf)
        reponse = client.post(VERIFIER, {"code": codes[0]})
        assert "Code incorrect" in texte(reponse)

    def test_la_page_de_verification_exige_d_etre_connecte(self, client):
        reponse = client.get(VERIFIER)
        assert reponse.status_code == 302
        assert reponse.url.startswith(reverse("habilitations:connexion"))


@pytest.mark.django_db
class TestConnexionInachevee:
    """Issue 9 : mot de passe accepté mais code jamais saisi, ce n'est pas une connexion."""

    def test_ni_derniere_connexion_ni_journal_ni_inactivite(self, client, administrateur):
        from portail.models import EvenementAudit

        device = TOTPDevice.objects.create(user=administrateur, name="app", confirmed=True)
        administrateur.refresh_from_db()
        avant = (administrateur.last_login, administrateur.connexion_precedente)
        se_connecter(client, administrateur)
        assert client.get(ACCUEIL).url.startswith(VERIFIER)
        administrateur.refresh_from_db()
        assert (administrateur.last_login, administrateur.connexion_precedente) == avant
        actions = list(EvenementAudit.objects.filter(acteur=administrateur).values_list("action", flat=True))
        assert "connexion_reussie" not in actions
        assert "connexion_mot_de_passe_accepte" in actions

        # Le code saisi, la connexion compte : une fois.
        client.post(VERIFIER, {"code": code_courant(device)})
        administrateur.refresh_from_db()
        assert administrateur.last_login is not None and administrateur.last_login != avant[0]
        client.get(ACTIVER)
        actions = list(EvenementAudit.objects.filter(acteur=administrateur).values_list("action", flat=True))
        assert actions.count("connexion_reussie") == 1

    def test_premier_enrolement_termine_la_connexion(self, client, agent_caf):
        se_connecter(client, agent_caf)
        agent_caf.refresh_from_db()
        assert agent_caf.last_login is None
        client.get(ACTIVER)
        device = TOTPDevice.objects.get(user=agent_caf)
        client.post(ACTIVER, {"code": code_courant(device)})
        agent_caf.refresh_from_db()
        assert agent_caf.last_login is not None

    def test_sans_double_authentification_le_mot_de_passe_suffit(self, client, declarant):
        se_connecter(client, declarant)
        declarant.refresh_from_db()
        assert declarant.last_login is not None
