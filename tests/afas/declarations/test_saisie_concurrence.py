"""Deux déclarants enregistrent la même ligne au même instant, chacun sur la version qu'il a lue
(0), sur PostgreSQL, dans deux connexions réelles : l'un passe, l'autre est prévenu (par qui, à
quelle heure) ; rien de ce que le premier a écrit n'est perdu, la déclaration ne change d'état
qu'une fois. Idem pour les données financières."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from afas import services as services_afas
from afas.declarations import services
from afas.enums import EtatDeclaration, RoleAfas
from afas.models import DonneesActivite, DonneesFinancieres, EvenementDeclaration
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from tests import factories
from tests.afas.conftest import creer_activite, creer_lieu
from tests.afas.declarations.aides_saisie import creer_declaration

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="verrous réels : PostgreSQL seulement"),
]


def _fournisseurs(convention, administrateur, activite, role, nombre=2):
    users = []
    for i in range(nombre):
        user = factories.creer_utilisateur(nom=f"Fournisseur{i}", prenom="Paul", organisme=convention.organisme)
        factories.habiliter(user, convention, "AFAS-DECLARER", responsable=administrateur)
        services_afas.habilitation_afas_affecter(
            par=administrateur, utilisateur=user, role=role, date_ouverture=aujourdhui(), activites=[activite]
        )
        users.append(user)
    return users


def _en_meme_temps(*appels):
    """Chaque appel dans son fil (sa connexion), lâchés ensemble ; le résultat ou l'erreur de chacun."""
    depart = threading.Barrier(len(appels))
    resultats: list = [None] * len(appels)

    def lancer(i, appel):
        try:
            depart.wait()
            resultats[i] = appel()
        except ErreurMetier as erreur:
            resultats[i] = erreur
        finally:
            connections.close_all()

    fils = [threading.Thread(target=lancer, args=(i, a)) for i, a in enumerate(appels)]
    for f in fils:
        f.start()
    for f in fils:
        f.join(30)
    return resultats


def test_deux_fda_sur_la_meme_ligne(convention, administrateur):
    activite = creer_activite(convention.organisme, "Accueil de loisirs Lioujas", numero="EQ9001")
    creer_lieu(activite, "École")
    declaration = creer_declaration(activite)
    ligne = DonneesActivite.objects.get(declaration=declaration)
    premier, second = _fournisseurs(convention, administrateur, activite, RoleAfas.FDA)
    resultats = _en_meme_temps(
        lambda: services.donnees_activite_enregistrer(
            par=premier, ligne=ligne, version=0, valeurs={"heures_realisees": Decimal(10), "enfants_inscrits": 3}
        ),
        lambda: services.donnees_activite_enregistrer(
            par=second, ligne=ligne, version=0, valeurs={"heures_realisees": Decimal(20), "jours_ouverture": 5}
        ),
    )
    refus = [r for r in resultats if isinstance(r, ErreurMetier)]
    passes = [r for r in resultats if isinstance(r, DonneesActivite)]
    assert len(refus) == 1 and len(passes) == 1, resultats
    ligne.refresh_from_db()
    gagnant = ligne.saisie_par
    assert "Ces données ont été modifiées par " + gagnant.get_full_name() in refus[0].message
    assert ligne.version == 1
    if gagnant == premier:
        assert (ligne.heures_realisees, ligne.enfants_inscrits, ligne.jours_ouverture) == (Decimal(10), 3, None)
    else:
        assert (ligne.heures_realisees, ligne.enfants_inscrits, ligne.jours_ouverture) == (Decimal(20), None, 5)
    assert list(EvenementDeclaration.objects.values_list("etat_apres", flat=True)) == [EtatDeclaration.EN_COURS]


def test_deux_fdf_en_meme_temps(convention, administrateur):
    activite = creer_activite(convention.organisme, "Crèche des Lilas", numero="EQ9002", type_activite="EAJE")
    declaration = creer_declaration(activite)
    premier, second = _fournisseurs(convention, administrateur, activite, RoleAfas.FDF)
    resultats = _en_meme_temps(
        lambda: services.donnees_financieres_enregistrer(
            par=premier, declaration=declaration, version=0, valeurs={"c60": Decimal(1), "c64": Decimal(100)}
        ),
        lambda: services.donnees_financieres_enregistrer(
            par=second, declaration=declaration, version=0, valeurs={"c60": Decimal(2)}
        ),
    )
    assert sorted(type(r).__name__ for r in resultats) == ["DonneesFinancieres", "ErreurMetier"], resultats
    financieres = DonneesFinancieres.objects.get(declaration=declaration)
    assert financieres.version == 1
    attendu = Decimal(1) if financieres.saisie_par == premier else Decimal(2)
    assert financieres.c60 == attendu
