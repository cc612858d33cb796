"""Le monde des gardes : deux Caf, deux partenaires, et une personne par rôle, construit une
fois par module (voir ``conftest.py``).

Convention ``convention`` (Caf 012, organisme ``organisme``), administrée par ``administrateur`` :

    A  (CDAP-T1, AFAS-DECLARER)  responsable : ``responsable`` — son appartenance à A est close
    |                                         ce jour par l'administrateur (issue 10, point 1)
    └── A1 (CDAP-T1)             responsable : ``responsable`` ; membres : ``membre``, et
                                 ``responsable`` jusqu'à demain (date posée par l'administrateur)
    D  (AFAS-DECLARER)           responsable : ``administrateur`` ; membres : ``declarant``,
                                 ``habilitateur``
    H  (AFAS-HABILITER)          responsable : ``administrateur`` ; membre : ``habilitateur``

AFAS (issue 12), écrit par les services d'``afas`` : l'activité ``activite`` (avec son lieu
``lieu``) de l'organisme, où ``declarant`` est fournisseur de données financières
(``habilitation``) et approbateur en attente de la Caf pivot (``validation``) ; ``habilitateur``
(déclarant et AFAS-HABILITER, ni administrateur ni responsable) y est fournisseur de données
d'activité (``habilitation_habilitateur``, la sienne) ; ``activite_autre`` est une activité
de l'autre organisme. Déclarations (issue 13) : ``appel``, un appel de déclaration de la Caf
pivot lancé par ``agent_caf`` sur toutes ses activités ouvertes, et ``declaration``, celle de
``activite`` (créée par la tâche de l'appel).

Déclarations (issue 13, saisie) : ``declaration`` (« À saisir »), avec sa ligne d'activité du lieu ``ligne_declaration`` ; ``declarant`` y est FDF, ``habilitateur``
FDA du lieu (sa ligne), ``approbateur`` (membre de D) approbateur validé par la Caf pivot ;
l'agent de la Caf pivot la lit. Transmission et instruction (``monde_instruction.py``) :
``approbateur`` a transmis ``declaration_transmise`` (le réel de ``activite``), d'où ``recepisse``.

``convention_autre`` : même Caf, autre organisme, administrée par ``exterieur``, avec son groupe
``groupe_autre`` (les identifiants d'un autre locataire). ``agent_caf`` est agent de la Caf
pivot, ``agent_autre_caf`` d'une autre Caf ; ``personnel`` est un compte de l'administration
technique (``is_staff``).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from afas import services as services_afas
from afas.campagnes import services as campagnes
from afas.enums import NatureActivite, RoleAfas, TypeActivite, TypeDeclaration
from afas.models import (
    Activite,
    AppelDeclaration,
    Declaration,
    DonneesActivite,
    HabilitationAfas,
    LieuImplantation,
    ValidationApprobateur,
)
from conventions.models import Caf, Convention, Organisme, Profil
from habilitations import services
from habilitations.models import Appartenance, Groupe, ImportUtilisateurs, Utilisateur
from portail.socle.dates import aujourdhui
from tests import factories
from tests.securite import monde_instruction

PERSONAS = (
    "administrateur",
    "habilitateur",
    "responsable",
    "membre",
    "declarant",
    "agent_caf",
    "agent_autre_caf",
    "exterieur",
    "approbateur",
)


@dataclass
class Monde:
    caf: Caf
    convention: Convention
    organisme: Organisme
    groupe_a: Groupe
    groupe_a1: Groupe
    groupe_d: Groupe
    appartenance_membre: Appartenance
    appartenance_responsable_a1: Appartenance
    import_utilisateurs: ImportUtilisateurs
    convention_autre: Convention
    groupe_autre: Groupe
    administrateur: Utilisateur
    responsable: Utilisateur
    membre: Utilisateur
    declarant: Utilisateur
    agent_caf: Utilisateur
    agent_autre_caf: Utilisateur
    exterieur: Utilisateur
    personnel: Utilisateur
    habilitateur: Utilisateur
    activite: Activite
    lieu: LieuImplantation
    activite_autre: Activite
    habilitation: HabilitationAfas
    habilitation_habilitateur: HabilitationAfas
    validation: ValidationApprobateur
    appel: AppelDeclaration
    # Déclarations (saisie des déclarants).
    declaration: Declaration
    ligne_declaration: DonneesActivite
    approbateur: Utilisateur
    # Transmission et instruction des déclarations (monde_instruction.py).
    declaration_transmise: Any = None
    recepisse: Any = None

    def persona(self, nom: str) -> Utilisateur:
        return getattr(self, nom)

    def ids_d_autres_locataires(self) -> list[str]:
        """Des clés d'objets d'un autre partenaire : son administrateur, son groupe, sa
        convention, son organisme."""
        return [
            str(self.exterieur.pk),
            self.exterieur.identifiant,
            str(self.groupe_autre.pk),
            str(self.convention_autre.pk),
            str(self.convention_autre.organisme_id),
            str(self.activite_autre.pk),
        ]


def _groupe(convention, code, responsable, profils, parent=None) -> Groupe:
    groupe = services.groupe_creer(
        par=None,
        convention=convention,
        code=code,
        libelle=f"Groupe {code}",
        responsable=responsable,
        parent=parent,
        date_ouverture=convention.date_ouverture,
    )
    for code_profil in profils:
        services.groupe_profil_ajouter(par=None, groupe=groupe, profil=Profil.objects.get(code=code_profil))
    return groupe


def construire() -> Monde:
    from django.contrib.auth.models import Permission

    from tests.conftest import connecter_verifie  # noqa: F401 (les appareils sont créés ici)

    jour = aujourdhui()
    caf = factories.CafFactory()
    autre_caf = factories.CafFactory(code="006", nom="Caf des Alpes-Maritimes")
    convention = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))
    administrateur = factories.creer_utilisateur(nom="Castan", prenom="Hugo", organisme=convention.organisme)
    factories.nommer_administrateur(convention, administrateur)
    responsable = factories.creer_utilisateur(nom="Lacombe", prenom="Ines", convention=convention)
    membre = factories.creer_utilisateur(nom="Cayrol", prenom="Chloe", convention=convention)
    declarant = factories.creer_utilisateur(nom="Ferrand", prenom="Paul", convention=convention)

    groupe_a = _groupe(convention, "A", responsable, ["CDAP-T1", "AFAS-DECLARER"])
    groupe_a1 = _groupe(convention, "A1", responsable, ["CDAP-T1"], parent=groupe_a)
    groupe_d = _groupe(convention, "D", administrateur, ["AFAS-DECLARER"])
    depuis = jour - datetime.timedelta(days=5)
    appartenance_a = services.appartenance_ouvrir(
        par=None, utilisateur=responsable, groupe=groupe_a, date_ouverture=depuis
    )
    services.appartenance_cloturer(par=administrateur, appartenance=appartenance_a, date_cloture=jour)
    appartenance_responsable_a1 = services.appartenance_ouvrir(
        par=None,  # un historique de démonstration : une personne n'ouvre rien dans le passé
        utilisateur=responsable,
        groupe=groupe_a1,
        date_ouverture=depuis,
        date_cloture=jour + datetime.timedelta(days=1),
    )
    appartenance_membre = services.appartenance_ouvrir(
        par=None, utilisateur=membre, groupe=groupe_a1, date_ouverture=depuis
    )
    services.appartenance_ouvrir(par=None, utilisateur=declarant, groupe=groupe_d, date_ouverture=depuis)

    agent_caf = factories.creer_utilisateur(nom="Verdier", prenom="Aline", caf=caf)
    agent_autre_caf = factories.creer_utilisateur(nom="Giraud", prenom="Marc", caf=autre_caf)

    convention_autre = factories.ConventionFactory(organisme=factories.OrganismeFactory(caf=caf))
    exterieur = factories.creer_utilisateur(nom="Roux", prenom="Lina", organisme=convention_autre.organisme)
    factories.nommer_administrateur(convention_autre, exterieur)
    groupe_autre = _groupe(convention_autre, "X", exterieur, ["CDAP-T1"])

    personnel = factories.creer_utilisateur(nom="Technique", prenom="Sam", national=True)
    Utilisateur.objects.filter(pk=personnel.pk).update(is_staff=True)
    personnel.refresh_from_db()
    personnel.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))

    import_utilisateurs = ImportUtilisateurs.objects.create(
        convention=convention, par=administrateur, nom_fichier="utilisateurs.csv"
    )

    # AFAS : activités, lieu, rôles, un approbateur qui attend la Caf pivot.
    habilitateur = factories.creer_utilisateur(nom="Albouy", prenom="Celine", convention=convention)
    groupe_h = _groupe(convention, "H", administrateur, ["AFAS-HABILITER"])
    for groupe in (groupe_d, groupe_h):
        services.appartenance_ouvrir(par=None, utilisateur=habilitateur, groupe=groupe, date_ouverture=depuis)
    debut_activites = jour - datetime.timedelta(days=100)
    activite = services_afas.activite_creer(
        par=None,
        organisme=convention.organisme,
        libelle="Accueil de loisirs Lioujas",
        numero_equipement="EQ000001",
        type_activite=TypeActivite.ALSH,
        nature=NatureActivite.EXTRASCOLAIRE,
        date_ouverture=debut_activites,
    )
    lieu = services_afas.lieu_creer(
        par=None, activite=activite, libelle="Lioujas école", date_ouverture=debut_activites
    )
    activite_autre = services_afas.activite_creer(
        par=None,
        organisme=convention_autre.organisme,
        libelle="Crèche des Lilas",
        numero_equipement="EQ000900",
        type_activite=TypeActivite.EAJE,
        nature="",
        date_ouverture=debut_activites,
    )
    (habilitation,) = services_afas.habilitation_afas_affecter(
        par=administrateur, utilisateur=declarant, role=RoleAfas.FDF, date_ouverture=jour, activites=[activite]
    )
    (approbateur,) = services_afas.habilitation_afas_affecter(
        par=administrateur, utilisateur=declarant, role=RoleAfas.APPROBATEUR, date_ouverture=jour, activites=[activite]
    )
    (habilitation_habilitateur,) = services_afas.habilitation_afas_affecter(
        par=administrateur, utilisateur=habilitateur, role=RoleAfas.FDA, date_ouverture=jour, lieux=[lieu]
    )
    # Déclarations : l'appel de la Caf pivot ; la tâche (d'ordinaire après la validation de la
    # transaction, que le monde ne valide jamais) crée ses déclarations ici même.
    appel = campagnes.appel_lancer(
        par=agent_caf,
        cle=uuid.uuid4(),
        exercice=jour.year,
        type_declaration=TypeDeclaration.PREVISIONNEL,
        criteres=campagnes.Criteres(),
        date_ouverture=jour,
        date_limite=jour + datetime.timedelta(days=30),
    )
    campagnes.appel_deployer(appel_id=appel.pk)
    # La déclaration de l'activité (le prévisionnel créé par l'appel), avec la ligne du lieu.
    declaration = Declaration.objects.get(appel=appel, activite=activite)
    approbateur_valide = factories.creer_utilisateur(nom="Rouquette", prenom="Anne", convention=convention)
    services.appartenance_ouvrir(par=None, utilisateur=approbateur_valide, groupe=groupe_d, date_ouverture=depuis)
    (approbation,) = services_afas.habilitation_afas_affecter(
        par=administrateur,
        utilisateur=approbateur_valide,
        role=RoleAfas.APPROBATEUR,
        date_ouverture=jour,
        activites=[activite],
    )
    services_afas.approbateur_valider(par=agent_caf, validation=approbation.validation)
    monde = Monde(
        caf=caf,
        convention=convention,
        organisme=convention.organisme,
        groupe_a=groupe_a,
        groupe_a1=groupe_a1,
        groupe_d=groupe_d,
        appartenance_membre=appartenance_membre,
        appartenance_responsable_a1=appartenance_responsable_a1,
        import_utilisateurs=import_utilisateurs,
        convention_autre=convention_autre,
        groupe_autre=groupe_autre,
        administrateur=administrateur,
        responsable=responsable,
        membre=membre,
        declarant=declarant,
        agent_caf=agent_caf,
        agent_autre_caf=agent_autre_caf,
        exterieur=exterieur,
        personnel=personnel,
        habilitateur=habilitateur,
        activite=activite,
        lieu=lieu,
        activite_autre=activite_autre,
        habilitation=habilitation,
        habilitation_habilitateur=habilitation_habilitateur,
        validation=approbateur.validation,
        appel=appel,
        declaration=declaration,
        ligne_declaration=declaration.donnees_activite.get(lieu=lieu),
        approbateur=approbateur_valide,
    )
    monde_instruction.completer(monde)
    return monde
