"""Les appels de déclaration de la Caf : le lancement (une transaction, une clé d'envoi), la
création des déclarations par la tâche (rejouable), les relances à 7 et 1 jour, et les écrans
de l'agent (qui voit quoi, refus sous le champ, aperçu, export, progression)."""

import datetime
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from afas.campagnes import services as campagnes
from afas.campagnes.views import ENTETES_EXPORT, lignes_export
from afas.enums import EtatDeclaration, EtatLancement, NatureActivite, RoleAfas, TypeActivite, TypeDeclaration
from afas.models import (
    Activite,
    AppelDeclaration,
    Declaration,
    DonneesActivite,
    DonneesFinancieres,
    EvenementDeclaration,
)
from conventions.models import Organisme
from portail.models import Courriel, EvenementAudit
from portail.socle.csv import contenu_csv
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from tests import factories
from tests.afas.conftest import creer_activite, creer_lieu
from tests.afas.declarations.outils_campagnes import donner_les_roles, lancer, partenaire_pret
from tests.conftest import connecter_verifie
from tests.utils import hors_resume_erreurs, texte

pytestmark = pytest.mark.django_db

J = aujourdhui()
EAJE = campagnes.Criteres(type_activite=TypeActivite.EAJE)


@pytest.fixture
def partenaire(caf, agent_caf):
    """Un partenaire prêt : deux activités (un ALSH à deux lieux ouverts et un fermé, une crèche
    sans lieu), le déclarant y tient les trois rôles, approbateur validé."""
    convention, admin, declarant = partenaire_pret(caf, agent_caf)
    alsh = creer_activite(
        convention.organisme, "ALSH du Bourg", numero="ALSH000001", nature=NatureActivite.PERISCOLAIRE
    )
    creer_lieu(alsh, "École A")
    creer_lieu(alsh, "École B")
    creer_lieu(alsh, "Ancienne école", date_cloture=J)
    creche = creer_activite(convention.organisme, "Crèche", numero="EAJE000001", type_activite=TypeActivite.EAJE)
    donner_les_roles(admin, declarant, agent_caf, [alsh, creche])
    return {"convention": convention, "admin": admin, "declarant": declarant, "alsh": alsh, "creche": creche}


def courriels(modele):
    return Courriel.objects.filter(modele=modele)


# --- Lancer et créer ----------------------------------------------------------------------------


def test_lancer_cree_une_declaration_par_activite_avec_ses_lignes_et_previent_l_approbateur(agent_caf, partenaire):
    appel = lancer(agent_caf)
    appel.refresh_from_db()
    assert appel.etat_lancement == EtatLancement.TERMINE and appel.termine_le is not None
    assert (appel.total, appel.creees) == (2, 2)
    alsh = Declaration.objects.get(appel=appel, activite=partenaire["alsh"])
    creche = Declaration.objects.get(appel=appel, activite=partenaire["creche"])
    assert alsh.etat == EtatDeclaration.A_SAISIR and alsh.caf_id == agent_caf.caf_id
    assert (alsh.date_ouverture, alsh.date_limite) == (appel.date_ouverture, appel.date_limite)
    # Une ligne par lieu ouvert (la nature de l'ALSH), une ligne pour l'activité sans lieu.
    assert sorted(alsh.donnees_activite.values_list("lieu__libelle", "nature")) == [
        ("École A", NatureActivite.PERISCOLAIRE),
        ("École B", NatureActivite.PERISCOLAIRE),
    ]
    assert list(creche.donnees_activite.values_list("lieu", "nature")) == [(None, "")]
    assert DonneesFinancieres.objects.filter(declaration__appel=appel).count() == 2
    assert list(EvenementDeclaration.objects.filter(declaration=alsh).values_list("etat_avant", "etat_apres")) == [
        ("", EtatDeclaration.A_SAISIR)
    ]
    # Un seul courriel récapitulatif à l'approbateur validé, qui cite ses deux activités.
    (mail,) = courriels("afas_appel_declaration")
    assert mail.destinataire == partenaire["declarant"].email
    assert "ALSH du Bourg" in mail.corps and "Crèche" in mail.corps and "/afas/mes-declarations/" in mail.corps
    assert EvenementAudit.objects.filter(action="appel_lancer", acteur=agent_caf).count() == 1
    assert EvenementAudit.objects.filter(action="appel_declarations_creer").count() == 1


