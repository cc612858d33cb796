"""Écrans AFAS : qui voit quoi (refus par défaut, 404 hors périmètre), et les parcours des guides."""

import datetime

import pytest
from django.db import connection
from django.urls import reverse

from afas import services
from afas.enums import DecisionCaf, RoleAfas
from afas.habilitations import tableau_de_bord
from afas.models import Activite, HabilitationAfas, LieuImplantation, SyntheseAfas
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db

J = aujourdhui()
PERSONAS_SANS_HABILITER = ["declarant", "responsable", "exterieur", "agent_caf"]


def connecter(client, request, persona: str):
    user = request.getfixturevalue(persona)
    connecter_verifie(client, user)
    return user


def affecter(par, user, role, activites=(), lieux=()):
    return services.habilitation_afas_affecter(
        par=par, utilisateur=user, role=role, date_ouverture=J, activites=activites, lieux=lieux
    )


# --- Administration des profils : qui peut ------------------------------------------------------


@pytest.mark.parametrize("persona", ["administrateur", "habilitateur"])
def test_recherche_ouverte_a_l_administrateur_et_au_profil_habiliter(client, request, persona, activite):
    connecter(client, request, persona)
    reponse = client.get(reverse("afas:habilitations"))
    assert reponse.status_code == 200
    assert "HABILITATIONS D'ACTION SOCIALE" in texte(reponse)
    assert client.get(reverse("afas:habiliter")).status_code == 200


@pytest.mark.parametrize("persona", PERSONAS_SANS_HABILITER)
def test_recherche_et_habiliter_refuses(client, request, persona, convention, administrateur):
    connecter(client, request, persona)
    assert client.get(reverse("afas:habilitations"), {"etat": "actif"}).status_code == 403
    assert client.get(reverse("afas:habiliter")).status_code == 403
    assert client.get(reverse("afas:habiliter_portee")).status_code == 403
    assert client.post(reverse("afas:habiliter"), {"enregistrer": "1"}).status_code == 403


@pytest.mark.parametrize("persona", ["admin_autre_partenaire", "declarant", "responsable", "exterieur", "agent_caf"])
def test_supprimer_hors_perimetre_404(client, request, persona, administrateur, declarant, activite):
    (h,) = affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])
    connecter(client, request, persona)
    url = reverse("afas:habilitation_supprimer", args=[h.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"confirmation": "on"}).status_code == 404
    h.refresh_from_db()
    assert h.date_cloture is None


def test_admin_d_un_autre_partenaire_ne_voit_ni_n_affecte_rien_ici(
    client, admin_autre_partenaire, administrateur, declarant, activite, convention
):
    affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])
    connecter_verifie(client, admin_autre_partenaire)
    reponse = client.get(reverse("afas:habilitations"), {"etat": "actif", "lieux": "oui"})
    assert reponse.status_code == 200
    assert "Ferrand" not in texte(reponse)
    assert activite.libelle not in texte(reponse)
    # Le partenaire d'une autre convention n'est pas un choix valide : rien n'est créé.
    donnees = {
        "partenaire": convention.pk,
        "utilisateur": declarant.pk,
        "role": RoleAfas.FDA,
        "date_ouverture": J.isoformat(),
        "portee": "activites",
        "activites": [activite.pk],
        "enregistrer": "1",
    }
    reponse = client.post(reverse("afas:habiliter"), donnees)
    assert reponse.status_code == 200
    assert HabilitationAfas.objects.filter(role=RoleAfas.FDA).count() == 0


def test_personne_ne_s_habilite_soi_meme_par_l_ecran(client, habilitateur, convention, activite, administrateur):
    """L'habilitateur est lui-même déclarant : il n'est pas dans la liste des utilisateurs."""
    from tests import factories

    factories.habiliter(habilitateur, convention, "AFAS-DECLARER", responsable=administrateur)
    connecter_verifie(client, habilitateur)
    reponse = client.post(
        reverse("afas:habiliter"),
        {
            "partenaire": convention.pk,
            "utilisateur": habilitateur.pk,
            "role": RoleAfas.FDA,
            "date_ouverture": J.isoformat(),
            "portee": "activites",
            "activites": [activite.pk],
            "enregistrer": "1",
        },
    )
    assert reponse.status_code == 200
    assert "n'appartient pas au groupe AFAS-DECLARER" in texte(reponse)
    assert not HabilitationAfas.objects.exists()


# --- Parcours des guides -----------------------------------------------------------------------


