"""« Gérer l'appartenance de l'utilisateur » et « Ajouter à un groupe » : la liste de ses
appartenances, l'ajout à un ou plusieurs groupes, le changement des dates, la clôture ; les dates
prennent effet à leur jour, sans que personne n'agisse.

L'autorisation de chaque adresse (matrice complète) est dans test_utilisateurs.py ; ici, ce que
le responsable peut ou ne peut pas viser dans ses formulaires.
"""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from habilitations import perms, services
from habilitations.models import Appartenance, Groupe
from portail.socle.dates import aujourdhui
from tests.conftest import connecter_verifie
from tests.habilitations.test_utilisateurs import creer_en_masse, erreur_sous, etat_de_la_base
from tests.utils import texte

pytestmark = pytest.mark.django_db


def jour(n: int = 0) -> datetime.date:
    return aujourdhui() + datetime.timedelta(days=n)


def url(nom: str, convention, *args) -> str:
    return reverse(f"gestion:{nom}", args=[convention.pk, *args])


def codes(user) -> set[str]:
    return set(perms.profils_effectifs(user).values_list("code", flat=True))


@pytest.fixture
def admin_connecte(client, administrateur):
    connecter_verifie(client, administrateur)
    return administrateur


def lignes(reponse) -> list[str]:
    """Les lignes du tableau des appartenances (le groupe en première colonne)."""
    assert reponse.status_code == 200
    return re.findall(r"<tr>\s*<td[^>]*>([^<]+)</td>.*?</tr>", texte(reponse), re.S)


class TestListe:
    def test_colonnes_et_actions(self, client, admin_connecte, convention, arbre, membre_a1):
        appartenance = membre_a1.appartenances.get()
        reponse = client.get(url("appartenances", convention, membre_a1.pk))
        page = texte(reponse)
        assert "Gérer l'appartenance de l'utilisateur" in page
        assert "Utilisateur :</strong> Chloé CAYROL" in page
        for colonne in ("Groupe", "Date d'ouverture", "Date de clôture", "Statut", "Actions"):
            assert f">{colonne}<" in page
        assert lignes(reponse) == ["A1 — Groupe A1"]
        assert f"{appartenance.date_ouverture:%d/%m/%Y}" in page
        assert url("appartenance_modifier", convention, appartenance.pk) in page
        assert url("appartenance_cloturer", convention, appartenance.pk) in page
        assert url("utilisateur_ajouter_groupe", convention, membre_a1.pk) in page

    def test_appartenance_close_gardee_sans_action(self, client, admin_connecte, convention, arbre, membre_a1):
        appartenance = membre_a1.appartenances.get()
        services.appartenance_cloturer(par=None, appartenance=appartenance, date_cloture=aujourdhui())
        page = texte(client.get(url("appartenances", convention, membre_a1.pk)))
        assert "A1 — Groupe A1" in page
        assert re.search(r">\s*Clôturé\s*<", page)
        assert url("appartenance_modifier", convention, appartenance.pk) not in page

    def test_le_responsable_ne_voit_que_les_groupes_de_son_perimetre(
        self, client, convention, resp_a1, arbre, membre_a1
    ):
        services.appartenance_ouvrir(par=None, utilisateur=membre_a1, groupe=arbre["B"])
        connecter_verifie(client, resp_a1)
        assert lignes(client.get(url("appartenances", convention, membre_a1.pk))) == ["A1 — Groupe A1"]

    def test_lecture_seule_sans_action(self, client, agent_caf, convention, arbre, membre_a1):
        connecter_verifie(client, agent_caf)
        page = texte(client.get(url("appartenances", convention, membre_a1.pk)))
        assert "A1 — Groupe A1" in page
        assert "Modifier les dates" not in page
        assert "Ajouter à un groupe" not in page

    @pytest.mark.parametrize("nombre", [10, 10_000])
    def test_budget_de_requetes(
        self, client, admin_connecte, convention, arbre, membre_a1, nombre, django_assert_max_num_queries
    ):
        creer_en_masse(convention, nombre, groupe=arbre["A1"])
        client.get(url("appartenances", convention, membre_a1.pk))
        # 1 session, 2 utilisateur, 3 appareil, 4 convention, 5 conventions administrées,
        # 6 l'utilisateur dans le périmètre, 7 comptage, 8 menu, 9 services ouverts, 10 page des
        # appartenances avec leur groupe, 11-13 session enregistrée. Les autres membres du groupe
        # ne coûtent rien.
        with django_assert_max_num_queries(13):
            reponse = client.get(url("appartenances", convention, membre_a1.pk))
        assert lignes(reponse) == ["A1 — Groupe A1"]


