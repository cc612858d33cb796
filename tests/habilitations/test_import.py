"""Création d'utilisateurs en masse depuis un fichier CSV : dépôt, aperçu ligne à ligne (rien
n'est créé), confirmation, tâche de création (exécutée ici dans le processus), progression et
compte rendu ; et qui peut le faire.

L'arbre de groupes (A > A1, B) et ses responsables viennent de tests/habilitations/conftest.py.
"""

import datetime
import html
import re

import pytest
from django.contrib.messages import get_messages
from django.contrib.staticfiles import finders
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Q
from django.urls import reverse

from habilitations import services
from habilitations.administration.import_csv import imports, tasks
from habilitations.administration.import_csv.tasks import importer_utilisateurs
from habilitations.models import Appartenance, EtatImport, ImportUtilisateurs, LigneImport, Utilisateur
from portail.models import Courriel, EvenementAudit
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db

CONNEXION = reverse("habilitations:connexion")
ENTETES = "nom;prenom;email;telephone;poste;date_ouverture;date_cloture"


def lignes_csv(nombre: int, *, sep: str = ";", prefixe: str = "agent") -> str:
    """Un fichier valide de ``nombre`` utilisateurs (en-têtes compris)."""
    lignes = [ENTETES.replace(";", sep)]
    lignes += [sep.join([f"Nom{i}", f"Prénom{i}", f"{prefixe}{i}@exemple.test", "", "", "", ""]) for i in range(nombre)]
    return "\r\n".join(lignes) + "\r\n"


def fichier(contenu: str | bytes, nom: str = "utilisateurs.csv") -> SimpleUploadedFile:
    brut = contenu.encode() if isinstance(contenu, str) else contenu
    return SimpleUploadedFile(nom, brut, content_type="text/csv")


def deposer_url(convention) -> str:
    return reverse("gestion:import_deposer", args=[convention.pk])


def apercu_url(import_utilisateurs) -> str:
    return reverse("gestion:import_apercu", args=[import_utilisateurs.convention_id, import_utilisateurs.pk])


def progression_url(import_utilisateurs) -> str:
    return reverse("gestion:import_progression", args=[import_utilisateurs.convention_id, import_utilisateurs.pk])


def deposer(client, convention, contenu, groupe=None, nom="utilisateurs.csv"):
    donnees = {"fichier": fichier(contenu, nom), "groupe": groupe.pk if groupe else ""}
    return client.post(deposer_url(convention), donnees)


def dernier_import() -> ImportUtilisateurs:
    return ImportUtilisateurs.objects.latest("pk")


def messages_de(reponse) -> list[str]:
    return [str(m) for m in get_messages(reponse.wsgi_request)]


def erreur_sous_le_fichier(reponse) -> str:
    """Le texte de l'erreur affichée sous le champ « Fichier CSV »."""
    trouve = re.search(r'id="id_fichier-desc-error">(.*?)</div>', reponse.content.decode(), re.S)
    assert trouve, "aucune erreur sous le champ du fichier"
    return re.sub(r"<[^>]+>", " ", texte_html(trouve.group(1)))


def texte_html(fragment: str) -> str:
    return " ".join(html.unescape(fragment).split())


def creer_import(convention, par, contenu: str, groupe=None) -> ImportUtilisateurs:
    """Un aperçu enregistré comme par la page de dépôt."""
    lecture = imports.fichier_lire(contenu.encode(), convention=convention)
    return imports.import_enregistrer(
        par=par, convention=convention, groupe=groupe, nom_fichier="utilisateurs.csv", lecture=lecture
    )


def confirmer(client, import_utilisateurs, capture):
    """Clic sur « Confirmer » ; la tâche publiée après validation s'exécute dans le processus."""
    with capture(execute=True):
        return client.post(apercu_url(import_utilisateurs), {"action": "confirmer"})


@pytest.fixture
def admin_connecte(client, administrateur):
    connecter_verifie(client, administrateur)
    return administrateur


@pytest.fixture
def import_a(convention, resp_a, groupe_a):
    """Un aperçu de trois lignes valides, déposé par resp_a dans son groupe A."""
    return creer_import(convention, resp_a, lignes_csv(3, prefixe="a"), groupe=groupe_a)


@pytest.fixture
def import_sans_groupe(convention, administrateur):
    return creer_import(convention, administrateur, lignes_csv(2, prefixe="sg"))


# --- Autorisations ------------------------------------------------------------------------

PAGES = ["import_deposer", "import_apercu", "import_progression"]
SANS_PERIMETRE = ["admin_autre_partenaire", "admin_autre_convention", "declarant", "membre_a1"]


def adresse(page: str, import_utilisateurs) -> str:
    if page == "import_deposer":
        return deposer_url(import_utilisateurs.convention)
    return reverse(f"gestion:{page}", args=[import_utilisateurs.convention_id, import_utilisateurs.pk])


def envoyer(client, methode: str, url: str):
    if methode == "get":
        return client.get(url)
    return client.post(url, {"action": "confirmer", "fichier": fichier(lignes_csv(1, prefixe="intrus"))})


