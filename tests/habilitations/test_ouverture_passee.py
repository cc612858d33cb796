"""« La date d'ouverture ne peut pas être passée » : une règle de la porte unique des
appartenances, et non d'un seul formulaire. Le même ajout antidaté est refusé depuis la fiche du
groupe et depuis la fiche de l'utilisateur (qui le créait avant) ; l'import CSV, qui passe par la
même porte, n'ouvre jamais d'appartenance avant son jour. Seul le système (``par=None`` :
démonstration, données de test) écrit un historique."""

import datetime

import pytest
from django.urls import reverse

from habilitations import services
from habilitations.administration.import_csv import imports, tasks
from habilitations.models import Appartenance, ImportUtilisateurs, Utilisateur
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from tests.conftest import connecter_verifie
from tests.habilitations.test_utilisateurs import erreur_sous, etat_de_la_base

pytestmark = pytest.mark.django_db

MESSAGE = "La date d'ouverture ne peut pas être passée."


def hier() -> datetime.date:
    return aujourdhui() - datetime.timedelta(days=1)


@pytest.fixture
def admin_connecte(client, administrateur):
    connecter_verifie(client, administrateur)
    return administrateur


def test_depuis_la_fiche_du_groupe(client, admin_connecte, convention, arbre, membre_b):
    avant = etat_de_la_base()
    reponse = client.post(
        reverse("gestion:groupe_ajouter_utilisateur", args=[convention.pk, arbre["A"].pk]),
        {"utilisateur": membre_b.identifiant, "date_ouverture": hier().isoformat()},
    )
    assert MESSAGE in erreur_sous(reponse, "date_ouverture")
    assert etat_de_la_base() == avant


def test_depuis_la_fiche_de_l_utilisateur(client, admin_connecte, convention, arbre, membre_b):
    avant = etat_de_la_base()
    reponse = client.post(
        reverse("gestion:utilisateur_ajouter_groupe", args=[convention.pk, membre_b.pk]),
        {"groupe": arbre["A"].pk, "date_ouverture": hier().isoformat()},
    )
    assert MESSAGE in erreur_sous(reponse, "date_ouverture")
    assert etat_de_la_base() == avant
    assert not Appartenance.objects.filter(utilisateur=membre_b, groupe=arbre["A"]).exists()


def test_depuis_l_import_csv(administrateur, convention, groupe_a, django_capture_on_commit_callbacks):
    contenu = (
        "nom;prenom;email;telephone;poste;date_ouverture;date_cloture\n"
        f"Durand;Léa;lea@exemple.test;;;{hier():%d/%m/%Y};\n"
        f"Martin;Paul;paul@exemple.test;;;{aujourdhui():%d/%m/%Y};\n"
    )
    lecture = imports.fichier_lire(contenu.encode(), convention=convention)
    import_utilisateurs = imports.import_enregistrer(
        par=administrateur, convention=convention, groupe=groupe_a, nom_fichier="utilisateurs.csv", lecture=lecture
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.import_confirmer(par=administrateur, import_utilisateurs=import_utilisateurs)
    import_utilisateurs = ImportUtilisateurs.objects.get(pk=import_utilisateurs.pk)
    assert (import_utilisateurs.traites, import_utilisateurs.crees) == (2, 2)
    # Le compte garde sa date d'ouverture passée, mais l'appartenance ne remonte jamais avant le
    # jour de l'import : l'import passe par la même porte, qui refuse une ouverture passée.
    lea = Utilisateur.objects.get(email="lea@exemple.test")
    assert lea.date_ouverture == hier()
    assert list(Appartenance.objects.filter(utilisateur=lea).values_list("groupe", "date_ouverture")) == [
        (groupe_a.pk, aujourdhui())
    ]


def test_le_service_nomme_le_champ(administrateur, arbre, membre_b):
    with pytest.raises(ErreurMetier) as refus:
        services.appartenance_ouvrir(par=administrateur, utilisateur=membre_b, groupe=arbre["A"], date_ouverture=hier())
    assert (refus.value.message, refus.value.champ) == (MESSAGE, "date_ouverture")


def test_le_systeme_ecrit_un_historique(arbre, membre_b):
    appartenance = services.appartenance_ouvrir(
        par=None, utilisateur=membre_b, groupe=arbre["A"], date_ouverture=hier()
    )
    assert appartenance.date_ouverture == hier()
