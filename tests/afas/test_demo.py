import io
from collections import Counter

import pytest
from django.core.management import call_command

from afas.declarations.completude import manques
from afas.enums import EtatDeclaration, EtatLancement, RoleAfas
from afas.models import (
    Activite,
    AppelDeclaration,
    Declaration,
    DonneesFinancieres,
    HabilitationAfas,
    LieuImplantation,
    Recepisse,
)
from portail.models import Courriel

pytestmark = pytest.mark.django_db


def test_la_demo_donne_des_activites_et_des_roles_afas(settings, capsys):
    settings.DEBUG = True
    call_command("demo")
    call_command("demo")
    sortie = capsys.readouterr().out
    for role in ("AFAS : FDA sur deux lieux", "AFAS : FDF sur les activités", "AFAS : approbateur validé sur une"):
        assert role in sortie
    assert Activite.objects.count() == 4 and LieuImplantation.objects.count() == 2
    assert HabilitationAfas.objects.actives().filter(role=RoleAfas.FDA, lieu__isnull=False).count() == 2
    assert HabilitationAfas.objects.actives().filter(role=RoleAfas.FDF).count() == 3
    # L'approbateur validé sur une activité (pour les déclarations), en attente sur l'autre.
    assert HabilitationAfas.objects.en_attente().count() == 1
    assert HabilitationAfas.objects.actives().filter(role=RoleAfas.APPROBATEUR).count() == 1


def test_la_demo_donne_deux_appels_et_des_declarations_dans_chaque_etat(settings):
    settings.DEBUG = True
    call_command("demo", stdout=io.StringIO())
    call_command("demo", stdout=io.StringIO())
    assert AppelDeclaration.objects.count() == 2
    assert set(AppelDeclaration.objects.values_list("etat_lancement", flat=True)) == {EtatLancement.TERMINE}
    etats = Counter(Declaration.objects.values_list("etat", flat=True))
    assert set(etats) == set(EtatDeclaration.values)
    assert Declaration.objects.count() == 8
    # Chaque déclaration a ses lignes, ses données financières et son historique depuis « À saisir ».
    for d in Declaration.objects.all():
        assert d.donnees_activite.exists() and DonneesFinancieres.objects.filter(declaration=d).exists()
        assert d.evenements.order_by("le", "pk").first().etat_apres == EtatDeclaration.A_SAISIR
        assert d.evenements.order_by("le", "pk").last().etat_apres == d.etat
    a_approuver = Declaration.objects.get(etat=EtatDeclaration.A_APPROUVER)
    assert manques(a_approuver).complete
    en_cours = Declaration.objects.get(etat=EtatDeclaration.EN_COURS)
    assert not manques(en_cours).complete
    assert Recepisse.objects.count() == 3  # transmise, validée, renvoyée : chacune transmise une fois
    assert Courriel.objects.filter(modele="afas_appel_declaration").exists()
