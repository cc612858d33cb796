"""La base tient la règle des dates : sur chaque table datée, une clôture avant l'ouverture est
refusée (une clôture le jour même reste permise : période vide d'une appartenance ou d'un mandat
annulés avant d'avoir commencé)."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from conventions.models import Convention, Mandat
from habilitations.models import Appartenance, Groupe, Utilisateur
from portail.socle.dates import periode_valide, q_chevauche, q_pas_encore_cloture

pytestmark = pytest.mark.django_db

UN_JOUR = datetime.timedelta(days=1)


@pytest.mark.parametrize("modele", [Utilisateur, Groupe, Appartenance, Convention, Mandat], ids=lambda m: m.__name__)
def test_cloture_avant_ouverture_refusee_par_la_base(modele, arbre):
    ligne = modele.objects.order_by("pk").first()
    with pytest.raises(IntegrityError), transaction.atomic():
        modele.objects.filter(pk=ligne.pk).update(date_cloture=ligne.date_ouverture - UN_JOUR)
    modele.objects.filter(pk=ligne.pk).update(date_cloture=ligne.date_ouverture)  # période vide : permise


def test_aides_de_dates():
    jour = datetime.date(2026, 3, 12)
    assert periode_valide(jour, None) and periode_valide(jour, jour + UN_JOUR)
    assert not periode_valide(jour, jour) and not periode_valide(jour, jour - UN_JOUR)
    assert str(q_pas_encore_cloture(jour)) == str(q_chevauche(jour, None))