def rien_n_a_change(import_utilisateurs, imports_avant: int) -> None:
    import_utilisateurs.refresh_from_db()
    assert import_utilisateurs.etat == EtatImport.PREVISUALISE
    assert ImportUtilisateurs.objects.count() == imports_avant
    adresses = [*import_utilisateurs.lignes.values_list("valeurs__email", flat=True), "intrus0@exemple.test"]
    assert not Utilisateur.objects.filter(email__in=adresses).exists()


class TestAutorisations:
    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize("page", PAGES)
    def test_anonyme_renvoye_a_la_connexion(self, client, import_a, page, methode):
        reponse = envoyer(client, methode, adresse(page, import_a))
        assert reponse.status_code == 302
        assert reponse.url.startswith(CONNEXION)
        rien_n_a_change(import_a, 1)

    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize("page", PAGES)
    @pytest.mark.parametrize("persona", SANS_PERIMETRE)
    def test_sans_perimetre_dans_la_convention_404(self, client, request, import_a, persona, page, methode):
        connecter_verifie(client, request.getfixturevalue(persona))
        reponse = envoyer(client, methode, adresse(page, import_a))
        assert reponse.status_code == 404
        assert import_a.convention.libelle not in texte(reponse)
        rien_n_a_change(import_a, 1)

    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize("page", ["import_apercu", "import_progression"])
    @pytest.mark.parametrize("persona", ["resp_b", "resp_a1"])
    def test_responsable_hors_du_sous_arbre_du_groupe_404(
        self, client, request, import_a, groupe_b, groupe_a1, persona, page, methode
    ):
        # resp_b gère B, resp_a1 gère A1 (sous A) : ni l'un ni l'autre ne gère A.
        connecter_verifie(client, request.getfixturevalue(persona))
        reponse = envoyer(client, methode, adresse(page, import_a))
        assert reponse.status_code == 404
        assert "a0@exemple.test" not in texte(reponse)
        rien_n_a_change(import_a, 1)

    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize("page", ["import_apercu", "import_progression"])
    def test_responsable_ne_voit_pas_un_import_sans_groupe(
        self, client, resp_a, groupe_a, import_sans_groupe, page, methode
    ):
        connecter_verifie(client, resp_a)
        reponse = envoyer(client, methode, adresse(page, import_sans_groupe))
        assert reponse.status_code == 404
        import_sans_groupe.refresh_from_db()
        assert import_sans_groupe.etat == EtatImport.PREVISUALISE

    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize("page", PAGES)
    @pytest.mark.parametrize("persona", ["agent_caf", "superviseur"])
    def test_lecture_seule_403(self, client, request, import_a, persona, page, methode):
        connecter_verifie(client, request.getfixturevalue(persona))
        reponse = envoyer(client, methode, adresse(page, import_a))
        assert reponse.status_code == 403
        rien_n_a_change(import_a, 1)

    @pytest.mark.parametrize("methode", ["get", "post"])
    @pytest.mark.parametrize("page", ["import_apercu", "import_progression"])
    def test_import_d_une_autre_convention_404(
        self, client, admin_connecte, convention, autre_convention_meme_partenaire, page, methode
    ):
        autre = creer_import(
            autre_convention_meme_partenaire,
            autre_convention_meme_partenaire.mandats.get().administrateur,
            lignes_csv(1, prefixe="autre"),
        )
        dans_ma_convention = reverse(f"gestion:{page}", args=[convention.pk, autre.pk])
        dans_la_sienne = reverse(f"gestion:{page}", args=[autre.convention_id, autre.pk])
        for url in (dans_ma_convention, dans_la_sienne):
            reponse = envoyer(client, methode, url)
            assert reponse.status_code == 404
            assert "autre0@exemple.test" not in texte(reponse)
        autre.refresh_from_db()
        assert autre.etat == EtatImport.PREVISUALISE

    @pytest.mark.parametrize("page", PAGES)
    def test_administrateur_et_responsable_du_groupe(self, client, administrateur, resp_a, import_a, page):
        for user in (administrateur, resp_a):
            connecter_verifie(client, user)
            assert client.get(adresse(page, import_a)).status_code == 200

    def test_responsable_du_parent_voit_l_import_d_un_sous_groupe(self, client, convention, resp_a, resp_a1, groupe_a1):
        import_a1 = creer_import(convention, resp_a1, lignes_csv(1, prefixe="a1-"), groupe=groupe_a1)
        connecter_verifie(client, resp_a)
        assert client.get(apercu_url(import_a1)).status_code == 200

    def test_progression_refuse_le_post_au_role_legitime(self, client, admin_connecte, import_a):
        assert client.post(progression_url(import_a)).status_code == 405


# --- Dépôt et aperçu ----------------------------------------------------------------------


