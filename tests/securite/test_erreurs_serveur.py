"""Issue 10, point 3 : cinq erreurs serveur que n'importe quel utilisateur atteignait. Chaque
entrée hostile reçoit une réponse en français, jamais un 500."""

import pytest
from django.urls import reverse

from conventions.models import Organisme
from tests.conftest import connecter_verifie
from tests.habilitations.conftest import *  # noqa: F403 (l'arbre de groupes)
from tests.utils import texte


@pytest.mark.parametrize("borne", ["du", "au"])
@pytest.mark.parametrize("adresse", ["gestion:journal", "gestion:journal_csv"])
def test_journal_date_extreme(client, convention, administrateur, adresse, borne):
    """9999-12-31 plus un jour débordait (OverflowError) ; 0001-01-01 est aussi hors plage."""
    connecter_verifie(client, administrateur)
    for jour in ("9999-12-31", "0001-01-01"):
        reponse = client.get(reverse(adresse, args=[convention.pk]), {borne: jour})
        assert reponse.status_code == 200
        if adresse == "gestion:journal":
            assert "Saisissez une date entre le 01/01/2000 et le" in texte(reponse)


@pytest.mark.parametrize("valeur", ["²", "٣", "1²", "99999999999999999999"])
def test_retirer_un_profil_chiffres_unicode(client, convention, administrateur, groupe_a, valeur):
    connecter_verifie(client, administrateur)
    url = reverse("gestion:groupe_habilitations", args=[convention.pk, groupe_a.pk])
    assert client.get(url, {"retirer": valeur}).status_code == 200


@pytest.mark.parametrize("valeur", ["²", "٣", "1²", "99999999999999999999"])
def test_formaliser_organisme_chiffres_unicode(client, agent_caf, convention, valeur):
    connecter_verifie(client, agent_caf)
    reponse = client.get(reverse("conventions:convention_formaliser"), {"organisme": valeur})
    assert reponse.status_code == 404


@pytest.mark.parametrize("siret", ["²²²²²²²²²²²²²²", "¹²³⁴⁵⁶⁷⁸⁹⁰¹²³⁴", "①②③④⑤⑥⑦⑧⑨⑩①②③④"])
def test_siret_en_chiffres_exposants(client, agent_caf, siret):
    connecter_verifie(client, agent_caf)
    avant = Organisme.objects.count()
    reponse = client.post(
        reverse("conventions:organisme_enregistrer"),
        {"raison_sociale": "Commune d'Exposant", "siret": siret, "type_organisme": "commune"},
    )
    assert reponse.status_code == 200
    # Après la normalisation NFKC (« ² » → « 2 »), un refus en français : format ou clé de contrôle.
    assert "Le SIRET doit comporter exactement 14 chiffres." in texte(
        reponse
    ) or "Ce SIRET n'est pas valide (clé de contrôle incorrecte)" in texte(reponse)
    assert Organisme.objects.count() == avant


@pytest.mark.parametrize("longueur", [255, 256, 5000])
def test_identifiant_trop_long_a_la_connexion(client, db, longueur):
    reponse = client.post(reverse("habilitations:connexion"), {"username": "A" * longueur, "password": "x"})
    assert reponse.status_code == 200
    assert "Identifiant ou mot de passe incorrect." in texte(reponse) or "caractères" in texte(reponse)


@pytest.mark.parametrize("valeur", ["99999999999999999999", "²"])
def test_formaliser_profil_cle_forgee(client, agent_caf, convention, administrateur, valeur):
    """Trouvé par la garde des entrées hostiles : sur SQLite (le portail embarqué), une clé de
    profil de 20 chiffres levait OverflowError dans la validation du formulaire."""
    connecter_verifie(client, agent_caf)
    url = reverse("conventions:convention_formaliser") + f"?organisme={convention.organisme_id}"
    jeton = client.get(url).context["jeton"]
    reponse = client.post(url, {"jeton": jeton, "libelle": "Convention forgée", "profils": [valeur]})
    assert reponse.status_code == 200


@pytest.mark.parametrize("identifiant", ["\x08", "ÜŸ\x02", "A" * 5000])
def test_mot_de_passe_oublie_identifiant_hostile(client, db, identifiant):
    """Trouvé par la garde des entrées hostiles : l'identifiant saisi entrait tel quel dans la clé
    de cache de la limite (CacheKeyWarning, une erreur avec memcached et en test strict)."""
    reponse = client.post(reverse("habilitations:mot_de_passe_oublie"), {"identifiant": identifiant})
    assert reponse.status_code in (200, 302)
