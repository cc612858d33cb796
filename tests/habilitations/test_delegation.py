"""Délégation par les écrans de groupes : un responsable d'habilitations crée des sous-groupes
sous ses seuls groupes, ne donne jamais un profil que le parent n'a pas (pas d'escalade) ; un
retrait vaut pour tout le sous-arbre ; les dates des groupes font foi à chaque lecture ; un
responsable créé sur place reçoit ses courriels, est membre de son groupe et le gère."""

import datetime
import re

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import get_perms

from conventions.models import Profil
from habilitations import perms
from habilitations.models import Appartenance, Groupe, GroupeProfil, Utilisateur
from portail.models import Courriel
from portail.socle.dates import aujourdhui
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db


def adresse(nom: str, convention, groupe=None) -> str:
    args = [convention.pk] if groupe is None else [convention.pk, groupe.pk]
    return reverse(f"gestion:{nom}", args=args)


def messages_de(reponse) -> list[str]:
    return [str(m) for m in get_messages(reponse.wsgi_request)]


def profil(code: str) -> Profil:
    return Profil.objects.get(code=code)


def services_de(user: Utilisateur) -> set[str]:
    return set(perms.services_ouverts(user).values_list("code", flat=True))


def profils_de(groupe: Groupe) -> set[str]:
    return set(groupe.profils.values_list("code", flat=True))


def creer(client, convention, **donnees):
    base = {
        "code": "A2",
        "libelle": "Sous-groupe délégué",
        "date_ouverture": aujourdhui().isoformat(),
        "date_cloture": "",
        "parent": "",
        "choix_responsable": "existant",
        "responsable": "",
    }
    return client.post(adresse("groupe_creer", convention), {**base, **donnees})


@pytest.fixture
def chez_resp_a(client, resp_a, arbre):
    connecter_verifie(client, resp_a)
    return resp_a


@pytest.fixture
def sous_groupe_a2(client, convention, chez_resp_a, arbre, membre_a1):
    """A2, sous-groupe de A créé par resp_a par l'écran ; membre_a1 en est responsable."""
    creer(client, convention, parent=arbre["A"].pk, responsable=membre_a1.identifiant)
    return Groupe.objects.get(convention=convention, code="A2")


class TestSousGroupes:
    def test_le_responsable_cree_un_sous_groupe_sous_son_groupe(
        self, client, convention, chez_resp_a, arbre, membre_a1
    ):
        reponse = creer(client, convention, parent=arbre["A"].pk, responsable=membre_a1.identifiant)
        groupe = Groupe.objects.get(convention=convention, code="A2")
        assert reponse.status_code == 302
        assert groupe.parent == arbre["A"]
        assert groupe.niveau == 2
        assert "sous-groupe de A, niveau 2" in messages_de(reponse)[0]
        # Il le voit dans sa liste ; son responsable le gère (droit objet et faits datés).
        liste = texte(client.get(adresse("groupes", convention)))
        assert "Sous-groupe délégué" in liste
        assert groupe in perms.groupes_responsable(membre_a1)

    def test_seuls_ses_groupes_sont_proposes_comme_parent(self, client, convention, chez_resp_a, arbre):
        page = texte(client.get(adresse("groupe_creer", convention)))
        parents = re.search(r'<select name="parent".*?</select>', page, re.S).group(0)
        assert f'value="{arbre["A"].pk}"' in parents
        assert f'value="{arbre["A1"].pk}"' in parents
        assert f'value="{arbre["B"].pk}"' not in parents
        assert "Aucun : groupe de niveau 1" not in page

    def test_pas_sous_un_groupe_d_un_autre(self, client, convention, chez_resp_a, arbre, membre_a1):
        avant = Groupe.objects.count()
        reponse = creer(client, convention, parent=arbre["B"].pk, responsable=membre_a1.identifiant)
        assert "Choisissez un des groupes proposés." in texte(reponse)
        assert Groupe.objects.count() == avant

    def test_pas_sans_parent(self, client, convention, chez_resp_a, arbre, membre_a1):
        avant = Groupe.objects.count()
        reponse = creer(client, convention, responsable=membre_a1.identifiant)
        assert "Choisissez le groupe dont ce groupe sera un sous-groupe." in texte(reponse)
        assert Groupe.objects.count() == avant

    def test_pas_un_responsable_hors_de_son_perimetre(
        self, client, convention, chez_resp_a, administrateur, arbre, membre_b
    ):
        avant = Groupe.objects.count()
        for intrus in (membre_b, administrateur):
            reponse = creer(client, convention, parent=arbre["A"].pk, responsable=intrus.identifiant)
            assert "Choisissez un compte ouvert de votre périmètre." in texte(reponse)
        assert Groupe.objects.count() == avant