class TestAjouterAUnGroupe:
    def test_formulaire_comme_dans_les_guides(self, client, admin_connecte, convention, arbre, membre_a1):
        page = texte(client.get(url("utilisateur_ajouter_groupe", convention, membre_a1.pk)))
        assert "Ajouter un utilisateur au groupe" in page
        assert "Utilisateur :</strong> Chloé CAYROL" in page
        assert "Choisir un groupe existant" in page
        assert f'name="date_ouverture" value="{aujourdhui().isoformat()}"' in page
        for groupe in arbre.values():
            assert f'<option value="{groupe.pk}">' in page

    def test_plusieurs_groupes(self, client, admin_connecte, convention, arbre, membre_a1):
        reponse = client.post(
            url("utilisateur_ajouter_groupe", convention, membre_a1.pk),
            {"groupe": arbre["B"].pk, "date_ouverture": aujourdhui().isoformat(), "date_cloture": jour(90).isoformat()},
            follow=True,
        )
        assert reponse.redirect_chain[-1][0] == url("appartenances", convention, membre_a1.pk)
        assert (
            f"Chloé CAYROL est membre du groupe B — Groupe B dès aujourd'hui, jusqu'au {jour(90):%d/%m/%Y} exclu."
            in texte(reponse)
        )
        assert set(membre_a1.appartenances.values_list("groupe__code", flat=True)) == {"A1", "B"}
        assert codes(membre_a1) == {"CDAP-T1", "AFAS-DECLARER"}
        assert sorted(lignes(reponse)) == ["A1 — Groupe A1", "B — Groupe B"]

    def test_deja_membre_refuse_sous_le_groupe(self, client, admin_connecte, convention, arbre, membre_a1):
        avant = etat_de_la_base()
        reponse = client.post(
            url("utilisateur_ajouter_groupe", convention, membre_a1.pk),
            {"groupe": arbre["A1"].pk, "date_ouverture": aujourdhui().isoformat()},
        )
        assert "Cet utilisateur appartient déjà à ce groupe sur cette période." in erreur_sous(reponse, "groupe")
        assert etat_de_la_base() == avant

    @pytest.mark.parametrize(
        ("valeurs", "champ", "message"),
        [
            ({"groupe": ""}, "groupe", "Choisissez le groupe."),
            ({"date_ouverture": ""}, "date_ouverture", "Ce champ est obligatoire."),
            ({"date_cloture": "2020-13-45"}, "date_cloture", "Saisissez une date valide."),
            ({"date_cloture": aujourdhui().isoformat()}, "date_cloture", "postérieure à la date d'ouverture"),
        ],
        ids=["sans-groupe", "sans-ouverture", "date-invalide", "dates-inversees"],
    )
    def test_saisie_refusee(self, client, admin_connecte, convention, arbre, membre_b, valeurs, champ, message):
        donnees = {"groupe": arbre["A"].pk, "date_ouverture": aujourdhui().isoformat(), **valeurs}
        avant = etat_de_la_base()
        reponse = client.post(url("utilisateur_ajouter_groupe", convention, membre_b.pk), donnees)
        assert message in erreur_sous(reponse, champ)
        assert etat_de_la_base() == avant

    def test_groupe_clos_ni_propose_ni_accepte(self, client, admin_connecte, convention, arbre, membre_a1):
        Groupe.objects.filter(pk=arbre["B"].pk).update(date_cloture=aujourdhui())
        adresse = url("utilisateur_ajouter_groupe", convention, membre_a1.pk)
        assert f'<option value="{arbre["B"].pk}">' not in texte(client.get(adresse))
        avant = etat_de_la_base()
        reponse = client.post(adresse, {"groupe": arbre["B"].pk, "date_ouverture": aujourdhui().isoformat()})
        assert "Choisissez un groupe de la liste." in erreur_sous(reponse, "groupe")
        assert etat_de_la_base() == avant

    def test_compte_clos_a_cette_date(self, client, admin_connecte, convention, arbre, membre_a1):
        services.utilisateur_cloturer(par=None, utilisateur=membre_a1, date_cloture=jour(10))
        avant = etat_de_la_base()
        reponse = client.post(
            url("utilisateur_ajouter_groupe", convention, membre_a1.pk),
            {"groupe": arbre["B"].pk, "date_ouverture": jour(20).isoformat()},
        )
        assert "est clôturé à cette date" in erreur_sous(reponse, "date_ouverture")
        assert etat_de_la_base() == avant

    def test_le_responsable_ajoute_dans_son_sous_arbre(self, client, convention, resp_a, arbre, membre_a1):
        connecter_verifie(client, resp_a)
        page = texte(client.get(url("utilisateur_ajouter_groupe", convention, membre_a1.pk)))
        assert f'<option value="{arbre["A"].pk}">' in page
        assert f'<option value="{arbre["B"].pk}">' not in page
        client.post(
            url("utilisateur_ajouter_groupe", convention, membre_a1.pk),
            {"groupe": arbre["A"].pk, "date_ouverture": aujourdhui().isoformat()},
        )
        assert set(membre_a1.appartenances.values_list("groupe__code", flat=True)) == {"A", "A1"}

    @pytest.mark.parametrize(("persona", "groupe"), [("resp_a1", "A"), ("resp_a1", "B"), ("resp_a", "B")])
    def test_le_responsable_ne_vise_pas_un_groupe_hors_de_son_sous_arbre(
        self, client, request, convention, arbre, membre_a1, persona, groupe
    ):
        connecter_verifie(client, request.getfixturevalue(persona))
        avant = etat_de_la_base()
        reponse = client.post(
            url("utilisateur_ajouter_groupe", convention, membre_a1.pk),
            {"groupe": arbre[groupe].pk, "date_ouverture": aujourdhui().isoformat()},
        )
        assert "Choisissez un groupe de la liste." in erreur_sous(reponse, "groupe")
        assert etat_de_la_base() == avant
        assert codes(membre_a1) == {"CDAP-T1"}


