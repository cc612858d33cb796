"""La saisie des déclarants (issue 13) : qui voit et qui saisit quoi, les règles de cohérence, le
cycle d'états que fait avancer la saisie, et la mise à jour perdue refusée.

L'activité est un ALSH à deux lieux (École, Salle) ; ``fda_ecole`` est FDA du seul lieu École,
``fda`` FDA de l'activité, ``fdf`` FDF, ``approbateur`` approbateur validé par la Caf."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from afas import services as services_afas
from afas.declarations import services
from afas.enums import EtatDeclaration, RoleAfas, TypeDeclaration
from afas.models import DonneesActivite, DonneesFinancieres, EvenementDeclaration, HabilitationAfas
from portail.models import EvenementAudit
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from tests import factories
from tests.afas.conftest import creer_activite, creer_lieu
from tests.afas.declarations.aides_saisie import ACTIVITE_COMPLETE, FINANCIER_COMPLET, creer_declaration
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db
J = aujourdhui()


def _declarant(convention, administrateur, nom: str):
    user = factories.creer_utilisateur(nom=nom, prenom="Test", organisme=convention.organisme)
    factories.habiliter(user, convention, "AFAS-DECLARER", responsable=administrateur)
    return user


def affecter(par, user, role, activites=(), lieux=(), date_ouverture=J):
    return services_afas.habilitation_afas_affecter(
        par=par, utilisateur=user, role=role, date_ouverture=date_ouverture, activites=activites, lieux=lieux
    )


@pytest.fixture
def alsh(convention):
    activite = creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="EQ7001")
    creer_lieu(activite, "École")
    creer_lieu(activite, "Salle")
    return activite


@pytest.fixture
def declaration(alsh):
    return creer_declaration(alsh)


@pytest.fixture
def fda_ecole(convention, administrateur, alsh):
    user = _declarant(convention, administrateur, "Ecole")
    affecter(administrateur, user, RoleAfas.FDA, lieux=[alsh.lieux.get(libelle="École")])
    return user


@pytest.fixture
def fda(convention, administrateur, alsh):
    user = _declarant(convention, administrateur, "Fda")
    affecter(administrateur, user, RoleAfas.FDA, activites=[alsh])
    return user


@pytest.fixture
def fdf(convention, administrateur, alsh):
    user = _declarant(convention, administrateur, "Fdf")
    affecter(administrateur, user, RoleAfas.FDF, activites=[alsh])
    return user


@pytest.fixture
def approbateur(convention, administrateur, alsh, agent_caf):
    user = _declarant(convention, administrateur, "Approbateur")
    (h,) = affecter(administrateur, user, RoleAfas.APPROBATEUR, activites=[alsh])
    services_afas.approbateur_valider(par=agent_caf, validation=h.validation)
    return user


def ligne_de(declaration, libelle: str) -> DonneesActivite:
    return declaration.donnees_activite.get(lieu__libelle=libelle)


def url_ligne(declaration, ligne) -> str:
    return reverse("afas:declaration_activite", kwargs={"pk": declaration.pk, "ligne": ligne.pk})


def url_financier(declaration) -> str:
    return reverse("afas:declaration_financier", kwargs={"pk": declaration.pk})


def poster_ligne(client, declaration, ligne, **valeurs):
    donnees = {"version": str(ligne.version), **valeurs}
    return client.post(url_ligne(declaration, ligne), donnees)


# --- Qui voit la déclaration ---------------------------------------------------------------------


def test_droits_de_la_requete_comme_les_predicats(
    convention, administrateur, declaration, fda_ecole, fda, fdf, approbateur, agent_caf, exterieur
):
    """La page d'une déclaration lit son périmètre et les rôles du compte dans une seule lecture
    des droits du jour (``DroitsDeLaRequete``) : mêmes déclarations et mêmes rôles que les
    prédicats, pour chaque rôle, un rôle fini, un compte sans rôle et l'agent de la Caf."""
    from afas import perms

    autre = creer_declaration(creer_activite(convention.organisme, "Crèche", numero="EQ7002"))
    fini = _declarant(convention, administrateur, "Fini")
    affecter(administrateur, fini, RoleAfas.FDF, activites=[declaration.activite])
    HabilitationAfas.objects.filter(utilisateur=fini).update(
        date_ouverture=J - datetime.timedelta(days=9), date_cloture=J
    )
    affecter(administrateur, fdf, RoleAfas.FDA, activites=[autre.activite])
    vus = {}
    for user in (fda_ecole, fda, fdf, approbateur, agent_caf, exterieur, fini):
        droits = perms.DroitsDeLaRequete(user)
        lisibles = sorted(droits.declarations_lisibles().values_list("pk", flat=True))
        assert lisibles == sorted(perms.declarations_lisibles(user).values_list("pk", flat=True))
        for objet in (declaration, autre):
            assert droits.roles_sur_declaration(objet) == perms.roles_sur_declaration(user, objet)
        vus[user.nom] = lisibles
    assert vus["Fdf"] == sorted([declaration.pk, autre.pk])
    assert vus["Ecole"] == [declaration.pk] and vus["Fini"] == [] and vus[exterieur.nom] == []
    assert perms.DroitsDeLaRequete(fda_ecole).roles_sur_declaration(declaration).fda_lieux
    assert perms.DroitsDeLaRequete(fdf).roles_sur_declaration(autre).fda_activite


