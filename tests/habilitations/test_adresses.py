"""``adresse_par_cle`` : l'adresse de chaque ligne, résolue une fois, égale à ``reverse``."""

import pytest
from django.urls import NoReverseMatch, reverse

from habilitations.administration.adresses import adresse_par_cle

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