def test_habiliter_approbateur_sur_deux_activites(client, administrateur, declarant, convention, activite, activite2):
    connecter_verifie(client, administrateur)
    reponse = client.get(reverse("afas:habiliter"))
    page = texte(reponse)
    for libelle in ("1. SÉLECTIONNER L'UTILISATEUR", "2. SÉLECTIONNER LE RÔLE", "3. SÉLECTIONNER LA PORTÉE"):
        assert libelle in page
    assert "FERRAND Paul" in page  # membre d'AFAS-DECLARER
    assert "CASTAN Hugo" not in page  # l'administrateur lui-même
    reponse = client.post(
        reverse("afas:habiliter"),
        {
            "partenaire": convention.pk,
            "utilisateur": declarant.pk,
            "role": RoleAfas.APPROBATEUR,
            "date_ouverture": J.isoformat(),
            "portee": "activites",
            "toutes": "on",
            "enregistrer": "1",
        },
        follow=True,
    )
    page = texte(reponse)
    assert "Les habilitations ont été créées avec succès." in page
    for a in (activite, activite2):
        assert (
            "L'habilitation de cet utilisateur au rôle d'approbateur pour l'équipement/service "
            f"{a.libelle}, est en cours de validation par la Caf." in page
        )
    assert HabilitationAfas.objects.en_attente().count() == 2

    reponse = client.get(reverse("afas:habilitations"), {"etat": "inactif", "lieux": "oui"})
    page = texte(reponse)
    assert f"Activité : {activite.libelle}" in page
    assert f"{J:%d/%m/%Y}*" in page
    assert "(*) En attente de validation par votre CAF." in page


def test_selection_obligatoire(client, administrateur, declarant, convention, activite):
    connecter_verifie(client, administrateur)
    reponse = client.post(
        reverse("afas:habiliter"),
        {
            "partenaire": convention.pk,
            "utilisateur": declarant.pk,
            "role": RoleAfas.FDA,
            "date_ouverture": J.isoformat(),
            "portee": "activites",
            "enregistrer": "1",
        },
    )
    assert "La sélection d'au moins une activité est obligatoire." in texte(reponse)
    assert not HabilitationAfas.objects.exists()


def test_afficher_les_lieux_sans_javascript_et_par_htmx(client, administrateur, convention, lieu, lieu2):
    connecter_verifie(client, administrateur)
    donnees = {"partenaire": convention.pk, "portee": "lieux", "afficher": "1"}
    page = texte(client.post(reverse("afas:habiliter"), donnees))
    assert lieu.libelle in page and lieu2.libelle in page
    assert "Sélectionner tous les lieux d'implantation de toutes les activités" in page
    assert not HabilitationAfas.objects.exists()
    fragment = client.get(reverse("afas:habiliter_portee"), donnees, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert lieu2.libelle in texte(fragment)


def test_fda_sur_deux_lieux_puis_suppression(client, administrateur, declarant, convention, activite, lieu, lieu2):
    connecter_verifie(client, administrateur)
    client.post(
        reverse("afas:habiliter"),
        {
            "partenaire": convention.pk,
            "utilisateur": declarant.pk,
            "role": RoleAfas.FDA,
            "date_ouverture": J.isoformat(),
            "portee": "lieux",
            "lieux": [lieu.pk, lieu2.pk],
            "quitter": "1",
        },
    )
    assert HabilitationAfas.objects.actives().filter(lieu__isnull=False).count() == 2
    page = texte(client.get(reverse("afas:habilitations"), {"etat": "actif", "lieux": "oui"}))
    assert f"Lieu d'implantation : {lieu.libelle}" in page
    h = HabilitationAfas.objects.get(lieu=lieu)
    requete = "etat=actif&lieux=oui"
    url = reverse("afas:habilitation_supprimer", args=[h.pk])
    reponse = client.post(url, {"requete": requete})
    assert "Cochez la case pour confirmer la suppression." in texte(reponse)
    reponse = client.post(url, {"requete": requete, "confirmation": "on"})
    assert reponse.status_code == 302 and reponse["Location"].endswith("?etat=actif&lieux=oui")
    page = texte(client.get(reverse("afas:habilitations"), {"etat": "historique", "lieux": "oui"}))
    assert f"Lieu d'implantation : {lieu.libelle}" in page and f"{J:%d/%m/%Y}" in page
    page = texte(client.get(reverse("afas:habilitations"), {"etat": "non_attribue", "lieux": "oui"}))
    assert f"Lieu d'implantation : {lieu.libelle}" in page
    assert f"Lieu d'implantation : {lieu2.libelle}" not in page
    assert "Non attribué" in page


def test_retour_de_suppression_jamais_une_adresse_fournie(client, administrateur, declarant, activite):
    (h,) = affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])
    connecter_verifie(client, administrateur)
    reponse = client.post(
        reverse("afas:habilitation_supprimer", args=[h.pk]),
        {"requete": "next=https://exemple.invalid&etat=actif", "confirmation": "on"},
    )
    assert reponse["Location"] == reverse("afas:habilitations") + "?etat=actif"