class TestDepot:
    def test_formulaire_aide_et_exemple(self, client, admin_connecte, convention):
        page = texte(client.get(deposer_url(convention)))
        assert "Fichier CSV" in page
        assert "Groupe d'habilitation" in page
        for entete in ("nom", "prenom", "email", "telephone", "poste", "date_ouverture", "date_cloture"):
            assert f"<code>{entete}</code>" in page
        assert "« adresse mail »" in page
        assert "UTF-8" in page and "Windows-1252" in page
        assert imports.exemple().splitlines()[2] in page

    def test_l_exemple_se_telecharge_et_s_importe_sans_erreur(self, client, admin_connecte, convention):
        reponse = client.get(deposer_url(convention) + "?exemple")
        assert reponse["Content-Type"] == "text/csv; charset=utf-8"
        assert "attachment" in reponse["Content-Disposition"]
        assert reponse.content.startswith(b"\xef\xbb\xbf")  # BOM : Excel reconnaît l'UTF-8
        lecture = imports.fichier_lire(reponse.content, convention=convention)
        assert len(lecture.lignes) == 2
        assert lecture.en_erreur == 0

    def test_cp1252_point_virgule_et_accents(self, client, admin_connecte, convention):
        contenu = "Nom;Prénom;Adresse mail\r\nÀlvarez;Hélène;helene.alvarez@exemple.test\r\n".encode("cp1252")
        reponse = deposer(client, convention, contenu)
        import_utilisateurs = dernier_import()
        assert reponse.status_code == 302
        assert reponse.url == apercu_url(import_utilisateurs)
        page = texte(client.get(reponse.url))
        assert "Àlvarez" in page
        assert "Hélène" in page
        assert "1 ligne valide, 0 ligne en erreur" in page
        assert "Confirmer la création de 1 compte" in page
        assert import_utilisateurs.etat == EtatImport.PREVISUALISE
        assert import_utilisateurs.nom_fichier == "utilisateurs.csv"

    def test_utf8_avec_bom_et_virgules(self, client, admin_connecte, convention):
        contenu = "\ufeffnom,prenom,email,telephone\r\nGral,Mariène,mariene.gral@exemple.test,05 65 66 27 97\r\n"
        deposer(client, convention, contenu.encode("utf-8"))
        ligne = dernier_import().lignes.get()
        assert ligne.valeurs["nom"] == "Gral"  # le BOM n'a pas masqué l'en-tête « nom »
        assert ligne.valeurs["prenom"] == "Mariène"
        assert ligne.valeurs["telephone"] == "05 65 66 27 97"
        assert ligne.erreurs == []

    def test_colonnes_dans_un_autre_ordre_et_colonne_inconnue_ignoree(self, client, admin_connecte, convention):
        contenu = "Adresse mail;Service;Téléphone;PRÉNOM;Nom\r\nceline.albouy@exemple.test;Compta;0565483356;Céline;Albouy\r\n"
        reponse = deposer(client, convention, contenu)
        ligne = dernier_import().lignes.get()
        assert ligne.numero == 2
        assert ligne.valeurs == {
            "nom": "Albouy",
            "prenom": "Céline",
            "email": "celine.albouy@exemple.test",
            "telephone": "0565483356",
            "poste": "",
            "date_ouverture": "",
            "date_cloture": "",
        }
        assert ligne.erreurs == []
        assert "Colonnes ignorées : Service." in messages_de(reponse)

    def test_lignes_en_erreur_listees_avec_leur_message_et_rien_n_est_cree(
        self, client, admin_connecte, convention, resp_a
    ):
        comptes_avant, courriels_avant = Utilisateur.objects.count(), Courriel.objects.count()
        ouverture, cloture = aujourdhui() + datetime.timedelta(days=10), aujourdhui() + datetime.timedelta(days=375)
        hier = aujourdhui() - datetime.timedelta(days=1)
        contenu = "\r\n".join(
            [
                ENTETES,
                f"Albouy;Céline;celine.albouy@exemple.test;05 65 48 33 56;Sédentaire;{ouverture:%d/%m/%Y};{cloture:%d/%m/%Y}",
                ";Paul;paul@exemple.test;;;;",  # 3
                "Ferrand;Paul;pas-une-adresse;;;;",  # 4
                "Roux;Lina;lina.roux@exemple.test;12345;;;",  # 5
                "Delmas;Rose;rose@exemple.test;;;31/02/2030;",  # 6
                "Giraud;Marc;marc@exemple.test;;;2030-06-01;2030-05-01",  # 7
                f"Aubrac;Anne;{resp_a.email.upper()};;;;",  # 8 déjà prise dans la convention
                "Albouy;Céline;Celine.Albouy@exemple.test;;;;",  # 9 en double (ligne 2)
                "Verdier;Aline;aline@exemple.test;565483356;Nomade;;",  # 10
                "",  # ligne vide : sautée
                "Castan;Hugo;hugo.castan@exemple.test;+33 5 65 00 00 00;Itinérant;2030-01-15;",  # 12 valide
                f"Passe;Paul;passe@exemple.test;;;{hier - datetime.timedelta(days=5)};{hier:%d/%m/%Y}",  # 13
            ]
        )
        reponse = deposer(client, convention, contenu)
        page = texte(client.get(reponse.url))

        assert "2 lignes valides, 9 lignes en erreur" in page
        assert "Confirmer la création de 2 comptes" in page
        attendues = [
            "Le nom est obligatoire.",
            "L'adresse mail « pas-une-adresse » n'est pas valide",
            "Le téléphone « 12345 » n'est pas valide",
            "Date d'ouverture « 31/02/2030 » non valide : JJ/MM/AAAA ou AAAA-MM-JJ attendu.",
            "La date de clôture doit être postérieure à la date d'ouverture.",
            f"Cette adresse mail est déjà celle d'un utilisateur ouvert de la convention ({resp_a.identifiant}).",
            "Adresse mail en double dans le fichier (déjà ligne 2).",
            "n'a que 9 chiffres : le 0 initial a-t-il été effacé par le tableur ?",
            "Poste « Nomade » inconnu : Sédentaire ou Itinérant.",
            "La date de clôture est passée : le compte serait déjà clôturé.",
        ]
        for message in attendues:
            assert message in page, message
        assert page.count('class="fr-error-text') == len(attendues)
        erreurs = dict(dernier_import().lignes.values_list("numero", "erreurs"))
        assert sorted(erreurs) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13]
        assert erreurs[2] == erreurs[12] == []
        assert erreurs[10] == [
            "Le téléphone « 565483356 » n'a que 9 chiffres : le 0 initial a-t-il été effacé par le tableur ?",
            "Poste « Nomade » inconnu : Sédentaire ou Itinérant.",
        ]
        # Rien n'est créé avant la confirmation : ni compte, ni courriel.
        assert Utilisateur.objects.count() == comptes_avant
        assert Courriel.objects.count() == courriels_avant

    def test_filtre_des_lignes_en_erreur(self, client, admin_connecte, convention):
        deposer(client, convention, f"{ENTETES}\r\nA;B;ok@exemple.test;;;;\r\nC;D;faux;;;;\r\n")
        import_utilisateurs = dernier_import()
        page = texte(client.get(apercu_url(import_utilisateurs) + "?lignes=erreurs"))
        assert "faux" in page
        assert "ok@exemple.test" not in page

    @pytest.mark.parametrize(
        ("contenu", "message"),
        [
            ("", "Choisissez le fichier CSV"),
            ("  \r\n\r\n", "Le fichier est vide."),
            (";;;\r\n ; ;\r\n", "Le fichier est vide."),
            ("Identité;Courriel pro\r\nx;y\r\n", "Aucun en-tête reconnu"),
            ("prenom;email\r\nCéline;c@exemple.test\r\n", "Colonne obligatoire absente des en-têtes : Nom."),
            (f"{ENTETES}\r\n", "aucune ligne d'utilisateur"),
            ("nom;Nom;prenom;email\r\na;b;c;d@exemple.test\r\n", "La colonne « Nom » figure deux fois"),
            (b"PK\x03\x04\x00\x00nom;prenom;email", "n'est pas un fichier CSV"),
        ],
        ids=[
            "sans-fichier",
            "vide",
            "que-des-separateurs",
            "sans-en-tetes",
            "colonne-manquante",
            "sans-ligne",
            "en-double",
            "binaire",
        ],
    )
    def test_fichier_refuse_en_entier_rien_enregistre(self, client, admin_connecte, convention, contenu, message):
        if contenu == "":
            reponse = client.post(deposer_url(convention), {"groupe": ""})
        else:
            reponse = deposer(client, convention, contenu)
        assert reponse.status_code == 200
        assert message in erreur_sous_le_fichier(reponse)
        assert not ImportUtilisateurs.objects.exists()

    def test_plus_de_10000_lignes_refuse(self, client, admin_connecte, convention):
        reponse = deposer(client, convention, lignes_csv(10_001))
        assert "10001 lignes d'utilisateurs, 10000 au plus" in erreur_sous_le_fichier(reponse)
        assert not ImportUtilisateurs.objects.exists()
        assert not LigneImport.objects.exists()

    def test_10000_lignes_acceptees(self, client, admin_connecte, convention):
        reponse = deposer(client, convention, lignes_csv(10_000))
        assert reponse.status_code == 302
        assert dernier_import().lignes.count() == 10_000

    def test_plus_de_2_mo_refuse(self, client, admin_connecte, convention):
        contenu = lignes_csv(1) + "x" * (2 * 1024 * 1024)
        reponse = deposer(client, convention, contenu)
        assert "2 Mo au plus" in erreur_sous_le_fichier(reponse)
        assert not ImportUtilisateurs.objects.exists()

    def test_groupes_proposes_a_l_administrateur_facultatif(self, client, admin_connecte, convention, arbre):
        page = texte(client.get(deposer_url(convention)))
        assert "Aucun groupe" in page
        for code in ("A —", "— A1 —", "B —"):
            assert code in page
        reponse = deposer(client, convention, lignes_csv(1))
        assert reponse.status_code == 302
        assert dernier_import().groupe is None


