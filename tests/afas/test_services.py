"""Règles des habilitations AFAS : portées, doublons, droits effectifs relus à la date du jour,
états, validation de l'approbateur par la Caf pivot, journal."""

import datetime

import pytest

from afas import services
from afas.enums import DecisionCaf, RoleAfas
from afas.models import HabilitationAfas
from habilitations import services as services_habilitations
from habilitations.models import Appartenance
from portail.models import Courriel, EvenementAudit
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier

pytestmark = pytest.mark.django_db

J = aujourdhui()


def affecter(par, user, role, activites=(), lieux=(), debut=None):
    return services.habilitation_afas_affecter(
        par=par, utilisateur=user, role=role, date_ouverture=debut or J, activites=activites, lieux=lieux
    )


def etats(h):
    qs = HabilitationAfas.objects.filter(pk=h.pk)
    return (qs.actives().exists(), qs.inactives().exists(), qs.historiques().exists())


ACTIF, INACTIF, HISTORIQUE = (True, False, False), (False, True, False), (False, False, True)


def test_fda_sur_des_lieux_fdf_sur_des_activites(administrateur, declarant, activite, lieu, lieu2):
    fda = affecter(administrateur, declarant, RoleAfas.FDA, lieux=[lieu, lieu2])
    fdf = affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])
    assert [h.lieu for h in fda] == [lieu, lieu2]
    assert all(h.activite == activite for h in fda)
    assert etats(fda[0]) == ACTIF and etats(fdf[0]) == ACTIF
    actions = EvenementAudit.objects.filter(action="habilitation_afas_affecter")
    assert actions.count() == 3
    assert actions.first().convention_id == declarant.convention_id


def test_fdf_et_approbateur_refuses_sur_un_lieu(administrateur, declarant, lieu):
    for role in (RoleAfas.FDF, RoleAfas.APPROBATEUR):
        with pytest.raises(ErreurMetier, match="Seul le rôle de fournisseur de données d'activité"):
            affecter(administrateur, declarant, role, lieux=[lieu])
    assert not HabilitationAfas.objects.exists()


def test_au_moins_une_activite(administrateur, declarant):
    with pytest.raises(ErreurMetier, match="La sélection d'au moins une activité est obligatoire"):
        affecter(administrateur, declarant, RoleAfas.FDA)


def test_doublon_refuse_et_rien_d_ecrit(administrateur, declarant, activite, activite2):
    affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])
    with pytest.raises(ErreurMetier, match="déjà fournisseur de données financières"):
        affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite2, activite])
    # Tout ou rien : l'activité 2, passée avant le doublon, n'a pas été habilitée.
    assert HabilitationAfas.objects.count() == 1
    # Plusieurs rôles sur la même activité : permis.
    affecter(administrateur, declarant, RoleAfas.FDA, activites=[activite])
    assert HabilitationAfas.objects.count() == 2


def test_doublon_futur_refuse(administrateur, declarant, activite):
    affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite], debut=J + datetime.timedelta(days=10))
    with pytest.raises(ErreurMetier):
        affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])


def test_apres_suppression_on_peut_reaffecter(administrateur, declarant, activite):
    (h,) = affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])
    services.habilitation_afas_supprimer(par=administrateur, habilitation=h)
    affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])
    assert HabilitationAfas.objects.count() == 2


def test_personne_ne_s_habilite_soi_meme(declarant, activite, convention):
    with pytest.raises(ErreurMetier, match="vous habiliter vous-même"):
        affecter(declarant, declarant, RoleAfas.FDA, activites=[activite])


def test_sans_afas_declarer_refuse(administrateur, responsable, activite):
    with pytest.raises(ErreurMetier, match="AFAS-DECLARER"):
        affecter(administrateur, responsable, RoleAfas.FDA, activites=[activite])


def test_activite_d_un_autre_partenaire_refusee(administrateur, declarant, activite_autre):
    with pytest.raises(ErreurMetier, match="n'est pas une activité de ce partenaire"):
        affecter(administrateur, declarant, RoleAfas.FDA, activites=[activite_autre])


def test_date_passee_refusee(administrateur, declarant, activite):
    with pytest.raises(ErreurMetier, match="passée"):
        affecter(administrateur, declarant, RoleAfas.FDA, activites=[activite], debut=J - datetime.timedelta(days=1))