def test_chaque_role_voit_sa_part(client, declaration, fda_ecole, fdf, approbateur, agent_caf):
    url = reverse("afas:declaration", kwargs={"pk": declaration.pk})
    connecter_verifie(client, fda_ecole)
    page = texte(client.get(url))
    assert "Données d'activité par lieu" in page and "École" in page
    assert "Salle" not in page.split("Données d'activité par lieu")[1].split("Historique")[0]
    assert "Charges (comptes 60 à 68)" not in page
    assert url_ligne(declaration, ligne_de(declaration, "École")) in page
    assert url_ligne(declaration, ligne_de(declaration, "Salle")) not in page

    connecter_verifie(client, fdf)
    page = texte(client.get(url))
    assert "Charges (comptes 60 à 68)" in page and url_financier(declaration) in page
    assert "Données d'activité par lieu" not in page

    connecter_verifie(client, approbateur)
    page = texte(client.get(url))
    assert "Données d'activité par lieu" in page and "Charges (comptes 60 à 68)" in page
    assert "Ce qui manque encore avant de transmettre à la Caf" in page
    assert "Saisir" not in page  # l'approbateur lit, ne saisit pas

    connecter_verifie(client, agent_caf)
    page = texte(client.get(url))
    assert "agent de la Caf" in page and "Données d'activité par lieu" in page and "Charges" in page
    assert url_financier(declaration) not in page


@pytest.mark.parametrize("persona", ["admin_autre_partenaire", "agent_autre_caf", "administrateur", "declarant"])
def test_declaration_introuvable_hors_perimetre(client, request, declaration, persona):
    """Un autre partenaire, une autre Caf, l'administrateur sans rôle AFAS, un déclarant sans rôle
    sur cette activité : 404 partout."""
    connecter_verifie(client, request.getfixturevalue(persona))
    ligne = declaration.donnees_activite.first()
    for url in (
        reverse("afas:declaration", kwargs={"pk": declaration.pk}),
        url_ligne(declaration, ligne),
        url_financier(declaration),
    ):
        assert client.get(url).status_code == 404
        assert client.post(url, {"version": "0"}).status_code in (404, 405)