class TestResponsable:
    def test_groupe_obligatoire_et_seulement_les_siens(self, client, convention, resp_a, arbre):
        connecter_verifie(client, resp_a)
        page = texte(client.get(deposer_url(convention)))
        assert "Groupe A" in page and "Groupe A1" in page
        assert "Groupe B" not in page
        assert "Aucun groupe" not in page

        sans_groupe = deposer(client, convention, lignes_csv(1))
        assert "Choisissez l'un de vos groupes." in texte(sans_groupe)
        hors_perimetre = deposer(client, convention, lignes_csv(1), groupe=arbre["B"])
        assert "Choisissez un groupe ouvert de votre périmètre." in texte(hors_perimetre)
        assert not ImportUtilisateurs.objects.exists()

    def test_responsable_d_un_sous_groupe_ne_peut_pas_choisir_le_parent(self, client, convention, resp_a1, arbre):
        connecter_verifie(client, resp_a1)
        reponse = deposer(client, convention, lignes_csv(1), groupe=arbre["A"])
        assert "Choisissez un groupe ouvert de votre périmètre." in texte(reponse)
        assert not ImportUtilisateurs.objects.exists()

    def test_importe_dans_son_sous_groupe(self, client, convention, resp_a, arbre, django_capture_on_commit_callbacks):
        connecter_verifie(client, resp_a)
        deposer(client, convention, lignes_csv(2, prefixe="sous"), groupe=arbre["A1"])
        import_utilisateurs = dernier_import()
        confirmer(client, import_utilisateurs, django_capture_on_commit_callbacks)

        crees = Utilisateur.objects.filter(email__startswith="sous")
        assert crees.count() == 2
        assert set(Appartenance.objects.filter(utilisateur__in=crees).values_list("groupe__code", flat=True)) == {"A1"}
        assert all(u.convention_id == convention.pk for u in crees)