def test_debut_futur_inactif_puis_actif(administrateur, declarant, activite):
    (h,) = affecter(administrateur, declarant, RoleAfas.FDA, activites=[activite], debut=J + datetime.timedelta(days=2))
    assert etats(h) == INACTIF
    assert HabilitationAfas.objects.filter(pk=h.pk).actives(J + datetime.timedelta(days=2)).exists()


def test_suppression_termine_aujourd_hui_sans_rien_effacer(administrateur, declarant, activite):
    (h,) = affecter(administrateur, declarant, RoleAfas.FDA, activites=[activite])
    services.habilitation_afas_supprimer(par=administrateur, habilitation=h)
    h.refresh_from_db()
    assert h.date_cloture == J
    assert etats(h) == HISTORIQUE
    evenement = EvenementAudit.objects.get(action="habilitation_afas_supprimer")
    assert evenement.avant["date_cloture"] is None and evenement.apres["date_cloture"] == J.isoformat()
    with pytest.raises(ErreurMetier, match="déjà terminée"):
        services.habilitation_afas_supprimer(par=administrateur, habilitation=h)


def test_droits_relus_a_la_date_du_jour(administrateur, declarant, activite, convention):
    """Appartenance AFAS-DECLARER close, compte clos, activité close : plus active, sans tâche."""
    (h,) = affecter(administrateur, declarant, RoleAfas.FDA, activites=[activite])
    appartenance = Appartenance.objects.get(utilisateur=declarant)
    demain = J + datetime.timedelta(days=1)
    services_habilitations.appartenance_cloturer(par=None, appartenance=appartenance, date_cloture=demain)
    assert etats(h) == ACTIF
    qs = HabilitationAfas.objects.filter(pk=h.pk)
    assert not qs.actives(demain).exists() and qs.inactives(demain).exists()

    (h2,) = affecter(administrateur, declarant, RoleAfas.FDF, activites=[activite])
    services.activite_cloturer(par=None, activite=activite, date_cloture=J)
    assert etats(h2) == INACTIF


def test_approbateur_attend_la_caf(administrateur, declarant, activite, agent_caf, agent_autre_caf):
    (h,) = affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite])
    assert etats(h) == INACTIF
    assert h.validation.decision == DecisionCaf.EN_ATTENTE
    # Les agents de la Caf pivot, et eux seuls, sont prévenus.
    assert list(
        Courriel.objects.filter(modele="afas_approbateur_a_valider").values_list("destinataire", flat=True)
    ) == [agent_caf.email]
    with pytest.raises(ErreurMetier, match="Caf pivot"):
        services.approbateur_valider(par=agent_autre_caf, validation=h.validation)
    services.approbateur_valider(par=agent_caf, validation=h.validation)
    assert etats(h) == ACTIF
    h.validation.refresh_from_db()
    assert h.validation.decidee_par == agent_caf and h.validation.decidee_le is not None
    destinataires = set(
        Courriel.objects.filter(modele="afas_approbateur_decision").values_list("destinataire", flat=True)
    )
    assert destinataires == {declarant.email, administrateur.email}
    with pytest.raises(ErreurMetier, match="déjà été traitée"):
        services.approbateur_refuser(par=agent_caf, validation=h.validation, motif="trop tard")
    assert EvenementAudit.objects.get(action="approbateur_valider").convention_id == declarant.convention_id


def test_approbateur_futur_valide_actif_a_sa_date(administrateur, declarant, activite, agent_caf):
    debut = J + datetime.timedelta(days=5)
    (h,) = affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite], debut=debut)
    services.approbateur_valider(par=agent_caf, validation=h.validation)
    assert etats(h) == INACTIF
    assert HabilitationAfas.objects.filter(pk=h.pk).actives(debut).exists()


