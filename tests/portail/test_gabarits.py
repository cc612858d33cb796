"""Balises et filtres de la mise en page (portail_dsfr)."""

import datetime

from django import forms
from django.template import Context
from django.utils.functional import SimpleLazyObject

from portail.templatetags.portail_dsfr import date_heure, formulaires_en_erreur, heure


class _Formulaire(forms.Form):
    nom = forms.CharField()


def test_l_heure_au_format_des_guides():
    instant = datetime.datetime(2026, 11, 30, 8, 4, tzinfo=datetime.UTC)  # 09h04 à Paris
    assert heure(instant) == "09h04"
    assert date_heure(instant) == "30/11/2026 à 09h04"
    assert heure(datetime.time(6, 22)) == "06h22"
    assert date_heure(None) == ""


def test_formulaires_en_erreur_sans_evaluer_les_objets_paresseux():
    evaluations = []

    def menu():
        evaluations.append(1)
        return []

    refuse = _Formulaire(data={})
    refuse.is_valid()
    non_valide_encore = _Formulaire(data={})  # lié, jamais validé : on ne le valide pas ici
    contexte = Context({"form": refuse, "autre": non_valide_encore, "menu": SimpleLazyObject(menu)})
    assert formulaires_en_erreur(contexte) == [refuse]
    assert non_valide_encore._errors is None
    assert evaluations == []