def test_non_attribue_liste_les_roles_manquants(client, administrateur, declarant, activite, activite2):
    affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])
    connecter_verifie(client, administrateur)
    page = texte(client.get(reverse("afas:habilitations"), {"etat": "non_attribue", "lieux": "non"}))
    assert f"Activité : {activite.libelle}" in page and f"Activité : {activite2.libelle}" in page
    assert page.count("<td>Fournisseur de données financières</td>") == 1  # seule l'activité 2 n'en a pas
    page = texte(
        client.get(reverse("afas:habilitations"), {"etat": "non_attribue", "lieux": "non", "role": RoleAfas.FDF})
    )
    assert f"Activité : {activite.libelle}" not in page


def test_etat_obligatoire(client, administrateur):
    connecter_verifie(client, administrateur)
    page = texte(client.get(reverse("afas:habilitations"), {"partenaire": ""}))
    assert "Choisissez l'état de l'habilitation." in page


# --- Déclarant ---------------------------------------------------------------------------------


def test_menu_du_declarant(client, declarant):
    connecter_verifie(client, declarant)
    page = texte(client.get(reverse("afas:accueil")))
    for lien in ("Aides financières d'action sociale", "Accueil AFAS", "Mes déclarations", "Modifier mon adresse mail"):
        assert lien in page
    assert reverse("afas:habilitations") not in page
    assert "Gestion des habilitations" not in page
    page = texte(client.get(reverse("afas:mes_declarations")))
    assert "Vous n'avez pas encore de déclaration." in page


def test_roles_de_l_accueil_pagines_dans_la_base(
    client, administrateur, declarant, convention, django_assert_max_num_queries
):
    """Un déclarant de grande commune tient des centaines de rôles : l'accueil en montre 20 par
    page, dans l'ordre des activités, avec leur nombre, et coûte autant de requêtes pour 25 rôles
    que pour 45 (la page rendait les 450 rôles du déclarant du banc : 82 ms de processeur)."""
    from tests.afas.conftest import creer_activite

    activites = [creer_activite(convention.organisme, f"Activité {i:02d}", numero=f"EQ9{i:03d}") for i in range(25)]
    affecter(administrateur, declarant, RoleAfas.FDF, activites=activites)
    connecter_verifie(client, declarant)
    page = texte(client.get(reverse("afas:accueil")))
    assert "25 rôles actifs — page 1 sur 2." in page
    assert "Activité 00" in page and "Activité 19" in page and "Activité 20" not in page
    suite = texte(client.get(reverse("afas:accueil"), {"page": 2}))
    assert "Activité 20" in suite and "Activité 24" in suite and "Activité 19" not in suite
    with django_assert_max_num_queries(100) as avant:
        client.get(reverse("afas:accueil"))
    plus = [creer_activite(convention.organisme, f"Autre {i:02d}", numero=f"EQ8{i:03d}") for i in range(20)]
    affecter(administrateur, declarant, RoleAfas.FDF, activites=plus)
    with django_assert_max_num_queries(len(avant.captured_queries)):
        assert "45 rôles actifs — page 1 sur 3." in texte(client.get(reverse("afas:accueil")))


def test_roles_de_l_accueil_ex_aequo_dans_l_ordre_des_cles(client, administrateur, declarant, convention):
    """Des activités de même libellé : la clé départage les rôles égaux, les deux pages se suivent
    sans doublon ni oubli (nombre et page lus ensemble), et une page au-delà donne la dernière."""
    from tests.afas.conftest import creer_activite

    activites = [creer_activite(convention.organisme, "Même activité", numero=f"EQ7{i:03d}") for i in range(25)]
    affecter(administrateur, declarant, RoleAfas.FDF, activites=activites)
    connecter_verifie(client, declarant)
    pages = [client.get(reverse("afas:accueil"), {"page": n}).context["roles"] for n in (1, 2, 99)]
    assert [page.number for page in pages] == [1, 2, 2]
    assert pages[0].paginator.count == 25
    lues = [h.pk for page in pages[:2] for h in page.object_list]
    assert lues == sorted(declarant.habilitations_afas.actives().values_list("pk", flat=True))
    assert [h.pk for h in pages[2].object_list] == lues[20:]


