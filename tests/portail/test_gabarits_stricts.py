"""Tests stricts : une variable indéfinie dans un gabarit du portail fait échouer le test.

Réglage `string_if_invalid` de portail/settings/test.py. Les gabarits des paquets tiers
(django-dsfr…) gardent le comportement de production : chaîne vide, filtres appliqués.
"""

import pytest
from django.template import TemplateSyntaxError, engines
from django.template.loader import render_to_string

from portail.settings.test import VariableIndefinie


def rendre(source: str, contexte: dict | None = None) -> str:
    return engines["django"].from_string(source).render(contexte or {})


@pytest.mark.parametrize(
    "source",
    [
        "{{ absente }}",
        "{{ objet.absent }}",
        "{{ absente|default:'—' }}",
        "{{ absente|upper }}",
        "{% url 'x' absente %}",
    ],
)
def test_une_variable_indefinie_leve(source):
    with pytest.raises(TemplateSyntaxError, match=r"Variable indéfinie « (absente|objet\.absent)"):
        rendre(source, {"objet": object()})


def test_les_balises_qui_tolerent_l_absence_la_tolerent():
    assert rendre("{% if absente %}oui{% endif %}{% for x in absente %}{{ x }}{% endfor %}-") == "-"
    assert rendre("{% firstof absente 'défaut' %}") == "défaut"


def test_une_variable_definie_et_vide_s_affiche():
    assert rendre("[{{ vide|default:'—' }}]", {"vide": ""}) == "[—]"


def test_un_gabarit_tiers_garde_le_comportement_de_production():
    # django-dsfr lit `self.heading_tag|default:"p"` sans qu'on le lui donne : pas d'erreur, et le
    # filtre s'applique comme en production.
    page = render_to_string("dsfr/callout.html", {"self": {"title": "Titre", "text": "Texte"}})
    assert '<p class="fr-callout__title">' in page


def test_reglage_actif():
    from django.conf import settings

    assert isinstance(settings.TEMPLATES[0]["OPTIONS"]["string_if_invalid"], VariableIndefinie)
