"""Écrans de la transmission et de l'instruction : « Transmettre à la Caf » (POST), le récépissé
PDF, la file « Déclarations reçues » de l'agent Caf et la déclaration en lecture seule avec
« Valider » et « Renvoyer pour correction ». Périmètres (404), rôles (403), messages, budgets."""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from afas.enums import EtatDeclaration, RoleAfas
from afas.instruction import services
from afas.models import Declaration, Recepisse
from portail.models import Courriel
from tests.afas.conftest import creer_activite, creer_lieu
from tests.afas.declarations.fabrique_instruction import (
    charger_declarations,
    creer_declaration,
    declarant_avec_role,
)
from tests.conftest import connecter_verifie
from tests.utils import hors_resume_erreurs, texte

E = EtatDeclaration
POSTGRES = connection.vendor == "postgresql"


@pytest.fixture
def activite(convention):
    activite = creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="EQ0001")
    creer_lieu(activite, "Lioujas école")
    return activite


@pytest.fixture
def approbateur(convention, activite, administrateur, agent_caf):
    return declarant_avec_role(
        convention, activite, RoleAfas.APPROBATEUR, administrateur=administrateur, agent_caf=agent_caf, nom="Approb"
    )


@pytest.fixture
def fda(convention, activite, administrateur):
    return declarant_avec_role(convention, activite, RoleAfas.FDA, administrateur=administrateur, nom="Fda")


@pytest.fixture
def declaration(activite):
    return creer_declaration(activite)


@pytest.fixture
def transmise(declaration, approbateur):
    services.declaration_transmettre(par=approbateur, declaration=declaration)
    return Declaration.objects.get(pk=declaration.pk)


def messages_de(reponse) -> list[str]:
    return [str(m) for m in get_messages(reponse.wsgi_request)]


def transmettre(declaration) -> str:
    return reverse("afas:declaration_transmettre", args=[declaration.pk])


# --- Transmettre --------------------------------------------------------------------------------


@pytest.mark.django_db
class TestTransmettre:
    def test_l_approbateur_transmet_puis_un_second_clic_ne_renvoie_rien(self, client, declaration, approbateur):
        connecter_verifie(client, approbateur)
        Courriel.objects.all().delete()
        reponse = client.post(transmettre(declaration))
        assert reponse.status_code == 302
        assert reponse.url == reverse("afas:declaration", args=[declaration.pk])
        (message,) = messages_de(reponse)
        recepisse = Recepisse.objects.get()
        assert "La déclaration est transmise à la Caf. Récépissé n° 1" in message and recepisse.empreinte in message
        assert Courriel.objects.count() == 1

        reponse = client.post(transmettre(declaration))
        assert reponse.status_code == 302
        message = messages_de(reponse)[-1]  # le premier message n'a pas été lu (redirection non suivie)
        assert "a déjà été transmise à la Caf" in message and "rien n'a été envoyé une seconde fois" in message
        assert Recepisse.objects.count() == 1 and Courriel.objects.count() == 1
        page = texte(client.get(reponse.url, follow=True))
        assert "Transmise" in page

    def test_incomplete_message_de_ce_qui_manque(self, client, activite, approbateur):
        declaration = creer_declaration(activite, remplie=False, etat=E.EN_COURS)
        connecter_verifie(client, approbateur)
        reponse = client.post(transmettre(declaration))
        (message,) = messages_de(reponse)
        assert message.startswith("La déclaration n'est pas complète") and "Lioujas école" in message
        assert Declaration.objects.get(pk=declaration.pk).etat == E.EN_COURS

    def test_le_fda_recoit_403(self, client, declaration, fda):
        connecter_verifie(client, fda)
        assert client.post(transmettre(declaration)).status_code == 403
        assert not Recepisse.objects.exists()

    def test_approbateur_d_un_autre_partenaire_404(
        self, client, declaration, convention_autre_partenaire, admin_autre_partenaire, agent_caf
    ):
        autre = creer_activite(convention_autre_partenaire.organisme, "Crèche des Lilas", numero="EQ0900")
        etranger = declarant_avec_role(
            convention_autre_partenaire,
            autre,
            RoleAfas.APPROBATEUR,
            administrateur=admin_autre_partenaire,
            agent_caf=agent_caf,
        )
        connecter_verifie(client, etranger)
        assert client.post(transmettre(declaration)).status_code == 404

    def test_un_approbateur_en_attente_seul_404(self, client, convention, activite, administrateur, declaration):
        en_attente = declarant_avec_role(convention, activite, RoleAfas.APPROBATEUR, administrateur=administrateur)
        connecter_verifie(client, en_attente)
        assert client.post(transmettre(declaration)).status_code == 404

    def test_l_agent_caf_404_et_get_405(self, client, declaration, agent_caf, approbateur):
        connecter_verifie(client, agent_caf)
        assert client.post(transmettre(declaration)).status_code == 404
        connecter_verifie(client, approbateur)
        assert client.get(transmettre(declaration)).status_code == 405