@pytest.mark.parametrize("persona", ["exterieur", "responsable", "agent_caf"])
def test_pages_declarant_refusees_aux_autres(client, request, persona):
    connecter(client, request, persona)
    assert client.get(reverse("afas:accueil")).status_code == 403
    assert client.get(reverse("afas:mes_declarations")).status_code == 403


# --- Agent Caf ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["administrateur", "declarant", "exterieur", "superviseur"])
def test_ecrans_caf_refuses_aux_autres(client, request, persona):
    connecter(client, request, persona)
    for nom in ("activites", "lieux", "validations", "preparation", "activite_creer"):
        assert client.get(reverse(f"afas:{nom}")).status_code == 403


def test_agent_d_une_autre_caf_404(client, agent_autre_caf, administrateur, declarant, activite, lieu):
    (h,) = affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite])
    connecter_verifie(client, agent_autre_caf)
    for url in (
        reverse("afas:activite", args=[activite.pk]),
        reverse("afas:activite_modifier", args=[activite.pk]),
        reverse("afas:activite_cloturer", args=[activite.pk]),
        reverse("afas:lieu_creer", args=[activite.pk]),
        reverse("afas:lieu_modifier", args=[lieu.pk]),
        reverse("afas:lieu_cloturer", args=[lieu.pk]),
        reverse("afas:valider", args=[h.validation.pk]),
        reverse("afas:refuser", args=[h.validation.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("afas:valider", args=[h.validation.pk]), {"confirmation": "on"}).status_code == 404
    h.validation.refresh_from_db()
    assert h.validation.decision == DecisionCaf.EN_ATTENTE
    assert activite.libelle not in texte(client.get(reverse("afas:activites")))


def test_agent_valide_et_refuse(client, agent_caf, administrateur, declarant, activite, activite2):
    (h1,) = affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite])
    (h2,) = affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite2])
    connecter_verifie(client, agent_caf)
    page = texte(client.get(reverse("afas:validations")))
    assert "2 demandes" in page and "FERRAND Paul" in page and "Castan" in page.replace("CASTAN", "Castan")
    reponse = client.post(reverse("afas:valider", args=[h1.validation.pk]), {"confirmation": "on"}, follow=True)
    assert "est validé" in texte(reponse)
    reponse = client.post(reverse("afas:refuser", args=[h2.validation.pk]), {"confirmation": "on", "motif": ""})
    assert "Le motif du refus est obligatoire." in texte(reponse)
    client.post(reverse("afas:refuser", args=[h2.validation.pk]), {"confirmation": "on", "motif": "Inconnu"})
    assert HabilitationAfas.objects.actives().get() == h1
    assert HabilitationAfas.objects.historiques().get() == h2
    assert "Aucun approbateur n'attend" in texte(client.get(reverse("afas:validations")))
    page = texte(client.get(reverse("afas:validations"), {"decision": DecisionCaf.REFUSEE}))
    assert "Inconnu" in page


def test_agent_gere_activites_et_lieux(client, agent_caf, convention):
    connecter_verifie(client, agent_caf)
    reponse = client.post(
        reverse("afas:activite_creer"),
        {
            "organisme": convention.organisme.pk,
            "numero_equipement": "alsh-1",
            "libelle": "Accueil de loisirs Lioujas",
            "type_activite": "ALSH",
            "nature": "",
            "date_ouverture": J.isoformat(),
        },
    )
    assert "La nature d'activité est obligatoire pour un ALSH." in texte(reponse)
    assert not Activite.objects.exists()
    reponse = client.post(
        reverse("afas:activite_creer"),
        {
            "organisme": convention.organisme.pk,
            "numero_equipement": "alsh-1",
            "libelle": "Accueil de loisirs Lioujas",
            "type_activite": "ALSH",
            "nature": "EXTRA",
            "date_ouverture": J.isoformat(),
        },
    )
    activite = Activite.objects.get()
    assert reponse["Location"] == reverse("afas:activite", args=[activite.pk])
    assert activite.numero_equipement == "ALSH-1"
    client.post(
        reverse("afas:lieu_creer", args=[activite.pk]),
        {"libelle": "École", "code_postal": "12000", "date_ouverture": J.isoformat()},
    )
    lieu = LieuImplantation.objects.get()
    page = texte(client.get(reverse("afas:lieux"), {"activite": "Lioujas"}))
    assert "École" in page
    reponse = client.post(
        reverse("afas:activite_cloturer", args=[activite.pk]),
        {"date_cloture": (J + datetime.timedelta(days=1)).isoformat(), "confirmation": "on"},
    )
    assert reponse.status_code == 302
    lieu.refresh_from_db()
    assert lieu.date_cloture == J + datetime.timedelta(days=1)
    page = texte(client.get(reverse("afas:activites"), {"type_activite": "ALSH", "tri": "-libelle"}))
    assert "Accueil de loisirs Lioujas" in page


