"""Créer un compte partenaire coûte 19 requêtes, courriels et piste d'audit compris (39 avant :
sept paires de points de sauvegarde, l'adresse vérifiée deux fois, un compteur lu trois fois)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from habilitations.models import Appartenance, Utilisateur
from portail.models import Courriel, EvenementAudit
from portail.socle.dates import aujourdhui
from tests.conftest import connecter_verifie

pytestmark = pytest.mark.django_db


def test_creer_un_utilisateur_avec_son_groupe(client, administrateur, convention, groupe_a):
    connecter_verifie(client, administrateur)
    adresse = reverse("gestion:utilisateur_creer", args=[convention.pk])
    jeton = re.search(r'name="jeton" value="([^"]+)"', client.get(adresse).content.decode()).group(1)
    donnees = {
        "jeton": jeton,
        "nom": "Martin",
        "prenom": "Paul",
        "email": "paul@exemple.test",
        "email_confirmation": "paul@exemple.test",
        "telephone": "",
        "telephone_confirmation": "",
        "poste": "sedentaire",
        "date_ouverture": aujourdhui().isoformat(),
        "groupe": groupe_a.pk,
    }
    with CaptureQueriesContext(connection) as requetes:
        reponse = client.post(adresse, donnees)
    # Requête : session, compte, double authentification, convention, droit d'administrer (5) ;
    # formulaire : le groupe choisi (1) ; service, dans un point de sauvegarde (2) : adresse libre
    # dans la convention (la seule vérification d'unicité), compteur d'identifiants verrouillé,
    # identifiant libre, compteur avancé, compte (mot de passe provisoire compris), piste d'audit
    # (3 lignes), 2 courriels, appartenance (9) ; jeton consommé dans la session (3).
    assert len(requetes) <= 19, "\n".join(q["sql"][:120] for q in requetes.captured_queries)
    unicite = [
        q for q in requetes.captured_queries if "paul@exemple.test" in q["sql"] and q["sql"].startswith("SELECT")
    ]
    assert len(unicite) == 1
    assert reponse.status_code == 302
    paul = Utilisateur.objects.get(email="paul@exemple.test")
    assert Appartenance.objects.filter(utilisateur=paul, groupe=groupe_a, date_ouverture=aujourdhui()).exists()
    assert list(Courriel.objects.filter(destinataire=paul.email).order_by("pk").values_list("modele", flat=True)) == [
        "identifiant",
        "mot_de_passe_provisoire",
    ]
    assert list(EvenementAudit.objects.filter(acteur=administrateur).order_by("pk").values_list("action", flat=True))[
        -3:
    ] == ["utilisateur_creer", "mot_de_passe_provisoire_emettre", "appartenance_ouvrir"]