class TestDatesEffectives:
    def test_appartenance_qui_ouvre_demain(self, client, admin_connecte, convention, arbre, membre_a1):
        reponse = client.post(
            url("utilisateur_ajouter_groupe", convention, membre_a1.pk),
            {"groupe": arbre["B"].pk, "date_ouverture": jour(1).isoformat()},
            follow=True,
        )
        assert f"Chloé CAYROL est membre du groupe B — Groupe B à partir du {jour(1):%d/%m/%Y}." in texte(reponse)
        assert codes(membre_a1) == {"CDAP-T1"}
        detail = url("utilisateur", convention, membre_a1.pk)
        assert "AFAS" not in re.search(
            r"Profils effectifs aujourd'hui</th>\s*<td>(.*?)</td>", texte(client.get(detail)), re.S
        ).group(1)
        with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
            assert codes(membre_a1) == {"CDAP-T1", "AFAS-DECLARER"}
            membre_a1.refresh_from_db()
            assert perms.peut_ouvrir_service(membre_a1, arbre["B"].profils.get().service)

    def test_cloture_programmee_prend_effet_a_sa_date(self, client, admin_connecte, convention, arbre, membre_a1):
        appartenance = membre_a1.appartenances.get()
        client.post(
            url("appartenance_cloturer", convention, appartenance.pk),
            {"date_cloture": jour(1).isoformat(), "confirmation": "on"},
        )
        assert codes(membre_a1) == {"CDAP-T1"}
        with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
            assert codes(membre_a1) == set()