def test_declarant_d_un_autre_partenaire(client, declaration, convention_autre_partenaire, admin_autre_partenaire):
    autre = factories.creer_utilisateur(nom="Autre", prenom="Paul", organisme=convention_autre_partenaire.organisme)
    factories.habiliter(autre, convention_autre_partenaire, "AFAS-DECLARER", responsable=admin_autre_partenaire)
    sienne = creer_activite(convention_autre_partenaire.organisme, "Crèche des Lilas", numero="EQ7900")
    affecter(admin_autre_partenaire, autre, RoleAfas.FDA, activites=[sienne])
    affecter(admin_autre_partenaire, autre, RoleAfas.FDF, activites=[sienne])
    connecter_verifie(client, autre)
    assert client.get(reverse("afas:declaration", kwargs={"pk": declaration.pk})).status_code == 404
    assert client.get(url_financier(declaration)).status_code == 404
    assert client.get(url_ligne(declaration, ligne_de(declaration, "École"))).status_code == 404


def test_role_historique_ou_inactif_refuse(client, convention, administrateur, alsh, declaration):
    """Un rôle terminé (Historique), qui commence demain ou d'approbateur non validé (Inactif)
    ne donne rien : la déclaration est introuvable."""
    ancien = _declarant(convention, administrateur, "Ancien")
    (h,) = affecter(administrateur, ancien, RoleAfas.FDF, activites=[alsh])
    services_afas.habilitation_afas_supprimer(par=administrateur, habilitation=h)
    futur = _declarant(convention, administrateur, "Futur")
    affecter(administrateur, futur, RoleAfas.FDF, activites=[alsh], date_ouverture=J + datetime.timedelta(days=3))
    attente = _declarant(convention, administrateur, "Attente")
    affecter(administrateur, attente, RoleAfas.APPROBATEUR, activites=[alsh])
    assert HabilitationAfas.objects.historiques().filter(utilisateur=ancien).exists()
    for user in (ancien, futur, attente):
        connecter_verifie(client, user)
        assert client.get(reverse("afas:declaration", kwargs={"pk": declaration.pk})).status_code == 404
        assert client.post(url_financier(declaration), {"version": "0", "c64": "1"}).status_code == 404
        with pytest.raises(ErreurMetier):
            services.donnees_financieres_enregistrer(par=user, declaration=declaration, version=0, valeurs={"c64": 1})
    assert DonneesFinancieres.objects.get(declaration=declaration).c64 is None


def test_chacun_sa_part_403(client, declaration, fda_ecole, fdf, approbateur, agent_caf):
    """Dans une déclaration qu'il voit : le FDF n'écrit pas l'activité, le FDA pas les finances,
    le FDA du lieu École pas la Salle, l'approbateur et la Caf rien."""
    ecole, salle = ligne_de(declaration, "École"), ligne_de(declaration, "Salle")
    cas = [
        (fdf, url_ligne(declaration, ecole)),
        (fda_ecole, url_financier(declaration)),
        (fda_ecole, url_ligne(declaration, salle)),
        (approbateur, url_ligne(declaration, ecole)),
        (approbateur, url_financier(declaration)),
        (agent_caf, url_financier(declaration)),
        (agent_caf, url_ligne(declaration, ecole)),
    ]
    # Une ligne d'une autre déclaration sous l'adresse de celle-ci : introuvable.
    autre = creer_declaration(declaration.activite, type_declaration=TypeDeclaration.REEL)
    connecter_verifie(client, fda_ecole)
    assert client.get(url_ligne(declaration, ligne_de(autre, "École"))).status_code == 404
    for user, url in cas:
        connecter_verifie(client, user)
        assert client.get(url).status_code == 403, (user, url)
        assert client.post(url, {"version": "0", **ACTIVITE_COMPLETE, **FINANCIER_COMPLET}).status_code == 403
    # Et la porte de service refuse aussi, hors de toute vue.
    with pytest.raises(ErreurMetier, match="rôle"):
        services.donnees_activite_enregistrer(par=fda_ecole, ligne=salle, version=0, valeurs={"heures_realisees": 1})
    with pytest.raises(ErreurMetier, match="rôle"):
        services.donnees_activite_enregistrer(par=fdf, ligne=ecole, version=0, valeurs={"heures_realisees": 1})
    with pytest.raises(ErreurMetier, match="rôle"):
        services.donnees_financieres_enregistrer(par=fda_ecole, declaration=declaration, version=0, valeurs={})
    assert not DonneesActivite.objects.filter(declaration=declaration, saisie_le__isnull=False).exists()
    assert declaration.evenements.count() == 0


