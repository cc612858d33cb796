"""Requêtes compilées une fois (portail.socle.requetes) : mêmes réponses que l'ORM, arguments
réellement substitués, et refus d'une requête dont un argument serait transformé."""

import datetime

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from conventions.models import Mandat
from habilitations import perms
from portail.socle.dates import aujourdhui
from portail.socle.requetes import RequeteCompilee
from tests import factories

TEMOINS_JOUR = (datetime.date(1901, 2, 3), datetime.date(1902, 3, 4))


def _orm(user, jour):
    return perms._etat_double_authentification(user.pk, jour).get()


@pytest.mark.django_db
def test_memes_reponses_que_l_orm_et_le_jour_compte(administrateur, declarant, convention):
    jour = aujourdhui()
    simple = factories.creer_utilisateur(nom="Rey", prenom="Léa", organisme=convention.organisme)
    TOTPDevice.objects.create(user=simple, name="application", confirmed=True)
    attendu = {
        administrateur.pk: (False, True),  # administrateur de la convention
        declarant.pk: (False, False),
        simple.pk: (True, False),  # application confirmée, aucun rôle de gestion
    }
    for user in (administrateur, declarant, simple):
        lignes = perms._ETAT_DOUBLE_AUTHENTIFICATION.lignes(pk=user.pk, jour=jour)
        assert lignes == [attendu[user.pk]] == [_orm(user, jour)]
        assert all(type(v) is bool for v in lignes[0])
    # Le jour est bien substitué : la veille de son mandat, l'administrateur n'en a pas.
    ouverture = Mandat.objects.get(administrateur=administrateur).date_ouverture
    veille = ouverture - datetime.timedelta(days=1)
    assert perms._ETAT_DOUBLE_AUTHENTIFICATION.lignes(pk=administrateur.pk, jour=veille) == [
        _orm(administrateur, veille)
    ]
    assert _orm(administrateur, veille)[1] is False
    # Un compte qui n'existe pas : aucune ligne.
    assert perms._ETAT_DOUBLE_AUTHENTIFICATION.lignes(pk=-5, jour=jour) == []


@pytest.mark.django_db
def test_une_seule_requete_par_appel(administrateur, django_assert_num_queries):
    perms._ETAT_DOUBLE_AUTHENTIFICATION.lignes(pk=administrateur.pk, jour=aujourdhui())
    with django_assert_num_queries(1):
        assert perms.double_authentification_etat(administrateur) == (False, True)


@pytest.mark.django_db
def test_refuse_un_argument_transforme():
    """``jour + 1`` n'est aucun des témoins : la requête ne peut pas être rejouée en substituant
    le jour, elle est refusée au lieu de répondre pour le mauvais jour."""
    decalee = RequeteCompilee(
        lambda jour: Mandat.objects.filter(date_ouverture__lte=jour + datetime.timedelta(days=1)).values_list("pk"),
        {"jour": TEMOINS_JOUR},
    )
    with pytest.raises(ValueError, match="aucun argument"):
        decalee.lignes(jour=aujourdhui())


@pytest.mark.django_db
def test_refuse_un_argument_absent_ou_inconnu():
    sans_jour = RequeteCompilee(lambda jour: Mandat.objects.values_list("pk"), {"jour": TEMOINS_JOUR})
    with pytest.raises(ValueError, match="n'apparaît pas"):
        sans_jour.lignes(jour=aujourdhui())
    with pytest.raises(TypeError):
        sans_jour.lignes(autre=1)


def _preparees() -> int:
    from django.db import connection

    with connection.cursor() as curseur:
        curseur.execute("SELECT count(*) FROM pg_prepared_statements")
        return curseur.fetchone()[0]


@pytest.mark.django_db(transaction=True)  # la connexion est fermée et rouverte
def test_preparee_une_fois_par_connexion_sous_postgresql(administrateur, monkeypatch):
    """Sous PostgreSQL, une requête compilée ``preparee`` est une instruction préparée : la connexion la garde
    (planifiée une fois, pas à chaque appel), et dix appels n'en préparent pas dix. Désactivées
    par le réglage (``prepare_threshold`` à ``None``, comme derrière un pgbouncer ancien), rien
    n'est préparé et les réponses restent les mêmes."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("instructions préparées : PostgreSQL seulement")
    connection.close()  # une connexion neuve : aucune instruction préparée d'avance
    connection.ensure_connection()
    reponses = set()
    for _ in range(10):
        reponses.add(tuple(perms._ETAT_DOUBLE_AUTHENTIFICATION.lignes(pk=administrateur.pk, jour=aujourdhui())))
    assert _preparees() == 1
    # Une requête compilée sans ``preparee`` (son bon plan dépend des valeurs) ne l'est jamais.
    non_preparee = RequeteCompilee(
        lambda jour: Mandat.objects.filter(date_ouverture__lte=jour).values_list("pk"), {"jour": TEMOINS_JOUR}
    )
    for _ in range(10):
        non_preparee.lignes(jour=aujourdhui())
    assert _preparees() == 1
    connection.close()
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "prepare_threshold", None)
    connection.ensure_connection()
    for _ in range(10):
        reponses.add(tuple(perms._ETAT_DOUBLE_AUTHENTIFICATION.lignes(pk=administrateur.pk, jour=aujourdhui())))
    assert _preparees() == 0
    connection.close()
    assert reponses == {((False, True),)}