def test_approbateur_non_valide_n_est_pas_prevenu(caf, agent_caf):
    convention, admin, declarant = partenaire_pret(caf, agent_caf)
    activite = creer_activite(convention.organisme, numero="EAJE000009", type_activite=TypeActivite.EAJE)
    from afas import services as services_afas

    services_afas.habilitation_afas_affecter(
        par=admin, utilisateur=declarant, role=RoleAfas.APPROBATEUR, date_ouverture=J, activites=[activite]
    )
    lancer(agent_caf, criteres=EAJE)
    assert Declaration.objects.filter(activite=activite).count() == 1
    assert not courriels("afas_appel_declaration").exists()


def test_double_envoi_de_la_meme_cle_rend_le_meme_appel(agent_caf, partenaire):
    cle = uuid.uuid4()
    premier = lancer(agent_caf, cle=cle)
    second = lancer(agent_caf, cle=cle)
    assert premier.pk == second.pk
    assert AppelDeclaration.objects.count() == 1
    assert Declaration.objects.count() == 2
    assert courriels("afas_appel_declaration").count() == 1


def test_tache_livree_deux_fois_ne_cree_ni_n_ecrit_rien_deux_fois(agent_caf, partenaire):
    appel = lancer(agent_caf)
    avant = (Declaration.objects.count(), DonneesActivite.objects.count(), Courriel.objects.count())
    assert campagnes.appel_deployer(appel_id=appel.pk) == 0
    # Même une livraison qui trouve le lancement pas encore marqué terminé (le worker s'est
    # arrêté juste avant) ne refait rien : les déclarations existent.
    AppelDeclaration.objects.filter(pk=appel.pk).update(etat_lancement=EtatLancement.EN_COURS, termine_le=None)
    assert campagnes.appel_deployer(appel_id=appel.pk) == 0
    assert (Declaration.objects.count(), DonneesActivite.objects.count(), Courriel.objects.count()) == avant
    appel.refresh_from_db()
    assert appel.etat_lancement == EtatLancement.TERMINE and appel.creees == 2


def test_les_activites_deja_declarees_sont_sautees(agent_caf, partenaire):
    lancer(agent_caf, criteres=EAJE)
    apercu = campagnes.appel_apercu(
        caf_id=agent_caf.caf_id,
        exercice=J.year,
        type_declaration=TypeDeclaration.PREVISIONNEL,
        criteres=campagnes.Criteres(),
    )
    assert (apercu.concernees, apercu.nombre_deja_declarees, apercu.a_creer) == (2, 1, 1)
    assert [d.activite for d in apercu.deja_declarees] == [partenaire["creche"]]
    second = lancer(agent_caf)
    assert second.total == 1
    assert Declaration.objects.filter(activite=partenaire["creche"]).count() == 1
    with pytest.raises(ErreurMetier) as refus:
        lancer(agent_caf)
    assert refus.value.champ == "exercice"
    # Un autre type, ou un autre exercice, est une autre déclaration.
    lancer(agent_caf, type_declaration=TypeDeclaration.REEL, exercice=J.year - 1)
    assert Declaration.objects.filter(activite=partenaire["creche"]).count() == 2


def test_apercu_liste_les_activites_dont_le_partenaire_n_est_pas_pret(caf, agent_caf, partenaire):
    convention, admin, declarant = partenaire_pret(caf, agent_caf, nom="Vidal")
    sans_fdf = creer_activite(
        convention.organisme, "Crèche sans FDF", numero="EAJE000002", type_activite=TypeActivite.EAJE
    )
    donner_les_roles(admin, declarant, agent_caf, [sans_fdf], roles=(RoleAfas.APPROBATEUR, RoleAfas.FDA))
    apercu = campagnes.appel_apercu(
        caf_id=agent_caf.caf_id, exercice=J.year, type_declaration=TypeDeclaration.PREVISIONNEL, criteres=EAJE
    )
    assert apercu.concernees == 2 and apercu.nombre_non_pretes == 1
    (activite,) = apercu.non_pretes
    assert activite == sans_fdf and activite.manquants == [RoleAfas.FDF.label]