# --- Saisie et cycle d'états -------------------------------------------------------------------------


def test_brouillon_puis_complet_puis_incomplet(client, declaration, fda, fdf):
    ecole, salle = ligne_de(declaration, "École"), ligne_de(declaration, "Salle")
    connecter_verifie(client, fda)
    # Un brouillon : un seul champ ; la déclaration passe « En cours de saisie ».
    reponse = poster_ligne(client, declaration, ecole, heures_realisees="12,5")
    assert reponse.status_code == 302
    ecole.refresh_from_db()
    assert ecole.heures_realisees == Decimal("12.5") and ecole.version == 1 and ecole.saisie_par == fda
    declaration.refresh_from_db()
    assert declaration.etat == EtatDeclaration.EN_COURS
    page = texte(client.get(reponse.url))
    assert "elles sont conservées même si vous fermez le navigateur" in page
    assert "Données d'activité de École (Extrascolaire)" in page  # ce qui manque encore

    poster_ligne(client, declaration, ecole, **ACTIVITE_COMPLETE)
    poster_ligne(client, declaration, salle, **ACTIVITE_COMPLETE)
    connecter_verifie(client, fdf)
    financieres = DonneesFinancieres.objects.get(declaration=declaration)
    reponse = client.post(url_financier(declaration), {"version": "0", **FINANCIER_COMPLET})
    assert reponse.status_code == 302
    declaration.refresh_from_db()
    assert declaration.etat == EtatDeclaration.A_APPROUVER
    assert "la déclaration attend l'approbateur" in texte(client.get(reponse.url))
    financieres.refresh_from_db()
    assert financieres.total_charges == Decimal("51000") and financieres.total_produits == Decimal("50000")

    # Un champ exigé vidé : retour « En cours de saisie ».
    client.post(url_financier(declaration), {"version": "1", **FINANCIER_COMPLET, "c64": ""})
    declaration.refresh_from_db()
    assert declaration.etat == EtatDeclaration.EN_COURS
    passages = list(declaration.evenements.values_list("etat_avant", "etat_apres", "par"))
    assert passages == [
        (EtatDeclaration.A_SAISIR, EtatDeclaration.EN_COURS, fda.pk),
        (EtatDeclaration.EN_COURS, EtatDeclaration.A_APPROUVER, fdf.pk),
        (EtatDeclaration.A_APPROUVER, EtatDeclaration.EN_COURS, fdf.pk),
    ]
    actions = set(EvenementAudit.objects.values_list("action", flat=True))
    assert {"declaration_donnees_activite", "declaration_donnees_financieres", "declaration_a_approuver"} <= actions
    # L'historique est montré sur la page.
    page = texte(client.get(reverse("afas:declaration", kwargs={"pk": declaration.pk})))
    assert "À approuver → En cours de saisie" in page


def test_renvoyee_repasse_en_cours_au_premier_enregistrement(client, declaration, fda, agent_caf):
    declaration.etat = EtatDeclaration.RENVOYEE
    declaration.save()
    EvenementDeclaration.objects.create(
        declaration=declaration,
        etat_avant=EtatDeclaration.TRANSMISE,
        etat_apres=EtatDeclaration.RENVOYEE,
        par=agent_caf,
        commentaire="Les heures de la Salle sont en minutes.",
    )
    connecter_verifie(client, fda)
    page = texte(client.get(reverse("afas:declaration", kwargs={"pk": declaration.pk})))
    assert "Renvoyée pour correction par la Caf" in page and "Les heures de la Salle sont en minutes." in page
    ecole = ligne_de(declaration, "École")
    services.donnees_activite_enregistrer(par=fda, ligne=ecole, version=0, valeurs={"heures_realisees": Decimal(3)})
    declaration.refresh_from_db()
    assert declaration.etat == EtatDeclaration.EN_COURS
    assert declaration.evenements.last().etat_avant == EtatDeclaration.RENVOYEE