def test_preparation_du_partenaire(client, agent_caf, administrateur, declarant, convention, activite):
    connecter_verifie(client, agent_caf)
    page = texte(client.get(reverse("afas:preparation")))
    assert "1 activité(s) sans approbateur validé par la Caf" in page
    (h,) = affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite])
    affecter(administrateur, declarant, RoleAfas.FDA, activites=[activite])
    affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])
    assert "sans approbateur validé" in texte(client.get(reverse("afas:preparation")))
    services.approbateur_valider(par=agent_caf, validation=h.validation)
    page = texte(client.get(reverse("afas:preparation")))
    assert "Prêt pour l'appel de déclaration" in page


def test_tous_les_lieux_d_une_activite(client, administrateur, declarant, convention, activite, lieu, lieu2):
    from tests.afas.conftest import creer_activite, creer_lieu

    autre = creer_lieu(creer_activite(convention.organisme, "CLSH de Bozouls", numero="EQ0003"), "Bozouls")
    connecter_verifie(client, administrateur)
    page = texte(
        client.post(reverse("afas:habiliter"), {"partenaire": convention.pk, "portee": "lieux", "afficher": "1"})
    )
    assert f"Sélectionner tous les lieux d'implantation de l'activité {activite.libelle}" in page
    client.post(
        reverse("afas:habiliter"),
        {
            "partenaire": convention.pk,
            "utilisateur": declarant.pk,
            "role": RoleAfas.FDA,
            "date_ouverture": J.isoformat(),
            "portee": "lieux",
            "toutes_activite": [activite.pk],
            "enregistrer": "1",
        },
    )
    assert set(HabilitationAfas.objects.values_list("lieu", flat=True)) == {lieu.pk, lieu2.pk}
    assert not HabilitationAfas.objects.filter(lieu=autre).exists()


def test_menu_de_l_agent_caf(client, agent_caf):
    connecter_verifie(client, agent_caf)
    page = texte(client.get(reverse("portail:accueil")))
    for lien in (
        "Activités et lieux d'implantation",
        "Approbateurs à valider",
        "Préparation de l'appel de déclaration",
    ):
        assert lien in page
    assert reverse("afas:habilitations") not in page


def test_approbateur_sans_decision_enregistree_jamais_actif(declarant, convention, activite):
    """Même écrit sans passer par le service (aucune demande), un approbateur n'est pas actif."""
    h = HabilitationAfas.objects.create(
        utilisateur=declarant, convention=convention, role=RoleAfas.APPROBATEUR, activite=activite, date_ouverture=J
    )
    assert not HabilitationAfas.objects.actives().filter(pk=h.pk).exists()
    assert HabilitationAfas.objects.inactives().filter(pk=h.pk).exists()


def test_tableau_de_bord_afas_de_l_habilitateur(client, administrateur, declarant, activite, activite2, agent_caf):
    affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite])
    affecter(administrateur, declarant, RoleAfas.FDA, activites=[activite, activite2])
    affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite, activite2])
    services.activite_cloturer(par=None, activite=activite2, date_cloture=J + datetime.timedelta(days=10))
    connecter_verifie(client, administrateur)
    page = texte(client.get(reverse("afas:accueil")))
    assert "Activités dont un rôle n'est tenu par personne</a></td><td>2</td>" in page
    assert "Approbateurs en attente de validation par la Caf</a></td><td>1</td>" in page
    assert "prennent fin dans les 30 jours</td><td>2</td>" in page