@pytest.mark.parametrize(
    ("ouverture", "limite", "exercice", "champ"),
    [
        (J, J - datetime.timedelta(days=1), J.year, "date_limite"),
        (J + datetime.timedelta(days=10), J + datetime.timedelta(days=5), J.year, "date_limite"),
        (J, J + datetime.timedelta(days=5), J.year + 5, "exercice"),
        (J, J + datetime.timedelta(days=5), 1999, "exercice"),
    ],
)
def test_refus_rien_n_est_ecrit(agent_caf, partenaire, ouverture, limite, exercice, champ):
    with pytest.raises(ErreurMetier) as refus:
        lancer(agent_caf, date_ouverture=ouverture, date_limite=limite, exercice=exercice)
    assert refus.value.champ == champ
    assert not AppelDeclaration.objects.exists() and not Declaration.objects.exists()


def test_numeros_inconnus_ou_d_une_autre_caf_refuses(agent_caf, partenaire, autre_caf):
    autre = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=autre_caf))
    creer_activite(autre.organisme, "Ailleurs", numero="EAJE000777", type_activite=TypeActivite.EAJE)
    with pytest.raises(ErreurMetier) as refus:
        lancer(agent_caf, criteres=campagnes.Criteres(numeros=("EAJE000001", "EAJE000777", "INCONNU")))
    assert refus.value.champ == "numeros" and "EAJE000777, INCONNU" in refus.value.message
    appel = lancer(agent_caf, criteres=campagnes.Criteres(numeros=("EAJE000001",)))
    assert list(Declaration.objects.filter(appel=appel).values_list("activite", flat=True)) == [partenaire["creche"].pk]


def test_partenaire_ne_lance_pas(partenaire):
    with pytest.raises(ErreurMetier):
        lancer(partenaire["admin"])
    assert not AppelDeclaration.objects.exists()


def test_lancement_inacheve_repris(agent_caf, partenaire, django_capture_on_commit_callbacks):
    from django.utils import timezone

    appel = lancer(agent_caf)
    AppelDeclaration.objects.filter(pk=appel.pk).update(
        etat_lancement=EtatLancement.EN_ATTENTE, lance_le=timezone.now() - datetime.timedelta(hours=1)
    )
    assert campagnes.appels_a_reprendre() == [appel.pk]
    from afas.tasks import reprendre_appels

    assert reprendre_appels() == 1
    assert AppelDeclaration.objects.get(pk=appel.pk).etat_lancement == EtatLancement.TERMINE
    assert campagnes.appels_a_reprendre() == []


# --- Relances -----------------------------------------------------------------------------------


def test_relances_a_7_et_1_jour_une_seule_fois_chacune(agent_caf, partenaire, caf):
    appel = lancer(agent_caf, date_limite=J + datetime.timedelta(days=20))
    alsh = Declaration.objects.get(appel=appel, activite=partenaire["alsh"])
    assert campagnes.declarations_a_relancer(J) == []
    j7 = J + datetime.timedelta(days=13)
    assert campagnes.declarations_a_relancer(j7) == sorted(Declaration.objects.values_list("pk", flat=True))
    assert campagnes.declaration_relancer(declaration_id=alsh.pk, jour=j7) == 1
    assert campagnes.declaration_relancer(declaration_id=alsh.pk, jour=j7) == 0  # livrée deux fois
    (mail,) = courriels("afas_declaration_relance")
    assert mail.destinataire == partenaire["declarant"].email
    assert "dans 7 jours" in mail.sujet and "ALSH du Bourg" in mail.corps
    j1 = J + datetime.timedelta(days=19)
    assert campagnes.declaration_relancer(declaration_id=alsh.pk, jour=j1) == 1
    assert campagnes.declaration_relancer(declaration_id=alsh.pk, jour=j1) == 0
    assert courriels("afas_declaration_relance").count() == 2
    assert "demain" in courriels("afas_declaration_relance").order_by("pk").last().sujet
    # Celle jamais relancée à 7 jours, à la veille : une seule relance, les deux marquées faites.
    creche = Declaration.objects.get(appel=appel, activite=partenaire["creche"])
    assert campagnes.declaration_relancer(declaration_id=creche.pk, jour=j1) == 1
    creche.refresh_from_db()
    assert creche.relance_7j_le and creche.relance_1j_le
    assert campagnes.declaration_relancer(declaration_id=creche.pk, jour=j1) == 0
    # Après la date limite, plus de relance.
    assert campagnes.declarations_a_relancer(J + datetime.timedelta(days=21)) == []


