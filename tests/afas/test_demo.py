import pytest
from django.core.management import call_command

from afas.enums import RoleAfas
from afas.models import Activite, HabilitationAfas, LieuImplantation

pytestmark = pytest.mark.django_db


def test_la_demo_donne_des_activites_et_des_roles_afas(settings, capsys):
    settings.DEBUG = True
    call_command("demo")
    call_command("demo")
    sortie = capsys.readouterr().out
    for role in ("AFAS : FDA sur deux lieux", "AFAS : FDF sur les activités", "AFAS : approbateur en attente"):
        assert role in sortie
    assert Activite.objects.count() == 4 and LieuImplantation.objects.count() == 2
    assert HabilitationAfas.objects.actives().filter(role=RoleAfas.FDA, lieu__isnull=False).count() == 2
    assert HabilitationAfas.objects.actives().filter(role=RoleAfas.FDF).count() == 3
    assert HabilitationAfas.objects.en_attente().count() == 2
    assert not HabilitationAfas.objects.actives().filter(role=RoleAfas.APPROBATEUR).exists()