class TestPasDEscalade:
    def test_un_profil_que_le_parent_n_a_pas_n_est_ni_propose_ni_accepte(
        self, client, convention, sous_groupe_a2, membre_a1
    ):
        # La convention accorde AFAS-HABILITER, mais A ne l'a pas : A2 ne peut pas le recevoir.
        assert convention.profils.filter(code="AFAS-HABILITER").exists()
        url = adresse("groupe_habilitations", convention, sous_groupe_a2)
        page = texte(client.get(url))
        assert "AFAS-HABILITER" not in page
        assert set(re.findall(r'<option value="(\d+)">', page)) == {
            str(profil("CDAP-T1").pk),
            str(profil("AFAS-DECLARER").pk),
        }
        for donnees in (
            {"action": "enregistrer", "profil": profil("AFAS-HABILITER").pk},
            {"action": "assigner", "profil": profil("AFAS-HABILITER").pk},
            {"action": "enregistrer", "a_enregistrer": [profil("CDAP-T1").pk, profil("AFAS-HABILITER").pk]},
        ):
            reponse = client.post(url, donnees)
            assert reponse.status_code == 200
            assert "ne peut pas être donné à ce groupe" in texte(reponse)
        assert profils_de(sous_groupe_a2) == set()

    def test_ce_que_le_parent_detient_se_delegue(self, client, convention, sous_groupe_a2, membre_a1):
        reponse = client.post(
            adresse("groupe_habilitations", convention, sous_groupe_a2),
            {"action": "enregistrer", "profil": profil("CDAP-T1").pk},
        )
        assert reponse.status_code == 302
        assert profils_de(sous_groupe_a2) == {"CDAP-T1"}

    def test_le_responsable_d_un_sous_groupe_ne_recoit_pas_plus_que_son_groupe(
        self, client, convention, resp_a1, arbre, membre_a1
    ):
        # A détient AFAS-DECLARER, A1 non : un sous-groupe de A1 ne peut pas le recevoir.
        connecter_verifie(client, resp_a1)
        creer(client, convention, code="A11", parent=arbre["A1"].pk, responsable=membre_a1.identifiant)
        a11 = Groupe.objects.get(code="A11")
        assert a11.niveau == 3
        reponse = client.post(
            adresse("groupe_habilitations", convention, a11),
            {"action": "enregistrer", "profil": profil("AFAS-DECLARER").pk},
        )
        assert "ne peut pas être donné à ce groupe" in texte(reponse)
        assert not GroupeProfil.objects.filter(groupe=a11).exists()

    def test_pas_de_profil_de_plus_pour_son_propre_groupe(self, client, convention, chez_resp_a, arbre):
        url = adresse("groupe_habilitations", convention, arbre["A"])
        assert client.post(url, {"action": "enregistrer", "profil": profil("AFAS-HABILITER").pk}).status_code == 403
        assert profils_de(arbre["A"]) == {"CDAP-T1", "AFAS-DECLARER"}


class TestRetraitEnCascade:
    def test_retirer_a_a_le_retire_a_a1_et_a_ses_membres(self, client, convention, administrateur, arbre, membre_a1):
        assert "CDAP" in services_de(membre_a1)
        connecter_verifie(client, administrateur)
        reponse = client.post(
            adresse("groupe_habilitations", convention, arbre["A"]),
            {"action": "retirer", "profil": profil("CDAP-T1").pk, "confirmation": "on"},
        )
        assert reponse.status_code == 302
        assert messages_de(reponse) == [
            "Le profil « CDAP T1 » est retiré du groupe A et de son sous-groupe A1 "
            "(un sous-groupe ne détient jamais plus que son parent)."
        ]
        assert profils_de(arbre["A"]) == {"AFAS-DECLARER"}
        assert profils_de(arbre["A1"]) == set()
        assert "CDAP" not in services_de(membre_a1)

    def test_le_responsable_retire_a_son_sous_groupe(self, client, convention, chez_resp_a, arbre, membre_a1):
        reponse = client.post(
            adresse("groupe_habilitations", convention, arbre["A1"]),
            {"action": "retirer", "profil": profil("CDAP-T1").pk, "confirmation": "on"},
        )
        assert reponse.status_code == 302
        assert profils_de(arbre["A1"]) == set()
        assert profils_de(arbre["A"]) == {"CDAP-T1", "AFAS-DECLARER"}
        assert "CDAP" not in services_de(membre_a1)


