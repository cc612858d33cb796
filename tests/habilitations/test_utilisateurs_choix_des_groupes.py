"""Le choix du groupe de la « LISTE DES UTILISATEURS », gardé par processus
(``filtres.choix_des_groupes``) : les 2 000 groupes d'une grande commune ne sont plus relus ni
réécrits à chaque affichage, mais ce qui est proposé reste exactement les groupes du périmètre du
moment (un groupe créé paraît à l'affichage suivant ; un responsable n'a que son sous-arbre ; une
valeur forgée est refusée sous le champ).

Hors transaction de test (``transaction=True``), comme en production : dans une transaction
ouverte, rien n'est gardé (voir la docstring de ``choix_des_groupes``).
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from habilitations import services
from habilitations.administration.utilisateurs import filtres
from habilitations.perms import Perimetre
from tests.conftest import connecter_verifie
from tests.utils import texte

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _cache_vide():
    filtres._CHOIX_GARDES.clear()
    yield
    filtres._CHOIX_GARDES.clear()


def _liste(client, convention, **parametres):
    with CaptureQueriesContext(connection) as requetes:
        reponse = client.get(reverse("gestion:utilisateurs", args=[convention.pk]), parametres)
    assert reponse.status_code == 200
    return texte(reponse), [q["sql"] for q in requetes.captured_queries]


def _select(page: str) -> str:
    return re.search(r'<select name="groupe".*?</select>', page, re.S).group(0)


def _options(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', _select(page))


def _lit_les_libelles(sql: list[str]) -> bool:
    return any('"habilitations_groupe"."libelle"' in q for q in sql)


def test_gardes_puis_relus_quand_un_groupe_est_cree(client, convention, administrateur, arbre, resp_b):
    connecter_verifie(client, administrateur)
    premiere, sql = _liste(client, convention)
    assert _lit_les_libelles(sql)
    attendu = [(str(arbre["A"].pk), "A — Groupe A"), (str(arbre["A1"].pk), "— A1 — Groupe A1")]
    assert _options(premiere) == [*attendu, (str(arbre["B"].pk), "B — Groupe B")]

    seconde, sql = _liste(client, convention)
    assert not _lit_les_libelles(sql)  # l'empreinte seule
    assert _select(seconde) == _select(premiere)

    nouveau = services.groupe_creer(
        par=None, convention=convention, code="B1", libelle="Sous B", responsable=resp_b, parent=arbre["B"]
    )
    troisieme, sql = _liste(client, convention, groupe=nouveau.pk)
    assert _lit_les_libelles(sql)
    assert (str(nouveau.pk), "— B1 — Sous B") in _options(troisieme)
    assert f'<option value="{nouveau.pk}" selected>' in troisieme
    assert "Sélectionnez un choix valide" not in troisieme


def test_meme_nombre_de_requetes_garde_ou_non(client, convention, administrateur, arbre):
    """La requête de l'empreinte remplace celle des groupes : le budget ne bouge pas."""
    connecter_verifie(client, administrateur)
    _page, lue = _liste(client, convention)
    _page, gardee = _liste(client, convention)
    assert len(gardee) == len(lue)


def test_responsable_son_sous_arbre_et_valeur_forgee(client, convention, administrateur, resp_a1, arbre):
    # L'administrateur affiche d'abord la liste : les choix de la convention entière sont gardés.
    connecter_verifie(client, administrateur)
    _liste(client, convention)
    client.logout()
    connecter_verifie(client, resp_a1)
    for _fois in range(2):
        page, _sql = _liste(client, convention)
        assert _options(page) == [(str(arbre["A1"].pk), "— A1 — Groupe A1")]
    forge, _sql = _liste(client, convention, groupe=arbre["B"].pk)
    assert "Sélectionnez un choix valide" in forge
    assert f'<option value="{arbre["B"].pk}"' not in forge


def test_rien_garde_dans_une_transaction(convention, arbre):
    from django.db import transaction

    perimetre = Perimetre(convention, administrateur=True)
    with transaction.atomic():
        choix = filtres.choix_des_groupes(perimetre)
    assert [cle for cle, _libelle in choix] == [str(arbre[c].pk) for c in ("A", "A1", "B")]
    assert not filtres._CHOIX_GARDES
    filtres.choix_des_groupes(perimetre)
    assert len(filtres._CHOIX_GARDES) == 1


def test_le_cache_est_borne(convention, arbre, monkeypatch):
    monkeypatch.setattr(filtres, "CHOIX_GARDES_MAX", 1)
    filtres.choix_des_groupes(Perimetre(convention, administrateur=True))
    filtres.choix_des_groupes(Perimetre(convention, racines=(arbre["A"].chemin,)))
    assert list(filtres._CHOIX_GARDES) == [("default", convention.pk, (arbre["A"].chemin,))]
