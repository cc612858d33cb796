"""Les listes « Activités » et « Lieux d'implantation » de l'agent Caf, paginées par clés, les
dernières pages lues depuis la fin (``portail.socle.listes.PaginateurParLeBoutLePlusProche``) :
à chaque page, pour chaque tri (en-têtes de colonnes, dans les deux sens) et sous les filtres,
les mêmes lignes dans le même ordre que la liste entière triée, égalités et valeurs absentes
comprises ; une page au-delà de la dernière donne la dernière. Et l'accès d'un déclarant à
l'historique d'une activité, vérifié sur la seule activité demandée (``activite_consultable``),
répond comme la liste de ses activités (``activites_consultables``)."""

from __future__ import annotations

import datetime

import pytest
from django.test import RequestFactory
from django.urls import reverse

from afas import perms, services
from afas.activites import views
from afas.enums import RoleAfas, TypeActivite
from afas.models import Activite, LieuImplantation
from portail.socle.dates import aujourdhui
from portail.socle.listes import trier
from tests import factories
from tests.afas.conftest import creer_activite, creer_lieu
from tests.conftest import connecter_verifie

pytestmark = pytest.mark.django_db

ACTIVITES = 60


@pytest.fixture
def caf_a_egalites(caf, convention, convention_autre_partenaire, autre_caf):
    """60 activités de la Caf sur trois organismes dont deux de même raison sociale, quatre
    libellés (deux ne diffèrent que par la casse), des dates de clôture absentes ou non, créées à
    rebours de l'ordre des listes ; 0 à 2 lieux chacune, de libellés et communes répétés. Plus une
    activité et son lieu dans une autre Caf, qu'aucune liste ne montre."""
    autre = convention_autre_partenaire.organisme
    autre.raison_sociale = "Centre social des Tilleuls"
    autre.save(update_fields=["raison_sociale"])
    homonyme = factories.OrganismeFactory(caf=caf, raison_sociale=autre.raison_sociale)
    organismes = [convention.organisme, autre, homonyme]
    debut = aujourdhui() - datetime.timedelta(days=400)
    for i in reversed(range(ACTIVITES)):
        activite = creer_activite(
            organismes[i % 3],
            ("Crèche", "Accueil de loisirs", "Relais", "crèche")[i % 4],
            numero=f"EQ-O{i:03d}",
            type_activite=TypeActivite.EAJE if i % 5 == 0 else TypeActivite.ALSH,
            date_ouverture=debut + datetime.timedelta(days=i % 7),
            date_cloture=None if i % 3 else aujourdhui() + datetime.timedelta(days=i % 2 - 1),
        )
        for j in range(i % 3):
            creer_lieu(activite, ("École", "Mairie")[j], commune=("Rodez", "Millau", "")[(i + j) % 3])
    ailleurs = creer_activite(factories.OrganismeFactory(caf=autre_caf), "Crèche", numero="EQ-AILLEURS")
    creer_lieu(ailleurs, "École", commune="Rodez")


def _page(client, nom: str, parametres: dict) -> tuple[int, list[int], list]:
    reponse = client.get(reverse(nom), parametres)
    assert reponse.status_code == 200
    page = reponse.context["page"]
    return page.number, [o.pk for o in page.object_list], [getattr(o, "nombre_lieux", None) for o in page]


def _attendu(queryset, tri: str, champs, defaut) -> list[int]:
    """La liste entière dans l'ordre demandé, sans pagination."""
    requete = RequestFactory().get("/", {"tri": tri} if tri else {})
    return list(trier(requete, queryset, champs, defaut).values_list("pk", flat=True))


