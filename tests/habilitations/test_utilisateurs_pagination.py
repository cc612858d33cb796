"""La pagination des comptes du sous-arbre d'un responsable (``PaginateurDuSousArbre``) : sous
PostgreSQL, une CTE comptée puis triée depuis le bout le plus proche ; ailleurs, la numérotation
de ``PaginateurCompteAvecLaPage``. Les deux donnent les mêmes lignes, dans le même ordre, le même
nombre et le même numéro de page, pour chaque tri de la liste (égalités et dates absentes
comprises) et chaque page, y compris avant la première et après la dernière."""

import datetime

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from habilitations import perms
from habilitations.administration.utilisateurs.filtres import TRI_PAR_DEFAUT, TRIS
from habilitations.administration.utilisateurs.pagination import PaginateurDuSousArbre
from habilitations.models import Appartenance, Utilisateur
from portail.socle.dates import aujourdhui
from portail.socle.listes import PaginateurCompteAvecLaPage, paginer, trier

pytestmark = pytest.mark.django_db


@pytest.fixture
def sous_arbre(convention, arbre, resp_a):
    """60 comptes dans A1 (sous-groupe de A), noms et prénoms en doubles, un sur trois clôturé."""
    debut = aujourdhui() - datetime.timedelta(days=400)
    comptes = Utilisateur.objects.bulk_create(
        Utilisateur(
            identifiant=f"SOU{n:07d}",
            convention=convention,
            organisme=convention.organisme,
            nom=f"Nom{n % 7}",
            prenom=f"Prénom{n % 3}",
            email=f"sous{n}@exemple.test",
            date_ouverture=debut + datetime.timedelta(days=n % 5),
            date_cloture=aujourdhui() + datetime.timedelta(days=n % 4) if n % 3 == 0 else None,
            password="!",
        )
        for n in range(60)
    )
    Appartenance.objects.bulk_create(
        Appartenance(utilisateur=compte, groupe=arbre["A1"], date_ouverture=debut) for compte in comptes
    )
    return perms.Perimetre(convention, racines=(arbre["A"].chemin,))


PAGES = ["1", "2", "3", "4", "5", "99", "0", "-2", "x", "", "99999999999999999999", "-99999999999999999999"]


@pytest.mark.parametrize("tri", ["", *TRIS, *(f"-{t}" for t in TRIS)])
def test_memes_pages_que_la_numerotation(sous_arbre, tri):
    liste = perms.utilisateurs_du_perimetre(sous_arbre)
    for numero in PAGES:
        requete = RequestFactory().get("/", {"tri": tri, "page": numero})
        triee = trier(requete, liste, TRIS, TRI_PAR_DEFAUT)
        attendue = paginer(requete, triee, paginateur=PaginateurCompteAvecLaPage)
        with CaptureQueriesContext(connection) as requetes:
            page = paginer(requete, triee, paginateur=PaginateurDuSousArbre)
            cles = [u.pk for u in page]
        assert cles == [u.pk for u in attendue], (tri, numero)
        assert (page.number, page.paginator.count) == (attendue.number, attendue.paginator.count), (tri, numero)
        assert type(page.number) is int, (tri, numero)
        assert len(requetes) == 2  # nombre et clés, puis les comptes
        # Les comptes relus par leur clé seule, sans la condition du sous-arbre.
        assert "habilitations_appartenance" not in requetes[1]["sql"]


def test_liste_vide(convention, arbre, resp_a1):
    perimetre = perms.Perimetre(convention, racines=(arbre["B"].chemin,))
    liste = perms.utilisateurs_du_perimetre(perimetre).filter(nom="personne")
    page = paginer(
        RequestFactory().get("/"),
        trier(RequestFactory().get("/"), liste, TRIS, TRI_PAR_DEFAUT),
        paginateur=PaginateurDuSousArbre,
    )
    assert (list(page), page.number, page.paginator.count) == ([], 1, 0)


def test_un_ordre_hors_de_trier_est_refuse(sous_arbre):
    from django.db.models.functions import Lower

    liste = perms.utilisateurs_du_perimetre(sous_arbre).order_by(Lower("nom").asc(), "pk")
    if connection.vendor != "postgresql":
        pytest.skip("la CTE n'existe que sous PostgreSQL")
    with pytest.raises(ValueError, match="ordre non pris en charge"):
        paginer(RequestFactory().get("/"), liste, paginateur=PaginateurDuSousArbre)


def test_en_liste_memes_comptes(sous_arbre, convention, administrateur, arbre, resp_b, membre_b):
    """``utilisateurs_du_perimetre(en_liste=True)`` (les membres du sous-arbre en un tableau) :
    les mêmes comptes que la semi-jointure, administrateurs toujours exclus, pour un responsable ;
    rien de changé pour l'administrateur."""
    from habilitations import services

    services.appartenance_ouvrir(par=None, utilisateur=administrateur, groupe=arbre["A1"])
    for perimetre in (
        sous_arbre,
        perms.Perimetre(convention, racines=(arbre["B"].chemin,)),
        perms.Perimetre(convention, racines=(arbre["A1"].chemin, arbre["B"].chemin)),
        perms.Perimetre(convention, administrateur=True),
    ):
        attendus = set(perms.utilisateurs_du_perimetre(perimetre).values_list("pk", flat=True))
        assert set(perms.utilisateurs_du_perimetre(perimetre, en_liste=True).values_list("pk", flat=True)) == attendus
        assert attendus
        if perimetre.responsable:
            assert administrateur.pk not in attendus
