"""« Gestion des habilitations » : la liste des utilisateurs d'une convention, leur création,
modification, clôture, réouverture, le renvoi de l'identifiant, leur détail ; qui y a droit.

L'arbre de groupes (A > A1, B) et ses personas viennent de tests/habilitations/conftest.py.
"""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from conventions.models import Profil
from habilitations import services
from habilitations.models import Appartenance, Utilisateur
from portail.models import Courriel, EvenementAudit
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db


def jour(n: int = 0) -> datetime.date:
    return aujourdhui() + datetime.timedelta(days=n)


COMPTES_ADMINISTRATEUR_SEUL = {"utilisateur_cloturer", "utilisateur_rouvrir"}


def url(nom: str, convention, *args) -> str:
    return reverse(f"gestion:{nom}", args=[convention.pk, *args])


def identifiants(reponse) -> list[str]:
    """Les identifiants des lignes du tableau, dans l'ordre affiché (première colonne)."""
    assert reponse.status_code == 200
    return re.findall(r"<tr>\s*<td>([A-Z0-9]+)</td>", texte(reponse))


def ligne(reponse, user: Utilisateur) -> str:
    """Le HTML de la ligne d'un utilisateur dans la liste."""
    trouve = re.search(rf"<tr>\s*<td>{user.identifiant}</td>.*?</tr>", texte(reponse), re.S)
    assert trouve, f"{user.identifiant} absent de la liste"
    return trouve.group(0)