class TestDatesDesGroupes:
    def test_un_groupe_ferme_aujourd_hui_ne_donne_plus_de_profil(self, convention, arbre, membre_a1):
        assert set(perms.profils_effectifs(membre_a1).values_list("code", flat=True)) == {"CDAP-T1"}
        # Fermé par la seule date, sans tâche ni service : la lecture suffit.
        Groupe.objects.filter(pk=arbre["A1"].pk).update(date_cloture=aujourdhui())
        assert not perms.profils_effectifs(membre_a1).exists()
        assert "CDAP" not in services_de(membre_a1)

    def test_un_groupe_cree_avec_une_cloture_demain_donne_ses_profils_jusqu_a_ce_soir(
        self, client, convention, administrateur, arbre, membre_b
    ):
        connecter_verifie(client, administrateur)
        demain = aujourdhui() + datetime.timedelta(days=1)
        creer(
            client,
            convention,
            code="COURT",
            responsable=administrateur.identifiant,
            date_cloture=demain.isoformat(),
        )
        court = Groupe.objects.get(code="COURT")
        client.post(
            adresse("groupe_habilitations", convention, court),
            {"action": "enregistrer", "profil": profil("CDAP-T1").pk},
        )
        client.post(
            adresse("groupe_ajouter_utilisateur", convention, court),
            {"utilisateur": membre_b.identifiant, "date_ouverture": aujourdhui().isoformat()},
        )
        assert "CDAP" in services_de(membre_b)
        with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
            assert "CDAP" not in services_de(membre_b)
            assert "AFAS" in services_de(membre_b)  # son groupe B, lui, reste ouvert

    @pytest.mark.parametrize("nom", ["groupes", "groupe_creer", "groupe_habilitations", "groupe_appartenances"])
    def test_le_responsable_d_un_groupe_clos_perd_l_acces(self, client, convention, resp_a, arbre, nom):
        connecter_verifie(client, resp_a)
        groupe = None if nom in ("groupes", "groupe_creer") else arbre["A1"]
        assert client.get(adresse(nom, convention, groupe)).status_code == 200
        # Sans réconciliation des droits : la date relue suffit.
        Groupe.objects.filter(pk=arbre["A"].pk).update(date_cloture=aujourdhui())
        reponse = client.get(adresse(nom, convention, groupe))
        assert reponse.status_code == 404
        assert "Groupe A" not in texte(reponse)


class TestResponsableCreeSurPlace:
    NOUVEAU = {
        "choix_responsable": "nouveau",
        "nom": "Lagare",
        "prenom": "Xavier",
        "email": "x.lagare@partenaires.test",
        "email_confirmation": "X.Lagare@partenaires.test",
        "telephone": "07 00 02 00 00",
    }

    def test_cree_le_compte_ses_courriels_son_appartenance_et_son_droit(
        self, client, convention, administrateur, arbre, django_capture_on_commit_callbacks
    ):
        connecter_verifie(client, administrateur)
        with django_capture_on_commit_callbacks(execute=True):
            reponse = creer(client, convention, code="T1", libelle="CDAP T1", **self.NOUVEAU)
        assert reponse.status_code == 302
        groupe = Groupe.objects.get(code="T1")
        nouveau = groupe.responsable
        assert (nouveau.nom, nouveau.prenom, nouveau.email) == ("Lagare", "Xavier", "x.lagare@partenaires.test")
        assert nouveau.convention == convention
        assert nouveau.telephone == "0700020000"  # enregistré sans séparateurs, comme partout
        # Deux courriels : l'identifiant, puis le mot de passe provisoire.
        assert sorted(Courriel.objects.filter(destinataire=nouveau.email).values_list("modele", flat=True)) == [
            "identifiant",
            "mot_de_passe_provisoire",
        ]
        # Membre de son groupe, dès aujourd'hui.
        appartenance = Appartenance.objects.get(utilisateur=nouveau)
        assert appartenance.groupe == groupe
        assert appartenance.est_ouvert()
        # Responsable : droit objet guardian et faits datés.
        assert "gerer_groupe" in get_perms(nouveau, groupe)
        assert list(perms.groupes_responsable(nouveau)) == [groupe]
        message = messages_de(reponse)[0]
        assert nouveau.identifiant in message
        assert "x.lagare@partenaires.test" in message

    def test_par_un_responsable_le_compte_entre_dans_son_perimetre(self, client, convention, chez_resp_a, arbre):
        reponse = creer(client, convention, parent=arbre["A"].pk, **self.NOUVEAU)
        assert reponse.status_code == 302
        nouveau = Utilisateur.objects.get(email="x.lagare@partenaires.test")
        p = perms.perimetre(chez_resp_a, convention)
        assert perms.utilisateurs_du_perimetre(p).filter(pk=nouveau.pk).exists()
        # Le nouveau responsable ne voit que son sous-groupe.
        connecter_verifie(client, nouveau)
        page = texte(client.get(adresse("groupes", convention)))
        assert "Sous-groupe délégué" in page
        assert "Groupe A1" not in page

    def test_un_refus_ne_cree_rien_ni_compte_ni_courriel(
        self, client, convention, administrateur, arbre, django_capture_on_commit_callbacks
    ):
        connecter_verifie(client, administrateur)
        avant = (Utilisateur.objects.count(), Courriel.objects.count(), Appartenance.objects.count())
        # Le code est déjà pris : le service le dit après la création du compte, tout est annulé.
        with django_capture_on_commit_callbacks(execute=True) as rappels:
            reponse = creer(client, convention, code="a1", **self.NOUVEAU)
        assert re.search(r'id="id_code-desc-error">.*« A1 » est déjà', texte(reponse), re.S)
        assert (Utilisateur.objects.count(), Courriel.objects.count(), Appartenance.objects.count()) == avant
        assert not Utilisateur.objects.filter(email="x.lagare@partenaires.test").exists()
        assert rappels == []