def test_lignes_afas_d_une_grande_convention_lues_dans_la_synthese_de_la_nuit(
    client, monkeypatch, administrateur, declarant, activite, activite2, convention
):
    """Une grande convention lit ses rôles non tenus et ses fins prochaines dans la synthèse de
    la nuit, datée sur la page ; les approbateurs en attente restent comptés à l'instant, et la
    recherche où l'on agit aussi. Une synthèse plus vieille qu'hier n'est plus lue : compté à
    l'instant. Seuil abaissé pour cette petite convention."""
    monkeypatch.setattr(tableau_de_bord, "SEUIL_SYNTHESE", 1)
    affecter(administrateur, declarant, RoleAfas.FDA, activites=[activite, activite2])
    affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite, activite2])
    services.activite_cloturer(par=None, activite=activite2, date_cloture=J + datetime.timedelta(days=10))
    assert tableau_de_bord.synthese_calculer() == 1
    assert SyntheseAfas.objects.get().non_attribues == 2  # aucun approbateur
    assert SyntheseAfas.objects.get().fin_prochaine == 2  # les deux rôles sur activite2

    # Dans la journée : un approbateur nommé (en attente de la Caf, compté à l'instant). Les
    # chiffres de la nuit sont ceux que la page montre, datés : qu'ils diffèrent de l'instant
    # (7 et 5, comme si la nuit avait vu d'autres droits) le rend visible.
    affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite])
    SyntheseAfas.objects.update(non_attribues=7, fin_prochaine=5)
    connecter_verifie(client, administrateur)
    date = J.strftime("%d/%m/%Y")
    nuit = f' <span class="fr-text--xs">(chiffre au {date}, calculé chaque nuit)</span></td></tr>'
    accueil = texte(client.get(reverse("afas:accueil")))
    assert f"Activités dont un rôle n'est tenu par personne</a></td><td>7{nuit}" in accueil
    assert "Approbateurs en attente de validation par la Caf</a></td><td>1</td>" in accueil
    assert f"prennent fin dans les 30 jours</td><td>5{nuit}" in accueil
    page = texte(client.get(reverse("gestion:tableaux_de_bord", args=[convention.pk])))
    assert f"Activités dont un rôle AFAS n'est tenu par personne</a></td><td>7{nuit}" in page
    assert "Approbateurs en attente de validation par la Caf</a></td><td>1</td>" in page
    assert f"prennent fin dans les 30 jours</a></td><td>5{nuit}" in page

    # Une synthèse d'avant-hier (la tâche de nuit n'est pas passée) : comptés à l'instant, sans date.
    SyntheseAfas.objects.update(jour=J - datetime.timedelta(days=2))
    accueil = texte(client.get(reverse("afas:accueil")))
    assert "Activités dont un rôle n'est tenu par personne</a></td><td>2</td>" in accueil
    assert "prennent fin dans les 30 jours</td><td>2</td>" in accueil
    assert "calculé chaque nuit" not in accueil


def test_la_synthese_afas_compte_comme_la_page(monkeypatch, administrateur, declarant, activite, activite2, convention):
    """La nuit compte par la règle même de la page ; une convention passée sous le seuil perd sa
    synthèse."""
    monkeypatch.setattr(tableau_de_bord, "SEUIL_SYNTHESE", 1)
    affecter(administrateur, declarant, RoleAfas.FDA, activites=[activite])
    affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite2])
    tableau_de_bord.synthese_calculer()
    live = tableau_de_bord.compter([convention.pk], J)
    synthese = SyntheseAfas.objects.get(convention=convention, jour=J)
    assert (synthese.non_attribues, synthese.fin_prochaine) == (live.non_attribues, live.fin_prochaine)
    monkeypatch.setattr(tableau_de_bord, "SEUIL_SYNTHESE", 1_000)
    assert tableau_de_bord.synthese_calculer() == 0
    assert not SyntheseAfas.objects.exists()


# --- Préparation des partenaires : la règle, lue en Python sur des ensembles ----------------------


def _preparation_en_sql(organismes, jour):
    """La règle comme la page l'écrivait avant (EXISTS corrélés de ``activites_annotees`` et de
    ``lieux_annotes``, en SQL) : la référence de l'écriture par ensembles."""
    from django.db.models import Count, Q

    from afas.attribution import activites_annotees, lieux_annotes
    from afas.models import declarants
    from conventions.models import Convention

    membres = declarants(jour, Convention.objects.filter(organisme__in=organismes))
    activites = activites_annotees(Activite.objects.ouverts(jour).filter(organisme__in=organismes), jour, membres)
    comptes = {
        c["organisme"]: c
        for c in activites.values("organisme").annotate(
            sans_approbateur=Count("pk", filter=Q(a_approbateur=False)),
            sans_fdf=Count("pk", filter=Q(a_fdf=False)),
            sans_fda=Count("pk", filter=Q(a_fda=False, a_lieux=False)),
        )
    }
    lieux = lieux_annotes(
        LieuImplantation.objects.ouverts(jour).filter(
            activite__organisme__in=organismes, activite__in=Activite.objects.ouverts(jour)
        ),
        jour,
        membres,
    )
    lieux_sans = {
        ligne["activite__organisme"]: ligne["sans_fda"]
        for ligne in lieux.values("activite__organisme").annotate(sans_fda=Count("pk", filter=Q(a_fda=False)))
    }
    return {
        o: (c["sans_approbateur"], c["sans_fdf"], c["sans_fda"], lieux_sans.get(o, 0))
        if (c := comptes.get(o))
        else None
        for o in organismes
    }