def test_pas_de_relance_pour_une_declaration_transmise(agent_caf, partenaire):
    appel = lancer(agent_caf, date_limite=J + datetime.timedelta(days=3))
    Declaration.objects.filter(appel=appel).update(etat=EtatDeclaration.TRANSMISE)
    assert campagnes.declarations_a_relancer(J) == []
    for d in Declaration.objects.all():
        assert campagnes.declaration_relancer(declaration_id=d.pk, jour=J) == 0
    assert not courriels("afas_declaration_relance").exists()


def test_relance_aux_fournisseurs_de_donnees_aussi(caf, agent_caf):
    convention, admin, approbateur = partenaire_pret(caf, agent_caf, nom="Appro")
    fdf = factories.creer_utilisateur(nom="Fdf", prenom="Marc", organisme=convention.organisme)
    factories.habiliter(fdf, convention, "AFAS-DECLARER", responsable=admin)
    activite = creer_activite(convention.organisme, numero="EAJE000003", type_activite=TypeActivite.EAJE)
    donner_les_roles(admin, approbateur, agent_caf, [activite], roles=(RoleAfas.APPROBATEUR,))
    donner_les_roles(admin, fdf, agent_caf, [activite], roles=(RoleAfas.FDF,))
    lancer(agent_caf, date_limite=J + datetime.timedelta(days=1))
    (declaration,) = Declaration.objects.all()
    assert campagnes.declaration_relancer(declaration_id=declaration.pk, jour=J) == 1
    assert set(courriels("afas_declaration_relance").values_list("destinataire", flat=True)) == {
        approbateur.email,
        fdf.email,
    }


# --- Écrans -------------------------------------------------------------------------------------


def donnees_formulaire(**kwargs):
    donnees = {
        "cle": str(uuid.uuid4()),
        "exercice": str(J.year),
        "type_declaration": TypeDeclaration.PREVISIONNEL,
        "mode": "criteres",
        "type_activite": "",
        "nature": "",
        "numeros": "",
        "date_ouverture": J.isoformat(),
        "date_limite": (J + datetime.timedelta(days=30)).isoformat(),
    }
    donnees.update(kwargs)
    return donnees


def test_lancer_par_l_ecran_apercu_puis_confirmation(
    client, agent_caf, partenaire, caf, django_capture_on_commit_callbacks
):
    convention, _admin, _declarant = partenaire_pret(caf, agent_caf, nom="Vidal")
    creer_activite(convention.organisme, "Crèche sans rôle", numero="EAJE000004", type_activite=TypeActivite.EAJE)
    connecter_verifie(client, agent_caf)
    url = reverse("afas:appel_lancer")
    assert client.get(url).status_code == 200
    donnees = donnees_formulaire(apercu="1")
    page = texte(client.post(url, donnees))
    assert "AVANT DE CONFIRMER" in page and "Crèche sans rôle" in page
    assert "Approbateur, Fournisseur de données d'activité, Fournisseur de données financières" in page
    assert "Confirmer le lancement (3 déclarations)" in page
    assert not AppelDeclaration.objects.exists()
    donnees = {**donnees, "confirmer": "1"}
    del donnees["apercu"]
    with django_capture_on_commit_callbacks(execute=True):
        reponse = client.post(url, donnees)
    appel = AppelDeclaration.objects.get()
    assert reponse.status_code == 302 and reponse.url == reverse("afas:appel", args=[appel.pk])
    # Le même formulaire renvoyé (double clic, retour arrière) : le même appel, rien de plus.
    assert client.post(url, donnees).url == reponse.url
    assert AppelDeclaration.objects.count() == 1 and Declaration.objects.count() == 3
    page = texte(client.get(reponse.url, follow=True))
    assert "est lancé" in page and "Lancement terminé" in page and "Crèche sans rôle" in page


