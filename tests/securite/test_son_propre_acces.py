"""Issue 10, point 1 : personne n'accorde, ne prolonge ni ne rouvre son propre accès, quel que
soit l'écran. Le scénario trouvé : l'administrateur clôt l'appartenance T1 de la responsable du
groupe ; elle se remet dans le groupe par son propre « Ajouter à un groupe », ou efface la date
de clôture posée par l'administrateur. Refusé, rien n'est écrit ; se retirer un accès reste
permis."""

import datetime

import pytest
from django.urls import reverse

from conventions.models import Profil
from habilitations import perms, services
from habilitations.models import Appartenance, GroupeProfil
from habilitations.services import REFUS_SON_PROPRE_ACCES, ErreurMetier
from portail.socle.dates import aujourdhui
from tests.conftest import connecter_verifie
from tests.habilitations.conftest import *  # noqa: F403 (l'arbre de groupes)
from tests.utils import texte

DEMAIN = datetime.timedelta(days=1)


def _adresse(nom, convention, pk):
    return reverse(f"gestion:{nom}", args=[convention.pk, pk])


@pytest.fixture
def appartenance_close(administrateur, resp_a, groupe_a):
    """L'administrateur a clos ce jour l'appartenance de la responsable à son groupe A."""
    appartenance = resp_a.appartenances.get(groupe=groupe_a)
    services.appartenance_cloturer(par=administrateur, appartenance=appartenance, date_cloture=aujourdhui())
    assert not perms.profils_effectifs(resp_a).exists()
    return appartenance


def test_la_responsable_ne_se_remet_pas_dans_son_groupe(client, convention, resp_a, groupe_a, appartenance_close):
    connecter_verifie(client, resp_a)
    reponse = client.post(
        _adresse("utilisateur_ajouter_groupe", convention, resp_a.pk),
        {"groupe": groupe_a.pk, "date_ouverture": aujourdhui().isoformat()},
    )
    assert reponse.status_code == 200
    assert REFUS_SON_PROPRE_ACCES in texte(reponse)
    assert resp_a.appartenances.count() == 1
    assert not perms.profils_effectifs(resp_a).exists()


def test_ni_par_l_ecran_du_groupe(client, convention, resp_a, groupe_a, appartenance_close):
    connecter_verifie(client, resp_a)
    reponse = client.post(
        _adresse("groupe_ajouter_utilisateur", convention, groupe_a.pk),
        {"utilisateur": resp_a.identifiant, "date_ouverture": aujourdhui().isoformat()},
    )
    assert resp_a.appartenances.count() == 1
    assert reponse.status_code == 200


def test_la_responsable_n_efface_pas_la_cloture_posee_par_l_administrateur(
    client, convention, administrateur, resp_a, groupe_a
):
    appartenance = resp_a.appartenances.get(groupe=groupe_a)
    services.appartenance_cloturer(par=administrateur, appartenance=appartenance, date_cloture=aujourdhui() + DEMAIN)
    connecter_verifie(client, resp_a)
    for date_cloture in ("", (aujourdhui() + 30 * DEMAIN).isoformat()):
        reponse = client.post(
            _adresse("appartenance_modifier", convention, appartenance.pk),
            {"date_ouverture": appartenance.date_ouverture.isoformat(), "date_cloture": date_cloture},
        )
        assert reponse.status_code == 200
        assert REFUS_SON_PROPRE_ACCES in texte(reponse)
        appartenance.refresh_from_db()
        assert appartenance.date_cloture == aujourdhui() + DEMAIN


def test_se_retirer_un_acces_reste_permis(convention, resp_a, groupe_a):
    appartenance = resp_a.appartenances.get(groupe=groupe_a)
    services.appartenance_modifier(
        par=resp_a,
        appartenance=appartenance,
        date_ouverture=appartenance.date_ouverture,
        date_cloture=aujourdhui() + DEMAIN,
    )
    services.appartenance_cloturer(par=resp_a, appartenance=appartenance, date_cloture=aujourdhui())
    appartenance.refresh_from_db()
    assert appartenance.date_cloture == aujourdhui()


def test_l_administrateur_ne_s_ajoute_pas_non_plus(convention, administrateur, groupe_b):
    """« Quel que soit l'écran », et quel que soit le rôle : le service refuse."""
    with pytest.raises(ErreurMetier, match="vous-même"):
        services.appartenance_ouvrir(par=administrateur, utilisateur=administrateur, groupe=groupe_b)
    assert not Appartenance.objects.filter(utilisateur=administrateur).exists()


def test_pas_de_profil_a_un_groupe_dont_on_est_membre(convention, administrateur, resp_a, groupe_a, groupe_a1):
    """La responsable de A, membre de son sous-groupe A1, ne donne pas à A1 un profil de A."""
    services.appartenance_ouvrir(par=administrateur, utilisateur=resp_a, groupe=groupe_a1)
    services.groupe_profil_retirer(par=administrateur, groupe=groupe_a1, profil=Profil.objects.get(code="CDAP-T1"))
    with pytest.raises(ErreurMetier, match="il vous reviendrait"):
        services.groupe_profil_ajouter(par=resp_a, groupe=groupe_a1, profil=Profil.objects.get(code="CDAP-T1"))
    assert not GroupeProfil.objects.filter(groupe=groupe_a1).exists()


def test_l_administrateur_ne_rouvre_pas_son_propre_compte(convention, administrateur):
    from habilitations.models import Utilisateur

    Utilisateur.objects.filter(pk=administrateur.pk).update(date_cloture=aujourdhui() + 10 * DEMAIN)
    administrateur.refresh_from_db()
    with pytest.raises(ErreurMetier, match="vous-même"):
        services.utilisateur_rouvrir(par=administrateur, utilisateur=administrateur)
    administrateur.refresh_from_db()
    assert administrateur.date_cloture == aujourdhui() + 10 * DEMAIN


def test_le_predicat():
    from types import SimpleNamespace

    moi, autre = SimpleNamespace(pk=1), SimpleNamespace(pk=2)
    assert not perms.peut_accorder_acces(moi, moi)
    assert perms.peut_accorder_acces(moi, autre)
    assert perms.peut_accorder_acces(None, moi)
    j = aujourdhui()
    assert perms.etend_la_periode((j, j + DEMAIN), (j, None))
    assert perms.etend_la_periode((j, j + DEMAIN), (j - DEMAIN, j + DEMAIN))
    assert not perms.etend_la_periode((j, j + 2 * DEMAIN), (j, j + DEMAIN))
    assert not perms.etend_la_periode((j, None), (j, j + DEMAIN))