# --- Récépissé ----------------------------------------------------------------------------------


@pytest.mark.django_db
class TestRecepisse:
    def url(self):
        return reverse("afas:recepisse", args=[Recepisse.objects.get().pk])

    @pytest.mark.parametrize("persona", ["approbateur", "fda", "agent_caf"])
    def test_declarants_et_agents_de_la_caf_lisent_le_pdf(self, request, client, transmise, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        reponse = client.get(self.url())
        assert reponse.status_code == 200
        assert reponse["Content-Type"] == "application/pdf"
        assert reponse["Content-Disposition"] == 'inline; filename="recepisse-EQ0001-2026-reel-1.pdf"'
        lu = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(reponse.content)).pages)
        assert Recepisse.objects.get().empreinte in " ".join(lu.split())

    @pytest.mark.parametrize("persona", ["agent_autre_caf", "exterieur", "administrateur", "admin_autre_partenaire"])
    def test_les_autres_404(self, request, client, transmise, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        assert client.get(self.url()).status_code == 404


# --- File de la Caf -----------------------------------------------------------------------------

RECUES = "afas:declarations_recues"


@pytest.mark.django_db
class TestFile:
    def test_par_defaut_les_transmises_de_sa_caf(self, client, agent_caf, convention, activite, transmise):
        en_cours = creer_declaration(creer_activite(convention.organisme, "CLSH de Bozouls"), etat=E.EN_COURS)
        connecter_verifie(client, agent_caf)
        page = texte(client.get(reverse(RECUES)))
        assert "1 déclaration — page 1 sur 1" in page
        assert reverse("afas:declaration_caf", args=[transmise.pk]) in page
        assert "CLSH de Bozouls" not in page
        page = texte(client.get(reverse(RECUES), {"etat": "tous"}))
        assert "2 déclarations" in page and "CLSH de Bozouls" in page
        page = texte(client.get(reverse(RECUES), {"etat": E.EN_COURS}))
        assert "1 déclaration" in page and reverse("afas:declaration_caf", args=[en_cours.pk]) in page

    def test_filtres(self, client, agent_caf, convention, transmise):
        connecter_verifie(client, agent_caf)

        def nombre(**params) -> int:
            reponse = client.get(reverse(RECUES), params)
            assert reponse.status_code == 200
            return reponse.context["page"].paginator.count

        assert nombre() == 1
        assert nombre(type_declaration="reel", exercice="2026") == 1
        assert nombre(type_declaration="previsionnel") == 0
        assert nombre(exercice="2025") == 0
        assert nombre(partenaire=convention.organisme.raison_sociale[2:8].lower()) == 1
        assert nombre(partenaire="inconnu") == 0
        assert nombre(type_activite="ALSH", nature="extra") == 1
        assert nombre(type_activite="EAJE") == 0
        assert nombre(retard="non") == 1
        assert nombre(retard="oui") == 0
        # Transmise après la date limite : en retard.
        Declaration.objects.filter(pk=transmise.pk).update(date_limite=transmise.date_limite.replace(year=2025))
        assert nombre(retard="oui") == 1
        # Une valeur absurde : un message en français, pas d'erreur.
        reponse = client.get(reverse(RECUES), {"exercice": "99999999999999999999"})
        assert reponse.status_code == 200 and "inférieure ou égale à 2100" in texte(reponse)

    def test_l_agent_d_une_autre_caf_ne_voit_rien(self, client, agent_autre_caf, transmise):
        connecter_verifie(client, agent_autre_caf)
        page = texte(client.get(reverse(RECUES), {"etat": "tous"}))
        assert "Aucun résultat ne correspond à ces filtres" in page

    @pytest.mark.parametrize("persona", ["approbateur", "administrateur", "exterieur"])
    def test_hors_agents_403(self, request, client, transmise, persona):
        connecter_verifie(client, request.getfixturevalue(persona))
        assert client.get(reverse(RECUES)).status_code == 403

    def test_le_menu_et_les_onglets_de_l_agent(self, client, agent_caf):
        connecter_verifie(client, agent_caf)
        page = texte(client.get(reverse("afas:activites")))
        assert page.count(f'href="{reverse(RECUES)}"') == 2  # menu latéral et onglets


# Session, compte, double authentification, profils du menu, comptage, page (déclaration,
# activité, organisme joints ; le retard calculé dans la même requête), écriture de la session (3).
BUDGET_FILE = 9
GRAND = 50_000 if POSTGRES else 3_000


@pytest.mark.django_db
@pytest.mark.parametrize("nombre", [24, GRAND])
def test_budget_de_la_file(client, agent_caf, convention, approbateur, nombre):
    charger_declarations(convention.organisme, nombre, transmise_par=approbateur)
    connecter_verifie(client, agent_caf)
    client.get(reverse(RECUES))  # première page de la session : caches remplis
    comptes, durees = [], []
    for params in (
        {},
        {"etat": "tous", "tri": "-partenaire", "page": "2"},
        {"etat": "tous", "retard": "oui", "type_activite": "EAJE", "exercice": "2024", "partenaire": "test"},
        {"type_declaration": "reel", "tri": "modifiee_le", "page": "9999"},
    ):
        debut = time.perf_counter()
        with CaptureQueriesContext(connection) as requetes:
            reponse = client.get(reverse(RECUES), params)
        durees.append(round(time.perf_counter() - debut, 3))
        assert reponse.status_code == 200
        assert reponse.context["page"].paginator.count > 0, params  # une page de lignes, pas l'alerte vide
        comptes.append(len(requetes))
    print(f"{nombre} déclarations : {comptes} requêtes, {durees} s")
    assert comptes == [BUDGET_FILE] * 4


# --- La déclaration côté Caf : lire, valider, renvoyer --------------------------------------------


@pytest.mark.django_db
class TestDeclarationCaf:
    def test_lecture_seule_chiffres_historique_recepisse_empreinte(self, client, agent_caf, transmise):
        connecter_verifie(client, agent_caf)
        reponse = client.get(reverse("afas:declaration_caf", args=[transmise.pk]))
        page = texte(reponse)
        recepisse = Recepisse.objects.get()
        assert recepisse.empreinte in page and "vérifiée" in page
        assert "12\u00a0345,50" in page  # heures réalisées, au format français
        assert "186\u00a0543,21" in page and "205\u00a0743,31" in page  # compte 64 et total des charges
        assert "<td>À approuver → Transmise</td>" in page
        assert reverse("afas:recepisse", args=[recepisse.pk]) in page
        assert f'action="{reverse("afas:declaration_valider", args=[transmise.pk])}"' in page
        assert f'action="{reverse("afas:declaration_renvoyer", args=[transmise.pk])}"' in page

    def test_une_declaration_non_transmise_se_lit_sans_boutons(self, client, agent_caf, activite):
        declaration = creer_declaration(activite, etat=E.EN_COURS)
        connecter_verifie(client, agent_caf)
        page = texte(client.get(reverse("afas:declaration_caf", args=[declaration.pk])))
        assert "la déclaration n'est pas transmise" in page and "12\u00a0345,50" in page
        assert "Renvoyer pour correction</button>" not in page

    @pytest.mark.parametrize("nom", ["afas:declaration_caf", "afas:declaration_valider", "afas:declaration_renvoyer"])
    def test_agent_d_une_autre_caf_404_declarant_403(self, client, agent_autre_caf, approbateur, transmise, nom):
        connecter_verifie(client, agent_autre_caf)
        assert client.get(reverse(nom, args=[transmise.pk])).status_code == 404
        assert client.post(
            reverse(nom, args=[transmise.pk]), {"confirmation": "on", "commentaire": "x"}
        ).status_code in (
            404,
            405,
        )
        connecter_verifie(client, approbateur)
        assert client.get(reverse(nom, args=[transmise.pk])).status_code == 403
        assert Declaration.objects.get(pk=transmise.pk).etat == E.TRANSMISE

    def test_valider_demande_la_confirmation(self, client, agent_caf, transmise):
        connecter_verifie(client, agent_caf)
        url = reverse("afas:declaration_valider", args=[transmise.pk])
        reponse = client.post(url, {})
        assert reponse.status_code == 200
        assert "Cochez la case pour confirmer la validation." in hors_resume_erreurs(texte(reponse))
        assert Declaration.objects.get(pk=transmise.pk).etat == E.TRANSMISE
        reponse = client.post(url, {"confirmation": "on"})
        assert reponse.status_code == 302 and reponse.url == reverse(RECUES)
        assert Declaration.objects.get(pk=transmise.pk).etat == E.VALIDEE
        # Deuxième envoi (double clic) : refusé avec un message, rien de plus.
        courriels = Courriel.objects.count()
        reponse = client.post(url, {"confirmation": "on"})
        assert reponse.status_code == 302
        assert "« Validée par la Caf » : seule une déclaration transmise" in messages_de(reponse)[-1]
        assert Courriel.objects.count() == courriels

    def test_renvoyer_commentaire_obligatoire_sous_le_champ(self, client, agent_caf, transmise):
        connecter_verifie(client, agent_caf)
        url = reverse("afas:declaration_renvoyer", args=[transmise.pk])
        reponse = client.post(url, {"commentaire": "   "})
        assert reponse.status_code == 200
        page = hors_resume_erreurs(texte(reponse))
        champ = page.index('name="commentaire"')
        erreur = page.index("Le commentaire est obligatoire pour renvoyer la déclaration.")
        assert abs(erreur - champ) < 1500
        assert Declaration.objects.get(pk=transmise.pk).etat == E.TRANSMISE
        reponse = client.post(url, {"commentaire": "Les heures facturées dépassent les heures réalisées."})
        assert reponse.status_code == 302
        declaration = Declaration.objects.get(pk=transmise.pk)
        assert declaration.etat == E.RENVOYEE
        assert declaration.evenements.last().commentaire == "Les heures facturées dépassent les heures réalisées."


# --- Deux clics simultanés (PostgreSQL : deux connexions, un verrou) ------------------------------


@pytest.mark.skipif(not POSTGRES, reason="deux transactions concurrentes : PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_deux_transmissions_simultanees_un_seul_recepisse(convention, administrateur, agent_caf):
    activite = creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="EQ0001")
    approbateur = declarant_avec_role(
        convention, activite, RoleAfas.APPROBATEUR, administrateur=administrateur, agent_caf=agent_caf
    )
    declaration = creer_declaration(activite)
    Courriel.objects.all().delete()
    depart = threading.Barrier(2)
    codes: list[tuple[int, list[str]]] = []

    def cliquer():
        try:
            client = Client()
            connecter_verifie(client, approbateur)
            depart.wait()
            reponse = client.post(transmettre(declaration))
            codes.append((reponse.status_code, messages_de(reponse)))
        finally:
            connections.close_all()

    fils = [threading.Thread(target=cliquer) for _ in range(2)]
    for f in fils:
        f.start()
    for f in fils:
        f.join()
    assert sorted(c for c, _ in codes) == [302, 302]
    textes = sorted(m[0][:40] for _, m in codes)
    assert textes[0].startswith("Cette déclaration a déjà été transmise"), textes
    assert textes[1].startswith("La déclaration est transmise à la Caf"), textes
    assert Recepisse.objects.count() == 1
    assert Courriel.objects.filter(modele="afas_declaration_transmise").count() == 1
    assert Declaration.objects.get(pk=declaration.pk).evenements.filter(etat_apres=E.TRANSMISE).count() == 1
    assert settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


# Session, compte, double authentification, profils du menu, déclaration (activité, organisme,
# Caf, appel joints), récépissés, événements (auteurs joints), écriture de la session (3) : le
# contenu montré est celui du dernier récépissé, quel que soit le nombre de lieux.
BUDGET_DECLARATION_CAF = 11  # dont 1 pour le montant figé à la transmission


@pytest.mark.django_db
@pytest.mark.parametrize("lieux", [1, 30])
def test_budget_de_la_declaration_caf(client, convention, administrateur, agent_caf, lieux):
    activite = creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="EQ0001")
    for i in range(lieux):
        creer_lieu(activite, f"Lieu {i:02d}")
    approbateur = declarant_avec_role(
        convention, activite, RoleAfas.APPROBATEUR, administrateur=administrateur, agent_caf=agent_caf
    )
    declaration = creer_declaration(activite)
    services.declaration_transmettre(par=approbateur, declaration=declaration)
    connecter_verifie(client, agent_caf)
    url = reverse("afas:declaration_caf", args=[declaration.pk])
    client.get(url)  # première page de la session : caches remplis
    with CaptureQueriesContext(connection) as requetes:
        reponse = client.get(url)
    assert reponse.status_code == 200 and "Lieu 00" in texte(reponse)
    assert len(requetes) == BUDGET_DECLARATION_CAF, [q["sql"][:120] for q in requetes.captured_queries]