@pytest.mark.parametrize(
    ("champs", "champ", "message"),
    [
        (
            {"date_limite": (J - datetime.timedelta(days=1)).isoformat()},
            "date_limite",
            "La date limite ne peut pas être passée.",
        ),
        (
            {"date_ouverture": (J + datetime.timedelta(days=40)).isoformat()},
            "date_limite",
            "postérieure à la date d'ouverture",
        ),
        ({"exercice": "1990"}, "exercice", "Choisissez un exercice de la liste."),
        ({"mode": "choix"}, "numeros", "Saisissez au moins un numéro d'équipement."),
        ({"mode": "choix", "numeros": "XX1"}, "numeros", "hors de votre Caf : XX1"),
        ({"type_activite": "EAJE", "nature": "PERI"}, "nature", "ne concerne que les accueils de loisirs"),
        ({"date_limite": "31/02/2026"}, "date_limite", "Saisissez une date valide."),
    ],
)
def test_refus_sous_le_champ_rien_de_cree(client, agent_caf, partenaire, champs, champ, message):
    connecter_verifie(client, agent_caf)
    for bouton in ("apercu", "confirmer"):
        page = texte(client.post(reverse("afas:appel_lancer"), donnees_formulaire(**champs, **{bouton: "1"})))
        sous_le_champ = re.search(rf'id="id_{champ}-desc-error">(.*?)</div>', hors_resume_erreurs(page), re.S)
        assert sous_le_champ and message in sous_le_champ.group(1), (bouton, champ)
    assert not AppelDeclaration.objects.exists()


def test_un_partenaire_recoit_403(client, partenaire):
    appel = lancer(factories.creer_utilisateur(nom="Agent", prenom="Luc", caf=partenaire["convention"].organisme.caf))
    for persona in (partenaire["admin"], partenaire["declarant"]):
        connecter_verifie(client, persona)
        for nom, kwargs in (
            ("afas:appels", {}),
            ("afas:appel_lancer", {}),
            ("afas:appel", {"pk": appel.pk}),
            ("afas:appel_progression", {"pk": appel.pk}),
            ("afas:appel_export", {"pk": appel.pk}),
        ):
            assert client.get(reverse(nom, kwargs=kwargs)).status_code == 403, nom
        assert client.post(reverse("afas:appel_lancer"), donnees_formulaire(confirmer="1")).status_code == 403
    assert AppelDeclaration.objects.count() == 1


def test_l_appel_d_une_autre_caf_repond_404(client, agent_caf, agent_autre_caf, partenaire):
    appel = lancer(agent_caf)
    connecter_verifie(client, agent_autre_caf)
    for nom in ("afas:appel", "afas:appel_progression", "afas:appel_export"):
        assert client.get(reverse(nom, args=[appel.pk])).status_code == 404, nom
    assert "Prévisionnel" not in texte(client.get(reverse("afas:appels")))
    # Elle ne lance pas avec la clé de l'autre Caf non plus.
    reponse = client.post(reverse("afas:appel_lancer"), donnees_formulaire(cle=str(appel.cle), confirmer="1"))
    assert reponse.status_code == 200 and AppelDeclaration.objects.count() == 1


def test_suivi_filtres_retards_et_export(client, agent_caf, partenaire):
    appel = lancer(agent_caf, date_limite=J + datetime.timedelta(days=2))
    Declaration.objects.filter(activite=partenaire["alsh"]).update(date_limite=J - datetime.timedelta(days=1))
    Declaration.objects.filter(activite=partenaire["creche"]).update(etat=EtatDeclaration.TRANSMISE)
    connecter_verifie(client, agent_caf)
    url = reverse("afas:appel", args=[appel.pk])
    page = texte(client.get(url))
    assert "ALSH du Bourg" in page and "Crèche" in page and "En retard" in page
    page = texte(client.get(url, {"retard": "oui"}))
    assert "ALSH du Bourg" in page and "EAJE000001" not in page
    page = texte(client.get(url, {"etat": EtatDeclaration.TRANSMISE}))
    assert "EAJE000001" in page and "ALSH000001" not in page
    liste = texte(client.get(reverse("afas:appels")))
    assert "Transmise : 1" in liste and "À saisir : 1" in liste
    export = client.get(reverse("afas:appel_export", args=[appel.pk]))
    assert export["Content-Type"].startswith("text/csv")
    contenu = b"".join(export.streaming_content).decode("utf-8")
    assert contenu.startswith("\ufeffPartenaire;Numéro d'équipement;Activité")
    lignes = contenu.strip().split("\r\n")
    assert len(lignes) == 3
    assert any("ALSH000001" in ligne and ligne.endswith(";Oui;" + ligne.rsplit(";", 1)[-1]) for ligne in lignes)
    assert any("EAJE000001" in ligne and ";Transmise;" in ligne for ligne in lignes)