@pytest.mark.parametrize("etat", [EtatDeclaration.TRANSMISE, EtatDeclaration.VALIDEE])
def test_saisie_refusee_apres_transmission(client, declaration, fda, fdf, etat):
    declaration.etat = etat
    declaration.save()
    ecole = ligne_de(declaration, "École")
    connecter_verifie(client, fda)
    assert client.get(url_ligne(declaration, ecole)).status_code == 403
    assert poster_ligne(client, declaration, ecole, **ACTIVITE_COMPLETE).status_code == 403
    page = texte(client.get(reverse("afas:declaration", kwargs={"pk": declaration.pk})))
    assert "elle ne se modifie plus" in page and url_ligne(declaration, ecole) not in page
    connecter_verifie(client, fdf)
    assert client.post(url_financier(declaration), {"version": "0", **FINANCIER_COMPLET}).status_code == 403
    with pytest.raises(ErreurMetier, match="close"):
        services.donnees_activite_enregistrer(par=fda, ligne=ecole, version=0, valeurs={"heures_realisees": 1})
    with pytest.raises(ErreurMetier, match="close"):
        services.donnees_financieres_enregistrer(par=fdf, declaration=declaration, version=0, valeurs={"c64": 1})
    ecole.refresh_from_db()
    assert ecole.heures_realisees is None and ecole.version == 0


def test_saisie_pas_encore_ouverte(declaration, fda):
    declaration.date_ouverture = J + datetime.timedelta(days=2)
    declaration.save()
    with pytest.raises(ErreurMetier, match="ouvre le"):
        services.donnees_activite_enregistrer(
            par=fda, ligne=ligne_de(declaration, "École"), version=0, valeurs={"heures_realisees": 1}
        )


# --- Règles de cohérence, sous leur champ --------------------------------------------------------


REGLES_ACTIVITE = [
    pytest.param({"heures_realisees": "-1"}, "heures_realisees", "supérieure ou égale à 0", id="heures-negatives"),
    pytest.param({"enfants_inscrits": "-3"}, "enfants_inscrits", "supérieure ou égale à 0", id="enfants-negatifs"),
    pytest.param({"amplitude_ouverture": "25"}, "amplitude_ouverture", "inférieure ou égale à 24", id="amplitude"),
    pytest.param({"jours_ouverture": "367"}, "jours_ouverture", "inférieure ou égale à 366", id="jours"),
    pytest.param({"heures_realisees": "douze"}, "heures_realisees", "Saisissez un nombre", id="pas-un-nombre"),
    pytest.param(
        {"heures_realisees": "100", "heures_mercredi": "101"}, "heures_mercredi", "font partie", id="mercredi"
    ),
    pytest.param(
        {"heures_realisees": "200", "heures_facturees": "100"}, "heures_realisees", "plus de moitié", id="rapport"
    ),
    pytest.param(
        {"heures_facturees": "16001", "jours_ouverture": "100", "amplitude_ouverture": "8", "enfants_inscrits": "20"},
        "heures_facturees",
        "dépassent ce que l'accueil peut offrir",
        id="capacite",
    ),
]


@pytest.mark.parametrize(("valeurs", "champ", "message"), REGLES_ACTIVITE)
def test_regles_activite(client, declaration, fda, valeurs, champ, message):
    ecole = ligne_de(declaration, "École")
    connecter_verifie(client, fda)
    reponse = poster_ligne(client, declaration, ecole, **valeurs)
    assert reponse.status_code == 200
    form = reponse.context["form"]
    assert message in " ".join(form.errors[champ]), form.errors
    page = texte(reponse)
    assert f'id="{form[champ].auto_id}-messages"' in page or message in page
    ecole.refresh_from_db()
    assert ecole.version == 0 and ecole.saisie_le is None
    declaration.refresh_from_db()
    assert declaration.etat == EtatDeclaration.A_SAISIR