# --- Confirmation, tâche, compte rendu ----------------------------------------------------


class TestConfirmation:
    def test_cree_les_comptes_dans_le_groupe_avec_courriels_et_compte_rendu(
        self, client, admin_connecte, convention, groupe_a, django_capture_on_commit_callbacks
    ):
        contenu = f"{ENTETES}\r\nÀlvarez;Hélène;helene@exemple.test;05 65 00 00 01;Itinérant;;\r\n"
        contenu += "Gral;Mariène;mariene@exemple.test;;;;\r\nFaux;Ligne;pas-une-adresse;;;;\r\n"
        deposer(client, convention, contenu, groupe=groupe_a)
        import_utilisateurs = dernier_import()
        mail.outbox.clear()

        reponse = confirmer(client, import_utilisateurs, django_capture_on_commit_callbacks)

        assert reponse.status_code == 302
        assert reponse.url == apercu_url(import_utilisateurs)
        assert "Création de 2 comptes lancée" in messages_de(reponse)[-1]
        import_utilisateurs.refresh_from_db()
        assert import_utilisateurs.etat == EtatImport.TERMINE
        assert (import_utilisateurs.total, import_utilisateurs.traites, import_utilisateurs.crees) == (2, 2, 2)
        assert import_utilisateurs.termine_le is not None
        helene = Utilisateur.objects.get(email="helene@exemple.test")
        assert (helene.nom, helene.prenom, helene.telephone, helene.poste) == (
            "Àlvarez",
            "Hélène",
            "0565000001",
            "itinerant",
        )
        assert helene.convention == convention
        assert helene.date_ouverture == aujourdhui()
        for email in ("helene@exemple.test", "mariene@exemple.test"):
            user = Utilisateur.objects.get(email=email)
            assert Appartenance.objects.ouverts().filter(utilisateur=user, groupe=groupe_a).exists()
            assert EvenementAudit.objects.filter(action="utilisateur_creer", cible_id=str(user.pk)).exists()
        sujets = sorted((m.to[0], m.subject) for m in mail.outbox)
        assert [destinataire for destinataire, _ in sujets] == ["helene@exemple.test"] * 2 + [
            "mariene@exemple.test"
        ] * 2

        page = texte(client.get(apercu_url(import_utilisateurs)))
        assert "Compte rendu de l'import" in page
        assert "2 comptes créés" in page
        assert "1 ligne en erreur écartée à l'aperçu" in page
        assert helene.identifiant in page
        assert Utilisateur.objects.get(email="mariene@exemple.test").identifiant in page
        assert "L'adresse mail « pas-une-adresse » n'est pas valide" in page
        assert "Confirmer la création" not in page
        assert EvenementAudit.objects.filter(action="import_confirmer", convention=convention).count() == 1

    def test_ligne_refusee_a_la_creation_si_la_situation_a_change(
        self, client, admin_connecte, convention, django_capture_on_commit_callbacks
    ):
        deposer(client, convention, lignes_csv(2, prefixe="change"))
        import_utilisateurs = dernier_import()
        # Entre l'aperçu et la confirmation, quelqu'un crée un compte avec l'une des adresses.
        deja = factories.creer_utilisateur(nom="Rapide", email="change1@exemple.test", convention=convention)

        confirmer(client, import_utilisateurs, django_capture_on_commit_callbacks)

        import_utilisateurs.refresh_from_db()
        assert (import_utilisateurs.etat, import_utilisateurs.traites, import_utilisateurs.crees) == (
            EtatImport.TERMINE,
            2,
            1,
        )
        refusee = import_utilisateurs.lignes.get(numero=3)
        assert refusee.traitee and refusee.utilisateur is None
        assert refusee.erreurs == [
            f"Cette adresse mail est déjà celle d'un utilisateur ouvert de la convention ({deja.identifiant})."
        ]
        assert Utilisateur.objects.filter(email="change1@exemple.test").count() == 1
        page = texte(client.get(apercu_url(import_utilisateurs)))
        assert "1 compte créé" in page
        assert "1 ligne refusée à la création" in page
        assert "Refusée à la création" in page

    def test_rien_a_confirmer_sans_ligne_valide(self, client, admin_connecte, convention):
        deposer(client, convention, f"{ENTETES}\r\nFaux;Ligne;pas-une-adresse;;;;\r\n")
        import_utilisateurs = dernier_import()
        assert "Confirmer la création" not in texte(client.get(apercu_url(import_utilisateurs)))
        reponse = client.post(apercu_url(import_utilisateurs), {"action": "confirmer"})
        assert "Aucune ligne du fichier n'est valide" in messages_de(reponse)[-1]
        import_utilisateurs.refresh_from_db()
        assert import_utilisateurs.etat == EtatImport.PREVISUALISE

    def test_double_confirmation_une_seule_execution(
        self, client, admin_connecte, convention, django_capture_on_commit_callbacks, monkeypatch
    ):
        deposer(client, convention, lignes_csv(3, prefixe="double"))
        import_utilisateurs = dernier_import()
        publications = []
        publier = importer_utilisateurs.delay
        monkeypatch.setattr(importer_utilisateurs, "delay", lambda *a: publications.append(a) or publier(*a))

        # Deux clics avant que la tâche ne démarre : la seconde confirmation ne publie rien.
        with django_capture_on_commit_callbacks() as premiere:
            client.post(apercu_url(import_utilisateurs), {"action": "confirmer"})
        with django_capture_on_commit_callbacks() as seconde:
            reponse = client.post(apercu_url(import_utilisateurs), {"action": "confirmer"})
        assert len(premiere) == 1
        assert seconde == []
        assert messages_de(reponse)[-1] == "Cet import est déjà en cours : rien n'a été relancé."
        for rappel in premiere:
            rappel()
        # Et après la fin, une confirmation de plus ne relance rien non plus.
        reponse = confirmer(client, import_utilisateurs, django_capture_on_commit_callbacks)
        assert messages_de(reponse)[-1] == "Cet import est déjà terminé : rien n'a été relancé."

        assert publications == [(import_utilisateurs.pk,)]
        assert Utilisateur.objects.filter(email__startswith="double").count() == 3
        assert Courriel.objects.filter(destinataire__startswith="double").count() == 6

    def test_relance_de_la_tache_reprend_sans_doublon(
        self, admin_connecte, convention, administrateur, django_capture_on_commit_callbacks, monkeypatch
    ):
        # Des lots de 2 lignes : le worker s'arrête pendant le second, le premier reste fait.
        monkeypatch.setattr(tasks, "TAILLE_LOT", 2)
        import_utilisateurs = creer_import(convention, administrateur, lignes_csv(4, prefixe="reprise"))
        tasks.import_confirmer(par=administrateur, import_utilisateurs=import_utilisateurs)
        creer = services.utilisateurs_creer_dans_convention
        appels = []

        def panne_au_second_lot(**kwargs):
            appels.append([compte["email"] for compte in kwargs["comptes"]])
            if len(appels) == 2:
                raise RuntimeError("worker arrêté")
            return creer(**kwargs)

        monkeypatch.setattr(services, "utilisateurs_creer_dans_convention", panne_au_second_lot)
        with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
            importer_utilisateurs.delay(import_utilisateurs.pk)
        import_utilisateurs.refresh_from_db()
        assert (import_utilisateurs.etat, import_utilisateurs.traites, import_utilisateurs.crees) == (
            EtatImport.EN_COURS,
            2,
            2,
        )
        assert Utilisateur.objects.filter(email__startswith="reprise").count() == 2

        monkeypatch.setattr(services, "utilisateurs_creer_dans_convention", creer)
        with django_capture_on_commit_callbacks(execute=True):
            importer_utilisateurs.delay(import_utilisateurs.pk)
            importer_utilisateurs.delay(import_utilisateurs.pk)  # relancée encore une fois après la fin

        import_utilisateurs.refresh_from_db()
        assert (import_utilisateurs.etat, import_utilisateurs.traites, import_utilisateurs.crees) == (
            EtatImport.TERMINE,
            4,
            4,
        )
        for i in range(4):
            assert Utilisateur.objects.filter(email=f"reprise{i}@exemple.test").count() == 1
            assert Courriel.objects.filter(destinataire=f"reprise{i}@exemple.test").count() == 2
        assert set(import_utilisateurs.lignes.values_list("traitee", flat=True)) == {True}

    def test_courtier_injoignable_l_import_revient_a_confirmer(
        self, client, admin_connecte, convention, django_capture_on_commit_callbacks, monkeypatch
    ):
        deposer(client, convention, lignes_csv(1, prefixe="panne"))
        import_utilisateurs = dernier_import()

        def injoignable(*args):
            raise ConnectionError("courtier injoignable")

        monkeypatch.setattr(importer_utilisateurs, "delay", injoignable)
        confirmer(client, import_utilisateurs, django_capture_on_commit_callbacks)

        import_utilisateurs.refresh_from_db()
        assert (import_utilisateurs.etat, import_utilisateurs.total) == (EtatImport.PREVISUALISE, 0)
        assert "Confirmer la création de 1 compte" in texte(client.get(apercu_url(import_utilisateurs)))

    def test_abandonner(self, client, admin_connecte, convention, django_capture_on_commit_callbacks):
        deposer(client, convention, lignes_csv(2, prefixe="abandon"))
        import_utilisateurs = dernier_import()
        reponse = client.post(apercu_url(import_utilisateurs), {"action": "abandonner"})
        assert reponse.url == deposer_url(convention)
        assert messages_de(reponse)[-1] == "Import abandonné : aucun compte n'a été créé."
        confirmer(client, import_utilisateurs, django_capture_on_commit_callbacks)
        import_utilisateurs.refresh_from_db()
        assert import_utilisateurs.etat == EtatImport.ABANDONNE
        assert not Utilisateur.objects.filter(email__startswith="abandon").exists()
        assert "Import abandonné : aucun compte n'a été créé." in texte(client.get(apercu_url(import_utilisateurs)))


