"""Les aides de listes du socle (``portail.socle.listes``) : la page lue par ses clés donne les
mêmes lignes, dans le même ordre et au même coût que la pagination ordinaire ; la liste
déroulante longue a le balisage de ``forms.Select``."""

import copy
import re

import pytest
from django import forms
from django.core.paginator import UnorderedObjectListWarning
from django.db.models import F, Value
from django.db.models.functions import NullIf
from django.test import RequestFactory
from django.test.html import parse_html

from conventions.models import Caf
from portail.socle.listes import (
    ListeDeroulanteLongue,
    PaginateurCompteAvecLaPage,
    PaginateurParLeBoutLePlusProche,
    PaginateurParTableauDeCles,
    PaginateurParTableauDeClesDepuisLeBout,
    paginer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def cafs():
    # Des noms en double : seul le départage par la clé rend l'ordre stable.
    Caf.objects.bulk_create(Caf(code=f"{n:03d}", nom=f"Caf {n % 7}") for n in range(1, 61))
    return Caf.objects.order_by("nom", "pk")


def _page(cafs, page, par_cles: bool, par_page: int = 25):
    return paginer(RequestFactory().get("/", {"page": page}), cafs, par_page, par_cles=par_cles)


class TestPageParCles:
    @pytest.mark.parametrize("numero", ["1", "2", "3", "999", "x", "-1"])
    def test_memes_lignes_dans_le_meme_ordre(self, cafs, numero):
        attendu = _page(cafs, numero, par_cles=False)
        obtenu = _page(cafs, numero, par_cles=True)
        assert [c.pk for c in obtenu] == [c.pk for c in attendu]
        assert (obtenu.number, obtenu.paginator.num_pages, obtenu.pages_list) == (
            attendu.number,
            attendu.paginator.num_pages,
            attendu.pages_list,
        )

    def test_derniere_page_complete_et_liste_vide(self, cafs):
        assert len(list(_page(cafs, "3", par_cles=True))) == 10
        assert list(_page(cafs.none(), "1", par_cles=True)) == []

    @pytest.mark.parametrize("classe", [PaginateurParTableauDeCles, PaginateurParTableauDeClesDepuisLeBout])
    def test_cles_en_tableau_liste_vide(self, cafs, classe, django_assert_num_queries):
        """Une liste vide (file d'attente vidée) : une page vide, sans requête de page (sous
        PostgreSQL, la tranche vide s'écrivait ARRAY(NULL), qui n'est pas du SQL)."""
        vide = cafs.filter(nom="aucune")
        page = paginer(RequestFactory().get("/"), vide, paginateur=classe)
        with django_assert_num_queries(0):
            assert list(page) == []
        assert [c.pk for c in paginer(RequestFactory().get("/", {"page": "3"}), cafs, paginateur=classe)] == [
            c.pk for c in _page(cafs, "3", par_cles=False)
        ]

    def test_une_requete_de_comptage_une_requete_de_page(self, cafs, django_assert_num_queries):
        with django_assert_num_queries(2):
            lignes = list(_page(cafs, "2", par_cles=True))
        assert len(lignes) == 25

    def test_la_page_lit_ses_cles_en_sous_requete_triee(self, cafs):
        requete = str(_page(cafs, "2", par_cles=True).object_list.query)
        assert re.search(r"IN \(SELECT .* ORDER BY .* LIMIT 25 OFFSET 25\)", requete)


class TestPageParLeBoutLePlusProche:
    """La seconde moitié lue depuis la fin donne les pages de ``Paginator``, valeurs absentes et
    égalités comprises."""

    ORDRES = {
        "nom": ("nom", "pk"),
        "-nom": ("-nom", "pk"),
        "fin croissante": (F("fin").asc(nulls_last=True), "nom", "pk"),
        "fin décroissante": (F("fin").desc(nulls_first=True), "nom", "pk"),
    }

    @pytest.mark.parametrize("ordre", ORDRES)
    @pytest.mark.parametrize("par_page", [25, 7])
    def test_memes_pages_que_paginator(self, cafs, ordre, par_page):
        # « fin » vide pour une Caf sur sept : sa place (après, ou avant en ordre inverse) doit
        # s'inverser avec le sens, sinon les pages lues depuis la fin seraient décalées.
        liste = cafs.annotate(fin=NullIf(F("nom"), Value("Caf 3"))).order_by(*self.ORDRES[ordre])
        nombre = -(-60 // par_page)
        for numero in [*map(str, range(1, nombre + 1)), "999", "x"]:
            attendu = paginer(RequestFactory().get("/", {"page": numero}), liste, par_page)
            obtenu = paginer(
                RequestFactory().get("/", {"page": numero}), liste, par_page, paginateur=PaginateurParLeBoutLePlusProche
            )
            assert [c.pk for c in obtenu] == [c.pk for c in attendu], (ordre, numero)
            assert (obtenu.number, obtenu.pages_list) == (attendu.number, attendu.pages_list)

    def test_la_derniere_page_lit_ses_cles_depuis_la_fin(self, cafs, django_assert_num_queries):
        with django_assert_num_queries(2):
            page = paginer(RequestFactory().get("/", {"page": "3"}), cafs, paginateur=PaginateurParLeBoutLePlusProche)
            requete = str(page.object_list.query)
            assert len(list(page)) == 10
        # Les 10 dernières lignes (page 3 de 60 par 25) : les 10 premières dans l'ordre inverse.
        assert re.search(r"IN \(SELECT .* ORDER BY \S+ DESC, \S+ DESC LIMIT 10\)", requete)
        premiere = str(
            paginer(RequestFactory().get("/"), cafs, paginateur=PaginateurParLeBoutLePlusProche).object_list.query
        )
        assert re.search(r"IN \(SELECT .* ORDER BY \S+ ASC, \S+ ASC LIMIT 25\)", premiere)


class TestPageCompteeAvecSesCles:
    """Nombre de lignes et clés de la page en une requête : les pages de ``Paginator``, numéros
    invalides, hors limites et liste vide compris."""

    @pytest.mark.parametrize("ordre", TestPageParLeBoutLePlusProche.ORDRES)
    @pytest.mark.parametrize("par_page", [25, 7])
    def test_memes_pages_que_paginator(self, cafs, ordre, par_page):
        liste = cafs.annotate(fin=NullIf(F("nom"), Value("Caf 3"))).order_by(
            *TestPageParLeBoutLePlusProche.ORDRES[ordre]
        )
        nombre = -(-60 // par_page)
        for numero in [*map(str, range(1, nombre + 1)), str(nombre + 1), "999", "x", "0", "-1", "2.0", ""]:
            attendu = paginer(RequestFactory().get("/", {"page": numero}), liste, par_page)
            obtenu = paginer(
                RequestFactory().get("/", {"page": numero}), liste, par_page, paginateur=PaginateurCompteAvecLaPage
            )
            assert [c.pk for c in obtenu] == [c.pk for c in attendu], (ordre, numero)
            assert (obtenu.number, obtenu.paginator.count, obtenu.paginator.num_pages, obtenu.pages_list) == (
                attendu.number,
                attendu.paginator.count,
                attendu.paginator.num_pages,
                attendu.pages_list,
            )

    def test_deux_requetes_une_pour_une_liste_vide(self, cafs, django_assert_num_queries):
        for numero, requetes, lignes in (("1", 2, 25), ("999", 2, 10), ("3", 2, 10)):
            with django_assert_num_queries(requetes):
                page = paginer(RequestFactory().get("/", {"page": numero}), cafs, paginateur=PaginateurCompteAvecLaPage)
                assert (len(list(page)), page.paginator.count) == (lignes, 60)
        with django_assert_num_queries(1):
            page = paginer(
                RequestFactory().get("/", {"page": "4"}),
                cafs.filter(nom="aucune"),
                paginateur=PaginateurCompteAvecLaPage,
            )
            assert (list(page), page.number, page.paginator.count, page.paginator.num_pages) == ([], 1, 0, 1)

    def test_un_ordre_explicite_est_exige(self, cafs):
        with pytest.warns(UnorderedObjectListWarning), pytest.raises(ValueError, match="ordre explicite"):
            paginer(RequestFactory().get("/"), cafs.order_by(), paginateur=PaginateurCompteAvecLaPage)


class Formulaire(forms.Form):
    ordinaire = forms.ChoiceField(choices=[("", "Tous"), ("1", "A <b> & « c »"), ("22", "Deux")], required=False)
    longue = forms.ChoiceField(
        choices=[("", "Tous"), ("1", "A <b> & « c »"), ("22", "Deux")], required=False, widget=ListeDeroulanteLongue
    )


class TestListeDeroulanteLongue:
    @pytest.mark.parametrize("valeur", [None, "", "22", "inconnue"])
    def test_meme_balisage_que_select(self, valeur):
        f = Formulaire({"ordinaire": valeur, "longue": valeur} if valeur is not None else None)
        # Même arbre HTML (l'ordre des attributs et les blancs entre balises n'y comptent pas).
        assert parse_html(str(f["longue"])) == parse_html(str(f["ordinaire"]).replace("ordinaire", "longue"))

    def test_libelles_echappes(self):
        html = str(Formulaire()["longue"])
        assert "A &lt;b&gt; &amp; « c »" in html and "<b>" not in html


def _filtre_aux_groupes():
    """Un filtre d'une liste déroulante aux choix longs, ses choix donnés à la construction."""
    import django_filters

    from portail.socle.listes import FiltreChoixLongs

    class Filtre(django_filters.FilterSet):
        groupe = FiltreChoixLongs(empty_label="Tous", method=lambda qs, _nom, _valeur: qs, widget=ListeDeroulanteLongue)

        class Meta:
            model = Caf
            fields = ["groupe"]

        def __init__(self, *args, choix, **kwargs):
            super().__init__(*args, **kwargs)
            self.filters["groupe"].extra["choices"] = choix

    return Filtre


def test_filtre_aux_choix_longs_partage_ses_choix_sans_les_melanger():
    """``FiltreChoixLongs`` : le formulaire d'un filtre ne recopie plus ses milliers de choix à
    chaque affichage (deepcopy), mais chaque filtre garde les siens, sa valeur validée contre eux
    (une valeur hors choix est refusée sous le champ) et son balisage de liste déroulante."""
    from portail.socle.listes import ChampChoixLongs

    Filtre = _filtre_aux_groupes()
    premier = Filtre({"groupe": "7"}, queryset=Caf.objects.none(), choix=[("7", "Sept <b>"), ("8", "Huit")])
    second = Filtre({"groupe": "7"}, queryset=Caf.objects.none(), choix=[("9", "Neuf")])
    champ = premier.form.fields["groupe"]
    assert isinstance(champ, ChampChoixLongs)
    assert premier.form.is_valid() and not second.form.is_valid()
    assert "Sélectionnez un choix valide" in str(second.form.errors["groupe"])
    assert list(champ.choices) == [("", "Tous"), ("7", "Sept <b>"), ("8", "Huit")]
    assert list(second.form.fields["groupe"].choices) == [("", "Tous"), ("9", "Neuf")]
    html = str(premier.form["groupe"])
    assert '<option value="7" selected>Sept &lt;b&gt;</option>' in html and "Neuf" not in html
    copie = copy.deepcopy(champ)
    assert copie.choices.field is copie and copie.choices.choices is champ.choices.choices


def test_choix_longs_meme_balisage_et_meme_validation():
    """``ChoixLongs`` (options écrites une fois, clés en ensemble) : même HTML que les mêmes choix
    en liste, valeur choisie comprise ; même validation, valeur forgée refusée sous le champ."""
    from portail.socle.listes import ChoixLongs

    Filtre = _filtre_aux_groupes()
    choix = [("7", "Sept <b>"), ("17", "Dix-sept"), ("x&1", "Clé « x »"), ("8", "Huit")]
    longs = ChoixLongs(choix)
    for valeur in (None, "", "7", "17", "x&1", "8", "70", "<forgée>"):
        donnees = {"groupe": valeur} if valeur is not None else None
        liste = Filtre(donnees, queryset=Caf.objects.none(), choix=choix)
        garde = Filtre(donnees, queryset=Caf.objects.none(), choix=longs)
        assert str(garde.form["groupe"]) == str(liste.form["groupe"]), valeur
        valide = valeur is not None and valeur not in ("70", "<forgée>")
        assert garde.form.is_valid() == liste.form.is_valid() == valide, valeur
    assert "Sélectionnez un choix valide" in str(garde.form.errors["groupe"])
    assert '<option value="17" selected>' in str(
        Filtre({"groupe": "17"}, queryset=Caf.objects.none(), choix=longs).form["groupe"]
    )


def test_q_parmi_requete_comme_in_meme_vide():
    """``q_parmi_requete`` retient les mêmes lignes que ``__in`` : une sous-requête, une union,
    et une sous-requête qui ne peut rien rendre (``.none()``, dans une union aussi : le compte
    d'un partenaire fermé), sans SQL invalide."""
    from portail.socle.listes import q_parmi_requete

    cafs = [Caf.objects.create(code=f"9{i}0", nom=f"Caf {i}") for i in range(3)]
    une = Caf.objects.filter(pk=cafs[0].pk).values("pk")
    union = une.union(Caf.objects.filter(pk=cafs[2].pk).values("pk"))
    vide = Caf.objects.none().values("pk")
    for requete, attendu in ((une, [cafs[0]]), (union, [cafs[0], cafs[2]]), (vide, []), (vide.union(vide), [])):
        assert list(Caf.objects.filter(q_parmi_requete("pk", requete)).order_by("pk")) == attendu
        assert Caf.objects.filter(q_parmi_requete("pk", requete)).count() == len(attendu)