def test_regles_activite_limites_acceptees(declaration, fda):
    """Les bornes elles-mêmes passent : 1,5 × facturées, capacité exacte, mercredi = réalisées."""
    ecole = ligne_de(declaration, "École")
    valeurs = {
        "heures_realisees": Decimal("150"),
        "heures_facturees": Decimal("100"),
        "heures_mercredi": Decimal("150"),
        "jours_ouverture": 1,
        "amplitude_ouverture": Decimal("24"),
        "enfants_inscrits": 7,
    }
    services.donnees_activite_enregistrer(par=fda, ligne=ecole, version=0, valeurs=valeurs)
    ecole.refresh_from_db()
    assert ecole.heures_realisees == Decimal("150")


REGLES_FINANCIER = [
    pytest.param({"c60": "-5"}, "c60", "supérieure ou égale à 0", id="charge-negative"),
    pytest.param({"taux_ressortissants": "101"}, "taux_ressortissants", "inférieure ou égale à 100", id="taux-100"),
    pytest.param({"taux_ressortissants": "-1"}, "taux_ressortissants", "supérieure ou égale à 0", id="taux-0"),
    pytest.param(
        {"p70": "100", "participations_familiales": "150"}, "participations_familiales", "compte 70", id="pf-70"
    ),
    pytest.param({"participations_familiales": "1"}, "participations_familiales", "compte 70", id="pf-sans-70"),
    pytest.param({"c64": "1" * 15}, "c64", "chiffres", id="trop-de-chiffres"),
]


@pytest.mark.parametrize(("valeurs", "champ", "message"), REGLES_FINANCIER)
def test_regles_financier(client, declaration, fdf, valeurs, champ, message):
    connecter_verifie(client, fdf)
    reponse = client.post(url_financier(declaration), {"version": "0", **valeurs})
    assert reponse.status_code == 200
    assert message in " ".join(reponse.context["form"].errors[champ])
    assert DonneesFinancieres.objects.get(declaration=declaration).version == 0


def test_totaux_montres(client, declaration, fdf, approbateur):
    services.donnees_financieres_enregistrer(
        par=fdf,
        declaration=declaration,
        version=0,
        valeurs={"c60": Decimal("1000.50"), "c64": Decimal("2000"), "p70": Decimal("500"), "p74": Decimal("4000")},
    )
    connecter_verifie(client, approbateur)
    page = texte(client.get(reverse("afas:declaration", kwargs={"pk": declaration.pk})))
    assert "3 000,50" in page.replace("\xa0", " ")  # total des charges
    assert "4 500,00" in page.replace("\xa0", " ")  # total des produits
    assert "1 499,50" in page.replace("\xa0", " ")  # résultat


# --- Réel et prévisionnel : l'écart de plus de 20 % s'explique ---------------------------------------


@pytest.fixture
def reel(alsh, declaration, fda, fdf):
    """Le prévisionnel (``declaration``) saisi : 1 000 heures réalisées par lieu, 10 000 € de charges."""
    for ligne in declaration.donnees_activite.all():
        services.donnees_activite_enregistrer(
            par=fda, ligne=ligne, version=0, valeurs={"heures_realisees": Decimal(1000)}
        )
    services.donnees_financieres_enregistrer(
        par=fdf, declaration=declaration, version=0, valeurs={"c64": Decimal(10000)}
    )
    return creer_declaration(alsh, type_declaration=TypeDeclaration.REEL, exercice=declaration.exercice)