def test_preparation_par_ensembles_comme_la_regle_en_sql(
    agent_caf, administrateur, declarant, convention, convention_autre_partenaire
):
    """Chaque cas de la règle : FDA sur un lieu seulement, sur l'activité (couvre ses lieux), lieu
    clos ignoré, activité close ignorée, activité sans lieu ni FDA, approbateur en attente de la
    Caf, rôle sur une activité d'un autre organisme, organisme sans activité ouverte."""
    from afas.attribution import etat_preparation
    from tests.afas.conftest import creer_activite, creer_lieu

    org = convention.organisme
    a1 = creer_activite(org, "A1 deux lieux, FDA sur l'un")
    l1, l2 = creer_lieu(a1, "L1"), creer_lieu(a1, "L2")
    creer_lieu(
        a1, "L3 clos", date_cloture=J - datetime.timedelta(days=1), date_ouverture=J - datetime.timedelta(days=30)
    )
    a2 = creer_activite(org, "A2 FDA sur l'activité et ses lieux")
    creer_lieu(a2, "L4")
    a3 = creer_activite(org, "A3 sans lieu")
    creer_activite(
        org, "A4 close", date_ouverture=J - datetime.timedelta(days=30), date_cloture=J - datetime.timedelta(days=1)
    )
    affecter(administrateur, declarant, RoleAfas.FDA, lieux=[l1])
    affecter(administrateur, declarant, RoleAfas.FDA, activites=[a2])
    affecter(administrateur, declarant, RoleAfas.FDF, activites=[a1, a2, a3])
    (h,) = affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[a1])
    services.approbateur_valider(par=agent_caf, validation=h.validation)
    affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[a2])  # en attente de la Caf
    vide = factories.OrganismeFactory(caf=convention.organisme.caf)
    autre = convention_autre_partenaire.organisme
    creer_activite(autre, "Crèche de l'autre partenaire")
    organismes = [org.pk, autre.pk, vide.pk]

    attendu = _preparation_en_sql(organismes, J)
    assert attendu == {org.pk: (2, 0, 1, 1), autre.pk: (1, 1, 1, 0), vide.pk: None}
    etats = etat_preparation(organismes, J)
    assert etats[org.pk] == [
        "2 activité(s) sans approbateur validé par la Caf",
        "1 activité(s) sans fournisseur de données d'activité",
        "1 lieu(x) d'implantation sans fournisseur de données d'activité",
    ]
    assert etats[autre.pk] == [
        "1 activité(s) sans approbateur validé par la Caf",
        "1 activité(s) sans fournisseur de données financières",
        "1 activité(s) sans fournisseur de données d'activité",
    ]
    assert etats[vide.pk] == ["Aucune activité ouverte"]
    # Le FDA du second lieu : plus aucun lieu ni activité sans FDA chez le partenaire.
    affecter(administrateur, declarant, RoleAfas.FDA, lieux=[l2])
    affecter(administrateur, declarant, RoleAfas.FDA, activites=[a3])
    assert _preparation_en_sql(organismes, J)[org.pk] == (2, 0, 0, 0)
    assert etat_preparation(organismes, J)[org.pk] == ["2 activité(s) sans approbateur validé par la Caf"]