def test_refus_motive_termine_l_habilitation(administrateur, declarant, activite, agent_caf):
    (h,) = affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite])
    with pytest.raises(ErreurMetier, match="motif du refus est obligatoire"):
        services.approbateur_refuser(par=agent_caf, validation=h.validation, motif="  ")
    h.validation.refresh_from_db()
    assert h.validation.decision == DecisionCaf.EN_ATTENTE
    services.approbateur_refuser(par=agent_caf, validation=h.validation, motif="Personne inconnue de la Caf")
    h.refresh_from_db()
    assert etats(h) == HISTORIQUE and h.date_cloture == J
    assert h.validation.motif == "Personne inconnue de la Caf"
    evenement = EvenementAudit.objects.get(action="approbateur_refuser")
    assert evenement.apres["motif"] == "Personne inconnue de la Caf" and evenement.avant["decision"] == "en_attente"


def test_supprimer_un_approbateur_en_attente_annule_la_demande(administrateur, declarant, activite, agent_caf):
    (h,) = affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite])
    services.habilitation_afas_supprimer(par=administrateur, habilitation=h)
    h.validation.refresh_from_db()
    assert h.validation.decision == DecisionCaf.ANNULEE
    with pytest.raises(ErreurMetier, match="déjà été traitée"):
        services.approbateur_valider(par=agent_caf, validation=h.validation)
    assert etats(h) == HISTORIQUE


def test_relances_a_3_et_7_jours_une_seule_fois(administrateur, declarant, activite, agent_caf):
    (h,) = affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite])
    v = h.validation
    relances = Courriel.objects.filter(modele="afas_approbateur_relance")
    maintenant = v.demandee_le
    assert services.validations_a_relancer(maintenant + datetime.timedelta(days=2)) == []
    trois = maintenant + datetime.timedelta(days=3, minutes=1)
    assert services.validations_a_relancer(trois) == [v.pk]
    assert services.validation_relancer(validation_id=v.pk, maintenant=trois) == 1
    assert services.validation_relancer(validation_id=v.pk, maintenant=trois) == 0
    assert relances.count() == 1
    sept = maintenant + datetime.timedelta(days=7, minutes=1)
    assert services.validation_relancer(validation_id=v.pk, maintenant=sept) == 1
    assert services.validation_relancer(validation_id=v.pk, maintenant=sept + datetime.timedelta(days=1)) == 0
    assert relances.count() == 2
    assert "7 jours" in relances.order_by("pk").last().sujet
    # Une relance ne décide jamais rien.
    assert etats(h) == INACTIF


def test_pas_de_relance_apres_decision(administrateur, declarant, activite, agent_caf):
    (h,) = affecter(administrateur, declarant, RoleAfas.APPROBATEUR, activites=[activite])
    services.approbateur_valider(par=agent_caf, validation=h.validation)
    plus_tard = h.validation.demandee_le + datetime.timedelta(days=8)
    assert services.validations_a_relancer(plus_tard) == []
    assert services.validation_relancer(validation_id=h.validation.pk, maintenant=plus_tard) == 0


def test_activite_regles(convention):
    from tests.afas.conftest import creer_activite

    with pytest.raises(ErreurMetier, match="nature d'activité est obligatoire"):
        creer_activite(convention.organisme, nature="")
    with pytest.raises(ErreurMetier, match="ne concerne que les accueils de loisirs"):
        creer_activite(convention.organisme, type_activite="EAJE", nature="PERI")
    creer_activite(convention.organisme, numero="eq77")
    with pytest.raises(ErreurMetier, match="déjà celui d'une autre activité"):
        creer_activite(convention.organisme, numero="EQ77")
    with pytest.raises(ErreurMetier, match="postérieure à la date d'ouverture"):
        creer_activite(convention.organisme, date_ouverture=J, date_cloture=J - datetime.timedelta(days=1))


def test_contrainte_cloture_apres_ouverture_en_base(activite):
    from django.db import IntegrityError, transaction

    from afas.models import Activite

    with pytest.raises(IntegrityError), transaction.atomic():
        Activite.objects.filter(pk=activite.pk).update(
            date_cloture=activite.date_ouverture - datetime.timedelta(days=1)
        )


def test_activite_cloturee_ferme_ses_lieux(activite, lieu):
    services.activite_cloturer(par=None, activite=activite, date_cloture=J + datetime.timedelta(days=3))
    lieu.refresh_from_db()
    assert lieu.date_cloture == J + datetime.timedelta(days=3)
    assert EvenementAudit.objects.filter(action="activite_cloturer").exists()