class TestProgression:
    def test_json_de_progression(self, client, admin_connecte, convention, administrateur):
        import_utilisateurs = creer_import(convention, administrateur, lignes_csv(4, prefixe="json"))
        assert client.get(progression_url(import_utilisateurs)).json() == {
            "etat": "previsualise",
            "total": 0,
            "traites": 0,
            "crees": 0,
            "pourcentage": 100,
        }
        ImportUtilisateurs.objects.filter(pk=import_utilisateurs.pk).update(
            etat=EtatImport.EN_COURS, total=4, traites=1, crees=1
        )
        reponse = client.get(progression_url(import_utilisateurs))
        assert reponse.json() == {"etat": "en_cours", "total": 4, "traites": 1, "crees": 1, "pourcentage": 25}
        assert "no-cache" in reponse["Cache-Control"]

    def test_page_en_cours_barre_script_avec_nonce_et_noscript(
        self, client, admin_connecte, convention, administrateur
    ):
        import_utilisateurs = creer_import(convention, administrateur, lignes_csv(4, prefixe="barre"))
        ImportUtilisateurs.objects.filter(pk=import_utilisateurs.pk).update(
            etat=EtatImport.EN_COURS, total=4, traites=3, crees=2
        )
        reponse = client.get(apercu_url(import_utilisateurs))
        page = reponse.content.decode()
        assert '<progress class="fr-col-12" max="4" value="3"' in page
        assert "Lignes traitées : 3 sur 4 (75 %). Comptes créés : 2." in texte(reponse)
        assert f'data-progression-url="{progression_url(import_utilisateurs)}"' in page
        nonce = re.search(r'<script src="/static/habilitations/progression\.js" nonce="([^"]+)"', page).group(1)
        assert f"'nonce-{nonce}'" in reponse["Content-Security-Policy"]
        assert finders.find("habilitations/progression.js")
        noscript = re.search(r"<noscript>(.*?)</noscript>", page, re.S).group(1)
        assert f'href="{apercu_url(import_utilisateurs)}"' in noscript
        assert "Actualiser" in noscript
        # CSP stricte : aucun script en ligne, aucun attribut on*, aucun style="".
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
        assert not re.search(r"\son[a-z]+=", page)
        assert 'style="' not in page
        assert "Confirmer la création" not in page