def test_preparation_liste_les_organismes_avec_activite_dans_l_ordre(client, agent_caf, convention, caf, autre_caf):
    """Les organismes de la Caf qui ont au moins une activité (même close), par raison sociale
    puis clé, une fois chacun ; pas ceux sans activité ni ceux d'une autre Caf."""
    from tests.afas.conftest import creer_activite

    noms = ["Commune de Bozouls", "Association Lioujas", "Commune de Bozouls", "Centre social"]
    organismes = [factories.OrganismeFactory(caf=caf, raison_sociale=n) for n in noms]
    for o in organismes:
        creer_activite(o, "Accueil 1")
        creer_activite(o, "Accueil 2")
    creer_activite(
        organismes[3],
        "Close",
        date_ouverture=J - datetime.timedelta(days=30),
        date_cloture=J - datetime.timedelta(days=1),
    )
    factories.OrganismeFactory(caf=caf, raison_sociale="AAA sans activité")
    creer_activite(factories.OrganismeFactory(caf=autre_caf, raison_sociale="AAA d'une autre Caf"), "Accueil")
    connecter_verifie(client, agent_caf)
    reponse = client.get(reverse("afas:preparation"))
    attendus = sorted(organismes, key=lambda o: (o.raison_sociale, o.pk))
    assert [o.pk for o in reponse.context["page"]] == [o.pk for o in attendus]
    assert convention.organisme.pk not in [o.pk for o in reponse.context["page"]]  # sans activité
    reponse = client.get(reverse("afas:preparation"), {"tri": "-raison_sociale"})
    assert [o.pk for o in reponse.context["page"]] == [
        o.pk for o in sorted(attendus, key=lambda o: o.raison_sociale, reverse=True)
    ]


# Session, compte, double authentification, profils du menu ; comptage et page des organismes ;
# l'état : activités ouvertes, lieux ouverts et habilitations ouvertes et validées (une requête
# sous PostgreSQL, trois sous SQLite), leurs titulaires qui passent la règle du jour ; écriture de
# la session (3).
BUDGET_PREPARATION = 11 if connection.vendor == "postgresql" else 13


@pytest.mark.parametrize("nombre", [1, 30])
def test_budget_de_la_preparation(client, agent_caf, administrateur, declarant, convention, caf, nombre):
    """Le nombre de requêtes ne dépend ni du nombre d'organismes ni de leurs activités et lieux."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.afas.conftest import creer_activite, creer_lieu

    for i in range(nombre):
        organisme = convention.organisme if i == 0 else factories.OrganismeFactory(caf=caf)
        for j in range(3):
            activite = creer_activite(organisme, f"Accueil {i}-{j}")
            for k in range(j):
                creer_lieu(activite, f"Lieu {k}")
            if i == 0:
                affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])
    connecter_verifie(client, agent_caf)
    client.get(reverse("afas:preparation"))
    with CaptureQueriesContext(connection) as requetes:
        reponse = client.get(reverse("afas:preparation"))
    assert reponse.status_code == 200 and len(reponse.context["page"]) == min(nombre, 25)
    assert len(requetes) == BUDGET_PREPARATION, [q["sql"][:80] for q in requetes]


def test_activites_filtre_libelle_ordre_et_nombre_de_lieux(client, agent_caf, caf, autre_caf):
    """Filtre « libellé contient » (sans casse), partenaires de la Caf seulement,
    ordre partenaire puis libellé puis clé d'une page à l'autre, nombre de lieux (ouverts ou clos,
    zéro compris) de chaque ligne."""
    from tests.afas.conftest import creer_activite, creer_lieu

    organismes = [
        factories.OrganismeFactory(caf=caf, raison_sociale=n) for n in ("Commune B", "Commune A", "Commune B")
    ]
    creees = []
    for i in range(30):
        organisme = organismes[i % 3]
        activite = creer_activite(organisme, f"Crèche {'des Lilas' if i % 2 else 'Les Petits'} {i % 4}")
        creer_activite(organisme, f"Accueil de loisirs {i}")
        for k in range(i % 3):
            creer_lieu(activite, f"Lieu {k}", date_cloture=J + datetime.timedelta(days=k - 1) if k else None)
        creees.append((organisme.raison_sociale, activite.libelle, activite.pk, i % 3))
    creer_activite(factories.OrganismeFactory(caf=autre_caf, raison_sociale="AAA"), "Crèche d'une autre Caf")
    connecter_verifie(client, agent_caf)
    lignes = []
    for numero in (1, 2):
        reponse = client.get(reverse("afas:activites"), {"libelle": "cRèCHE", "page": numero})
        assert reponse.context["page"].paginator.count == 30
        lignes += [(a.organisme.raison_sociale, a.libelle, a.pk, a.nombre_lieux) for a in reponse.context["page"]]
    assert lignes == sorted(creees)
    reponse = client.get(reverse("afas:activites"), {"libelle": "crèche", "tri": "-libelle"})
    assert [a.pk for a in reponse.context["page"]] == [
        pk for _, _, pk, _ in sorted(sorted(creees), key=lambda c: c[1], reverse=True)[:25]
    ]
