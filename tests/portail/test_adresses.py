"""``adresse_par_cle`` : l'adresse de chaque ligne, résolue une fois, égale à ``reverse``."""

import pytest
from django.urls import NoReverseMatch, reverse

from portail.socle.adresses import adresse_par_cle

NOMS = ["gestion:utilisateur", "gestion:utilisateur_modifier", "gestion:appartenance_cloturer"]


@pytest.mark.parametrize("nom", NOMS)
@pytest.mark.parametrize("convention", [1, 12, 987])
def test_comme_reverse(nom, convention):
    adresse = adresse_par_cle(nom, convention)
    for cle in (1, 12, 987, 1_000_000_000, convention):
        assert adresse(cle) == reverse(nom, args=[convention, cle])


def test_une_adresse_sans_cle_est_refusee():
    with pytest.raises(NoReverseMatch):
        adresse_par_cle("gestion:utilisateurs", 1)


@pytest.mark.parametrize("nom", ["afas:activite", "afas:valider", "afas:refuser", "afas:habilitation_supprimer"])
def test_adresses_afas_sans_convention(nom):
    adresse = adresse_par_cle(nom)
    for cle in (1, 12, 987, 1_000_000_000):
        assert adresse(cle) == reverse(nom, args=[cle])