def test_ecart_heures_exige_un_commentaire(client, reel, fda):
    ecole, salle = ligne_de(reel, "École"), ligne_de(reel, "Salle")
    connecter_verifie(client, fda)
    # Première ligne : le total n'est pas encore connu, rien n'est comparé.
    assert poster_ligne(client, reel, ecole, heures_realisees="1500").status_code == 302
    # Seconde ligne : 3 000 heures contre 2 000 prévues (+50 %).
    reponse = poster_ligne(client, reel, salle, heures_realisees="1500")
    assert reponse.status_code == 200
    erreurs = reponse.context["form"].errors["commentaire_ecart"]
    assert "s'écarte de 50 %" in erreurs[0]
    page = texte(reponse)
    assert page.index("Commentaire sur l'écart au prévisionnel") < page.index("Heures facturées")
    salle.refresh_from_db()
    assert salle.heures_realisees is None
    # Avec un commentaire : enregistré, sur la déclaration.
    reponse = poster_ligne(
        client, reel, salle, heures_realisees="1500", commentaire_ecart="Ouverture d'un second groupe en été."
    )
    assert reponse.status_code == 302
    reel.refresh_from_db()
    assert reel.commentaire_ecart == "Ouverture d'un second groupe en été."
    # Un actualisé ne se compare pas au prévisionnel.
    autre = creer_declaration(reel.activite, type_declaration=TypeDeclaration.ACTUALISE_JUIN, exercice=reel.exercice)
    services.donnees_activite_enregistrer(
        par=fda, ligne=ligne_de(autre, "École"), version=0, valeurs={"heures_realisees": Decimal(9999)}
    )


def test_ecart_charges_exige_un_commentaire(client, reel, fdf):
    connecter_verifie(client, fdf)
    reponse = client.post(url_financier(reel), {"version": "0", "c64": "7000"})
    assert "s'écarte de 30 %" in reponse.context["form"].errors["commentaire_ecart"][0]
    reponse = client.post(url_financier(reel), {"version": "0", "c64": "11000"})  # +10 %
    assert reponse.status_code == 302


def test_sans_previsionnel_rien_n_est_compare(alsh, fdf):
    reel = creer_declaration(alsh, type_declaration=TypeDeclaration.REEL)
    services.donnees_financieres_enregistrer(par=fdf, declaration=reel, version=0, valeurs={"c64": Decimal(1)})


# --- Pas de mise à jour perdue --------------------------------------------------------------------


def test_second_enregistrement_sur_une_version_perimee(client, declaration, fda, convention, administrateur, alsh):
    """Deux FDA ouvrent le même formulaire (version 0) ; le premier enregistre ; le second est
    prévenu, par qui et à quelle heure, et rien du premier n'est perdu."""
    autre = _declarant(convention, administrateur, "Second")
    affecter(administrateur, autre, RoleAfas.FDA, activites=[alsh])
    ecole = ligne_de(declaration, "École")
    connecter_verifie(client, fda)
    assert poster_ligne(client, declaration, ecole, heures_realisees="10").status_code == 302
    connecter_verifie(client, autre)
    reponse = poster_ligne(client, declaration, ecole, heures_realisees="99", enfants_inscrits="4")
    assert reponse.status_code == 200
    message = " ".join(reponse.context["form"].non_field_errors())
    ecole.refresh_from_db()
    heure = timezone.localtime(ecole.saisie_le).strftime("%Hh%M")
    assert message.startswith(f"Ces données ont été modifiées par {fda.get_full_name()} à {heure} pendant votre saisie")
    assert "rechargez la page" in message
    assert ecole.heures_realisees == Decimal("10") and ecole.enfants_inscrits is None and ecole.version == 1
    # Rechargée, la page porte la nouvelle version : l'enregistrement passe.
    formulaire = client.get(url_ligne(declaration, ecole)).context["form"]
    assert formulaire.initial["version"] == 1 and formulaire.initial["heures_realisees"] == Decimal("10")
    assert poster_ligne(client, declaration, ecole, heures_realisees="10", enfants_inscrits="4").status_code == 302


