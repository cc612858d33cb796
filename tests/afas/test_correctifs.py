"""Une appartenance AFAS-DECLARER qui prend fin plus tard laisse les droits effectifs jusqu'à
cette date : Actif dans la recherche, et le rôle n'est pas « Non attribué » (issue 12)."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from afas import services
from afas.enums import RoleAfas
from habilitations import services as services_habilitations
from habilitations.models import Appartenance, Utilisateur
from portail.socle.dates import aujourdhui
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db

J = aujourdhui()


def _resultats(client, etat: str) -> str:
    page = texte(client.get(reverse("afas:habilitations"), {"etat": etat, "lieux": "oui"}))
    return page[page.index("</form>", page.index("form-recherche")) :]


def test_appartenance_qui_finit_plus_tard(client, administrateur, declarant, activite):
    for role in (RoleAfas.FDA, RoleAfas.FDF):
        services.habilitation_afas_affecter(
            par=administrateur, utilisateur=declarant, role=role, date_ouverture=J, activites=[activite], lieux=[]
        )
    appartenance = Appartenance.objects.get(utilisateur=declarant)
    services_habilitations.appartenance_cloturer(
        par=administrateur, appartenance=appartenance, date_cloture=J + datetime.timedelta(days=10)
    )
    connecter_verifie(client, administrateur)
    assert "FERRAND Paul" in _resultats(client, "actif")
    non_attribue = _resultats(client, "non_attribue")
    assert "Approbateur" in non_attribue
    assert "Fournisseur de données financières" not in non_attribue
    assert "Fournisseur de données d'activité" not in non_attribue
    # Le jour où l'appartenance prend fin, les rôles ne sont plus tenus.
    with time_machine.travel(timezone.now() + datetime.timedelta(days=10)):
        connecter_verifie(client, administrateur)
        assert "FERRAND Paul" not in _resultats(client, "actif")
        assert "FERRAND Paul" in _resultats(client, "inactif")
        non_attribue = _resultats(client, "non_attribue")
        assert "Fournisseur de données financières" in non_attribue
        assert "Fournisseur de données d'activité" in non_attribue


@pytest.mark.parametrize("valeur", ["²", "٣", "99999999999999999999"])
def test_cle_du_partenaire_en_chiffres_non_ascii(client, administrateur, declarant, activite, valeur):
    """« ² » passe ``isdigit()`` mais pas ``int()`` : la page répondait 500 (garde des entrées
    hostiles). Refusé avec un message, rien n'est écrit."""
    connecter_verifie(client, administrateur)
    reponse = client.post(
        reverse("afas:habiliter"),
        {
            "partenaire": valeur,
            "utilisateur": declarant.pk,
            "role": RoleAfas.FDF,
            "activites": [activite.pk],
            "toutes_activite": [valeur],
            "portee": "lieux",
            "enregistrer": "1",
        },
    )
    assert reponse.status_code == 200
    assert "Choisissez le partenaire." in texte(reponse)
    assert not declarant.habilitations_afas.exists()
    assert client.get(reverse("afas:habiliter_portee"), {"partenaire": valeur}).status_code == 200


def test_administration_technique_en_lecture_seule(client, administrateur, declarant, activite, lieu):
    """Les modèles AFAS se consultent dans l'administration technique, même par un superutilisateur,
    sans rien y créer, modifier ni supprimer (pas de porte dérobée aux services)."""
    (h,) = services.habilitation_afas_affecter(
        par=administrateur, utilisateur=declarant, role=RoleAfas.APPROBATEUR, date_ouverture=J, activites=[activite]
    )
    Utilisateur.objects.filter(pk=administrateur.pk).update(is_staff=True, is_superuser=True)
    administrateur.refresh_from_db()
    connecter_verifie(client, administrateur)
    objets = {
        "activite": activite,
        "lieuimplantation": lieu,
        "habilitationafas": h,
        "validationapprobateur": h.validation,
    }
    for modele, obj in objets.items():
        assert client.get(reverse(f"admin:afas_{modele}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:afas_{modele}_change", args=[obj.pk])).status_code == 200
        assert client.get(reverse(f"admin:afas_{modele}_add")).status_code == 403
        assert client.get(reverse(f"admin:afas_{modele}_delete", args=[obj.pk])).status_code == 403
    client.post(reverse("admin:afas_validationapprobateur_change", args=[h.validation.pk]), {"decision": "validee"})
    h.validation.refresh_from_db()
    assert h.validation.decision == "en_attente"


def test_mes_tableaux_de_bord_gagnent_les_lignes_afas(
    client, administrateur, declarant, responsable, activite, convention
):
    """Les lignes AFAS de l'habilitateur dans « Mes tableaux de bord » de la convention, liées à
    la recherche du partenaire ; une appartenance AFAS-DECLARER qui finit dans 10 jours fait
    compter ses habilitations parmi celles qui prennent fin (l'accueil ne regardait que les
    dates de l'habilitation, du compte, de la convention et de l'activité)."""
    for role in (RoleAfas.FDA, RoleAfas.FDF, RoleAfas.APPROBATEUR):
        services.habilitation_afas_affecter(
            par=administrateur, utilisateur=declarant, role=role, date_ouverture=J, activites=[activite]
        )
    appartenance = Appartenance.objects.get(utilisateur=declarant)
    services_habilitations.appartenance_cloturer(
        par=administrateur, appartenance=appartenance, date_cloture=J + datetime.timedelta(days=10)
    )
    connecter_verifie(client, administrateur)
    page = texte(client.get(reverse("gestion:tableaux_de_bord", args=[convention.pk])))
    recherche = reverse("afas:habilitations") + f"?partenaire={convention.pk}&lieux=oui"
    assert f'<a class="fr-link" href="{recherche}&etat=non_attribue">' in page
    assert "Activités dont un rôle AFAS n'est tenu par personne</a></td><td>1</td>" in page
    assert "Approbateurs en attente de validation par la Caf</a></td><td>1</td>" in page
    assert "prennent fin dans les 30 jours</a></td><td>2</td>" in page
    accueil = texte(client.get(reverse("afas:accueil")))
    assert "prennent fin dans les 30 jours</td><td>2</td>" in accueil

    # Le responsable d'habilitations n'habilite pas en AFAS : pas de lignes AFAS.
    connecter_verifie(client, responsable)
    page = client.get(reverse("gestion:tableaux_de_bord", args=[convention.pk]))
    assert page.status_code in (200, 404)
    assert "Aides financières d'action sociale</h2>" not in texte(page)