def test_decomptes_par_etat_et_retards(agent_caf, partenaire):
    """Les décomptes de la liste des appels : par état, au total, et en retard (pas transmise,
    date limite passée ; une transmise après la date limite ne l'est pas)."""
    from afas.campagnes.requetes import decompte_vide, decomptes, q_en_retard

    appel = lancer(agent_caf, date_limite=J + datetime.timedelta(days=2))
    veille = J - datetime.timedelta(days=1)
    Declaration.objects.filter(activite=partenaire["alsh"]).update(date_limite=veille)
    Declaration.objects.filter(activite=partenaire["creche"]).update(date_limite=veille, etat=EtatDeclaration.TRANSMISE)
    attendu = decompte_vide() | {"total": 2, "retard": 1, EtatDeclaration.A_SAISIR: 1, EtatDeclaration.TRANSMISE: 1}
    assert decomptes([appel.pk, appel.pk + 1000], J) == {appel.pk: attendu}
    assert Declaration.objects.filter(q_en_retard(J), appel=appel).count() == 1
    # La veille de la date limite : plus aucun retard.
    assert decomptes([appel.pk], veille - datetime.timedelta(days=1))[appel.pk]["retard"] == 0


def test_progression_relue_tant_que_le_lancement_court(client, agent_caf, partenaire):
    appel = lancer(agent_caf)
    connecter_verifie(client, agent_caf)
    url = reverse("afas:appel_progression", args=[appel.pk])
    termine = texte(client.get(url))
    assert "Lancement terminé" in termine and "hx-get" not in termine
    AppelDeclaration.objects.filter(pk=appel.pk).update(etat_lancement=EtatLancement.EN_COURS, creees=1)
    en_cours = texte(client.get(url))
    assert 'hx-trigger="every 2s"' in en_cours and '<progress class="fr-col-12" max="2" value="1"' in en_cours
    assert "Actualiser la page" in en_cours
    page = texte(client.get(reverse("afas:appel", args=[appel.pk])))
    assert "htmx-2.min.js" in page and 'hx-get="' + url in page


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY : PostgreSQL seulement")
def test_export_ecrit_par_postgresql_comme_par_python(client, rf, agent_caf, partenaire):
    """Ticket 11 : l'export de l'appel écrit par PostgreSQL est, octet pour octet, celui des
    valeurs Python (libellés des choix, retards, dates, heure de Paris au changement d'heure,
    noms hostiles) ; sous SQLite, ce sont ces valeurs qui sont écrites."""
    appel = lancer(agent_caf, date_limite=J + datetime.timedelta(days=2))
    Organisme.objects.filter(pk=partenaire["convention"].organisme_id).update(raison_sociale='=HYPERLINK("x");"a"')
    Activite.objects.filter(pk=partenaire["alsh"].pk).update(libelle="ALSH\nsur deux lignes ; -moins")
    Activite.objects.filter(pk=partenaire["creche"].pk).update(nature="")
    Declaration.objects.filter(activite=partenaire["alsh"]).update(
        date_limite=J - datetime.timedelta(days=1),
        modifiee_le=datetime.datetime(2026, 10, 25, 1, 0, tzinfo=datetime.UTC),
    )
    Declaration.objects.filter(activite=partenaire["creche"]).update(
        etat=EtatDeclaration.TRANSMISE, modifiee_le=datetime.datetime(2026, 3, 29, 0, 59, tzinfo=datetime.UTC)
    )
    requete = rf.get("/")
    requete.user = agent_caf
    lignes = lignes_export(requete, appel, J)
    attendu = b"".join(contenu_csv(ENTETES_EXPORT, lignes.repli()))
    with CaptureQueriesContext(connection) as requetes:
        obtenu = b"".join(contenu_csv(ENTETES_EXPORT, lignes))
    assert [q["sql"][:6] for q in requetes.captured_queries] == ["COPY ("]
    assert obtenu == attendu
    texte_ = obtenu.decode("utf-8")
    assert "25/10/2026 à 02h00" in texte_ and "29/03/2026 à 01h59" in texte_ and ";Oui;" in texte_
    assert texte_.count('"\'=HYPERLINK(""x"");""a"""') == 2