def test_double_envoi_sans_conflit_ni_double_ecriture(client, declaration, fda):
    """Un double clic sur Enregistrer : deux envois de la version 0 avec les mêmes valeurs ; le
    second ne réécrit rien et n'annonce pas de conflit."""
    ecole = ligne_de(declaration, "École")
    connecter_verifie(client, fda)
    for _ in range(2):
        assert poster_ligne(client, declaration, ecole, heures_realisees="10,5").status_code == 302
    ecole.refresh_from_db()
    assert ecole.version == 1
    assert EvenementAudit.objects.filter(action="declaration_donnees_activite").count() == 1
    # Mêmes mains, autres valeurs, version périmée : un conflit (l'autre onglet).
    reponse = client.post(url_ligne(declaration, ecole), {"version": "0", "heures_realisees": "11"})
    assert "rechargez la page" in " ".join(reponse.context["form"].non_field_errors())


def test_version_perimee_financier(declaration, fdf):
    services.donnees_financieres_enregistrer(par=fdf, declaration=declaration, version=0, valeurs={"c60": Decimal(1)})
    with pytest.raises(ErreurMetier, match="modifiées par"):
        services.donnees_financieres_enregistrer(par=fdf, declaration=declaration, version=0, valeurs={"c60": None})
    assert DonneesFinancieres.objects.get(declaration=declaration).c60 == Decimal(1)


# --- Accueil AFAS et Mes déclarations ---------------------------------------------------------------


def test_accueil_afas(client, fda):
    connecter_verifie(client, fda)
    page = texte(client.get(reverse("afas:accueil")))
    for texte_guide in (
        "Bienvenue",
        "Dans cet espace sécurisé, vous pouvez saisir vos déclarations",
        "Merci de votre participation !",
        "Accès direct",
        "Aide",
        "Toutes les informations pour bien utiliser votre espace",
        "Déclarer en trois étapes",
        "Transmettez en un clic votre déclaration à la Caf.",
        "Vos rôles aujourd'hui",
    ):
        assert texte_guide in page, texte_guide
    assert 'href="#"' not in page


def test_mes_declarations_filtres_et_perimetre(client, convention, administrateur, alsh, declaration, fda_ecole):
    creche = creer_activite(convention.organisme, "Crèche Les Lutins", numero="EQ7002", type_activite="EAJE")
    affecter(administrateur, fda_ecole, RoleAfas.FDA, activites=[creche])
    reel = creer_declaration(creche, type_declaration=TypeDeclaration.REEL, exercice=J.year - 1)
    etrangere = creer_activite(convention.organisme, "Accueil sans rôle", numero="EQ7003")
    creer_declaration(etrangere)
    connecter_verifie(client, fda_ecole)
    url = reverse("afas:mes_declarations")
    page = texte(client.get(url))
    assert "2 déclarations" in page and "Accueil sans rôle" not in page
    assert reverse("afas:declaration", kwargs={"pk": declaration.pk}) in page
    for filtres, attendu in (
        ({"type_declaration": "reel"}, reel),
        ({"exercice": str(J.year - 1)}, reel),
        ({"etat": "a_saisir", "type_activite": "ALSH"}, declaration),
        ({"nature": "EXTRA"}, declaration),
        ({"activite": "lutins"}, reel),
        ({"activite": "EQ7001"}, declaration),
    ):
        page = texte(client.get(url, filtres))
        assert "1 déclaration —" in page, filtres
        assert reverse("afas:declaration", kwargs={"pk": attendu.pk}) in page, filtres
    page = texte(client.get(url, {"etat": "validee"}))
    assert "Aucun résultat ne correspond à ces filtres" in page
    page = texte(client.get(url, {"tri": "-exercice"}))
    assert page.index("Crèche Les Lutins") > page.index("Accueil de loisirs Lioujas")
    assert "Réinitialiser" in page and "Rechercher" in page
