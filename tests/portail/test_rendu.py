"""La liste déroulante écrite en Python (``portail.socle.rendu``) rend au caractère près ce que
rend le gabarit de Django, dans tous les cas que les formulaires du portail produisent."""

import pytest
from django import forms
from django.forms.renderers import TemplatesSetting
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from conventions.consultation.filtres import ConventionFilterSet
from conventions.models import Caf, Convention
from portail.socle.rendu import RenduFormulaires, ecrire_select

GABARIT = TemplatesSetting()
PYTHON = RenduFormulaires()

CHOIX_PIEGES = [
    ("", "Toutes"),
    ("1", "Caf de l'Ain"),
    ("2", 'Guillemets " et <balise> & esperluette'),
    ("a&b", "Clé à échapper"),
    ("4", mark_safe("<em>déjà sûr</em>")),
    ("5", gettext_lazy("Yes")),
]


def _deux_rendus(widget: forms.Widget, nom: str, valeur, attrs=None) -> tuple[str, str]:
    return (
        widget.render(nom, valeur, attrs=attrs, renderer=GABARIT),
        widget.render(nom, valeur, attrs=attrs, renderer=PYTHON),
    )


@pytest.mark.parametrize("valeur", [None, "", "2", "a&b", "inconnue"])
def test_select_au_caractere_pres(valeur):
    widget = forms.Select(
        choices=CHOIX_PIEGES, attrs={"class": "fr-select", "required": True, "disabled": False, "data-x": 'a"b'}
    )
    attendu, obtenu = _deux_rendus(widget, "caf", valeur, attrs={"id": "id_caf", "aria-describedby": "aide"})
    assert obtenu == attendu
    assert "<option" in obtenu


def test_select_chemin_python_emprunte():
    """Le contexte ordinaire d'une liste déroulante est bien écrit en Python (sinon le test
    d'égalité ci-dessus comparerait le gabarit à lui-même)."""
    widget = forms.Select(choices=CHOIX_PIEGES)
    contexte = widget.get_context("caf", "2", {"id": "id_caf"})
    texte = ecrire_select(contexte["widget"])
    assert texte is not None
    assert '<option value="2" selected>Guillemets &quot; et &lt;balise&gt; &amp; esperluette</option>' in texte
    assert "<em>déjà sûr</em>" in texte


def test_groupes_d_options_et_choix_multiples():
    choix = [("Nord", [("59", "Nord"), ("62", "Pas-de-Calais")]), ("Sud", [("13", "Bouches-du-Rhône")]), ("0", "Aucun")]
    for widget, valeur in ((forms.Select(choices=choix), "62"), (forms.SelectMultiple(choices=choix), ["59", "13"])):
        attendu, obtenu = _deux_rendus(widget, "dep", valeur)
        assert obtenu == attendu
        assert ecrire_select(widget.get_context("dep", valeur, {})["widget"]) is not None


def test_oui_non_et_libelle_numerique_repassent_au_besoin_par_le_gabarit(settings):
    settings.USE_THOUSAND_SEPARATOR = True
    attendu, obtenu = _deux_rendus(forms.NullBooleanSelect(), "actif", True)
    assert obtenu == attendu
    # Un libellé nombre : le gabarit le localise (« 1 000 »), le chemin Python s'efface.
    widget = forms.Select(choices=[(1, 1000), (2, "deux")])
    assert ecrire_select(widget.get_context("n", 1, {})["widget"]) is None
    attendu, obtenu = _deux_rendus(widget, "n", 1)
    assert obtenu == attendu


@pytest.mark.django_db
def test_filtres_des_conventions_identiques_par_les_deux_rendus(rf):
    """Un vrai formulaire de filtres (choix de modèle, choix simples, gabarit de champ DSFR)."""
    cafs = [Caf.objects.create(code=f"C{i:02d}", nom=f"Caf n° {i} <d'essai>") for i in range(3)]
    requete = rf.get("/partenaires/conventions/", {"caf": str(cafs[1].pk), "etat": "validee"})
    filtre = ConventionFilterSet(requete.GET, queryset=Convention.objects.all(), request=requete, cafs=cafs)
    for nom in ("type_organisme", "caf", "statut", "etat"):
        champ = filtre.form[nom]
        widget, valeur, attrs = champ.field.widget, champ.value(), {"id": champ.auto_id}
        attendu = widget.render(champ.html_name, valeur, attrs=attrs, renderer=GABARIT)
        assert widget.render(champ.html_name, valeur, attrs=attrs, renderer=PYTHON) == attendu, nom
    assert f'<option value="{cafs[1].pk}" selected>Caf n° 1 &lt;d&#x27;essai&gt;</option>' in str(filtre.form["caf"])