class TestModifierLesDates:
    def test_formulaire_prerempli_puis_modifie(self, client, admin_connecte, convention, arbre, membre_a1):
        appartenance = membre_a1.appartenances.get()
        adresse = url("appartenance_modifier", convention, appartenance.pk)
        page = texte(client.get(adresse))
        assert f'name="date_ouverture" value="{appartenance.date_ouverture.isoformat()}"' in page
        assert "A1 — Groupe A1" in page
        reponse = client.post(
            adresse,
            {"date_ouverture": appartenance.date_ouverture.isoformat(), "date_cloture": jour(60).isoformat()},
            follow=True,
        )
        appartenance.refresh_from_db()
        assert appartenance.date_cloture == jour(60)
        assert reponse.redirect_chain[-1][0] == url("appartenances", convention, membre_a1.pk)
        assert "Les dates de l'appartenance de Chloé CAYROL au groupe A1 sont modifiées." in texte(reponse)

    def test_cloture_passee_refusee(self, client, admin_connecte, convention, arbre, membre_a1):
        appartenance = membre_a1.appartenances.get()
        avant = etat_de_la_base()
        reponse = client.post(
            url("appartenance_modifier", convention, appartenance.pk),
            {"date_ouverture": jour(-3).isoformat(), "date_cloture": jour(-1).isoformat()},
        )
        assert "La date de clôture ne peut pas être passée." in erreur_sous(reponse, "date_cloture")
        assert etat_de_la_base() == avant

    def test_chevauchement_refuse(self, client, admin_connecte, convention, arbre, membre_a1):
        appartenance = membre_a1.appartenances.get()
        services.appartenance_cloturer(par=None, appartenance=appartenance, date_cloture=jour(5))
        suivante = services.appartenance_ouvrir(
            par=None, utilisateur=membre_a1, groupe=arbre["A1"], date_ouverture=jour(10)
        )
        avant = etat_de_la_base()
        reponse = client.post(
            url("appartenance_modifier", convention, suivante.pk), {"date_ouverture": jour(3).isoformat()}
        )
        assert "appartient déjà à ce groupe sur cette période" in texte(reponse)
        assert etat_de_la_base() == avant


class TestCloturer:
    def test_aujourd_hui_apres_confirmation(self, client, admin_connecte, convention, arbre, membre_a1):
        appartenance = membre_a1.appartenances.get()
        adresse = url("appartenance_cloturer", convention, appartenance.pk)
        page = texte(client.get(adresse))
        assert "Je confirme la clôture de l'appartenance" in page
        assert f'name="date_cloture" value="{aujourdhui().isoformat()}"' in page
        reponse = client.post(adresse, {"date_cloture": aujourdhui().isoformat(), "confirmation": "on"}, follow=True)
        appartenance.refresh_from_db()
        assert appartenance.date_cloture == aujourdhui()
        assert codes(membre_a1) == set()
        assert "L'appartenance de Chloé CAYROL au groupe A1 est clôturée ce jour." in texte(reponse)

    def test_date_future(self, client, admin_connecte, convention, arbre, membre_a1):
        appartenance = membre_a1.appartenances.get()
        reponse = client.post(
            url("appartenance_cloturer", convention, appartenance.pk),
            {"date_cloture": jour(7).isoformat(), "confirmation": "on"},
            follow=True,
        )
        appartenance.refresh_from_db()
        assert appartenance.date_cloture == jour(7)
        assert f"est clôturée le {jour(7):%d/%m/%Y}." in texte(reponse)

    def test_sans_confirmation_ou_date_passee_rien_ne_change(
        self, client, admin_connecte, convention, arbre, membre_a1
    ):
        appartenance = membre_a1.appartenances.get()
        adresse = url("appartenance_cloturer", convention, appartenance.pk)
        avant = etat_de_la_base()
        reponse = client.post(adresse, {"date_cloture": aujourdhui().isoformat()})
        assert "Cochez la case pour confirmer la clôture." in erreur_sous(reponse, "confirmation")
        reponse = client.post(adresse, {"date_cloture": jour(-1).isoformat(), "confirmation": "on"})
        assert "La date de clôture ne peut pas être passée." in erreur_sous(reponse, "date_cloture")
        assert etat_de_la_base() == avant

    def test_deja_cloturee(self, client, admin_connecte, convention, arbre, membre_a1):
        appartenance = membre_a1.appartenances.get()
        services.appartenance_cloturer(par=None, appartenance=appartenance, date_cloture=aujourdhui())
        adresse = url("appartenance_cloturer", convention, appartenance.pk)
        assert "Cette appartenance est déjà clôturée depuis le" in texte(client.get(adresse))
        avant = etat_de_la_base()
        client.post(adresse, {"date_cloture": jour(3).isoformat(), "confirmation": "on"})
        assert etat_de_la_base() == avant

    def test_le_responsable_clot_dans_son_sous_arbre(self, client, convention, resp_a, arbre, membre_a1):
        connecter_verifie(client, resp_a)
        appartenance = membre_a1.appartenances.get()
        client.post(
            url("appartenance_cloturer", convention, appartenance.pk),
            {"date_cloture": aujourdhui().isoformat(), "confirmation": "on"},
        )
        assert not Appartenance.objects.ouverts().filter(pk=appartenance.pk).exists()
