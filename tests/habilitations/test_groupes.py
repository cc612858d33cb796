"""« Groupes utilisateurs » d'une convention : la liste (l'arbre), créer un groupe, les
habilitations du groupe, ajouter un utilisateur au groupe, les membres du groupe.

Autorisations (matrice de l'issue) : anonyme renvoyé à la connexion ; administrateur d'un autre
partenaire ou d'une autre convention, responsable hors de son sous-arbre, simple utilisateur :
404 sans rien révéler ni changer ; l'agent de la Caf pivot et la supervision lisent (403 sur
les pages et envois d'écriture).
"""

import datetime
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from conventions.models import Profil
from habilitations import services
from habilitations.models import Appartenance, Groupe, GroupeProfil, Utilisateur
from portail.models import Courriel
from portail.socle.dates import aujourdhui
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db

CONNEXION = reverse("habilitations:connexion")
PAGES_GROUPE = ("groupe_habilitations", "groupe_ajouter_utilisateur", "groupe_appartenances")
# Pages de lecture seule : un POST y répond 405 avant toute recherche, quel que soit le compte et
# que la convention existe ou non ; il ne révèle donc rien.
LECTURE = ("groupes", "groupe_appartenances")


def refus_attendu(nom: str, methode: str) -> int:
    return 405 if methode == "post" and nom in LECTURE else 404


def adresse(nom: str, convention, groupe=None) -> str:
    args = [convention.pk] if groupe is None else [convention.pk, groupe.pk]
    return reverse(f"gestion:{nom}", args=args)


def messages_de(reponse) -> list[str]:
    return [str(m) for m in get_messages(reponse.wsgi_request)]


def jour(n: int = 0) -> str:
    return (aujourdhui() + datetime.timedelta(days=n)).isoformat()


def profil(code: str) -> Profil:
    return Profil.objects.get(code=code)


def codes_affiches(reponse) -> list[str]:
    """Les codes des groupes du tableau, dans l'ordre affiché (première colonne)."""
    assert reponse.status_code == 200
    return re.findall(r"<tr>\s*<td[^>]*>(?:<span[^>]*>└ </span>)?([^<]*)</td>", texte(reponse))


def profils_de(groupe: Groupe) -> set[str]:
    return set(groupe.profils.values_list("code", flat=True))


def etat() -> tuple:
    """Tout ce que ces pages peuvent changer : rien ne doit bouger après un refus."""
    return (
        sorted(Groupe.objects.values_list("code", "niveau", "date_cloture")),
        sorted(GroupeProfil.objects.values_list("groupe__code", "profil__code")),
        sorted(Appartenance.objects.values_list("utilisateur_id", "groupe_id", "date_ouverture", "date_cloture")),
        Utilisateur.objects.count(),
        Courriel.objects.count(),
    )


def donnees_creer(**surcharges) -> dict:
    donnees = {
        "code": "T1",
        "libelle": "CDAP T1",
        "date_ouverture": jour(),
        "date_cloture": "",
        "parent": "",
        "choix_responsable": "existant",
        "responsable": "",
        "nom": "",
        "prenom": "",
        "email": "",
        "email_confirmation": "",
        "telephone": "",
    }
    donnees.update(surcharges)
    return donnees


@pytest.fixture
def admin(client, administrateur, arbre):
    connecter_verifie(client, administrateur)
    return administrateur


# --- Autorisations --------------------------------------------------------------------------


def _envois(arbre, cible: Groupe, membre: Utilisateur) -> list[tuple[str, Groupe | None, dict]]:
    """Un envoi légitime en apparence pour chaque adresse (un refus ne doit rien en faire)."""
    return [
        ("groupes", None, {}),
        (
            "groupe_creer",
            None,
            donnees_creer(
                code="PIRATE",
                parent=cible.pk,
                choix_responsable="nouveau",
                nom="Pirate",
                prenom="Paul",
                email="pirate@exemple.test",
                email_confirmation="pirate@exemple.test",
            ),
        ),
        ("groupe_habilitations", cible, {"action": "enregistrer", "profil": profil("AFAS-DECLARER").pk}),
        ("groupe_habilitations", cible, {"action": "retirer", "profil": profil("CDAP-T1").pk, "confirmation": "on"}),
        ("groupe_ajouter_utilisateur", cible, {"utilisateur": membre.identifiant, "date_ouverture": jour()}),
        ("groupe_appartenances", cible, {}),
    ]