class TestBudgetDeRequetes:
    @pytest.mark.parametrize("nombre", [10, 2000])
    def test_apercu_meme_nombre_de_requetes(
        self, client, admin_connecte, convention, administrateur, nombre, django_assert_max_num_queries
    ):
        import_utilisateurs = ImportUtilisateurs.objects.create(
            convention=convention, par=administrateur, nom_fichier="gros.csv"
        )
        LigneImport.objects.bulk_create(
            LigneImport(
                import_utilisateurs=import_utilisateurs,
                numero=i + 2,
                valeurs=dict.fromkeys(imports.CHAMPS, "x"),
                erreurs=[] if i % 2 else ["Le nom est obligatoire."],
            )
            for i in range(nombre)
        )
        # Session, compte, dispositif de double authentification ; convention, périmètre
        # (convention administrée) ; import ; totaux valides / en erreur ; comptage de la
        # pagination ; menu (rôle administrateur, services ouverts) ; page des lignes (avec le
        # compte créé de chacune) ; session prolongée (point de sauvegarde, mise à jour, relâche).
        with django_assert_max_num_queries(14):
            reponse = client.get(apercu_url(import_utilisateurs))
        assert reponse.status_code == 200
        assert f"{nombre // 2} lignes valides, {nombre // 2} lignes en erreur" in texte(reponse)