def _lire_toutes_les_pages(client, nom: str, parametres: dict, nombre: int) -> list[int]:
    lues = []
    pages = max(1, -(-nombre // 25))
    for numero in range(1, pages + 1):
        page, cles, _lieux = _page(client, nom, {**parametres, "page": str(numero)})
        assert page == numero
        lues += cles
    # Page 1 000 (le banc) : la dernière, lue depuis la fin.
    assert _page(client, nom, {**parametres, "page": "1000"})[:2] == (pages, lues[(pages - 1) * 25 :])
    return lues


TRIS_ACTIVITES = ["", *[s + c for c in views.TRI_ACTIVITES for s in ("", "-")]]
TRIS_LIEUX = ["", *[s + c for c in views.TRI_LIEUX for s in ("", "-")]]


@pytest.mark.parametrize("tri", TRIS_ACTIVITES)
def test_activites_chaque_page_dans_l_ordre_de_la_liste_entiere(client, agent_caf, caf_a_egalites, tri):
    attendu = _attendu(
        Activite.objects.filter(organisme__caf=agent_caf.caf),
        tri,
        views.TRI_ACTIVITES,
        ("organisme__raison_sociale", "libelle"),
    )
    assert len(attendu) == ACTIVITES
    connecter_verifie(client, agent_caf)
    assert _lire_toutes_les_pages(client, "afas:activites", {"tri": tri} if tri else {}, ACTIVITES) == attendu


@pytest.mark.parametrize("tri", TRIS_LIEUX)
def test_lieux_chaque_page_dans_l_ordre_de_la_liste_entiere(client, agent_caf, caf_a_egalites, tri):
    attendu = _attendu(
        LieuImplantation.objects.filter(activite__organisme__caf=agent_caf.caf),
        tri,
        views.TRI_LIEUX,
        ("activite__libelle", "libelle"),
    )
    assert len(attendu) == 60  # 0, 1 ou 2 lieux par activité, 20 de chaque
    connecter_verifie(client, agent_caf)
    assert _lire_toutes_les_pages(client, "afas:lieux", {"tri": tri} if tri else {}, len(attendu)) == attendu


@pytest.mark.parametrize(
    ("filtre", "condition"),
    [
        # Filtre de texte : activités cherchées par le tableau des organismes de la Caf.
        ({"libelle": "crèche"}, {"libelle__icontains": "crèche"}),
        ({"partenaire": "tilleuls"}, {"organisme__raison_sociale__icontains": "tilleuls"}),
        ({"numero_equipement": "eq-o01"}, {"numero_equipement__istartswith": "eq-o01"}),
        # Sans filtre de texte : par la jointure seule.
        ({"type_activite": TypeActivite.EAJE}, {"type_activite": TypeActivite.EAJE}),
    ],
    ids=["libelle", "partenaire", "numero", "type"],
)
def test_activites_filtrees_dans_l_ordre_avec_leur_nombre_de_lieux(
    client, agent_caf, caf_a_egalites, filtre, condition
):
    activites = Activite.objects.filter(organisme__caf=agent_caf.caf, **condition)
    attendu = _attendu(activites, "-libelle", views.TRI_ACTIVITES, ("organisme__raison_sociale", "libelle"))
    assert 0 < len(attendu) < ACTIVITES
    connecter_verifie(client, agent_caf)
    assert _lire_toutes_les_pages(client, "afas:activites", {**filtre, "tri": "-libelle"}, len(attendu)) == attendu
    _numero, cles, lieux = _page(client, "afas:activites", {**filtre, "tri": "-libelle"})
    assert lieux == [LieuImplantation.objects.filter(activite_id=cle).count() for cle in cles]


def test_activite_consultable_repond_comme_la_liste_des_activites_consultables(
    convention, administrateur, declarant, agent_caf, agent_autre_caf, exterieur, convention_autre_partenaire
):
    """Rôle actif (FDF, FDA d'un lieu), rôle qui commence demain, approbateur en attente de la
    Caf, aucun rôle, activité d'un autre partenaire, clé inconnue ou au-delà des entiers de la
    base : pour le déclarant, l'agent de la Caf, celui d'une autre Caf et un compte extérieur."""
    organisme = convention.organisme
    actif, fda, demain, approbateur, sans_role = (
        creer_activite(organisme, f"Activité {i}", numero=f"EQ-C{i}") for i in range(5)
    )
    ailleurs = creer_activite(convention_autre_partenaire.organisme, "Ailleurs", numero="EQ-C9")
    jour = aujourdhui()
    services.habilitation_afas_affecter(
        par=administrateur, utilisateur=declarant, role=RoleAfas.FDF, date_ouverture=jour, activites=[actif]
    )
    services.habilitation_afas_affecter(
        par=administrateur, utilisateur=declarant, role=RoleAfas.FDA, date_ouverture=jour, lieux=[creer_lieu(fda)]
    )
    services.habilitation_afas_affecter(
        par=administrateur,
        utilisateur=declarant,
        role=RoleAfas.FDF,
        date_ouverture=jour + datetime.timedelta(days=1),
        activites=[demain],
    )
    services.habilitation_afas_affecter(
        par=administrateur,
        utilisateur=declarant,
        role=RoleAfas.APPROBATEUR,
        date_ouverture=jour,
        activites=[approbateur],
    )
    cles = [a.pk for a in (actif, fda, demain, approbateur, sans_role, ailleurs)] + [10**9, 2**63 - 1, 2**63 + 7]
    for user in (declarant, administrateur, agent_caf, agent_autre_caf, exterieur):
        consultables = set(perms.activites_consultables(user).values_list("pk", flat=True))
        for cle in cles:
            assert perms.activite_consultable(user, cle).exists() == (cle in consultables), (user, cle)
    assert set(perms.activites_consultables(declarant).values_list("pk", flat=True)) == {actif.pk, fda.pk}
    assert perms.activite_consultable(agent_caf, ailleurs.pk).get() == ailleurs


@pytest.mark.parametrize("page", ["0", "-3", "x", "99999999999999999999999", "٣"])
def test_activites_filtrees_page_hors_limites(client, agent_caf, caf_a_egalites, page):
    """Sous un filtre de texte (nombre et clés en une lecture, ``PaginateurCompteAvecLaPage``), une
    page hors limites ou qui n'est pas un nombre donne la première ou la dernière, comme
    ``Paginator.get_page`` sans filtre."""
    connecter_verifie(client, agent_caf)
    attendu = _page(client, "afas:activites", {"type_activite": TypeActivite.ALSH, "page": page})[0]
    numero, cles, _lieux = _page(client, "afas:activites", {"libelle": "c", "page": page})
    assert numero == attendu
    assert cles