class TestAutorisations:
    @pytest.mark.parametrize("methode", ["get", "post"])
    def test_anonyme_renvoye_a_la_connexion(self, client, convention, arbre, membre_b, methode):
        avant = etat()
        for nom, groupe, donnees in _envois(arbre, arbre["A1"], membre_b):
            reponse = getattr(client, methode)(adresse(nom, convention, groupe), donnees)
            assert reponse.status_code == 302, nom
            assert reponse.url.startswith(CONNEXION)
        assert etat() == avant

    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize(
        "persona",
        ["admin_autre_partenaire", "admin_autre_convention", "declarant", "membre_a1", "agent_autre_caf", "exterieur"],
    )
    def test_hors_perimetre_404_sans_rien_reveler(self, client, request, convention, arbre, membre_b, persona, methode):
        connecter_verifie(client, request.getfixturevalue(persona))
        avant = etat()
        for nom, groupe, donnees in _envois(arbre, arbre["A1"], membre_b):
            reponse = getattr(client, methode)(adresse(nom, convention, groupe), donnees)
            assert reponse.status_code == refus_attendu(nom, methode), nom
            page = texte(reponse)
            assert convention.libelle not in page
            assert "Groupe A1" not in page
        assert etat() == avant

    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize(
        ("persona", "cible"),
        [("resp_b", "A"), ("resp_b", "A1"), ("resp_a1", "A")],
        ids=["b-sur-A", "b-sur-A1", "a1-sur-A"],
    )
    def test_responsable_hors_de_son_sous_arbre_404(
        self, client, request, convention, arbre, membre_a1, persona, cible, methode
    ):
        connecter_verifie(client, request.getfixturevalue(persona))
        groupe = arbre[cible]
        avant = etat()
        for nom, g, donnees in _envois(arbre, groupe, membre_a1):
            if g is None:
                continue
            reponse = getattr(client, methode)(adresse(nom, convention, g), donnees)
            assert reponse.status_code == refus_attendu(nom, methode), nom
            assert f"Groupe {cible}" not in texte(reponse)
        assert etat() == avant

    def test_responsable_ne_voit_pas_les_groupes_hors_de_son_sous_arbre(self, client, convention, resp_b, arbre):
        connecter_verifie(client, resp_b)
        assert codes_affiches(client.get(adresse("groupes", convention))) == ["B"]

    def test_responsable_ne_cree_pas_sous_un_groupe_hors_de_son_sous_arbre(
        self, client, convention, resp_a1, arbre, membre_a1
    ):
        connecter_verifie(client, resp_a1)
        avant = etat()
        reponse = client.post(
            adresse("groupe_creer", convention),
            donnees_creer(parent=arbre["A"].pk, responsable=membre_a1.identifiant),
        )
        assert reponse.status_code == 200
        assert "Choisissez un des groupes proposés." in texte(reponse)
        assert etat() == avant

    @pytest.mark.parametrize("persona", ["agent_caf", "superviseur"])
    def test_lecture_seule_lit_sans_bouton_d_ecriture(self, client, request, convention, arbre, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        liste = texte(client.get(adresse("groupes", convention)))
        assert "Consultation seulement" in liste
        assert "Créer un groupe" not in liste
        assert "Ajouter l'utilisateur au groupe" not in liste
        assert "Habilitations du groupe" in liste
        habilitations = client.get(adresse("groupe_habilitations", convention, arbre["A"]))
        assert habilitations.status_code == 200
        assert "Retirer" not in texte(habilitations)
        assert "Assigner rôle" not in texte(habilitations)
        membres = client.get(adresse("groupe_appartenances", convention, arbre["A1"]))
        assert membres.status_code == 200
        assert "Modifier" not in texte(membres)

    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize("persona", ["agent_caf", "superviseur"])
    def test_lecture_seule_ecriture_refusee_en_403(
        self, client, request, convention, arbre, membre_b, persona, methode
    ):
        connecter_verifie(client, request.getfixturevalue(persona))
        avant = etat()
        for nom, groupe, donnees in _envois(arbre, arbre["A1"], membre_b):
            reponse = getattr(client, methode)(adresse(nom, convention, groupe), donnees)
            if methode == "get" and nom in ("groupes", "groupe_habilitations", "groupe_appartenances"):
                assert reponse.status_code == 200, nom
            elif methode == "post" and nom in LECTURE:
                assert reponse.status_code == 405, nom
            else:
                assert reponse.status_code == 403, nom
        assert etat() == avant

    @pytest.mark.parametrize("nom", ["groupes", "groupe_creer", *PAGES_GROUPE])
    def test_administrateur(self, client, admin, convention, arbre, nom):
        groupe = arbre["B"] if nom in PAGES_GROUPE else None
        reponse = client.get(adresse(nom, convention, groupe))
        assert reponse.status_code == 200
        assert "Convention sélectionnée :" in texte(reponse)

    @pytest.mark.parametrize("cible", ["A", "A1"])
    @pytest.mark.parametrize("nom", PAGES_GROUPE)
    def test_responsable_dans_son_sous_arbre(self, client, convention, resp_a, arbre, nom, cible):
        connecter_verifie(client, resp_a)
        assert client.get(adresse(nom, convention, arbre[cible])).status_code == 200

    def test_groupe_d_une_autre_convention_en_404(self, client, admin, convention, autre_convention_meme_partenaire):
        autre = autre_convention_meme_partenaire
        groupe = services.groupe_creer(
            par=None, convention=autre, code="AUTRE", libelle="Autre", responsable=autre.mandats.get().administrateur
        )
        for nom in PAGES_GROUPE:
            assert client.get(adresse(nom, convention, groupe)).status_code == 404


# --- Groupes utilisateurs -------------------------------------------------------------------


class TestListe:
    def test_colonnes_arbre_et_menu_choisir(self, client, admin, convention, arbre):
        reponse = client.get(adresse("groupes", convention))
        page = texte(reponse)
        assert "Groupes utilisateurs" in page
        assert "Filtrer groupe par :" in page
        assert f"Convention sélectionnée : {convention.libelle}" in re.sub(r"<[^>]+>", "", page)
        for colonne in ("Code", "Libellé", "Niveau", "Responsable habilitations", "Date d'ouverture"):
            assert colonne in page
        for colonne in ("Date de clôture", "Statut", "Autres actions"):
            assert colonne in page
        # L'arbre : chaque groupe suivi de ses sous-groupes, en retrait.
        assert codes_affiches(reponse) == ["A", "A1", "B"]
        ligne_a1 = re.search(r"<tr>\s*<td[^>]*>(?:(?!</tr>).)*A1</td>.*?</tr>", page, re.S).group(0)
        assert "fr-pl-2w" in ligne_a1
        assert "Sous-groupe de A" in ligne_a1
        assert "Alain AUBIN" in ligne_a1
        assert f"{convention.date_ouverture:%d/%m/%Y}" in ligne_a1
        assert "Ouvert" in ligne_a1
        assert re.search(r'<details class="portail-choisir">\s*<summary[^>]*>Choisir…', page)
        for nom in PAGES_GROUPE:
            assert adresse(nom, convention, arbre["A1"]) in page
        assert "Gérer l'appartenance" in page
        assert adresse("groupe_creer", convention) in page

    def test_groupe_clos_affiche_cloture(self, client, admin, convention, arbre):
        Groupe.objects.filter(pk=arbre["B"].pk).update(date_cloture=aujourdhui())
        page = texte(client.get(adresse("groupes", convention)))
        ligne_b = re.search(r"<tr>\s*<td[^>]*>B</td>.*?</tr>", page, re.S).group(0)
        assert "Clôturé" in ligne_b
        assert f"{aujourdhui():%d/%m/%Y}" in ligne_b

    def test_responsable_voit_son_groupe_et_ses_sous_groupes(self, client, convention, resp_a, arbre):
        connecter_verifie(client, resp_a)
        page = texte(client.get(adresse("groupes", convention)))
        assert codes_affiches(client.get(adresse("groupes", convention))) == ["A", "A1"]
        assert "Créer un groupe" in page
        assert "vos groupes et leurs sous-groupes" in page

    def test_filtres_code_et_libelle(self, client, admin, convention, arbre):
        assert codes_affiches(client.get(adresse("groupes", convention), {"code": "a1"})) == ["A1"]
        assert codes_affiches(client.get(adresse("groupes", convention), {"libelle": "groupe b"})) == ["B"]

    def test_filtre_utilisateur_par_identifiant_ou_nom_d_un_membre(
        self, client, admin, convention, arbre, membre_a1, membre_b
    ):
        assert codes_affiches(client.get(adresse("groupes", convention), {"utilisateur": "delpech"})) == ["B"]
        assert codes_affiches(
            client.get(adresse("groupes", convention), {"utilisateur": membre_a1.identifiant.lower()})
        ) == ["A1"]
        reponse = client.get(adresse("groupes", convention), {"utilisateur": "personne"})
        assert codes_affiches(reponse) == []
        assert "Aucun résultat ne correspond à ces filtres." in texte(reponse)

    def test_filtre_utilisateur_ignore_les_appartenances_closes(self, client, admin, convention, arbre, membre_b):
        Appartenance.objects.filter(utilisateur=membre_b).update(date_cloture=aujourdhui())
        assert codes_affiches(client.get(adresse("groupes", convention), {"utilisateur": "delpech"})) == []

    def test_responsable_ne_retrouve_pas_un_groupe_par_un_administrateur(
        self, client, convention, administrateur, resp_a, arbre
    ):
        services.appartenance_ouvrir(par=None, utilisateur=administrateur, groupe=arbre["A1"])
        connecter_verifie(client, resp_a)
        assert codes_affiches(client.get(adresse("groupes", convention), {"utilisateur": "castan"})) == []

    def test_tri_par_en_tete_sans_retrait(self, client, admin, convention, arbre):
        reponse = client.get(adresse("groupes", convention), {"tri": "-code"})
        assert codes_affiches(reponse) == ["B", "A1", "A"]
        assert "fr-pl-2w" not in texte(reponse)
        assert "Sous-groupe de A" in texte(reponse)
        assert codes_affiches(client.get(adresse("groupes", convention), {"tri": "niveau"}))[-1] == "A1"
        # Hors liste blanche : l'ordre de l'arbre.
        assert codes_affiches(client.get(adresse("groupes", convention), {"tri": "chemin"})) == ["A", "A1", "B"]

    def test_pagination_garde_les_filtres(self, client, admin, convention, resp_a, arbre):
        for n in range(30):
            services.groupe_creer(
                par=None, convention=convention, code=f"P{n:02d}", libelle="Pagination", responsable=resp_a
            )
        premiere = client.get(adresse("groupes", convention), {"libelle": "pagination", "tri": "code"})
        assert codes_affiches(premiere) == [f"P{n:02d}" for n in range(25)]
        assert "30 groupes — page 1 sur 2" in texte(premiere)
        assert "?libelle=pagination&tri=code&page=2" in texte(premiere)
        seconde = client.get(adresse("groupes", convention), {"libelle": "pagination", "tri": "code", "page": 2})
        assert codes_affiches(seconde) == [f"P{n:02d}" for n in range(25, 30)]

    def test_aucun_groupe(self, client, administrateur, convention):
        connecter_verifie(client, administrateur)
        page = texte(client.get(adresse("groupes", convention)))
        assert "Aucun groupe pour l'instant." in page
        assert "Créer un groupe" in page


# --- Créer un groupe ------------------------------------------------------------------------


class TestCreer:
    def test_formulaire_comme_dans_les_guides(self, client, admin, convention, arbre, membre_b):
        page = texte(client.get(adresse("groupe_creer", convention)))
        assert "Créer un groupe utilisateurs" in page
        for libelle in ("Code", "Libellé", "Date d'ouverture", "Date de clôture", "Responsable habilitations"):
            assert libelle in page
        assert "Sous-groupe de" in page
        assert f'value="{aujourdhui().isoformat()}"' in page
        assert 'type="date"' in page
        assert membre_b.identifiant in page
        assert "Aucun : groupe de niveau 1" in page

    def test_avec_un_responsable_existant(self, client, admin, convention, arbre, membre_b):
        reponse = client.post(
            adresse("groupe_creer", convention),
            donnees_creer(code="t1", responsable=membre_b.identifiant, date_cloture=jour(400)),
        )
        groupe = Groupe.objects.get(convention=convention, code="T1")
        assert reponse.status_code == 302
        assert reponse.url == adresse("groupe_habilitations", convention, groupe)
        assert groupe.niveau == 1 and groupe.parent is None
        assert groupe.responsable == membre_b
        assert groupe.date_cloture == aujourdhui() + datetime.timedelta(days=400)
        message = messages_de(reponse)[0]
        assert "Le groupe « T1 — CDAP T1 » est créé (niveau 1)." in message
        assert membre_b.identifiant in message
        # Un responsable existant n'est pas ajouté d'office au groupe.
        assert not groupe.appartenances.exists()

    def test_sous_groupe_niveau_du_parent_plus_un(self, client, admin, convention, arbre, membre_b):
        reponse = client.post(
            adresse("groupe_creer", convention),
            donnees_creer(code="A11", parent=arbre["A1"].pk, responsable=membre_b.identifiant),
        )
        groupe = Groupe.objects.get(code="A11")
        assert groupe.niveau == 3
        assert groupe.chemin.startswith(arbre["A1"].chemin)
        assert "sous-groupe de A1, niveau 3" in messages_de(reponse)[0]
        page = texte(client.get(reponse.url))
        assert "niveau 3, sous-groupe de A1" in page

    def test_code_deja_pris_message_sous_le_code(self, client, admin, convention, arbre, membre_b):
        avant = etat()
        reponse = client.post(
            adresse("groupe_creer", convention), donnees_creer(code="a1", responsable=membre_b.identifiant)
        )
        page = texte(reponse)
        assert reponse.status_code == 200
        assert re.search(r'id="id_code-desc-error">.*déjà celui d\'un groupe de cette convention', page, re.S)
        assert etat() == avant

    def test_champs_obligatoires(self, client, admin, convention, arbre):
        reponse = client.post(
            adresse("groupe_creer", convention), donnees_creer(code="", libelle="", date_ouverture="")
        )
        page = texte(reponse)
        assert page.count("Ce champ est obligatoire.") >= 3
        assert "Choisissez le responsable habilitations du groupe." in page
        assert not Groupe.objects.filter(libelle="").exists()

    def test_dates(self, client, admin, convention, arbre, membre_b):
        avant = etat()
        passee = client.post(
            adresse("groupe_creer", convention),
            donnees_creer(responsable=membre_b.identifiant, date_ouverture=jour(-1)),
        )
        assert "La date d'ouverture ne peut pas être passée." in texte(passee)
        inversees = client.post(
            adresse("groupe_creer", convention),
            donnees_creer(responsable=membre_b.identifiant, date_ouverture=jour(5), date_cloture=jour(5)),
        )
        assert "La date de clôture doit être postérieure à la date d'ouverture." in texte(inversees)
        assert etat() == avant

    def test_responsable_hors_convention_ou_clos_refuse(
        self, client, admin, convention, arbre, admin_autre_convention, membre_b
    ):
        avant = etat()
        Utilisateur.objects.filter(pk=membre_b.pk).update(date_cloture=aujourdhui())
        for compte in (admin_autre_convention, membre_b):
            reponse = client.post(adresse("groupe_creer", convention), donnees_creer(responsable=compte.identifiant))
            assert "Choisissez un compte ouvert de votre périmètre." in texte(reponse)
        assert etat() == avant

    def test_au_dela_du_seuil_l_identifiant_se_saisit(self, client, admin, convention, arbre, membre_b, monkeypatch):
        monkeypatch.setattr("habilitations.administration.groupes.forms.SEUIL_LISTE_COMPTES", 2)
        page = texte(client.get(adresse("groupe_creer", convention)))
        assert '<input type="text" name="responsable"' in page
        assert membre_b.identifiant not in page
        client.post(
            adresse("groupe_creer", convention),
            donnees_creer(code="SAISI", responsable=f" {membre_b.identifiant.lower()} "),
        )
        assert Groupe.objects.get(code="SAISI").responsable == membre_b

    def test_nouveau_responsable_champs_requis_et_confirmation(self, client, admin, convention, arbre):
        avant = etat()
        reponse = client.post(
            adresse("groupe_creer", convention),
            donnees_creer(
                choix_responsable="nouveau",
                nom="Lagare",
                email="x.lagare@partenaires.test",
                email_confirmation="x.lagarre@partenaires.test",
                telephone="12",
            ),
        )
        page = texte(reponse)
        assert "Ce champ est obligatoire pour créer le responsable." in page  # prénom
        assert "Les deux adresses mail ne sont pas identiques." in page
        assert "n'est pas valide : 10 chiffres" in page
        assert etat() == avant

    def test_nouveau_responsable_adresse_deja_prise_sous_le_champ(self, client, admin, convention, arbre, membre_b):
        avant = etat()
        reponse = client.post(
            adresse("groupe_creer", convention),
            donnees_creer(
                choix_responsable="nouveau",
                nom="Lagare",
                prenom="Xavier",
                email=membre_b.email.upper(),
                email_confirmation=membre_b.email,
            ),
        )
        assert re.search(r'id="id_email-desc-error">.*déjà celle d\'un utilisateur ouvert', texte(reponse), re.S)
        assert etat() == avant


# --- Habilitations du groupe ----------------------------------------------------------------


class TestHabilitations:
    def test_liste_les_profils_du_groupe(self, client, admin, convention, arbre):
        page = texte(client.get(adresse("groupe_habilitations", convention, arbre["A"])))
        assert "Habilitations du groupe" in page
        assert re.search(r"<td[^>]*>Consulter dossier</td>\s*<td[^>]*>CDAP T1</td>", page, re.I)
        assert "AFAS-DECLARER" in page
        assert f"?retirer={profil('CDAP-T1').pk}" in page

    def test_ne_propose_que_les_profils_accordes_et_pas_deja_detenus(self, client, admin, convention, arbre):
        page = texte(client.get(adresse("groupe_habilitations", convention, arbre["A"])))
        options = re.findall(r'<option value="(\d+)">', page)
        assert options == [str(profil("AFAS-HABILITER").pk)]
        assert re.search(r'<optgroup label="[^"]+">\s*<option value="\d+">AFAS-HABILITER</option>', page)
        # Un sous-groupe : seulement ce que son parent détient.
        page_a1 = texte(client.get(adresse("groupe_habilitations", convention, arbre["A1"])))
        assert re.findall(r'<option value="(\d+)">', page_a1) == [str(profil("AFAS-DECLARER").pk)]
        assert "que le groupe parent A détient" in page_a1

    def test_assigner_puis_enregistrer(self, client, admin, convention, arbre):
        url = adresse("groupe_habilitations", convention, arbre["B"])
        assigne = client.post(url, {"action": "assigner", "profil": profil("CDAP-T1").pk})
        page = texte(assigne)
        assert assigne.status_code == 200
        assert f'<input type="hidden" name="a_enregistrer" value="{profil("CDAP-T1").pk}">' in page
        assert re.search(r"Rôles assignés, à enregistrer</p>\s*<ul[^>]*>\s*<li>[^<]*CDAP T1</li>", page)
        assert profils_de(arbre["B"]) == {"AFAS-DECLARER"}  # rien d'enregistré encore
        enregistre = client.post(
            url,
            {"action": "enregistrer", "a_enregistrer": [profil("CDAP-T1").pk], "profil": profil("AFAS-HABILITER").pk},
        )
        assert enregistre.status_code == 302
        assert profils_de(arbre["B"]) == {"AFAS-DECLARER", "CDAP-T1", "AFAS-HABILITER"}
        assert "Habilitations enregistrées pour le groupe B" in messages_de(enregistre)[0]

    def test_enregistrer_sans_rien_assigner(self, client, admin, convention, arbre):
        reponse = client.post(adresse("groupe_habilitations", convention, arbre["B"]), {"action": "enregistrer"})
        assert "Choisissez un profil et cliquez sur « Assigner rôle »." in texte(reponse)

    def test_profil_non_propose_envoye_a_la_main_refuse(self, client, admin, convention, arbre):
        avant = etat()
        url = adresse("groupe_habilitations", convention, arbre["A1"])
        # Ni par le choix, ni par les champs cachés ; ni un profil déjà détenu.
        for donnees in (
            {"action": "enregistrer", "profil": profil("AFAS-HABILITER").pk},
            {"action": "enregistrer", "a_enregistrer": [profil("AFAS-HABILITER").pk]},
            {"action": "enregistrer", "profil": profil("CDAP-T1").pk},
        ):
            reponse = client.post(url, donnees)
            assert reponse.status_code == 200
            assert "ne peut pas être donné à ce groupe" in texte(reponse)
        assert etat() == avant

    def test_profil_que_la_convention_n_accorde_pas_refuse(self, client, admin, convention, arbre):
        avant = etat()
        hors = Profil.objects.exclude(code__in=["CDAP-T1", "AFAS-HABILITER", "AFAS-DECLARER"]).first()
        reponse = client.post(
            adresse("groupe_habilitations", convention, arbre["B"]), {"action": "enregistrer", "profil": hors.pk}
        )
        assert "ne peut pas être donné à ce groupe" in texte(reponse)
        assert etat() == avant

    def test_retirer_demande_confirmation(self, client, admin, convention, arbre):
        url = adresse("groupe_habilitations", convention, arbre["A"])
        page = texte(client.get(url, {"retirer": profil("CDAP-T1").pk}))
        assert "Retirer le profil « CDAP T1 »" in page
        assert "aussi retiré de ses sous-groupes : A1" in page
        avant = etat()
        sans = client.post(url, {"action": "retirer", "profil": profil("CDAP-T1").pk})
        assert "Cochez la case pour confirmer le retrait." in texte(sans)
        assert etat() == avant

    def test_retirer_un_profil_que_le_groupe_n_a_pas(self, client, admin, convention, arbre):
        avant = etat()
        reponse = client.post(
            adresse("groupe_habilitations", convention, arbre["B"]),
            {"action": "retirer", "profil": profil("CDAP-T1").pk, "confirmation": "on"},
        )
        assert "Le groupe n'a pas ce profil." in texte(reponse)
        assert etat() == avant

    def test_retirer_sans_sous_groupe(self, client, admin, convention, arbre):
        reponse = client.post(
            adresse("groupe_habilitations", convention, arbre["B"]),
            {"action": "retirer", "profil": profil("AFAS-DECLARER").pk, "confirmation": "on"},
        )
        assert reponse.status_code == 302
        assert messages_de(reponse) == ["Le profil « AFAS-DECLARER » est retiré du groupe B."]
        assert profils_de(arbre["B"]) == set()

    def test_responsable_ne_modifie_pas_les_profils_de_son_propre_groupe(self, client, convention, resp_a, arbre):
        connecter_verifie(client, resp_a)
        url = adresse("groupe_habilitations", convention, arbre["A"])
        page = texte(client.get(url))
        assert "Les habilitations de votre groupe sont données par l'administrateur" in page
        assert "Assigner rôle" not in page
        assert "?retirer=" not in page
        avant = etat()
        for donnees in (
            {"action": "enregistrer", "profil": profil("AFAS-HABILITER").pk},
            {"action": "retirer", "profil": profil("CDAP-T1").pk, "confirmation": "on"},
        ):
            assert client.post(url, donnees).status_code == 403
        assert etat() == avant


# --- Ajouter l'utilisateur au groupe --------------------------------------------------------


class TestAjouterUtilisateur:
    def test_formulaire(self, client, admin, convention, arbre, membre_b):
        page = texte(client.get(adresse("groupe_ajouter_utilisateur", convention, arbre["A"])))
        assert "Ajouter un utilisateur au groupe" in page
        assert "A — Groupe A" in page
        assert membre_b.identifiant in page
        assert f'value="{aujourdhui().isoformat()}"' in page

    def test_ajoute_des_aujourd_hui(self, client, admin, convention, arbre, membre_b):
        reponse = client.post(
            adresse("groupe_ajouter_utilisateur", convention, arbre["A"]),
            {"utilisateur": membre_b.identifiant, "date_ouverture": jour(), "date_cloture": jour(30)},
        )
        assert reponse.status_code == 302
        assert reponse.url == adresse("groupe_appartenances", convention, arbre["A"])
        appartenance = Appartenance.objects.get(utilisateur=membre_b, groupe=arbre["A"])
        assert appartenance.date_cloture == aujourdhui() + datetime.timedelta(days=30)
        assert "est membre du groupe A dès aujourd'hui" in messages_de(reponse)[0]

    def test_date_future(self, client, admin, convention, arbre, membre_b):
        reponse = client.post(
            adresse("groupe_ajouter_utilisateur", convention, arbre["A"]),
            {"utilisateur": membre_b.identifiant, "date_ouverture": jour(3)},
        )
        assert f"à partir du {aujourdhui() + datetime.timedelta(days=3):%d/%m/%Y}" in messages_de(reponse)[0]

    def test_deja_membre_message_sous_l_utilisateur(self, client, admin, convention, arbre, membre_a1):
        avant = etat()
        reponse = client.post(
            adresse("groupe_ajouter_utilisateur", convention, arbre["A1"]),
            {"utilisateur": membre_a1.identifiant, "date_ouverture": jour()},
        )
        assert re.search(r'id="id_utilisateur-desc-error">.*appartient déjà à ce groupe', texte(reponse), re.S)
        assert etat() == avant

    def test_dates_refusees(self, client, admin, convention, arbre, membre_b):
        avant = etat()
        url = adresse("groupe_ajouter_utilisateur", convention, arbre["A"])
        assert "ne peut pas être passée" in texte(
            client.post(url, {"utilisateur": membre_b.identifiant, "date_ouverture": jour(-1)})
        )
        inversees = client.post(
            url, {"utilisateur": membre_b.identifiant, "date_ouverture": jour(2), "date_cloture": jour(1)}
        )
        assert "La date de clôture doit être postérieure à la date d'ouverture." in texte(inversees)
        assert etat() == avant

    def test_groupe_clos_refuse(self, client, admin, convention, arbre, membre_b):
        Groupe.objects.filter(pk=arbre["A"].pk).update(date_cloture=jour(1))
        avant = etat()
        reponse = client.post(
            adresse("groupe_ajouter_utilisateur", convention, arbre["A"]),
            {"utilisateur": membre_b.identifiant, "date_ouverture": jour(2)},
        )
        assert "Le groupe A est clôturé à cette date." in texte(reponse)
        assert etat() == avant

    def test_responsable_ne_propose_que_son_perimetre(
        self, client, convention, administrateur, resp_a, arbre, membre_a1, membre_b
    ):
        connecter_verifie(client, resp_a)
        url = adresse("groupe_ajouter_utilisateur", convention, arbre["A"])
        page = texte(client.get(url))
        assert membre_a1.identifiant in page
        assert membre_b.identifiant not in page
        assert administrateur.identifiant not in page
        avant = etat()
        for intrus in (membre_b, administrateur):
            reponse = client.post(url, {"utilisateur": intrus.identifiant, "date_ouverture": jour()})
            assert "Choisissez un compte ouvert de votre périmètre." in texte(reponse)
        assert etat() == avant
        client.post(url, {"utilisateur": membre_a1.identifiant, "date_ouverture": jour()})
        assert Appartenance.objects.filter(utilisateur=membre_a1, groupe=arbre["A"]).exists()


# --- Gérer l'appartenance -------------------------------------------------------------------


class TestAppartenances:
    def test_membres_du_groupe_avec_liens(self, client, admin, convention, arbre, membre_a1, resp_a1):
        reponse = client.get(adresse("groupe_appartenances", convention, arbre["A1"]))
        page = texte(reponse)
        for colonne in ("Identifiant", "Nom", "Prénom", "Date d'ouverture", "Date de clôture", "Statut"):
            assert colonne in page
        assert "2 appartenances" in page
        appartenance = Appartenance.objects.get(utilisateur=membre_a1, groupe=arbre["A1"])
        ligne = re.search(rf"<td>{membre_a1.identifiant}</td>.*?</tr>", page, re.S).group(0)
        assert "CAYROL" in ligne and "Chloé" in ligne and "Ouvert" in ligne
        assert reverse("gestion:appartenance_modifier", args=[convention.pk, appartenance.pk]) in ligne
        assert reverse("gestion:appartenance_cloturer", args=[convention.pk, appartenance.pk]) in ligne

    def test_appartenance_close_sans_lien_cloturer(self, client, admin, convention, arbre, membre_a1):
        appartenance = Appartenance.objects.get(utilisateur=membre_a1, groupe=arbre["A1"])
        Appartenance.objects.filter(pk=appartenance.pk).update(date_cloture=aujourdhui())
        page = texte(client.get(adresse("groupe_appartenances", convention, arbre["A1"])))
        ligne = re.search(rf"<td>{membre_a1.identifiant}</td>.*?</tr>", page, re.S).group(0)
        assert "Clôturé" in ligne
        assert reverse("gestion:appartenance_cloturer", args=[convention.pk, appartenance.pk]) not in ligne

    def test_responsable_ne_voit_pas_les_administrateurs(self, client, convention, administrateur, resp_a, arbre):
        services.appartenance_ouvrir(par=None, utilisateur=administrateur, groupe=arbre["A1"])
        connecter_verifie(client, resp_a)
        page = texte(client.get(adresse("groupe_appartenances", convention, arbre["A1"])))
        assert administrateur.identifiant not in page
        assert "2 appartenances" in page

    def test_tri(self, client, admin, convention, arbre, membre_a1, resp_a1):
        page = texte(client.get(adresse("groupe_appartenances", convention, arbre["A1"]), {"tri": "-nom"}))
        assert page.index(membre_a1.identifiant) < page.index(resp_a1.identifiant)  # Cayrol avant Aubin
        page = texte(client.get(adresse("groupe_appartenances", convention, arbre["A1"]), {"tri": "nom"}))
        assert page.index(resp_a1.identifiant) < page.index(membre_a1.identifiant)


# --- Budgets de requêtes --------------------------------------------------------------------


def creer_comptes(convention, nombre: int, groupe: Groupe) -> None:
    """``nombre`` comptes de la convention, tous membres de ``groupe`` (bulk_create)."""
    debut = aujourdhui() - datetime.timedelta(days=10)
    comptes = Utilisateur.objects.bulk_create(
        Utilisateur(
            identifiant=f"MAS{n:07d}",
            convention=convention,
            organisme=convention.organisme,
            nom=f"Masse{n:05d}",
            prenom="Camille",
            email=f"masse{n}@exemple.test",
            date_ouverture=debut,
            password="!",
        )
        for n in range(nombre)
    )
    Appartenance.objects.bulk_create(
        Appartenance(utilisateur=compte, groupe=groupe, date_ouverture=debut) for compte in comptes
    )


def creer_sous_groupes(convention, parent: Groupe, nombre: int) -> None:
    groupes = Groupe.objects.bulk_create(
        Groupe(
            convention=convention,
            code=f"M{n:05d}",
            libelle=f"Masse {n}",
            parent=parent,
            niveau=parent.niveau + 1,
            responsable=parent.responsable,
            date_ouverture=parent.date_ouverture,
        )
        for n in range(nombre)
    )
    for groupe in groupes:
        groupe.chemin = f"{parent.chemin}{groupe.pk}/"
    Groupe.objects.bulk_update(groupes, ["chemin"])


class TestBudgetDeRequetes:
    # Deux pages : sans filtre (25 groupes, triés) et filtrée par un membre (sous-requête EXISTS).
    REQUETES = ({"tri": "code"}, {"utilisateur": "masse00001"})

    @pytest.mark.parametrize(("utilisateurs", "groupes"), [(10, 10), (10_000, 1_000)])
    def test_liste_administrateur(
        self, client, admin, convention, arbre, utilisateurs, groupes, django_assert_max_num_queries
    ):
        creer_comptes(convention, utilisateurs, arbre["A1"])
        creer_sous_groupes(convention, arbre["A"], groupes)
        for parametres in self.REQUETES:
            client.get(adresse("groupes", convention), parametres)
            # 1 session, 2 utilisateur, 3 appareil de double authentification, 4 convention (Caf,
            # organisme), 5 administrée ? (droit guardian et mandat en sous-requêtes), 6 comptage,
            # 7 page de groupes avec parent et responsable, 8 menu (gestionnaire ?), 9 services
            # ouverts (menu), 10-12 session enregistrée. Ni les comptes ni les groupes ne comptent.
            with django_assert_max_num_queries(12):
                reponse = client.get(adresse("groupes", convention), parametres)
            assert codes_affiches(reponse)

    @pytest.mark.parametrize(("utilisateurs", "groupes"), [(10, 10), (10_000, 1_000)])
    def test_liste_responsable(
        self, client, convention, resp_a, arbre, utilisateurs, groupes, django_assert_max_num_queries
    ):
        creer_comptes(convention, utilisateurs, arbre["A1"])
        creer_sous_groupes(convention, arbre["A"], groupes)
        connecter_verifie(client, resp_a)
        for parametres in self.REQUETES:
            client.get(adresse("groupes", convention), parametres)
            # Comme pour l'administrateur (qu'il n'est pas : la question 5 répond non), plus 1
            # requête des groupes dont il est responsable (droit guardian en sous-requête).
            with django_assert_max_num_queries(13):
                reponse = client.get(adresse("groupes", convention), parametres)
            assert codes_affiches(reponse)

    @pytest.mark.parametrize("utilisateurs", [10, 10_000])
    def test_appartenances(self, client, admin, convention, arbre, utilisateurs, django_assert_max_num_queries):
        creer_comptes(convention, utilisateurs, arbre["A1"])
        url = adresse("groupe_appartenances", convention, arbre["A1"])
        client.get(url, {"tri": "nom"})
        # 1-5 comme la liste, 6 groupe (parent, responsable), 7 comptage, 8 page de 25
        # appartenances avec leur utilisateur, 9-10 menu, 11-13 session enregistrée.
        with django_assert_max_num_queries(13):
            reponse = client.get(url, {"tri": "nom"})
        assert "MASSE00000" in texte(reponse)