def erreur_sous(reponse, champ: str) -> str:
    """Le message d'erreur affiché sous un champ (vide s'il n'y en a pas)."""
    trouve = re.search(rf'id="id_{champ}-desc-error"[^>]*>(.*?)</div>', texte(reponse), re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", trouve.group(1)).split()) if trouve else ""


def etat_de_la_base() -> tuple:
    """Ce qu'un acte refusé ne doit pas changer : comptes (et leurs dates, coordonnées),
    appartenances, courriels, traces d'audit."""
    return (
        list(Utilisateur.objects.order_by("pk").values_list("pk", "nom", "email", "date_cloture", "suspendu_le")),
        list(Appartenance.objects.order_by("pk").values_list("pk", "groupe_id", "date_ouverture", "date_cloture")),
        Courriel.objects.count(),
        EvenementAudit.objects.count(),
    )


def adresse_simple(user: Utilisateur) -> Utilisateur:
    """Une adresse que le formulaire accepte (les fabriques mettent les accents du prénom dans
    l'adresse, « chloé.cayrol.4@… », ce que la validation des adresses refuse)."""
    Utilisateur.objects.filter(pk=user.pk).update(email=f"{user.identifiant.lower()}@bozouls.test")
    user.refresh_from_db()
    return user


@pytest.fixture
def admin_connecte(client, administrateur):
    connecter_verifie(client, administrateur)
    return administrateur


# --- Autorisation --------------------------------------------------------------------------------

# (route, objet visé, méthode, page d'écriture ?)
ROUTES = [
    ("utilisateurs", None, "get", False),
    ("utilisateur_creer", None, "get", True),
    ("utilisateur_creer", None, "post", True),
    ("utilisateur", "utilisateur", "get", False),
    ("utilisateur_modifier", "utilisateur", "get", True),
    ("utilisateur_modifier", "utilisateur", "post", True),
    ("utilisateur_cloturer", "utilisateur", "get", True),
    ("utilisateur_cloturer", "utilisateur", "post", True),
    ("utilisateur_rouvrir", "utilisateur", "get", True),
    ("utilisateur_rouvrir", "utilisateur", "post", True),
    ("identifiant_renvoyer", "utilisateur", "post", True),
    ("appartenances", "utilisateur", "get", False),
    ("utilisateur_ajouter_groupe", "utilisateur", "get", True),
    ("utilisateur_ajouter_groupe", "utilisateur", "post", True),
    ("appartenance_modifier", "appartenance", "get", True),
    ("appartenance_modifier", "appartenance", "post", True),
    ("appartenance_cloturer", "appartenance", "get", True),
    ("appartenance_cloturer", "appartenance", "post", True),
]
ROUTES_OBJET = [r for r in ROUTES if r[1]]


def ids_route(route) -> str:
    return f"{route[0]}-{route[2]}"


def donnees(route: str, arbre) -> dict:
    """Une saisie valide pour chaque page : si l'accès n'était pas refusé, l'acte aurait lieu."""
    aujourd_hui = aujourdhui().isoformat()
    return {
        "utilisateur_creer": {
            "nom": "Intrus",
            "prenom": "Ivan",
            "email": "intrus@exemple.test",
            "email_confirmation": "intrus@exemple.test",
            "poste": "sedentaire",
            "date_ouverture": aujourd_hui,
            "groupe": arbre["A1"].pk,
        },
        "utilisateur_modifier": {
            "nom": "Modifié",
            "prenom": "Par un intrus",
            "email": "intrus@exemple.test",
            "email_confirmation": "intrus@exemple.test",
            "poste": "itinerant",
        },
        "utilisateur_cloturer": {"date_cloture": aujourd_hui, "confirmation": "on"},
        "utilisateur_ajouter_groupe": {"groupe": arbre["A"].pk, "date_ouverture": aujourd_hui},
        "appartenance_modifier": {"date_ouverture": aujourd_hui, "date_cloture": jour(30).isoformat()},
        "appartenance_cloturer": {"date_cloture": aujourd_hui, "confirmation": "on"},
    }.get(route, {})


def adresse(route, objet, convention, cible: Utilisateur) -> str:
    if objet is None:
        return url(route, convention)
    if objet == "utilisateur":
        return url(route, convention, cible.pk)
    return url(route, convention, cible.appartenances.order_by("pk").first().pk)


def appeler(client, methode: str, adresse_: str, route: str, arbre):
    if methode == "get":
        return client.get(adresse_)
    return client.post(adresse_, donnees(route, arbre))


class TestAutorisation:
    @pytest.mark.parametrize("route", ROUTES, ids=ids_route)
    def test_anonyme_renvoye_a_la_connexion(self, client, convention, arbre, membre_a1, route):
        nom, objet, methode, _ = route
        avant = etat_de_la_base()
        reponse = appeler(client, methode, adresse(nom, objet, convention, membre_a1), nom, arbre)
        assert reponse.status_code == 302
        assert reponse.url.startswith(reverse("habilitations:connexion"))
        assert etat_de_la_base() == avant

    @pytest.mark.parametrize(
        ("persona", "visee"),
        [
            ("admin_autre_partenaire", "membre_a1"),
            ("admin_autre_convention", "membre_a1"),
            ("agent_autre_caf", "membre_a1"),
            ("resp_b", "membre_a1"),  # responsable d'un autre sous-arbre
            ("resp_b", "resp_a1"),
            ("resp_a1", "resp_a"),  # un sous-groupe ne remonte pas à son parent
            ("resp_a", "membre_b"),
            ("resp_a", "administrateur"),  # jamais les administrateurs, même membres d'un groupe
            ("declarant", "membre_a1"),  # simples utilisateurs
            ("membre_a1", "membre_a1"),
            ("administrateur", "admin_autre_convention"),  # compte d'une autre convention
        ],
    )
    @pytest.mark.parametrize("route", ROUTES_OBJET, ids=ids_route)
    def test_hors_perimetre_404_et_rien_ne_change(
        self, client, request, convention, arbre, administrateur, persona, visee, route
    ):
        nom, objet, methode, _ = route
        if visee == "administrateur":
            # Membre d'un groupe du responsable : son appartenance ne l'expose pas pour autant.
            services.appartenance_ouvrir(par=None, utilisateur=administrateur, groupe=arbre["A1"])
        if visee == "admin_autre_convention" and objet == "appartenance":
            pytest.skip("un compte d'une autre convention n'a pas d'appartenance dans celle-ci")
        cible = request.getfixturevalue(visee)
        connecter_verifie(client, request.getfixturevalue(persona))
        adresse_ = adresse(nom, objet, convention, cible)
        avant = etat_de_la_base()
        reponse = appeler(client, methode, adresse_, nom, arbre)
        assert reponse.status_code == 404
        assert cible.identifiant not in texte(reponse)
        assert etat_de_la_base() == avant

    @pytest.mark.parametrize(
        "persona", ["admin_autre_partenaire", "admin_autre_convention", "agent_autre_caf", "declarant", "membre_a1"]
    )
    @pytest.mark.parametrize("route", [r for r in ROUTES if not r[1]], ids=ids_route)
    def test_convention_hors_perimetre_404(self, client, request, convention, arbre, persona, route):
        nom, _, methode, _ = route
        connecter_verifie(client, request.getfixturevalue(persona))
        avant = etat_de_la_base()
        reponse = appeler(client, methode, url(nom, convention), nom, arbre)
        assert reponse.status_code == 404
        assert convention.libelle not in texte(reponse)
        assert etat_de_la_base() == avant

    @pytest.mark.parametrize("persona", ["agent_caf", "superviseur"])
    @pytest.mark.parametrize("route", ROUTES, ids=ids_route)
    def test_lecture_seule_lit_sans_ecrire(self, client, request, convention, arbre, membre_a1, persona, route):
        nom, objet, methode, ecriture = route
        connecter_verifie(client, request.getfixturevalue(persona))
        avant = etat_de_la_base()
        reponse = appeler(client, methode, adresse(nom, objet, convention, membre_a1), nom, arbre)
        assert reponse.status_code == (403 if ecriture else 200)
        assert etat_de_la_base() == avant
        if not ecriture:
            page = texte(reponse)
            assert "Consultation seulement" in page
            for bouton in ("Créer un utilisateur", "Importer un fichier CSV", "Renvoi de l'identifiant", "Modifier"):
                assert bouton not in page

    @pytest.mark.parametrize(("persona", "visee"), [("administrateur", "membre_a1"), ("resp_a", "membre_a1")])
    @pytest.mark.parametrize("route", [r for r in ROUTES if r[2] == "get"], ids=ids_route)
    def test_roles_legitimes(self, client, request, convention, arbre, persona, visee, route):
        nom, objet, _, _ = route
        if persona == "resp_a" and nom in COMPTES_ADMINISTRATEUR_SEUL:
            pytest.skip("vérifié par test_le_responsable_ne_clot_ni_ne_rouvre_un_compte")
        connecter_verifie(client, request.getfixturevalue(persona))
        reponse = client.get(adresse(nom, objet, convention, request.getfixturevalue(visee)))
        assert reponse.status_code == 200
        assert convention.libelle in texte(reponse)

    @pytest.mark.parametrize("nom", sorted(COMPTES_ADMINISTRATEUR_SEUL))
    @pytest.mark.parametrize("methode", ["get", "post"])
    def test_le_responsable_ne_clot_ni_ne_rouvre_un_compte(
        self, client, resp_a, convention, arbre, membre_a1, nom, methode
    ):
        # Il ouvre et clôt des appartenances ; clôturer ou rouvrir un compte (suspendu compris)
        # revient à l'administrateur. Le compte est dans son périmètre : 403, rien n'est révélé.
        connecter_verifie(client, resp_a)
        avant = Utilisateur.objects.values_list("date_cloture", "suspendu_le").get(pk=membre_a1.pk)
        donnees = {"date_cloture": aujourdhui().isoformat(), "confirmation": "on"}
        reponse = getattr(client, methode)(url(nom, convention, membre_a1.pk), donnees if methode == "post" else None)
        assert reponse.status_code == 403
        assert Utilisateur.objects.values_list("date_cloture", "suspendu_le").get(pk=membre_a1.pk) == avant
        page = texte(client.get(url("utilisateurs", convention)))
        assert url(nom, convention, membre_a1.pk) not in page

    def test_renvoi_de_l_identifiant_refuse_en_get(self, client, admin_connecte, convention, membre_a1):
        assert client.get(url("identifiant_renvoyer", convention, membre_a1.pk)).status_code == 405


# --- La liste ---------------------------------------------------------------------------------


class TestListe:
    def test_colonnes_et_en_tete_comme_dans_les_guides(self, client, admin_connecte, convention, arbre, membre_a1):
        Utilisateur.objects.filter(pk=membre_a1.pk).update(telephone="0565483356")
        reponse = client.get(url("utilisateurs", convention))
        page = texte(reponse)
        assert "Liste des utilisateurs" in page
        assert f"Convention sélectionnée : {convention.libelle}" in re.sub(r"<[^>]+>", "", page)
        assert "Filtrer utilisateur par :" in page
        for filtre in ("identifiant", "nom", "prenom", "groupe"):
            assert f'name="{filtre}"' in page
        assert "Sélectionner un groupe" in page
        for colonne in (
            "Adresse mail",
            "Téléphone",
            "Date d'ouverture",
            "Date de clôture",
            "Statut",
            "Modifier / Clôturer",
            "Autres actions",
        ):
            assert f">{colonne}<" in page
        rangee = ligne(reponse, membre_a1)
        assert "CAYROL" in rangee and "Chloé" in rangee
        assert membre_a1.email in rangee
        assert "0565483356" in rangee
        assert f"{membre_a1.date_ouverture:%d/%m/%Y}" in rangee
        assert re.search(r">\s*Ouvert\s*<", rangee)
        assert "Retour à la liste des conventions" in page

    def test_boutons_creer_et_importer(self, client, admin_connecte, convention):
        page = texte(client.get(url("utilisateurs", convention)))
        assert f'href="{url("utilisateur_creer", convention)}">Créer un utilisateur' in page
        assert f'href="{url("import_deposer", convention)}">Importer un fichier CSV' in page

    def test_menu_choisir(self, client, admin_connecte, convention, arbre, membre_a1):
        rangee = ligne(client.get(url("utilisateurs", convention)), membre_a1)
        assert re.search(r'<details class="portail-choisir">\s*<summary[^>]*>Choisir…', rangee)
        assert f'<form method="post" action="{url("identifiant_renvoyer", convention, membre_a1.pk)}">' in rangee
        assert "Renvoi de l'identifiant par mail" in rangee
        assert (
            f"href=\"{url('appartenances', convention, membre_a1.pk)}\">Gérer l'appartenance de l'utilisateur" in rangee
        )
        assert f'href="{url("utilisateur_ajouter_groupe", convention, membre_a1.pk)}">Ajouter à un groupe' in rangee
        assert f'href="{url("utilisateur", convention, membre_a1.pk)}">Détail de l\'utilisateur' in rangee
        assert url("utilisateur_modifier", convention, membre_a1.pk) in rangee
        assert url("utilisateur_cloturer", convention, membre_a1.pk) in rangee
        assert url("utilisateur_rouvrir", convention, membre_a1.pk) not in rangee

    def test_compte_cloture_desactive_et_rouvrable(self, client, admin_connecte, convention, arbre, membre_a1):
        services.utilisateur_cloturer(par=None, utilisateur=membre_a1, date_cloture=aujourdhui())
        rangee = ligne(client.get(url("utilisateurs", convention)), membre_a1)
        assert "Désactivé" in rangee
        assert membre_a1.email not in rangee
        assert re.search(r">\s*Clôturé\s*<", rangee)
        assert f"{aujourdhui():%d/%m/%Y}" in rangee
        assert url("utilisateur_rouvrir", convention, membre_a1.pk) in rangee
        assert url("utilisateur_cloturer", convention, membre_a1.pk) not in rangee
        assert "Renvoi de l'identifiant" not in rangee

    def test_compte_suspendu(self, client, admin_connecte, convention, arbre, membre_a1):
        Utilisateur.objects.filter(pk=membre_a1.pk).update(suspendu_le=timezone.now())
        rangee = ligne(client.get(url("utilisateurs", convention)), membre_a1)
        assert rangee.count("Suspendu") == 2  # adresse et statut
        assert membre_a1.email not in rangee
        assert url("utilisateur_rouvrir", convention, membre_a1.pk) in rangee

    def test_cloture_programmee_reste_ouverte_et_se_peut_annuler(
        self, client, admin_connecte, convention, arbre, membre_a1
    ):
        services.utilisateur_cloturer(par=None, utilisateur=membre_a1, date_cloture=jour(10))
        rangee = ligne(client.get(url("utilisateurs", convention)), membre_a1)
        assert membre_a1.email in rangee and re.search(r">\s*Ouvert\s*<", rangee)
        assert url("utilisateur_cloturer", convention, membre_a1.pk) in rangee
        assert url("utilisateur_rouvrir", convention, membre_a1.pk) in rangee

    def test_l_administrateur_voit_toute_la_convention_et_pas_l_autre(
        self, client, admin_connecte, administrateur, convention, arbre, membre_a1, membre_b, admin_autre_convention
    ):
        vus = set(identifiants(client.get(url("utilisateurs", convention))))
        assert {administrateur.identifiant, membre_a1.identifiant, membre_b.identifiant} <= vus
        assert admin_autre_convention.identifiant not in vus

    def test_filtres(self, client, admin_connecte, convention, arbre, membre_a1, membre_b, resp_a1):
        liste = url("utilisateurs", convention)
        assert identifiants(client.get(liste, {"nom": "cayr"})) == [membre_a1.identifiant]
        assert identifiants(client.get(liste, {"prenom": "deni"})) == [membre_b.identifiant]
        assert identifiants(client.get(liste, {"identifiant": membre_b.identifiant.lower()})) == [membre_b.identifiant]
        assert set(identifiants(client.get(liste, {"groupe": arbre["A1"].pk}))) == {
            resp_a1.identifiant,
            membre_a1.identifiant,
        }

    def test_filtre_groupe_ignore_les_appartenances_closes(self, client, admin_connecte, convention, arbre, membre_a1):
        appartenance = membre_a1.appartenances.get()
        services.appartenance_cloturer(par=None, appartenance=appartenance, date_cloture=aujourdhui())
        assert membre_a1.identifiant not in identifiants(
            client.get(url("utilisateurs", convention), {"groupe": arbre["A1"].pk})
        )

    def test_aucun_resultat(self, client, admin_connecte, convention):
        page = texte(client.get(url("utilisateurs", convention), {"nom": "introuvable"}))
        assert "Aucun résultat ne correspond à ces filtres." in page

    def test_tri_et_pagination(self, client, admin_connecte, convention):
        for n in range(30):
            factories.creer_utilisateur(nom=f"Zeta{n:02d}", prenom="Test", convention=convention, mot_de_passe=None)
        liste = url("utilisateurs", convention)
        premiere = client.get(liste, {"nom": "zeta", "tri": "-nom"})
        noms = re.findall(r"<td class=\"fr-cell--multiline\">(ZETA\d\d)</td>", texte(premiere))
        assert noms == [f"ZETA{n:02d}" for n in range(29, 4, -1)]
        assert "30 utilisateurs — page 1 sur 2" in texte(premiere)
        assert "?nom=zeta&tri=-nom&page=2" in texte(premiere)
        seconde = client.get(liste, {"nom": "zeta", "tri": "-nom", "page": 2})
        assert re.findall(r"<td class=\"fr-cell--multiline\">(ZETA\d\d)</td>", texte(seconde)) == [
            f"ZETA{n:02d}" for n in range(4, -1, -1)
        ]


class TestListeDuResponsable:
    def test_ne_voit_que_son_sous_arbre_sans_les_administrateurs(
        self, client, convention, administrateur, resp_a, resp_a1, resp_b, arbre, membre_a1, membre_b
    ):
        services.appartenance_ouvrir(par=None, utilisateur=administrateur, groupe=arbre["A1"])
        connecter_verifie(client, resp_a)
        reponse = client.get(url("utilisateurs", convention))
        assert set(identifiants(reponse)) == {resp_a.identifiant, resp_a1.identifiant, membre_a1.identifiant}
        page = texte(reponse)
        assert membre_b.identifiant not in page
        assert administrateur.identifiant not in page
        assert "Responsable d'habilitations : vos groupes et leurs sous-groupes" in page
        assert "Créer un utilisateur" in page

    def test_le_filtre_ne_propose_que_ses_groupes(self, client, convention, resp_a1, arbre):
        connecter_verifie(client, resp_a1)
        reponse = client.get(url("utilisateurs", convention))
        page = texte(reponse)
        assert f'<option value="{arbre["A1"].pk}">' in page
        assert f'<option value="{arbre["A"].pk}">' not in page
        assert f'<option value="{arbre["B"].pk}">' not in page
        # Un groupe hors périmètre forgé dans l'adresse : refusé sous le champ, rien d'élargi.
        forge = client.get(url("utilisateurs", convention), {"groupe": arbre["B"].pk})
        assert "Sélectionnez un choix valide" in erreur_sous(forge, "groupe")
        assert "DELPECH" not in texte(forge)


def creer_en_masse(convention, nombre: int, groupe=None) -> None:
    """``nombre`` comptes de la convention (et leurs appartenances au groupe), par bulk_create."""
    debut = aujourdhui() - datetime.timedelta(days=30)
    comptes = Utilisateur.objects.bulk_create(
        Utilisateur(
            identifiant=f"MAS{n:07d}",
            convention=convention,
            organisme=convention.organisme,
            nom=f"Masse{n:05d}",
            prenom="Test",
            email=f"masse{n}@exemple.test",
            date_ouverture=debut,
            password="!",
        )
        for n in range(nombre)
    )
    if groupe is not None:
        Appartenance.objects.bulk_create(
            Appartenance(utilisateur=compte, groupe=groupe, date_ouverture=debut) for compte in comptes
        )


class TestBudgetDeRequetes:
    @pytest.mark.parametrize("nombre", [10, 10_000])
    def test_administrateur(self, client, admin_connecte, convention, arbre, nombre, django_assert_max_num_queries):
        creer_en_masse(convention, nombre, groupe=arbre["A1"])
        parametres = {"nom": "masse", "groupe": arbre["A1"].pk, "tri": "-date_ouverture"}
        client.get(url("utilisateurs", convention), parametres)
        # 1 session, 2 utilisateur, 3 appareil de double authentification, 4 convention (Caf,
        # organisme), 5 conventions administrées (droit guardian, mandat), 6 groupes du filtre
        # (choix et validation ; hors transaction de test, l'empreinte des groupes gardés, voir
        # test_utilisateurs_choix_des_groupes.py), 7 comptage, 8 menu (gestionnaire ?), 9 services ouverts (menu),
        # 10 page de 25 comptes (statut, adresse et actions se lisent sur la ligne), 11-13 session
        # enregistrée. Le nombre d'utilisateurs ne change rien.
        with django_assert_max_num_queries(13):
            reponse = client.get(url("utilisateurs", convention), parametres)
        assert len(identifiants(reponse)) == min(nombre, 25)

    @pytest.mark.parametrize("nombre", [10, 10_000])
    def test_responsable(self, client, convention, resp_a, arbre, nombre, django_assert_max_num_queries):
        creer_en_masse(convention, nombre, groupe=arbre["A1"])
        connecter_verifie(client, resp_a)
        client.get(url("utilisateurs", convention))
        # 1 session, 2 utilisateur, 3 appareil, 4 convention, 5 conventions administrées (non),
        # 6 chemins des groupes dont il est responsable, 7 groupes du filtre, 8 comptage (sous-arbre
        # en sous-requête), 9 menu, 10 services ouverts, 11 page, 12-14 session enregistrée.
        with django_assert_max_num_queries(14):
            reponse = client.get(url("utilisateurs", convention))
        assert len(identifiants(reponse)) == min(nombre + 3, 25)


# --- Créer un utilisateur -------------------------------------------------------------------------


def jeton_de(client, convention) -> str:
    """Le jeton à usage unique que la page du formulaire émet (comme le ferait le navigateur)."""
    page = texte(client.get(url("utilisateur_creer", convention)))
    return re.search(r'name="jeton" value="([^"]+)"', page).group(1)


def saisie(client, convention, **valeurs) -> dict:
    donnees_ = {
        "jeton": jeton_de(client, convention),
        "nom": "Garrigues",
        "prenom": "Mélanie",
        "email": "m.garrigues@bozouls.test",
        "email_confirmation": "m.garrigues@bozouls.test",
        "telephone": "",
        "telephone_confirmation": "",
        "poste": "sedentaire",
        "date_ouverture": aujourdhui().isoformat(),
        "date_cloture": "",
        "groupe": "",
    }
    donnees_.update(valeurs)
    return donnees_


def cree() -> Utilisateur | None:
    return Utilisateur.objects.filter(nom="Garrigues").first()


class TestCreer:
    def test_formulaire_comme_dans_les_guides(self, client, admin_connecte, convention):
        page = texte(client.get(url("utilisateur_creer", convention)))
        assert "Créer un utilisateur partenaire" in page
        for libelle in (
            "Nom",
            "Prénom",
            "Adresse mail",
            "Confirmer l'adresse mail",
            "Téléphone",
            "Confirmer le téléphone",
            "Sédentaire (possède un poste fixe)",
            "Itinérant (poste de travail variable)",
            "Date de clôture",
            "Groupe d'habilitation",
        ):
            assert libelle in page
        assert f'name="date_ouverture" value="{aujourdhui().isoformat()}"' in page
        assert re.search(r'value="sedentaire"[^>]*checked', page)
        assert "Aucun groupe pour l'instant" in page

    def test_succes_sans_groupe(self, client, admin_connecte, convention):
        reponse = client.post(url("utilisateur_creer", convention), saisie(client, convention), follow=True)
        user = cree()
        assert user is not None
        assert user.convention == convention
        assert user.organisme == convention.organisme
        assert user.email == "m.garrigues@bozouls.test"
        assert not user.appartenances.exists()
        assert reponse.redirect_chain[-1][0] == url("utilisateur", convention, user.pk)
        assert (
            f"Le compte {user.identifiant} est créé ; l'identifiant et le mot de passe provisoire partent par "
            "courriel à m.garrigues@bozouls.test." in texte(reponse)
        )
        courriels = Courriel.objects.filter(destinataire="m.garrigues@bozouls.test")
        assert sorted(courriels.values_list("modele", flat=True)) == ["identifiant", "mot_de_passe_provisoire"]
        assert EvenementAudit.objects.filter(action="utilisateur_creer", convention=convention).exists()

    def test_succes_avec_groupe_telephone_et_poste(self, client, admin_connecte, convention, arbre):
        reponse = client.post(
            url("utilisateur_creer", convention),
            saisie(
                client,
                convention,
                telephone="05 65 48 33 56",
                telephone_confirmation="05.65.48.33.56",
                poste="itinerant",
                groupe=arbre["A1"].pk,
                date_cloture=jour(365).isoformat(),
            ),
            follow=True,
        )
        user = cree()
        assert user.telephone == "0565483356"
        assert user.poste == "itinerant"
        assert user.date_cloture == jour(365)
        appartenance = user.appartenances.get()
        assert appartenance.groupe == arbre["A1"]
        assert appartenance.date_ouverture == aujourdhui()
        assert "est membre du groupe A1" in texte(reponse)
        assert Courriel.objects.filter(destinataire=user.email).count() == 2
        assert list(
            Profil.objects.filter(pk__in=user.appartenances.values("groupe__profils")).values_list("code", flat=True)
        ) == ["CDAP-T1"]

    def test_telephone_au_format_international(self, client, admin_connecte, convention):
        client.post(
            url("utilisateur_creer", convention),
            saisie(client, convention, telephone="+33 6 12 34 56 78", telephone_confirmation="06 12 34 56 78"),
        )
        assert cree().telephone == "0612345678"

    @pytest.mark.parametrize(
        ("valeurs", "champ", "message"),
        [
            (
                {"email_confirmation": "m.garriges@bozouls.test"},
                "email_confirmation",
                "Les deux adresses mail ne sont pas identiques.",
            ),
            (
                {"email": "m.garrigues-bozouls.test", "email_confirmation": "m.garrigues-bozouls.test"},
                "email",
                "Saisissez une adresse mail valide",
            ),
            (
                {"telephone": "05 65 48 33", "telephone_confirmation": "05 65 48 33"},
                "telephone",
                "n'est pas valide : 10 chiffres (par exemple 05 65 48 33 56) ou au format +33",
            ),
            ({"telephone": "0065483356", "telephone_confirmation": "0065483356"}, "telephone", "10 chiffres"),
            (
                {"telephone": "0565483356", "telephone_confirmation": "0565483357"},
                "telephone_confirmation",
                "Les deux numéros de téléphone ne sont pas identiques.",
            ),
            ({"telephone": "0565483356"}, "telephone_confirmation", "Confirmez le numéro de téléphone."),
            ({"nom": "  "}, "nom", "Ce champ est obligatoire."),
            ({"prenom": ""}, "prenom", "Ce champ est obligatoire."),
            (
                {"date_cloture": (aujourdhui() - datetime.timedelta(days=1)).isoformat()},
                "date_cloture",
                "La date de clôture doit être postérieure à la date d'ouverture.",
            ),
        ],
        ids=[
            "confirmation-email",
            "email-mal-forme",
            "telephone-court",
            "telephone-mal-forme",
            "confirmation-telephone",
            "telephone-sans-confirmation",
            "nom-vide",
            "prenom-vide",
            "dates-inversees",
        ],
    )
    def test_refus_sous_le_champ_et_rien_de_cree(self, client, admin_connecte, convention, valeurs, champ, message):
        avant = etat_de_la_base()
        reponse = client.post(url("utilisateur_creer", convention), saisie(client, convention, **valeurs))
        assert reponse.status_code == 200
        assert message in erreur_sous(reponse, champ)
        assert cree() is None
        assert etat_de_la_base() == avant

    def test_adresse_d_un_compte_ouvert_de_la_convention(self, client, admin_connecte, convention, membre_a1):
        adresse_simple(membre_a1)
        avant = etat_de_la_base()
        reponse = client.post(
            url("utilisateur_creer", convention),
            saisie(client, convention, email=membre_a1.email.upper(), email_confirmation=membre_a1.email),
        )
        assert (
            f"Cette adresse mail est déjà celle d'un utilisateur ouvert de la convention ({membre_a1.identifiant})."
            in erreur_sous(reponse, "email")
        )
        assert etat_de_la_base() == avant

    def test_adresse_d_un_compte_clos_ou_d_une_autre_convention_acceptee(
        self, client, admin_connecte, convention, membre_a1, admin_autre_convention
    ):
        adresse_simple(membre_a1)
        services.utilisateur_cloturer(par=None, utilisateur=membre_a1, date_cloture=aujourdhui())
        client.post(
            url("utilisateur_creer", convention),
            saisie(client, convention, email=membre_a1.email, email_confirmation=membre_a1.email),
        )
        assert cree() is not None
        client.post(
            url("utilisateur_creer", convention),
            saisie(
                client,
                convention,
                nom="Autre",
                email=admin_autre_convention.email,
                email_confirmation=admin_autre_convention.email,
            ),
        )
        assert Utilisateur.objects.filter(nom="Autre", convention=convention).exists()

    def test_double_envoi_ne_cree_qu_un_compte(self, client, admin_connecte, convention):
        donnees_ = saisie(client, convention)
        client.post(url("utilisateur_creer", convention), donnees_)
        reponse = client.post(url("utilisateur_creer", convention), donnees_, follow=True)
        assert Utilisateur.objects.filter(nom="Garrigues").count() == 1
        assert Courriel.objects.filter(destinataire="m.garrigues@bozouls.test").count() == 2
        assert "Ce formulaire a déjà été envoyé : aucun compte n'a été créé une seconde fois." in texte(reponse)
        assert reponse.redirect_chain[-1][0] == url("utilisateur", convention, cree().pk)

    def test_jeton_libere_apres_un_refus(self, client, admin_connecte, convention):
        donnees_ = saisie(client, convention, email_confirmation="faute@bozouls.test")
        client.post(url("utilisateur_creer", convention), donnees_)
        donnees_["email_confirmation"] = donnees_["email"]
        client.post(url("utilisateur_creer", convention), donnees_)
        assert cree() is not None

    def test_sans_jeton_rien_n_est_cree(self, client, admin_connecte, convention):
        donnees_ = saisie(client, convention, jeton="invente")
        reponse = client.post(url("utilisateur_creer", convention), donnees_)
        assert reponse.status_code == 302
        assert cree() is None


class TestCreerParUnResponsable:
    def test_cree_dans_son_groupe(self, client, convention, resp_a1, arbre):
        connecter_verifie(client, resp_a1)
        page = texte(client.get(url("utilisateur_creer", convention)))
        assert "Choisir un de vos groupes" in page
        assert f'<option value="{arbre["B"].pk}">' not in page
        assert f'<option value="{arbre["A"].pk}">' not in page
        reponse = client.post(
            url("utilisateur_creer", convention), saisie(client, convention, groupe=arbre["A1"].pk), follow=True
        )
        user = cree()
        assert user.appartenances.get().groupe == arbre["A1"]
        assert reponse.redirect_chain[-1][0] == url("utilisateur", convention, user.pk)
        # Il le voit ensuite dans sa liste.
        assert user.identifiant in identifiants(client.get(url("utilisateurs", convention)))

    def test_le_responsable_du_parent_cree_dans_le_sous_groupe(self, client, convention, resp_a, arbre):
        connecter_verifie(client, resp_a)
        client.post(url("utilisateur_creer", convention), saisie(client, convention, groupe=arbre["A1"].pk))
        assert cree().appartenances.get().groupe == arbre["A1"]

    def test_groupe_obligatoire(self, client, convention, resp_a1, arbre):
        connecter_verifie(client, resp_a1)
        avant = etat_de_la_base()
        reponse = client.post(url("utilisateur_creer", convention), saisie(client, convention, groupe=""))
        assert "Choisissez le groupe d'habilitation de l'utilisateur." in erreur_sous(reponse, "groupe")
        assert etat_de_la_base() == avant

    @pytest.mark.parametrize("groupe", ["A", "B"])
    def test_pas_hors_de_son_sous_arbre(self, client, convention, resp_a1, arbre, groupe):
        connecter_verifie(client, resp_a1)
        avant = etat_de_la_base()
        reponse = client.post(url("utilisateur_creer", convention), saisie(client, convention, groupe=arbre[groupe].pk))
        assert "Choisissez un groupe de la liste." in erreur_sous(reponse, "groupe")
        assert etat_de_la_base() == avant

    def test_groupe_clos_pas_propose(self, client, admin_connecte, convention, arbre):
        from habilitations.models import Groupe

        Groupe.objects.filter(pk=arbre["B"].pk).update(date_cloture=aujourdhui())
        page = texte(client.get(url("utilisateur_creer", convention)))
        assert f'<option value="{arbre["B"].pk}">' not in page
        assert f'<option value="{arbre["A"].pk}">' in page


# --- Modifier ---------------------------------------------------------------------------------------


class TestModifier:
    def test_formulaire_prerempli_puis_modifie(self, client, admin_connecte, convention, arbre, membre_a1):
        page = texte(client.get(url("utilisateur_modifier", convention, membre_a1.pk)))
        assert f'name="email" value="{membre_a1.email}"' in page
        assert f'name="email_confirmation" value="{membre_a1.email}"' in page
        reponse = client.post(
            url("utilisateur_modifier", convention, membre_a1.pk),
            {
                "nom": "Cayrol-Martin",
                "prenom": "Chloé",
                "email": "chloe.cayrol@bozouls.test",
                "email_confirmation": "Chloe.Cayrol@bozouls.test",
                "telephone": "06 00 00 00 01",
                "telephone_confirmation": "0600000001",
                "poste": "itinerant",
            },
            follow=True,
        )
        membre_a1.refresh_from_db()
        assert (membre_a1.nom, membre_a1.email, membre_a1.telephone, membre_a1.poste) == (
            "Cayrol-Martin",
            "chloe.cayrol@bozouls.test",
            "0600000001",
            "itinerant",
        )
        assert reponse.redirect_chain[-1][0] == url("utilisateur", convention, membre_a1.pk)
        assert f"Le compte {membre_a1.identifiant} (Chloé CAYROL-MARTIN) est modifié." in texte(reponse)
        assert EvenementAudit.objects.filter(action="utilisateur_modifier").exists()

    def test_adresse_d_un_autre_compte_ouvert_refusee(
        self, client, admin_connecte, convention, arbre, membre_a1, membre_b
    ):
        avant = etat_de_la_base()
        reponse = client.post(
            url("utilisateur_modifier", convention, membre_a1.pk),
            {
                "nom": "Cayrol",
                "prenom": "Chloé",
                "email": membre_b.email,
                "email_confirmation": membre_b.email,
                "poste": "sedentaire",
            },
        )
        assert "déjà celle d'un utilisateur ouvert" in erreur_sous(reponse, "email")
        assert etat_de_la_base() == avant

    def test_garder_sa_propre_adresse(self, client, admin_connecte, convention, arbre, membre_a1):
        adresse_simple(membre_a1)
        client.post(
            url("utilisateur_modifier", convention, membre_a1.pk),
            {
                "nom": "Cayrol",
                "prenom": "Chloé",
                "email": membre_a1.email,
                "email_confirmation": membre_a1.email,
                "poste": "itinerant",
            },
        )
        membre_a1.refresh_from_db()
        assert membre_a1.poste == "itinerant"

    def test_le_responsable_modifie_un_membre_de_son_sous_arbre(self, client, convention, resp_a, arbre, membre_a1):
        adresse_simple(membre_a1)
        connecter_verifie(client, resp_a)
        client.post(
            url("utilisateur_modifier", convention, membre_a1.pk),
            {
                "nom": "Cayrol",
                "prenom": "Chloé",
                "email": membre_a1.email,
                "email_confirmation": membre_a1.email,
                "telephone": "0565000000",
                "telephone_confirmation": "0565000000",
                "poste": "sedentaire",
            },
        )
        membre_a1.refresh_from_db()
        assert membre_a1.telephone == "0565000000"


# --- Clôturer, rouvrir ---------------------------------------------------------------------------


class TestCloturer:
    def test_aujourd_hui(self, client, admin_connecte, convention, arbre, membre_a1):
        page = texte(client.get(url("utilisateur_cloturer", convention, membre_a1.pk)))
        assert f'name="date_cloture" value="{aujourdhui().isoformat()}"' in page
        assert "Je confirme la clôture du compte" in page
        reponse = client.post(
            url("utilisateur_cloturer", convention, membre_a1.pk),
            {"date_cloture": aujourdhui().isoformat(), "confirmation": "on"},
            follow=True,
        )
        membre_a1.refresh_from_db()
        assert membre_a1.date_cloture == aujourdhui()
        assert not membre_a1.est_ouvert()
        assert f"Le compte {membre_a1.identifiant} (Chloé CAYROL) est clôturé ce jour." in texte(reponse)
        assert "Désactivé" in ligne(reponse, membre_a1)

    def test_date_future(self, client, admin_connecte, convention, arbre, membre_a1):
        reponse = client.post(
            url("utilisateur_cloturer", convention, membre_a1.pk),
            {"date_cloture": jour(15).isoformat(), "confirmation": "on"},
            follow=True,
        )
        membre_a1.refresh_from_db()
        assert membre_a1.date_cloture == jour(15)
        assert membre_a1.est_ouvert()
        assert f"sera clôturé le {jour(15):%d/%m/%Y}." in texte(reponse)

    def test_sans_confirmation_rien_ne_change(self, client, admin_connecte, convention, arbre, membre_a1):
        avant = etat_de_la_base()
        reponse = client.post(
            url("utilisateur_cloturer", convention, membre_a1.pk), {"date_cloture": aujourdhui().isoformat()}
        )
        assert "Cochez la case pour confirmer la clôture." in erreur_sous(reponse, "confirmation")
        assert etat_de_la_base() == avant

    def test_date_passee_refusee(self, client, admin_connecte, convention, arbre, membre_a1):
        avant = etat_de_la_base()
        reponse = client.post(
            url("utilisateur_cloturer", convention, membre_a1.pk),
            {"date_cloture": jour(-1).isoformat(), "confirmation": "on"},
        )
        assert "La date de clôture ne peut pas être passée." in erreur_sous(reponse, "date_cloture")
        assert etat_de_la_base() == avant

    def test_administrateur_sans_successeur_refus_affiche(self, client, admin_connecte, administrateur, convention):
        avant = etat_de_la_base()
        reponse = client.post(
            url("utilisateur_cloturer", convention, administrateur.pk),
            {"date_cloture": aujourdhui().isoformat(), "confirmation": "on"},
        )
        assert reponse.status_code == 200
        page = texte(reponse)
        assert re.search(r'<div class="fr-alert fr-alert--error[^"]*">\s*<p>[^<]*est l\'administrateur', page)
        # Le résumé des erreurs, en tête de page, l'annonce et le titre le dit.
        assert re.search(
            r'id="resume-erreurs"[^>]*>\s*<h2[^>]*>[^<]*</h2>\s*<ul>\s*<li>[^<]*est l\'administrateur', page
        )
        assert "<title>Erreur : " in page
        assert "une convention a toujours un administrateur" in page
        assert etat_de_la_base() == avant

    def test_deja_cloture(self, client, admin_connecte, convention, arbre, membre_a1):
        services.utilisateur_cloturer(par=None, utilisateur=membre_a1, date_cloture=aujourdhui())
        page = texte(client.get(url("utilisateur_cloturer", convention, membre_a1.pk)))
        assert f"Ce compte est déjà clôturé depuis le {aujourdhui():%d/%m/%Y}." in page
        avant = etat_de_la_base()
        client.post(
            url("utilisateur_cloturer", convention, membre_a1.pk),
            {"date_cloture": jour(3).isoformat(), "confirmation": "on"},
        )
        assert etat_de_la_base() == avant


class TestRouvrir:
    def test_page_de_confirmation_puis_reouverture(self, client, admin_connecte, convention, arbre, membre_a1):
        services.utilisateur_cloturer(par=None, utilisateur=membre_a1, date_cloture=aujourdhui())
        page = texte(client.get(url("utilisateur_rouvrir", convention, membre_a1.pk)))
        assert f"Ce compte est clôturé depuis le {aujourdhui():%d/%m/%Y}." in page
        assert "Rouvrir le compte" in page
        membre_a1.refresh_from_db()
        assert membre_a1.date_cloture == aujourdhui()  # un GET ne change rien
        reponse = client.post(url("utilisateur_rouvrir", convention, membre_a1.pk), follow=True)
        membre_a1.refresh_from_db()
        assert membre_a1.date_cloture is None
        assert membre_a1.est_ouvert()
        assert f"Le compte {membre_a1.identifiant} (Chloé CAYROL) est rouvert" in texte(reponse)
        assert membre_a1.email in ligne(reponse, membre_a1)

    def test_compte_suspendu(self, client, admin_connecte, convention, arbre, membre_a1):
        Utilisateur.objects.filter(pk=membre_a1.pk).update(suspendu_le=timezone.now())
        assert "Ce compte est suspendu depuis le" in texte(
            client.get(url("utilisateur_rouvrir", convention, membre_a1.pk))
        )
        client.post(url("utilisateur_rouvrir", convention, membre_a1.pk))
        membre_a1.refresh_from_db()
        assert membre_a1.suspendu_le is None
        assert membre_a1.reouvert_le is not None

    def test_compte_deja_ouvert(self, client, admin_connecte, convention, arbre, membre_a1):
        assert "il n'y a rien à rouvrir" in texte(client.get(url("utilisateur_rouvrir", convention, membre_a1.pk)))
        avant = etat_de_la_base()
        reponse = client.post(url("utilisateur_rouvrir", convention, membre_a1.pk))
        assert "Ce compte est déjà ouvert." in texte(reponse)
        assert etat_de_la_base() == avant

    def test_adresse_reprise_entre_temps(self, client, admin_connecte, convention, arbre, membre_a1):
        services.utilisateur_cloturer(par=None, utilisateur=membre_a1, date_cloture=aujourdhui())
        factories.creer_utilisateur(nom="Nouveau", email=membre_a1.email, convention=convention)
        avant = etat_de_la_base()
        reponse = client.post(url("utilisateur_rouvrir", convention, membre_a1.pk))
        assert "Cette adresse mail est déjà celle d'un utilisateur ouvert" in texte(reponse)
        assert etat_de_la_base() == avant


# --- Renvoi de l'identifiant ---------------------------------------------------------------------


class TestRenvoyerIdentifiant:
    def test_compte_jamais_connecte_recoit_aussi_un_mot_de_passe(
        self, client, admin_connecte, convention, arbre, membre_a1
    ):
        Courriel.objects.all().delete()
        liste = url("utilisateurs", convention) + "?nom=cay"
        reponse = client.post(url("identifiant_renvoyer", convention, membre_a1.pk), {"suivant": liste}, follow=True)
        assert reponse.redirect_chain[-1][0] == liste
        assert sorted(Courriel.objects.filter(destinataire=membre_a1.email).values_list("modele", flat=True)) == [
            "identifiant",
            "mot_de_passe_provisoire",
        ]
        assert f"L'identifiant {membre_a1.identifiant} est renvoyé par courriel à {membre_a1.email}" in texte(reponse)

    def test_compte_deja_utilise_recoit_son_identifiant(self, client, admin_connecte, convention, arbre, membre_a1):
        Utilisateur.objects.filter(pk=membre_a1.pk).update(last_login=timezone.now())
        Courriel.objects.all().delete()
        client.post(url("identifiant_renvoyer", convention, membre_a1.pk))
        assert list(Courriel.objects.values_list("modele", flat=True)) == ["identifiant"]

    def test_compte_clos_refuse(self, client, admin_connecte, convention, arbre, membre_a1):
        services.utilisateur_cloturer(par=None, utilisateur=membre_a1, date_cloture=aujourdhui())
        avant = etat_de_la_base()
        reponse = client.post(url("identifiant_renvoyer", convention, membre_a1.pk), follow=True)
        assert "Ce compte n'est pas ouvert : rouvrez-le d'abord." in texte(reponse)
        assert etat_de_la_base() == avant

    def test_adresse_de_retour_exterieure_ignoree(self, client, admin_connecte, convention, arbre, membre_a1):
        reponse = client.post(
            url("identifiant_renvoyer", convention, membre_a1.pk), {"suivant": "https://ailleurs.example/piege"}
        )
        assert reponse.url == url("utilisateurs", convention)


# --- Détail ---------------------------------------------------------------------------------------


class TestDetail:
    def test_identite_appartenances_profils_connexion(self, client, admin_connecte, convention, arbre, membre_a1):
        services.appartenance_ouvrir(par=None, utilisateur=membre_a1, groupe=arbre["B"], date_ouverture=jour(5))
        page = texte(client.get(url("utilisateur", convention, membre_a1.pk)))
        assert "Détail de l'utilisateur" in page
        assert membre_a1.identifiant in page and membre_a1.email in page
        assert "Jamais connecté" in page
        assert "A1 — Groupe A1" in page and "B — Groupe B" in page
        assert f"{jour(5):%d/%m/%Y}" in page
        # Aujourd'hui, seul A1 est effectif (B ouvre dans 5 jours).
        profils = re.search(r"Profils effectifs aujourd'hui</th>\s*<td>(.*?)</td>", page, re.S).group(1)
        assert "CDAP T1" in profils
        assert "AFAS" not in profils

    def test_derniere_connexion(self, client, admin_connecte, convention, arbre, membre_a1):
        moment = timezone.now() - datetime.timedelta(days=2)
        Utilisateur.objects.filter(pk=membre_a1.pk).update(last_login=moment)
        page = texte(client.get(url("utilisateur", convention, membre_a1.pk)))
        assert f"{timezone.localtime(moment):%d/%m/%Y à %Hh%M}" in page

    def test_le_responsable_ne_voit_que_les_appartenances_de_son_perimetre(
        self, client, convention, resp_a1, arbre, membre_a1
    ):
        services.appartenance_ouvrir(par=None, utilisateur=membre_a1, groupe=arbre["B"])
        connecter_verifie(client, resp_a1)
        page = texte(client.get(url("utilisateur", convention, membre_a1.pk)))
        assert "A1 — Groupe A1" in page
        assert "B — Groupe B" not in page
