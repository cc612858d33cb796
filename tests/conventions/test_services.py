"""Les services des conventions eux-mêmes : règles, refus sans effet, audit, droits objets
(django-guardian) réconciliés sur les faits datés."""

import datetime
import html
import zoneinfo

import pytest
import time_machine
from django.urls import reverse
from guardian.shortcuts import get_perms

from conventions import perms, services
from conventions.consultation.pdf import convention_contenu
from conventions.enums import EtatConvention, TypeAvenant
from conventions.models import Avenant, Convention, Mandat, Profil
from habilitations import perms as habilitations_perms
from habilitations import services as habilitations_services
from habilitations.models import Utilisateur
from portail.models import Courriel, EvenementAudit
from portail.socle.dates import aujourdhui
from portail.socle.erreurs import ErreurMetier
from tests import factories
from tests.conftest import connecter_verifie

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
DROIT = "administrer_convention"


def a_midi(jour: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(jour, datetime.time(12), tzinfo=PARIS)


def jour_dans(jours: int) -> datetime.date:
    return aujourdhui() + datetime.timedelta(days=jours)


def audit(action: str, convention: Convention) -> EvenementAudit:
    return EvenementAudit.objects.get(action=action, cible_type="conventions.Convention", cible_id=str(convention.pk))


@pytest.fixture
def organisme(caf):
    return factories.OrganismeFactory(caf=caf, raison_sociale="Centre Social BOZOULS COMTAL")


@pytest.fixture
def compte(organisme):
    """Un compte ouvert de l'organisme, futur administrateur."""
    return factories.creer_utilisateur(nom="Garrigues", prenom="Melanie", organisme=organisme)


def formaliser(agent, organisme, **surcharges) -> Convention:
    arguments = {
        "par": agent,
        "organisme": organisme,
        "libelle": "  Centre Social BOZOULS COMTAL ",
        "date_ouverture": aujourdhui(),
        "profils": Profil.objects.filter(code__in=["CDAP-T1", "AFAS-DECLARER"]),
    }
    arguments.update(surcharges)
    # La porte des écrans : un compte existant ou créé sur place (couche des comptes), puis la
    # convention, en une transaction.
    return habilitations_services.convention_formaliser_avec_administrateur(**arguments)


# --- Formaliser ---------------------------------------------------------------------------


@pytest.mark.django_db
class TestFormaliser:
    def test_en_cours_avec_un_mandat_et_sans_droit(self, agent_caf, organisme, compte):
        convention = formaliser(agent_caf, organisme, administrateur=compte, date_cloture=jour_dans(365))
        assert convention.libelle == "Centre Social BOZOULS COMTAL"
        assert convention.etat == EtatConvention.EN_COURS and convention.validee_le is None
        assert convention.caf == agent_caf.caf
        mandat = convention.mandats.get()
        assert (mandat.administrateur, mandat.date_ouverture, mandat.date_cloture) == (
            compte,
            aujourdhui(),
            jour_dans(365),
        )
        assert get_perms(compte, convention) == []

    def test_audit(self, agent_caf, organisme, compte):
        convention = formaliser(agent_caf, organisme, administrateur=compte)
        evenement = audit("convention_formaliser", convention)
        assert evenement.acteur == agent_caf
        assert evenement.avant is None
        assert evenement.apres == {
            "libelle": "Centre Social BOZOULS COMTAL",
            "caf": "012",
            "organisme": organisme.siret,
            "date_ouverture": aujourdhui().isoformat(),
            "date_cloture": None,
            "profils": ["AFAS-DECLARER", "CDAP-T1"],
            "administrateur": compte.identifiant,
            "etat": "en_cours",
        }

    def test_nouvel_administrateur_cree_avec_ses_deux_courriels(self, agent_caf, organisme):
        convention = formaliser(
            agent_caf,
            organisme,
            nouvel_administrateur={
                "nom": "Vidal",
                "prenom": "Claire",
                "email": "c.vidal@exemple.test",
                "telephone": "",
            },
        )
        administrateur = convention.mandats.get().administrateur
        assert administrateur.organisme == organisme and administrateur.email == "c.vidal@exemple.test"
        modeles = Courriel.objects.filter(destinataire="c.vidal@exemple.test").values_list("modele", flat=True)
        assert sorted(modeles) == ["identifiant", "mot_de_passe_provisoire"]
        assert list(
            EvenementAudit.objects.filter(acteur=agent_caf).order_by("pk").values_list("action", flat=True)
        ) == [
            "utilisateur_creer",
            "mot_de_passe_provisoire_emettre",
            "convention_formaliser",
        ]
        assert audit("convention_formaliser", convention).apres["administrateur"] == administrateur.identifiant

    @pytest.mark.parametrize(
        ("cas", "message"),
        [
            ("sans_profil", "Accordez au moins un profil"),
            ("cloture_avant_ouverture", "postérieure à la date d'ouverture"),
            ("les_deux", "l'un des deux"),
            ("aucun", "l'un des deux"),
            ("compte_d_un_autre_organisme", "doit être un utilisateur de l'organisme partenaire"),
            ("compte_avec_date_de_cloture", "a une date de clôture"),
            ("compte_desactive", "est désactivé"),
            ("agent_caf_comme_administrateur", "doit être un utilisateur de l'organisme partenaire"),
        ],
        ids=[
            "sans_profil",
            "cloture_avant_ouverture",
            "les_deux",
            "aucun",
            "compte_d_un_autre_organisme",
            "compte_avec_date_de_cloture",
            "compte_desactive",
            "agent_caf_comme_administrateur",
        ],
    )
    def test_refus_sans_rien_creer(self, agent_caf, organisme, compte, exterieur, cas, message):
        nouveau = {"nom": "Vidal", "prenom": "Claire", "email": "c.vidal@exemple.test"}
        arguments = {
            "sans_profil": {"profils": [], "nouvel_administrateur": nouveau},
            "cloture_avant_ouverture": {"date_cloture": aujourdhui(), "nouvel_administrateur": nouveau},
            "les_deux": {"administrateur": compte, "nouvel_administrateur": nouveau},
            "aucun": {},
            "compte_d_un_autre_organisme": {"administrateur": exterieur},
            "compte_avec_date_de_cloture": {"administrateur": compte},
            "compte_desactive": {"administrateur": compte},
            "agent_caf_comme_administrateur": {"administrateur": agent_caf},
        }[cas]
        if cas == "compte_avec_date_de_cloture":
            Utilisateur.objects.filter(pk=compte.pk).update(date_cloture=jour_dans(100))
            compte.refresh_from_db()
        if cas == "compte_desactive":
            Utilisateur.objects.filter(pk=compte.pk).update(is_active=False)
            compte.refresh_from_db()
        comptes, courriels = Utilisateur.objects.count(), Courriel.objects.count()
        with pytest.raises(ErreurMetier, match=message):
            formaliser(agent_caf, organisme, **arguments)
        assert not Convention.objects.exists()
        assert not Mandat.objects.exists()
        assert (Utilisateur.objects.count(), Courriel.objects.count()) == (comptes, courriels)
        assert not EvenementAudit.objects.filter(action="convention_formaliser").exists()

    def test_seul_un_agent_de_la_caf_de_l_organisme(self, agent_autre_caf, compte, organisme):
        with pytest.raises(ErreurMetier, match="n'est pas rattaché à votre Caf"):
            formaliser(agent_autre_caf, organisme, administrateur=compte)
        with pytest.raises(ErreurMetier, match="Seul un agent Caf"):
            formaliser(compte, organisme, administrateur=compte)
        assert not Convention.objects.exists()


# --- Valider ------------------------------------------------------------------------------


@pytest.mark.django_db
class TestValider:
    def test_valider_accorde_le_droit_et_ecrit_l_audit(self, agent_caf, organisme, compte):
        convention = formaliser(agent_caf, organisme, administrateur=compte)
        services.convention_valider(par=agent_caf, convention=convention)
        convention.refresh_from_db()
        assert (convention.etat, convention.validee_le) == (EtatConvention.VALIDEE, aujourdhui())
        assert DROIT in get_perms(compte, convention)
        assert list(perms.conventions_administrees(compte)) == [convention]
        evenement = audit("convention_valider", convention)
        assert evenement.acteur == agent_caf
        assert evenement.avant == {"etat": "en_cours"}
        assert evenement.apres == {"etat": "validee", "validee_le": aujourdhui().isoformat()}
        droit = audit("droit_accorder", convention)
        assert droit.acteur is None
        assert droit.apres == {
            "permission": "Administrer la convention (administrateur partenaire)",
            "utilisateur": str(compte),
            "jour": aujourdhui().isoformat(),
        }

    def test_deja_validee(self, agent_caf, convention):
        with pytest.raises(ErreurMetier, match="déjà validée"):
            services.convention_valider(par=agent_caf, convention=convention)
        assert not EvenementAudit.objects.filter(action="convention_valider").exists()

    def test_cloturee_ne_se_valide_plus(self, agent_caf, organisme, compte):
        convention = formaliser(
            agent_caf, organisme, administrateur=compte, date_ouverture=jour_dans(-10), date_cloture=aujourdhui()
        )
        with pytest.raises(ErreurMetier, match="clôturée"):
            services.convention_valider(par=agent_caf, convention=convention)
        convention.refresh_from_db()
        assert convention.etat == EtatConvention.EN_COURS

    def test_ouverture_future_l_acces_attend_sa_date(self, agent_caf, organisme, compte):
        convention = formaliser(agent_caf, organisme, administrateur=compte, date_ouverture=jour_dans(5))
        services.convention_valider(par=agent_caf, convention=convention)
        assert get_perms(compte, convention) == []
        with time_machine.travel(a_midi(jour_dans(5)), tick=False):
            assert services.droits_reconcilier() == (1, 0)
            assert list(perms.conventions_administrees(compte)) == [convention]


# --- Clôturer -----------------------------------------------------------------------------


@pytest.mark.django_db
class TestCloturer:
    def test_cloture_du_jour_retire_le_droit_et_ecrit_l_audit(self, agent_caf, convention, administrateur, declarant):
        services.convention_cloturer(par=agent_caf, convention=convention, date_cloture=aujourdhui())
        assert get_perms(administrateur, convention) == []
        assert not perms.conventions_administrees(administrateur).exists()
        assert not habilitations_perms.profils_effectifs(declarant).exists()
        assert convention.mandats.get().date_cloture == aujourdhui()
        evenement = audit("convention_cloturer", convention)
        assert evenement.acteur == agent_caf
        assert evenement.avant == {"date_cloture": None}
        assert evenement.apres == {"date_cloture": aujourdhui().isoformat()}
        assert audit("droit_retirer", convention).apres["utilisateur"] == str(administrateur)

    @pytest.mark.parametrize(
        ("date_cloture", "message"),
        [(-1, "ne peut pas être passée"), (-30, "ne peut pas être passée")],
        ids=["hier", "il-y-a-un-mois"],
    )
    def test_date_passee(self, agent_caf, convention, administrateur, date_cloture, message):
        with pytest.raises(ErreurMetier, match=message):
            services.convention_cloturer(par=agent_caf, convention=convention, date_cloture=jour_dans(date_cloture))
        convention.refresh_from_db()
        assert convention.date_cloture is None
        assert DROIT in get_perms(administrateur, convention)

    def test_date_avant_l_ouverture(self, agent_caf, organisme, compte):
        convention = formaliser(agent_caf, organisme, administrateur=compte, date_ouverture=jour_dans(10))
        for jour in (jour_dans(5), jour_dans(10)):
            with pytest.raises(ErreurMetier, match="postérieure à la date d'ouverture"):
                services.convention_cloturer(par=agent_caf, convention=convention, date_cloture=jour)

    def test_deja_cloturee(self, agent_caf, convention):
        Convention.objects.filter(pk=convention.pk).update(date_cloture=jour_dans(-1))
        with pytest.raises(ErreurMetier, match="déjà clôturée"):
            services.convention_cloturer(par=agent_caf, convention=convention, date_cloture=jour_dans(3))

    def test_un_changement_prevu_apres_la_cloture_n_aura_pas_lieu(
        self, agent_caf, convention, administrateur, compte_successeur
    ):
        avenant = services.avenant_enregistrer(
            par=agent_caf,
            convention=convention,
            type_avenant=TypeAvenant.ADMINISTRATEUR,
            objet="Changement",
            date_effet=jour_dans(20),
            administrateur=compte_successeur,
        )
        services.convention_cloturer(par=agent_caf, convention=convention, date_cloture=jour_dans(10))
        # Le mandat prévu n'est ouvert aucun jour (période vide) ; lui et l'avenant restent.
        assert list(convention.mandats.order_by("pk").values_list("administrateur", "date_cloture")) == [
            (administrateur.pk, jour_dans(10)),
            (compte_successeur.pk, jour_dans(20)),
        ]
        assert not convention.mandats.ouverts(jour_dans(20)).exists()
        assert Avenant.objects.filter(pk=avenant.pk).exists()  # l'avenant reste dans l'historique

    def test_repousser_une_cloture_programmee_garde_un_administrateur(self, agent_caf, convention, administrateur):
        services.convention_cloturer(par=agent_caf, convention=convention, date_cloture=jour_dans(10))
        try:
            services.convention_cloturer(par=agent_caf, convention=convention, date_cloture=jour_dans(20))
        except ErreurMetier:
            return  # refuser de repousser serait aussi une réponse correcte
        convention.refresh_from_db()
        assert convention.est_ouvert(jour_dans(15))
        assert services.mandat_ouvert(convention, jour_dans(15)) is not None


# --- Avenants -----------------------------------------------------------------------------


@pytest.fixture
def compte_successeur(convention):
    return factories.creer_utilisateur(nom="Vidal", prenom="Claire", organisme=convention.organisme)


def changer_administrateur(agent, convention, successeur=None, date_effet=None, **surcharges) -> Avenant:
    arguments = {
        "par": agent,
        "convention": convention,
        "type_avenant": TypeAvenant.ADMINISTRATEUR,
        "objet": "Départ de l'administrateur",
        "date_effet": date_effet,
        "administrateur": successeur,
    }
    arguments.update(surcharges)
    return habilitations_services.avenant_enregistrer_avec_administrateur(**arguments)


@pytest.mark.django_db
class TestAvenant:
    def test_audit_avant_apres(self, agent_caf, convention, administrateur, compte_successeur):
        changer_administrateur(agent_caf, convention, compte_successeur, jour_dans(7))
        evenement = audit("avenant_enregistrer", convention)
        assert evenement.acteur == agent_caf
        assert evenement.avant == {"administrateur": administrateur.identifiant}
        assert evenement.apres == {
            "numero": 1,
            "type": "administrateur",
            "objet": "Départ de l'administrateur",
            "date_effet": jour_dans(7).isoformat(),
            "administrateur": compte_successeur.identifiant,
        }

    def test_autre_modification_numerotee(self, agent_caf, convention, administrateur):
        for objet in ("Premier", "Second"):
            services.avenant_enregistrer(
                par=agent_caf,
                convention=convention,
                type_avenant=TypeAvenant.AUTRE,
                objet=objet,
                date_effet=aujourdhui(),
            )
        assert list(convention.avenants.values_list("numero", "objet")) == [(1, "Premier"), (2, "Second")]
        assert convention.mandats.count() == 1
        assert EvenementAudit.objects.filter(action="avenant_enregistrer", avant__isnull=True).count() == 2

    def test_changement_du_jour_bascule_les_droits(self, agent_caf, convention, administrateur, compte_successeur):
        changer_administrateur(agent_caf, convention, compte_successeur, aujourdhui())
        assert get_perms(administrateur, convention) == []
        assert DROIT in get_perms(compte_successeur, convention)
        assert services.mandat_ouvert(convention).administrateur == compte_successeur
        assert Courriel.objects.filter(destinataire=compte_successeur.email, modele="administrateur_nomme").exists()
        assert Courriel.objects.filter(destinataire=administrateur.email, modele="administrateur_remplace").exists()

    def test_changement_futur_la_tache_quotidienne_bascule(
        self, agent_caf, convention, administrateur, compte_successeur
    ):
        effet = jour_dans(10)
        changer_administrateur(agent_caf, convention, compte_successeur, effet)
        assert services.mandat_ouvert(convention).administrateur == administrateur
        assert services.mandat_ouvert(convention, effet).administrateur == compte_successeur
        with time_machine.travel(a_midi(effet), tick=False):
            assert services.droits_reconcilier() == (1, 1)
            assert list(perms.conventions_administrees(compte_successeur)) == [convention]
            assert not perms.conventions_administrees(administrateur).exists()

    def test_mandat_pas_encore_commence_reste_dans_l_historique(self, agent_caf, organisme, compte):
        convention = formaliser(agent_caf, organisme, administrateur=compte, date_ouverture=jour_dans(5))
        services.convention_valider(par=agent_caf, convention=convention)
        successeur = factories.creer_utilisateur(nom="Vidal", prenom="Claire", organisme=organisme)
        changer_administrateur(agent_caf, convention, successeur, jour_dans(5))
        # Le premier mandat n'est ouvert aucun jour (période vide), mais rien n'est effacé.
        assert list(
            convention.mandats.order_by("pk").values_list("administrateur", "date_ouverture", "date_cloture")
        ) == [
            (compte.pk, jour_dans(5), jour_dans(5)),
            (successeur.pk, jour_dans(5), None),
        ]
        assert services.mandat_ouvert(convention, jour_dans(5)).administrateur == successeur

    def test_convention_ouverte_aujourd_hui_changement_du_jour_garde_l_historique(
        self, client, agent_caf, organisme, compte
    ):
        convention = formaliser(agent_caf, organisme, administrateur=compte, date_ouverture=aujourdhui())
        services.convention_valider(par=agent_caf, convention=convention)
        successeur = factories.creer_utilisateur(nom="Vidal", prenom="Claire", organisme=organisme)
        changer_administrateur(agent_caf, convention, successeur, aujourdhui())
        assert list(
            convention.mandats.order_by("pk").values_list("administrateur", "date_ouverture", "date_cloture")
        ) == [
            (compte.pk, aujourdhui(), aujourdhui()),
            (successeur.pk, aujourdhui(), None),
        ]
        assert services.mandat_ouvert(convention).administrateur == successeur
        assert get_perms(compte, convention) == []
        assert DROIT in get_perms(successeur, convention)
        # L'historique du détail et du PDF nomme les deux administrateurs.
        contenu = convention_contenu(convention)
        assert [m.administrateur for m in contenu.mandats] == [compte, successeur]
        connecter_verifie(client, agent_caf)
        page = client.get(reverse("conventions:convention", args=[convention.pk])).content.decode()
        assert "(remplacé le jour de sa prise d'effet)" in html.unescape(page)

    def test_changement_prevu_apres_la_cloture_reste_dans_l_historique(
        self, agent_caf, convention, administrateur, compte_successeur
    ):
        changer_administrateur(agent_caf, convention, compte_successeur, jour_dans(10))
        services.convention_cloturer(par=agent_caf, convention=convention, date_cloture=jour_dans(5))
        assert list(convention.mandats.order_by("pk").values_list("administrateur", "date_cloture")) == [
            (administrateur.pk, jour_dans(5)),
            (compte_successeur.pk, jour_dans(10)),
        ]
        # Repousser la clôture ne rouvre pas le mandat qui n'a jamais commencé.
        services.convention_cloturer(par=agent_caf, convention=convention, date_cloture=jour_dans(20))
        assert services.mandat_ouvert(convention, jour_dans(15)).administrateur == administrateur
        assert convention.mandats.filter(administrateur=compte_successeur).get().date_cloture == jour_dans(10)

    def test_nouveau_compte_cree(self, agent_caf, convention, administrateur):
        avenant = changer_administrateur(
            agent_caf,
            convention,
            None,
            jour_dans(3),
            nouvel_administrateur={"nom": "Bru", "prenom": "Tom", "email": "tom.bru@exemple.test"},
        )
        assert avenant.nouvel_administrateur.email == "tom.bru@exemple.test"
        assert avenant.nouvel_administrateur.organisme == convention.organisme
        assert avenant.nouvel_administrateur.convention == convention
        # Le compte (identifiant, mot de passe provisoire) et l'avenant (nommé, remplacé).
        modeles = Courriel.objects.filter(destinataire="tom.bru@exemple.test").values_list("modele", flat=True)
        assert sorted(modeles) == ["administrateur_nomme", "identifiant", "mot_de_passe_provisoire"]
        assert Courriel.objects.filter(destinataire=administrateur.email, modele="administrateur_remplace").exists()
        assert list(EvenementAudit.objects.filter(acteur=agent_caf).order_by("pk").values_list("action", flat=True))[
            -3:
        ] == ["utilisateur_creer", "mot_de_passe_provisoire_emettre", "avenant_enregistrer"]

    @pytest.mark.parametrize("cas", ["date_passee", "convention_en_cours", "les_deux"])
    def test_nouveau_compte_refus_ne_laisse_ni_compte_ni_courriel(
        self, agent_caf, convention, administrateur, compte_successeur, cas
    ):
        """Le compte est créé dans la transaction de l'avenant : un refus de l'avenant l'annule."""
        arguments = {
            "date_effet": jour_dans(3),
            "nouvel_administrateur": {"nom": "Bru", "prenom": "Tom", "email": "tom.bru@exemple.test"},
        }
        if cas == "date_passee":
            arguments["date_effet"] = jour_dans(-1)
        elif cas == "convention_en_cours":
            Convention.objects.filter(pk=convention.pk).update(etat=EtatConvention.EN_COURS)
        else:
            arguments["administrateur"] = compte_successeur
        comptes, courriels = Utilisateur.objects.count(), Courriel.objects.count()
        with pytest.raises(ErreurMetier):
            changer_administrateur(agent_caf, convention, **arguments)
        assert (Utilisateur.objects.count(), Courriel.objects.count()) == (comptes, courriels)
        assert not Utilisateur.objects.filter(email="tom.bru@exemple.test").exists()
        assert not Avenant.objects.exists()
        assert not EvenementAudit.objects.filter(action="utilisateur_creer", acteur=agent_caf).exists()

    @pytest.mark.parametrize(
        ("cas", "message"),
        [
            ("date_passee", "aujourd'hui ou à une date future"),
            ("avant_ouverture", "ne peut pas précéder l'ouverture"),
            ("apres_cloture", "doit précéder la clôture"),
            ("meme_administrateur", "est déjà l'administrateur"),
            ("sans_successeur", "Choisissez le nouvel administrateur"),
            ("compte_d_un_autre_organisme", "doit être un utilisateur de l'organisme partenaire"),
            ("type_inconnu", "Type d'avenant inconnu"),
        ],
        ids=[
            "date_passee",
            "avant_ouverture",
            "apres_cloture",
            "meme_administrateur",
            "sans_successeur",
            "compte_d_un_autre_organisme",
            "type_inconnu",
        ],
    )
    def test_refus_sans_rien_changer(
        self, agent_caf, convention, administrateur, compte_successeur, exterieur, cas, message
    ):
        Convention.objects.filter(pk=convention.pk).update(date_cloture=jour_dans(30))
        convention.refresh_from_db()
        Mandat.objects.filter(convention=convention).update(date_cloture=jour_dans(30))
        arguments = {"date_effet": jour_dans(3), "administrateur": compte_successeur}
        arguments |= {
            "date_passee": {"date_effet": jour_dans(-1)},
            "avant_ouverture": {"date_effet": convention.date_ouverture - datetime.timedelta(days=1)},
            "apres_cloture": {"date_effet": jour_dans(30)},
            "meme_administrateur": {"administrateur": administrateur},
            "sans_successeur": {"administrateur": None},
            "compte_d_un_autre_organisme": {"administrateur": exterieur},
            "type_inconnu": {"type_avenant": "fusion"},
        }[cas]
        with pytest.raises(ErreurMetier, match=message):
            changer_administrateur(agent_caf, convention, **arguments)
        assert not Avenant.objects.exists()
        assert list(convention.mandats.values_list("administrateur", "date_cloture")) == [
            (administrateur.pk, jour_dans(30))
        ]
        assert not Courriel.objects.filter(modele__startswith="administrateur_").exists()

    def test_convention_en_cours_refusee(self, agent_caf, organisme, compte):
        convention = formaliser(agent_caf, organisme, administrateur=compte)
        with pytest.raises(ErreurMetier, match="l'avenant suit la validation"):
            services.avenant_enregistrer(
                par=agent_caf, convention=convention, type_avenant=TypeAvenant.AUTRE, objet="x", date_effet=aujourdhui()
            )


# --- Droits objets ------------------------------------------------------------------------


@pytest.mark.django_db
class TestDroitsReconcilier:
    def test_accorde_retire_et_idempotent(self, convention):
        user = factories.creer_utilisateur(organisme=convention.organisme)
        # Un mandat écrit sans passer par le service : le droit manque jusqu'à la réconciliation.
        Mandat.objects.create(convention=convention, administrateur=user, date_ouverture=convention.date_ouverture)
        assert get_perms(user, convention) == []
        assert services.droits_reconcilier(conventions=[convention.pk]) == (1, 0)
        assert DROIT in get_perms(user, convention)
        assert services.droits_reconcilier(conventions=[convention.pk]) == (0, 0)
        assert services.droits_reconcilier() == (0, 0)
        # Convention clôturée (fait daté écrit directement) : le droit n'est plus dû.
        Convention.objects.filter(pk=convention.pk).update(date_cloture=aujourdhui())
        assert services.droits_reconcilier() == (0, 1)
        assert get_perms(user, convention) == []
        assert services.droits_reconcilier() == (0, 0)

    def test_ne_touche_que_les_conventions_demandees(self, convention, administrateur, convention_autre_partenaire):
        Convention.objects.filter(pk__in=[convention.pk, convention_autre_partenaire.pk]).update(
            date_cloture=aujourdhui()
        )
        assert services.droits_reconcilier(conventions=[convention.pk]) == (0, 1)
        autre = convention_autre_partenaire.mandats.get().administrateur
        assert DROIT in get_perms(autre, convention_autre_partenaire)

    def test_compte_cloture_perd_le_droit(self, convention, administrateur):
        Utilisateur.objects.filter(pk=administrateur.pk).update(date_cloture=aujourdhui())
        assert services.droits_reconcilier() == (0, 1)

    def test_une_tache_en_retard_ne_prolonge_rien(self, agent_caf, convention, administrateur):
        services.convention_cloturer(par=agent_caf, convention=convention, date_cloture=jour_dans(1))
        assert DROIT in get_perms(administrateur, convention)
        with time_machine.travel(a_midi(jour_dans(1)), tick=False):
            # La tâche quotidienne n'est pas passée : le droit guardian est encore là…
            assert DROIT in get_perms(administrateur, convention)
            # …mais toute lecture relit les dates : l'accès est fermé.
            assert not perms.conventions_administrees(administrateur).exists()
            assert not perms.est_administrateur_partenaire(administrateur)
            assert services.droits_reconcilier() == (0, 1)