@pytest.mark.django_db
def test_file_dans_l_ordre_d_une_page_a_l_autre(client, agent_caf, convention, approbateur):
    """Clés de la page d'abord puis ses lignes : même ordre (date limite puis clé, ou colonne
    choisie puis date limite puis clé), sans ligne perdue ni répétée entre deux pages."""
    charger_declarations(convention.organisme, 160, transmise_par=approbateur)
    connecter_verifie(client, agent_caf)
    toutes = Declaration.objects.filter(caf=convention.organisme.caf).select_related("activite__organisme")

    def parcourir(**params) -> list[int]:
        ids = []
        for numero in range(1, 9):
            page = client.get(reverse(RECUES), {**params, "page": numero}).context["page"]
            ids += [d.pk for d in page]
            if not page.has_next():
                return ids
        raise AssertionError("plus de huit pages")

    transmises = sorted((d.date_limite, d.pk) for d in toutes if d.etat == EtatDeclaration.TRANSMISE)
    assert parcourir() == [pk for _, pk in transmises]
    attendu = sorted(toutes, key=lambda d: (d.modifiee_le, d.date_limite, d.pk))
    assert parcourir(etat="tous", tri="modifiee_le") == [d.pk for d in attendu]
    attendu = sorted(toutes, key=lambda d: (d.activite.libelle, d.date_limite, d.pk))
    attendu.sort(key=lambda d: d.activite.libelle, reverse=True)
    assert parcourir(etat="tous", tri="-activite") == [d.pk for d in attendu]
