"""Le registre des adresses : la politique d'accès de CHAQUE adresse du projet, en une ligne.

Une adresse sans ligne ici fait échouer ``test_registre.py`` : c'est voulu. Pour déclarer une
nouvelle adresse (AFAS comprise), ajoutez une ligne à ``REGISTRE``, par son nom d'URL :

    "afas:activite": objet("agent_caf", une_activite, methodes=GET, attendus=HORS_AGENTS),

Les politiques :

- ``public()`` : personne n'a besoin d'être connecté (connexion, règles d'usage, santé).
- ``connecte()`` : toute personne connectée, sur ses propres données (Mon profil).
- ``role(acteur)`` : une page d'un rôle, sans objet dans l'adresse (« Enregistrer un
  organisme ») : qui n'a pas le rôle reçoit 403.
- ``objet(acteur, kwargs)`` : une page sur un objet d'un locataire (une convention, un groupe, un
  organisme) : l'utilisateur d'un autre organisme et l'agent d'une autre Caf reçoivent 404 (on ne
  révèle pas que l'objet existe) ; l'utilisateur du même organisme sans le rôle (le déclarant)
  reçoit 404 sauf ``sans_role=403``.
- L'administration technique (``admin:*``) est une politique de groupe : personnel seulement.

``acteur`` est la persona légitime (voir ``monde.py``) : elle reçoit ``get`` (200 par défaut) en
GET, ce qui prouve que les refus des autres ne viennent pas d'une adresse mal construite.
``kwargs`` construit les arguments de l'adresse depuis le monde. ``attendus`` précise ce que
reçoit une autre persona (par exemple l'agent de la Caf pivot, qui lit sans écrire : 403 sur une
page d'écriture). ``cible`` dit ce que désigne ``pk`` (``utilisateur``, ``appartenance``,
``groupe``, ``habilitation_afas``, ``validation_afas``) : la garde d'auto-escalade y met sa propre clé. Un code attendu peut être un couple
(GET, POST) quand la page se lit mais ne s'écrit pas. ``filtres`` : la page est une liste
filtrée en GET (la garde des entrées hostiles lui envoie ses paramètres, lus dans la page, plus
``tri``, ``page`` et ``parametres`` pour une page qui n'est pas du HTML, un export CSV).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.securite.monde import Monde

PUBLIC, CONNECTE, ROLE, OBJET, ADMINISTRATION = "public", "connecte", "role", "objet", "administration"
GET, POST, GET_POST = ("GET",), ("POST",), ("GET", "POST")

# Les personas à qui chaque adresse protégée est refusée, et ce qu'elles reçoivent par défaut.
REFUS_OBJET = {"exterieur": 404, "agent_autre_caf": 404, "declarant": 404}
REFUS_ROLE = {"exterieur": 403, "agent_autre_caf": 403, "declarant": 403}
# Une page des agents Caf : l'agent d'une autre Caf a le rôle, il y voit sa propre Caf.
AGENTS = {"agent_autre_caf": 200}


def _sans_argument(monde: Monde) -> dict:
    return {}


@dataclass(frozen=True)
class Politique:
    acces: str
    acteur: str | None = None
    kwargs: Callable[[Monde], dict] = _sans_argument
    methodes: tuple[str, ...] = GET_POST
    attendus: dict[str, int | tuple[int, int]] = field(default_factory=dict)
    get: int = 200
    requete: Callable[[Monde], dict] = _sans_argument
    cible: str | None = None
    filtres: bool = False
    parametres: tuple[str, ...] = ()

    @property
    def ecrit(self) -> bool:
        return "POST" in self.methodes and self.acces in (ROLE, OBJET, CONNECTE)


def public(**options) -> Politique:
    return Politique(PUBLIC, **options)


def connecte(**options) -> Politique:
    return Politique(CONNECTE, **options)


def role(acteur: str, *, attendus: dict[str, int | tuple[int, int]] | None = None, **options) -> Politique:
    return Politique(ROLE, acteur, attendus={**REFUS_ROLE, **(attendus or {})}, **options)


def objet(
    acteur: str,
    kwargs: Callable[[Monde], dict],
    *,
    sans_role: int = 404,
    lecture_caf: int | tuple[int, int] | None = None,
    attendus: dict[str, int | tuple[int, int]] | None = None,
    **options,
) -> Politique:
    """``lecture_caf`` : ce que reçoit l'agent de la Caf pivot (200 s'il lit, 403 s'il ne peut que
    lire et que la page écrit)."""
    refus = {**REFUS_OBJET, "declarant": sans_role}
    if lecture_caf is not None:
        refus["agent_caf"] = lecture_caf
    return Politique(OBJET, acteur, kwargs, attendus={**refus, **(attendus or {})}, **options)


# --- Arguments d'adresse, lus dans le monde ---------------------------------------------------


def convention(m: Monde) -> dict:
    return {"convention": m.convention.pk}


def utilisateur(m: Monde) -> dict:
    return {"convention": m.convention.pk, "pk": m.membre.pk}


def appartenance(m: Monde) -> dict:
    return {"convention": m.convention.pk, "pk": m.appartenance_membre.pk}


def groupe(m: Monde) -> dict:
    return {"convention": m.convention.pk, "pk": m.groupe_a1.pk}


def import_csv(m: Monde) -> dict:
    return {"convention": m.convention.pk, "pk": m.import_utilisateurs.pk}


def la_convention(m: Monde) -> dict:
    return {"pk": m.convention.pk}


def l_organisme(m: Monde) -> dict:
    return {"pk": m.organisme.pk}


# AFAS (issue 12).
def une_activite(m: Monde) -> dict:
    return {"pk": m.activite.pk}


def un_lieu(m: Monde) -> dict:
    return {"pk": m.lieu.pk}


def une_habilitation_afas(m: Monde) -> dict:
    return {"pk": m.habilitation.pk}


def une_validation(m: Monde) -> dict:
    return {"pk": m.validation.pk}


# Déclarations (issue 13, saisie des déclarants).
def une_declaration(m: Monde) -> dict:
    return {"pk": m.declaration.pk}


def une_ligne_de_declaration(m: Monde) -> dict:
    return {"pk": m.declaration.pk, "ligne": m.ligne_declaration.pk}


# Une déclaration : ceux qui n'ont pas de rôle actif sur son activité ne la voient pas (404) ;
# qui la voit sans pouvoir saisir une part (l'agent de la Caf, le FDF sur l'activité, le FDA sur
# les finances) reçoit 403.
SANS_ROLE_DECLARATION = {"administrateur": 404, "responsable": 404, "membre": 404}


# Financement AFAS (issue 14) : la déclaration du monde (réel 2025 de ``activite``), créée à la
# demande par les fabriques du financement, et une ligne du barème national (migration).
def declaration_financement(m: Monde) -> dict:
    from tests.afas.declarations.fabriques_financement import declaration_du_monde

    return {"pk": declaration_du_monde(m).pk}


def appel_financement(m: Monde) -> dict:
    from tests.afas.declarations.fabriques_financement import declaration_du_monde

    return {"pk": declaration_du_monde(m).appel_id}


def activite_declaree(m: Monde) -> dict:
    """L'activité du monde, avec sa déclaration (l'historique et les statistiques ont à montrer)."""
    from tests.afas.declarations.fabriques_financement import declaration_du_monde

    return {"pk": declaration_du_monde(m).activite_id}


def parametre_national(m: Monde) -> dict:
    from afas.models import ParametreFinancement
    from tests.referentiel import referentiel_recreer

    # Le barème national vient d'une migration : un test transactionnel voisin (xdist) a pu le vider.
    referentiel_recreer()
    return {"pk": ParametreFinancement.objects.filter(caf__isnull=True).order_by("pk").values_list("pk", flat=True)[0]}


# Transmission et instruction des déclarations (afas.instruction).
def une_declaration_transmise(m: Monde) -> dict:
    return {"pk": m.declaration_transmise.pk}


def un_recepisse(m: Monde) -> dict:
    return {"pk": m.recepisse.pk}


# Déclarations (issue 13).
def un_appel(m: Monde) -> dict:
    return {"pk": m.appel.pk}


# Les pages AFAS du partenaire (accueil, administration des profils) : l'administrateur de
# l'autre partenaire, dont la convention accorde AFAS-DECLARER, y est chez lui (200) ; celles
# des agents : quiconque n'est pas agent reçoit 403 avant toute recherche d'objet, l'agent d'une
# autre Caf 404 sur un objet de la Caf pivot.
HABILITATEURS = {"exterieur": 200, "agent_caf": 403, "responsable": 403, "membre": 403}
NON_AGENTS = {"exterieur": 403, "declarant": 403, "administrateur": 403, "habilitateur": 403}
HORS_AGENTS = {**NON_AGENTS, "agent_autre_caf": 404}
LECTEURS_ACTIVITE = {"habilitateur": 200, "administrateur": 404, "responsable": 404, "membre": 404}
HORS_APPEL = {"exterieur": 404, "declarant": 404, "administrateur": 404, "habilitateur": 404, "agent_autre_caf": 404}

# Gestion des habilitations : l'administrateur agit ; l'agent de la Caf pivot lit (200) mais
# n'écrit pas (403) ; les autres ne voient pas la convention (404).
LIT, ECRIT = {"lecture_caf": 200, "methodes": GET}, {"lecture_caf": 403}

REGISTRE: dict[str, Politique] = {
    # Le portail.
    "portail:accueil": connecte(methodes=GET),
    "portail:service": objet("responsable", lambda m: {"code": "CDAP"}, methodes=GET, lecture_caf=404),
    "portail:regles_usage": public(methodes=GET),
    "portail:accessibilite": public(methodes=GET),
    "portail:sante": public(methodes=GET),
    # Boîte aux lettres de développement : publique, mais 404 hors DEBUG (donc en test).
    "portail:dev_courriels": public(methodes=GET, get=404),
    "portail:dev_courriel": public(methodes=GET, get=404, kwargs=lambda m: {"pk": 1}),
    # Connexion et compte.
    "habilitations:connexion": public(),
    "habilitations:deconnexion": public(methodes=POST),
    "habilitations:mot_de_passe_oublie": public(),
    # Hors du parcours imposé (mot de passe provisoire, code à vérifier), renvoient à l'accueil.
    "habilitations:choisir_mot_de_passe": connecte(get=302),
    "habilitations:verifier_otp": connecte(get=302),
    "habilitations:profil": connecte(),
    "habilitations:changer_mot_de_passe": connecte(),
    "habilitations:activer_otp": connecte(),
    "habilitations:regenerer_codes_secours": connecte(methodes=POST),
    "habilitations:confirmer_email": connecte(methodes=GET, kwargs=lambda m: {"jeton": "jeton-forge"}, get=302),
    # Organismes partenaires et agents : pages des agents Caf (la supervision lit).
    "conventions:types_organismes": role("agent_caf", methodes=GET, attendus=AGENTS),
    "conventions:organismes": role("agent_caf", methodes=GET, filtres=True, attendus=AGENTS),
    "conventions:organisme_enregistrer": role("agent_caf", attendus=AGENTS),
    "conventions:organisme": objet("agent_caf", l_organisme, methodes=GET, sans_role=404),
    "conventions:agents": role("agent_caf", methodes=GET, filtres=True, attendus=AGENTS),
    # Conventions : chacun voit la liste des siennes ; le détail est un objet de la Caf pivot et de
    # son administrateur ; la gestion est celle des agents de la Caf pivot.
    "conventions:conventions": role(
        "agent_caf", methodes=GET, filtres=True, attendus={"exterieur": 200, "agent_autre_caf": 200}
    ),
    "conventions:convention": objet("administrateur", la_convention, methodes=GET, lecture_caf=200),
    "conventions:convention_pdf": objet("administrateur", la_convention, methodes=GET, lecture_caf=200),
    # Formaliser avec un organisme : celui d'une autre Caf répond 404.
    "conventions:convention_formaliser": role(
        "agent_caf", requete=lambda m: {"organisme": m.organisme.pk}, attendus={"agent_autre_caf": 404}
    ),
    "conventions:convention_valider": objet("agent_caf", la_convention, attendus={"administrateur": 404}),
    "conventions:convention_cloturer": objet("agent_caf", la_convention, attendus={"administrateur": 404}),
    "conventions:avenant_enregistrer": objet("agent_caf", la_convention, attendus={"administrateur": 404}),
    # Gestion des habilitations d'une convention.
    "gestion:utilisateurs": objet("administrateur", convention, filtres=True, **LIT),
    "gestion:utilisateur_creer": objet("administrateur", convention, **ECRIT),
    "gestion:utilisateur": objet("administrateur", utilisateur, cible="utilisateur", **LIT),
    "gestion:utilisateur_modifier": objet("administrateur", utilisateur, cible="utilisateur", **ECRIT),
    "gestion:utilisateur_cloturer": objet(
        "administrateur", utilisateur, cible="utilisateur", attendus={"responsable": 403}, **ECRIT
    ),
    "gestion:utilisateur_rouvrir": objet(
        "administrateur", utilisateur, cible="utilisateur", attendus={"responsable": 403}, **ECRIT
    ),
    "gestion:identifiant_renvoyer": objet(
        "administrateur", utilisateur, cible="utilisateur", methodes=POST, lecture_caf=403
    ),
    "gestion:appartenances": objet("administrateur", utilisateur, cible="utilisateur", **LIT),
    "gestion:utilisateur_ajouter_groupe": objet("administrateur", utilisateur, cible="utilisateur", **ECRIT),
    "gestion:appartenance_modifier": objet("administrateur", appartenance, cible="appartenance", **ECRIT),
    "gestion:appartenance_cloturer": objet("administrateur", appartenance, cible="appartenance", **ECRIT),
    "gestion:groupes": objet("administrateur", convention, filtres=True, **LIT),
    "gestion:groupe_creer": objet("administrateur", convention, **ECRIT),
    "gestion:groupe_habilitations": objet("administrateur", groupe, cible="groupe", lecture_caf=(200, 403)),
    "gestion:groupe_ajouter_utilisateur": objet("administrateur", groupe, cible="groupe", **ECRIT),
    "gestion:groupe_appartenances": objet("administrateur", groupe, cible="groupe", filtres=True, **LIT),
    "gestion:tableaux_de_bord": objet("administrateur", convention, **LIT),
    "gestion:tableau_csv": objet("administrateur", lambda m: {**convention(m), "tableau": "profils"}, **LIT),
    # Le journal : l'administrateur et les lecteurs de la Caf ; pas le responsable.
    "gestion:journal": objet("administrateur", convention, filtres=True, attendus={"responsable": 404}, **LIT),
    "gestion:journal_csv": objet(
        "administrateur",
        convention,
        filtres=True,
        parametres=("acteur", "acte", "du", "au", "cible"),
        attendus={"responsable": 404},
        **LIT,
    ),
    "gestion:import_deposer": objet("administrateur", convention, **ECRIT),
    "gestion:import_apercu": objet("administrateur", import_csv, **ECRIT),
    # La progression (JSON) : le contrôle d'accès précède celui de la méthode (404 même en POST).
    "gestion:import_progression": objet("administrateur", import_csv, lecture_caf=403, methodes=GET),
    # AFAS, côté partenaire : l'accueil et « Mes déclarations » pour le déclarant et l'habilitateur.
    "afas:accueil": role(
        "declarant", methodes=GET, attendus={**HABILITATEURS, "declarant": 200, "administrateur": 200}
    ),
    "afas:mes_declarations": role(
        "declarant", methodes=GET, filtres=True, attendus={**HABILITATEURS, "declarant": 200, "administrateur": 200}
    ),
    # Une déclaration et la saisie de ses parts (le déclarant du monde est FDF, l'habilitateur FDA
    # du lieu, l'approbateur lit tout sans rien saisir ; l'agent de la Caf pivot lit).
    "afas:declaration": objet(
        "declarant",
        une_declaration,
        methodes=GET,
        lecture_caf=200,
        attendus={**SANS_ROLE_DECLARATION, "declarant": 200, "habilitateur": 200, "approbateur": 200},
    ),
    "afas:declaration_activite": objet(
        "habilitateur",
        une_ligne_de_declaration,
        lecture_caf=403,
        attendus={**SANS_ROLE_DECLARATION, "declarant": 403, "habilitateur": 200, "approbateur": 403},
    ),
    "afas:declaration_financier": objet(
        "declarant",
        une_declaration,
        lecture_caf=403,
        attendus={**SANS_ROLE_DECLARATION, "declarant": 200, "habilitateur": 403, "approbateur": 403},
    ),
    # « Administration des profils » : l'administrateur ou le profil effectif AFAS-HABILITER.
    "afas:habilitations": role(
        "administrateur", methodes=GET, filtres=True, attendus={**HABILITATEURS, "habilitateur": 200}
    ),
    "afas:habiliter": role("administrateur", attendus={**HABILITATEURS, "habilitateur": 200}),
    "afas:habiliter_portee": role(
        "administrateur",
        methodes=GET,
        parametres=("partenaire", "utilisateur", "role", "type_activite", "nature", "portee"),
        attendus={**HABILITATEURS, "habilitateur": 200},
    ),
    # Supprimer : dans son périmètre seulement (404 pour tout autre), jamais la sienne (404).
    "afas:habilitation_supprimer": objet(
        "administrateur",
        une_habilitation_afas,
        cible="habilitation_afas",
        parametres=("requete",),
        lecture_caf=404,
        attendus={"habilitateur": 200, "responsable": 404, "membre": 404},
    ),
    # AFAS, côté Caf : les listes des agents (l'agent d'une autre Caf y voit la sienne).
    "afas:activites": role("agent_caf", methodes=GET, filtres=True, attendus={**AGENTS, "administrateur": 403}),
    "afas:lieux": role("agent_caf", methodes=GET, filtres=True, attendus={**AGENTS, "administrateur": 403}),
    "afas:activite_creer": role("agent_caf", attendus={**AGENTS, "administrateur": 403}),
    "afas:validations": role("agent_caf", methodes=GET, filtres=True, attendus={**AGENTS, "administrateur": 403}),
    "afas:preparation": role("agent_caf", methodes=GET, filtres=True, attendus={**AGENTS, "administrateur": 403}),
    # Les objets d'une Caf : ses agents seuls.
    "afas:activite": objet("agent_caf", une_activite, methodes=GET, attendus=HORS_AGENTS),
    "afas:activite_modifier": objet("agent_caf", une_activite, attendus=HORS_AGENTS),
    "afas:activite_cloturer": objet("agent_caf", une_activite, attendus=HORS_AGENTS),
    "afas:lieu_creer": objet("agent_caf", lambda m: {"activite": m.activite.pk}, attendus=HORS_AGENTS),
    "afas:lieu_modifier": objet("agent_caf", un_lieu, attendus=HORS_AGENTS),
    "afas:lieu_cloturer": objet("agent_caf", un_lieu, attendus=HORS_AGENTS),
    # Valider ou refuser un approbateur : les agents de la Caf pivot.
    "afas:valider": objet("agent_caf", une_validation, cible="validation_afas", attendus=HORS_AGENTS),
    "afas:refuser": objet("agent_caf", une_validation, cible="validation_afas", attendus=HORS_AGENTS),
    # Transmettre (POST) : l'approbateur actif de l'activité ; un autre déclarant de l'activité
    # (le FDF ``declarant``, le FDA du lieu ``habilitateur``) 403 ; hors des déclarants de
    # l'activité (agents compris) 404.
    "afas:declaration_transmettre": objet(
        "approbateur",
        une_declaration_transmise,
        methodes=POST,
        sans_role=403,
        # L'approbateur, sur la déclaration qu'il a déjà transmise : refus expliqué, retour (302).
        attendus={"habilitateur": 403, "agent_caf": 404, "administrateur": 404, "approbateur": 302},
    ),
    # Le récépissé (PDF) : les déclarants actifs de l'activité et les agents de sa Caf.
    "afas:recepisse": objet(
        "agent_caf",
        un_recepisse,
        methodes=GET,
        sans_role=200,
        attendus={"habilitateur": 200, "approbateur": 200, "administrateur": 404, "responsable": 404},
    ),
    # La file de la Caf et la déclaration en lecture, avec ses deux décisions : ses agents seuls.
    "afas:declarations_recues": role(
        "agent_caf", methodes=GET, filtres=True, attendus={**AGENTS, "administrateur": 403, "approbateur": 403}
    ),
    "afas:declaration_caf": objet(
        "agent_caf", une_declaration_transmise, methodes=GET, attendus={**HORS_AGENTS, "approbateur": 403}
    ),
    "afas:declaration_valider": objet(
        "agent_caf", une_declaration_transmise, attendus={**HORS_AGENTS, "approbateur": 403}
    ),
    "afas:declaration_renvoyer": objet(
        "agent_caf", une_declaration_transmise, attendus={**HORS_AGENTS, "approbateur": 403}
    ),
    # Appels de déclaration : les agents Caf ; l'appel d'une autre Caf répond 404.
    "afas:appels": role("agent_caf", methodes=GET, filtres=True, attendus={**AGENTS, "administrateur": 403}),
    "afas:appel_lancer": role("agent_caf", attendus={**AGENTS, "administrateur": 403}),
    "afas:appel": objet("agent_caf", un_appel, methodes=GET, filtres=True, attendus=HORS_AGENTS),
    "afas:appel_progression": objet("agent_caf", un_appel, methodes=GET, attendus=HORS_AGENTS),
    "afas:appel_export": objet("agent_caf", un_appel, methodes=GET, attendus=HORS_AGENTS),
    # Financement (issue 14) : le montant, l'historique et les statistiques se lisent par qui a un
    # rôle actif sur l'activité (déclarant FDF, habilitateur FDA de son lieu) et par les agents de
    # la Caf ; tout autre : 404.
    "afas:declaration_financement": objet(
        "declarant", declaration_financement, methodes=GET, sans_role=200, lecture_caf=200, attendus=LECTEURS_ACTIVITE
    ),
    "afas:activite_historique": objet(
        "declarant", activite_declaree, methodes=GET, sans_role=200, lecture_caf=200, attendus=LECTEURS_ACTIVITE
    ),
    "afas:activite_statistiques": objet(
        "declarant",
        activite_declaree,
        methodes=GET,
        parametres=("declaration",),
        sans_role=200,
        lecture_caf=200,
        attendus=LECTEURS_ACTIVITE,
    ),
    # Le label Plan mercredi : les agents de la Caf de l'activité ; le déclarant la voit (403).
    "afas:activite_plan_mercredi": objet(
        "agent_caf", une_activite, attendus={**LECTEURS_ACTIVITE, "declarant": 403, "habilitateur": 403}
    ),
    # Le financement d'un appel et son export : les agents de la Caf de l'appel.
    "afas:appel_financement": objet(
        "agent_caf", appel_financement, methodes=GET, parametres=("page",), attendus=HORS_APPEL
    ),
    "afas:appel_financement_export": objet(
        "agent_caf", appel_financement, methodes=GET, parametres=("page",), attendus=HORS_APPEL
    ),
    # Les paramètres : tout agent Caf lit le barème national et l'adapte pour sa Caf.
    "afas:parametres": role("agent_caf", methodes=GET, filtres=True, attendus={**AGENTS, "administrateur": 403}),
    "afas:parametre_modifier": objet("agent_caf", parametre_national, attendus={**NON_AGENTS, "agent_autre_caf": 200}),
}

# L'administration technique de Django : une politique pour tout le groupe ``admin:*`` (son
# écran de connexion et sa déconnexion exceptés) ; un compte non membre du personnel est renvoyé
# à sa connexion.
ADMINISTRATION_TECHNIQUE = "admin"
ADMINISTRATION_PUBLIQUE = {"admin:login", "admin:logout"}


def politique(nom: str) -> Politique:
    """La politique d'une adresse, ou une erreur qui dit où la déclarer."""
    if nom.startswith(f"{ADMINISTRATION_TECHNIQUE}:"):
        return public() if nom in ADMINISTRATION_PUBLIQUE else Politique(ADMINISTRATION, "personnel")
    try:
        return REGISTRE[nom]
    except KeyError:
        raise LookupError(
            f"L'adresse « {nom} » n'a pas de politique d'accès : ajoutez une ligne à REGISTRE dans "
            "tests/securite/registre.py (public(), connecte(), role(acteur) ou objet(acteur, kwargs))."
        ) from None
