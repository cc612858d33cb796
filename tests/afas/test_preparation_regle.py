"""État de préparation des partenaires : la règle du jour lue en deux temps (les habilitations
ouvertes et validées des activités, puis leurs couples titulaire et convention, vérifiés une fois
chacun : ``afas.attribution._lectures`` puis ``_roles_tenus_par_titulaires``) donne les rôles tenus que donne
``q_effective`` habilitation par habilitation (``roles_tenus``), pour chaque condition qui rend une
habilitation non effective."""

import datetime

import pytest

from afas import services
from afas.attribution import _lectures, _roles_tenus_par_titulaires, etat_preparation, roles_tenus
from afas.enums import RoleAfas
from afas.models import HabilitationAfas, LieuImplantation
from conventions.enums import EtatConvention
from conventions.models import Convention, Profil
from habilitations.models import Appartenance, Groupe, GroupeProfil, Utilisateur
from portail.socle.dates import aujourdhui
from tests import factories
from tests.afas.conftest import creer_activite, creer_lieu

pytestmark = pytest.mark.django_db

J = aujourdhui()


def _habiliter(convention, nom, role=RoleAfas.FDF, lieu=False):
    """Un déclarant de ``convention`` (son propre groupe AFAS-DECLARER), une activité du partenaire
    (et un lieu si ``lieu``), ce rôle sur l'activité (ou sur le lieu)."""
    user = factories.creer_utilisateur(nom=nom, convention=convention)
    factories.habiliter(user, convention, "AFAS-DECLARER")
    activite = creer_activite(convention.organisme, f"Accueil {nom}")
    portee = {"lieux": [creer_lieu(activite, f"Lieu {nom}")]} if lieu else {"activites": [activite]}
    (habilitation,) = services.habilitation_afas_affecter(
        par=None, utilisateur=user, role=role, date_ouverture=J, **portee
    )
    return user, activite, habilitation


def _groupes(user):
    return Groupe.objects.filter(pk__in=Appartenance.objects.filter(utilisateur=user).values("groupe"))


def test_roles_tenus_par_titulaires_comme_la_regle_habilitation_par_habilitation(convention, agent_caf):
    organisme = convention.organisme
    autres = {nom: factories.ConventionFactory(organisme=organisme) for nom in ("non validée", "close", "sans profil")}
    tenues = []  # (activité, lieu, rôle) qui doivent rester tenus

    _u, activite, h = _habiliter(convention, "Effectif")
    tenues.append((activite.pk, None, RoleAfas.FDF.value))
    user, _a, _h = _habiliter(convention, "Compte clos")
    Utilisateur.objects.filter(pk=user.pk).update(date_cloture=J)
    user, _a, _h = _habiliter(convention, "Appartenance close")
    Appartenance.objects.filter(utilisateur=user).update(date_cloture=J)
    user, _a, _h = _habiliter(convention, "Groupe clos")
    _groupes(user).update(date_cloture=J)
    user, _a, _h = _habiliter(convention, "Groupe sans le profil")
    GroupeProfil.objects.filter(groupe__in=_groupes(user)).delete()
    user, _a, _h = _habiliter(convention, "Groupe d'une autre convention")
    _groupes(user).update(convention=autres["close"])
    _u, _a, h = _habiliter(convention, "Habilitation close")
    HabilitationAfas.objects.filter(pk=h.pk).update(date_cloture=J)
    _u, _a, h = _habiliter(convention, "Habilitation future")
    HabilitationAfas.objects.filter(pk=h.pk).update(date_ouverture=J + datetime.timedelta(days=1))
    _u, _a, _h = _habiliter(convention, "Approbateur en attente", RoleAfas.APPROBATEUR)
    _u, activite, h = _habiliter(convention, "Approbateur validé", RoleAfas.APPROBATEUR)
    services.approbateur_valider(par=agent_caf, validation=h.validation)
    tenues.append((activite.pk, None, RoleAfas.APPROBATEUR.value))
    _u, activite, h = _habiliter(convention, "FDA du lieu", RoleAfas.FDA, lieu=True)
    tenues.append((activite.pk, h.lieu_id, RoleAfas.FDA.value))
    _u, _a, h = _habiliter(convention, "FDA du lieu clos", RoleAfas.FDA, lieu=True)
    LieuImplantation.objects.filter(pk=h.lieu_id).update(date_cloture=J)
    for nom, autre in autres.items():
        _habiliter(autre, f"Convention {nom}")
    Convention.objects.filter(pk=autres["non validée"].pk).update(etat=EtatConvention.EN_COURS)
    Convention.objects.filter(pk=autres["close"].pk).update(date_cloture=J)
    autres["sans profil"].profils.remove(Profil.objects.get(code="AFAS-DECLARER"))

    activites = list(organisme.activites.values_list("pk", flat=True))
    assert len(activites) == 15
    lieux_ouverts = set(LieuImplantation.objects.ouverts(J).values_list("pk", flat=True))
    attendu = roles_tenus(activites, J, None)
    assert attendu == set(tenues)
    # Les lectures de la page (une requête sous PostgreSQL, trois sous SQLite), puis les titulaires.
    lues, lieux, habilitations = _lectures([organisme.pk], J)
    assert lues == dict.fromkeys(activites, organisme.pk)
    assert {lieu for lieux_activite in lieux.values() for lieu in lieux_activite} == lieux_ouverts
    assert _roles_tenus_par_titulaires(habilitations, lieux_ouverts, J) == attendu
    # Et l'état du partenaire : 15 activités, une avec son FDF, une avec un approbateur validé ;
    # le FDA tenu sur un lieu ouvert couvre son activité, le lieu clos ne compte plus (son
    # activité n'a ni lieu ouvert ni FDA).
    assert etat_preparation([organisme.pk], J)[organisme.pk] == [
        "14 activité(s) sans approbateur validé par la Caf",
        "14 activité(s) sans fournisseur de données financières",
        "14 activité(s) sans fournisseur de données d'activité",
    ]