class TestCreationEnNombre:
    """``services.utilisateurs_creer_dans_convention`` (ticket 11) : les règles et les écritures
    de la création une à une, en un nombre de requêtes qui ne dépend pas du nombre de comptes."""

    @staticmethod
    def comptes(nombre: int, prefixe: str) -> list[dict]:
        return [
            {"nom": f"Nom{i}", "prenom": f"Prénom{i}", "email": f"{prefixe}{i}@exemple.test"} for i in range(nombre)
        ]

    @pytest.mark.parametrize("nombre", [5, 200])
    def test_requetes_constantes(self, convention, administrateur, groupe_a, nombre, django_assert_num_queries):
        # 1 point de sauvegarde (la transaction du service) ; 2 adresses déjà prises ; 3-5 compteur
        # d'identifiants (verrou, numéros pris, avancée) ; 6 comptes ; 7 appartenances ; 8 audit ;
        # 9 courriels ; 10 relâche du point de sauvegarde. Autant pour 5 que pour 200.
        with django_assert_num_queries(10):
            resultats = services.utilisateurs_creer_dans_convention(
                par=administrateur, convention=convention, groupe=groupe_a, comptes=self.comptes(nombre, "lot")
            )
        assert all(isinstance(r, Utilisateur) for r in resultats)
        crees = Utilisateur.objects.filter(email__startswith="lot", convention=convention)
        assert crees.count() == nombre
        assert Appartenance.objects.ouverts().filter(groupe=groupe_a, utilisateur__in=crees).count() == nombre
        assert (
            EvenementAudit.objects.filter(action="utilisateur_creer", cible_id__in=[str(u.pk) for u in crees]).count()
            == nombre
        )
        assert Courriel.objects.filter(destinataire__startswith="lot").count() == 2 * nombre
        assert len({u.identifiant for u in crees}) == nombre

    def test_memes_ecritures_que_la_creation_une_a_une(self, convention, administrateur, groupe_a):
        un = services.utilisateur_creer_dans_convention(
            par=administrateur,
            convention=convention,
            groupe=groupe_a,
            nom="Seul",
            prenom="Anne",
            email="seul@exemple.test",
        )
        (lot,) = services.utilisateurs_creer_dans_convention(
            par=administrateur,
            convention=convention,
            groupe=groupe_a,
            comptes=[{"nom": "Lot", "prenom": "Anne", "email": "lot@exemple.test"}],
        )

        def ecritures(user):
            actes = list(
                EvenementAudit.objects.filter(Q(cible_id=str(user.pk)) | Q(apres__utilisateur=user.identifiant))
                .order_by("pk")
                .values_list("action", "acteur_id", "convention_id")
            )
            courriels = list(
                Courriel.objects.filter(destinataire=user.email).order_by("pk").values_list("modele", flat=True)
            )
            appartenance = Appartenance.objects.filter(utilisateur=user).values_list(
                "groupe_id", "date_ouverture", "date_cloture"
            )
            return (
                actes,
                courriels,
                list(appartenance),
                (user.date_ouverture, user.organisme_id, user.has_usable_password()),
            )

        assert ecritures(lot) == ecritures(un)
        assert int(lot.identifiant[-4:]) == int(un.identifiant[-4:]) + 1

    def test_refus_par_compte_et_adresse_en_double(self, convention, administrateur, groupe_a):
        deja = factories.creer_utilisateur(nom="Rapide", email="prise@exemple.test", convention=convention)
        demain = aujourdhui() + datetime.timedelta(days=1)
        comptes = [
            {"nom": "A", "prenom": "Un", "email": "double@exemple.test"},
            {"nom": "B", "prenom": "Deux", "email": "PRISE@exemple.test"},
            {"nom": "C", "prenom": "Trois", "email": "double@exemple.test"},
            {
                "nom": "D",
                "prenom": "Quatre",
                "email": "periode@exemple.test",
                "date_ouverture": demain,
                "date_cloture": demain,
            },
            {"nom": "E", "prenom": "Cinq", "email": "bon@exemple.test"},
        ]
        premier, prise, double, periode, bon = services.utilisateurs_creer_dans_convention(
            par=administrateur, convention=convention, groupe=groupe_a, comptes=comptes
        )
        assert isinstance(premier, Utilisateur) and isinstance(bon, Utilisateur)
        assert (
            str(prise)
            == f"Cette adresse mail est déjà celle d'un utilisateur ouvert de la convention ({deja.identifiant})."
        )
        assert str(double) == (
            f"Cette adresse mail est déjà celle d'un utilisateur ouvert de la convention ({premier.identifiant})."
        )
        assert "clôture" in str(periode)
        assert Utilisateur.objects.filter(email="double@exemple.test").count() == 1
        assert not Utilisateur.objects.filter(email="periode@exemple.test").exists()

    def test_groupe_clos_a_la_date_refuse_la_ligne_seulement(self, convention, administrateur, groupe_a):
        dans_un_mois = aujourdhui() + datetime.timedelta(days=30)
        groupe_a.date_cloture = dans_un_mois
        groupe_a.save(update_fields=["date_cloture"])
        tard, tot = services.utilisateurs_creer_dans_convention(
            par=administrateur,
            convention=convention,
            groupe=groupe_a,
            comptes=[
                {"nom": "Tard", "prenom": "Léa", "email": "tard@exemple.test", "date_ouverture": dans_un_mois},
                {"nom": "Tôt", "prenom": "Léo", "email": "tot@exemple.test"},
            ],
        )
        assert str(tard) == f"Le groupe {groupe_a.code} est clôturé à cette date."
        assert isinstance(tot, Utilisateur)
        assert not Utilisateur.objects.filter(email="tard@exemple.test").exists()
