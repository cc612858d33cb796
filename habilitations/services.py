"""Écritures sur les identités : création de compte, mots de passe, clôture, adresse mail.

Chaque fonction est l'unique porte de son fait : l'administration Django, les données de
démonstration et les écrans passent tous par ici. Chacune s'exécute dans une transaction,
écrit sa trace d'audit et programme ses courriels par la boîte d'envoi.
"""

from __future__ import annotations

import datetime
import logging
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from conventions import services as conventions_services
from conventions.enums import TypeAvenant
from conventions.models import Avenant, Caf, Convention, Mandat, Organisme, Profil
from conventions.services import mandats_bloquant_cloture
from habilitations import perms
from habilitations.enums import Poste
from habilitations.models import (
    Appartenance,
    CompteurIdentifiant,
    Groupe,
    GroupeProfil,
    SessionUtilisateur,
    Utilisateur,
    reference_activite,
)
from habilitations.provisoire import provisoire_empreinte
from portail.models import EvenementAudit
from portail.socle.audit import audit_ecrire, audit_enregistrer, audit_preparer
from portail.socle.dates import (
    aujourdhui,
    q_chevauche,
    q_ouvert,
    verifier_cloture_non_passee,
    verifier_ouverture_non_passee,
    verifier_periode,
    verifier_plage,
)
from portail.socle.droits import aligner
from portail.socle.emails import courriel_preparer, courriels_preparer
from portail.socle.erreurs import ErreurMetier

logger = logging.getLogger(__name__)

ALPHABET_PROVISOIRE = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
LONGUEUR_PROVISOIRE = 16
SEL_CHANGEMENT_EMAIL = "habilitations.changement-email"
DUREE_LIEN_EMAIL = datetime.timedelta(days=2)


REFUS_SON_PROPRE_ACCES = (
    "Vous ne pouvez pas vous accorder, prolonger ou rouvrir un accès à vous-même : demandez-le à votre administrateur."
)


def _lettres(texte: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", texte).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_.upper() if c.isalpha())


def identifiant_generer(*, caf: Caf | None, organisme: Organisme | None) -> str:
    """Trois lettres, le code Caf sur trois chiffres, un numéro d'ordre sur quatre chiffres,
    comme ``COM0120009``. Les lettres viennent de l'organisme (« CAF » pour un agent) ; le
    numéro est attribué sous verrou de ligne, donc unique même en cas de créations simultanées."""
    return identifiants_generer(caf=caf, organisme=organisme, nombre=1)[0]


def identifiants_generer(*, caf: Caf | None, organisme: Organisme | None, nombre: int) -> list[str]:
    """``nombre`` identifiants à la suite (voir ``identifiant_generer``) : le compteur est
    verrouillé une fois et les numéros déjà pris (compte saisi à la main, reprise) sont sautés,
    vérifiés tous ensemble, en une requête par tour plutôt qu'une par identifiant."""
    code_caf = caf.code if caf else (organisme.caf.code if organisme else "000")
    prefixe = "CAF" if caf else (_lettres(organisme.raison_sociale)[:3] if organisme else "PPA")
    prefixe = prefixe.ljust(3, "X")
    identifiants: list[str] = []
    # Sans point de sauvegarde : la transaction est celle de l'appelant (la création du compte).
    with transaction.atomic(savepoint=False):
        compteur = CompteurIdentifiant.objects.select_for_update().filter(code_caf=code_caf).first()
        if compteur is None:
            try:
                with transaction.atomic():
                    CompteurIdentifiant.objects.create(code_caf=code_caf)
            except IntegrityError:
                pass  # créé au même instant par une autre transaction
            compteur = CompteurIdentifiant.objects.select_for_update().get(code_caf=code_caf)
        while len(identifiants) < nombre:
            debut = compteur.dernier + 1
            compteur.dernier += nombre - len(identifiants)
            candidats = [f"{prefixe}{code_caf}{n:04d}" for n in range(debut, compteur.dernier + 1)]
            pris = set(Utilisateur.objects.filter(identifiant__in=candidats).values_list("identifiant", flat=True))
            identifiants += [c for c in candidats if c not in pris]
        compteur.save(update_fields=["dernier"])
    return identifiants


def _utilisateur_creer(
    *,
    par: Utilisateur | None,
    nom: str,
    prenom: str,
    email: str,
    telephone: str = "",
    poste: str = Poste.SEDENTAIRE,
    date_ouverture: datetime.date | None = None,
    date_cloture: datetime.date | None = None,
    caf: Caf | None = None,
    organisme: Organisme | None = None,
    convention: Convention | None = None,
    journal: list[EvenementAudit] | None = None,
) -> Utilisateur:
    """Crée un compte sans mot de passe utilisable et envoie deux courriels : l'identifiant,
    puis le mot de passe provisoire (valable 24 heures). Un compte partenaire créé sous une
    convention lui appartient ; son adresse mail n'y est celle d'aucun autre compte ouvert.

    Sans transaction propre : ``utilisateur_creer`` l'ouvre ; un service qui crée un compte parmi
    d'autres écritures appelle ce corps dans la sienne (pas de point de sauvegarde de plus)."""
    if caf is not None and (organisme is not None or convention is not None):
        raise ErreurMetier("Un compte est soit celui d'un agent Caf, soit celui d'un partenaire, pas les deux.")
    if convention is not None:
        if organisme is not None and organisme.pk != convention.organisme_id:
            raise ErreurMetier("Le compte doit être de l'organisme partenaire de la convention.")
        organisme = convention.organisme
        email_verifier_disponible(convention=convention, email=email)
    date_ouverture = date_ouverture or aujourdhui()
    verifier_periode(date_ouverture, date_cloture)
    user = Utilisateur(
        identifiant=identifiant_generer(caf=caf, organisme=organisme),
        nom=nom.strip(),
        prenom=prenom.strip(),
        email=email.strip().lower(),
        telephone=telephone.strip(),
        poste=poste,
        date_ouverture=date_ouverture,
        date_cloture=date_cloture,
        caf=caf,
        organisme=organisme,
        convention=convention,
    )
    user.set_unusable_password()
    # Le mot de passe provisoire est tiré avant l'insertion : une écriture de moins.
    provisoire = _mot_de_passe_provisoire_tirer(user)
    user.save()
    evenements = [
        audit_preparer(
            par=par,
            action="utilisateur_creer",
            cible=user,
            apres={
                "identifiant": user.identifiant,
                "date_ouverture": str(date_ouverture),
                "caf": caf and caf.code,
                "organisme": organisme and organisme.raison_sociale,
                "convention": convention and convention.libelle,
            },
        ),
        audit_preparer(par=par, action="mot_de_passe_provisoire_emettre", cible=user),
    ]
    # La piste d'audit et les deux courriels, chacun en une insertion (ou la piste avec le reste
    # de l'acte, si l'appelant la tient : ``journal``).
    if journal is None:
        audit_ecrire(evenements)
    else:
        journal.extend(evenements)
    courriels_preparer(
        [
            {
                "modele": "identifiant",
                "destinataire": user.email,
                "contexte": {"utilisateur": user, "motif": "creation"},
            },
            _courriel_mot_de_passe(user, provisoire, "creation"),
        ]
    )
    logger.info("utilisateur %s créé", user.pk)
    return user


utilisateur_creer = transaction.atomic(_utilisateur_creer)

# Pourquoi un mot de passe provisoire part : le courriel dit ce qui s'est réellement passé.
MotifProvisoire = Literal["creation", "oubli", "renvoi"]


@transaction.atomic
def mot_de_passe_provisoire_emettre(
    *, utilisateur: Utilisateur, par: Utilisateur | None, motif: MotifProvisoire = "oubli"
) -> None:
    """Tire un mot de passe provisoire aléatoire, n'en garde que l'empreinte, l'envoie par
    courriel. Valable 24 heures, une seule connexion. Le mot de passe personnel éventuel reste
    valable : demander un mot de passe provisoire ne permet pas de bloquer le compte d'autrui.
    ``motif`` : compte qui vient d'être créé, « Mot de passe oublié ? », ou renvoi par
    l'administrateur ; le courriel ne parle de « demande » et de « mot de passe actuel » que
    lorsqu'il y en a un."""
    provisoire = _mot_de_passe_provisoire_tirer(utilisateur)
    utilisateur.save(
        update_fields=[
            "mot_de_passe_provisoire",
            "mot_de_passe_provisoire_expire_le",
            "mot_de_passe_provisoire_utilise_le",
        ]
    )
    audit_enregistrer(par=par, action="mot_de_passe_provisoire_emettre", cible=utilisateur)
    courriel_preparer(**_courriel_mot_de_passe(utilisateur, provisoire, motif))


def _mot_de_passe_provisoire_tirer(utilisateur: Utilisateur) -> str:
    """Tire le mot de passe provisoire et en pose l'empreinte sur le compte (non enregistré)."""
    provisoire = "".join(secrets.choice(ALPHABET_PROVISOIRE) for _ in range(LONGUEUR_PROVISOIRE))
    utilisateur.mot_de_passe_provisoire = provisoire_empreinte(provisoire)
    utilisateur.mot_de_passe_provisoire_expire_le = timezone.now() + settings.MOT_DE_PASSE_PROVISOIRE_DUREE
    utilisateur.mot_de_passe_provisoire_utilise_le = None
    return provisoire


def _courriel_mot_de_passe(utilisateur: Utilisateur, provisoire: str, motif: MotifProvisoire) -> dict[str, Any]:
    return {
        "modele": "mot_de_passe_provisoire",
        "destinataire": utilisateur.email,
        "contexte": {
            "utilisateur": utilisateur,
            "mot_de_passe": provisoire,
            "expire_le": utilisateur.mot_de_passe_provisoire_expire_le,
            "motif": motif,
            "a_un_mot_de_passe": utilisateur.has_usable_password(),
        },
    }


@transaction.atomic
def mot_de_passe_oublie(*, identifiant: str, demande_le: datetime.datetime | None = None) -> None:
    """Envoie un nouveau mot de passe provisoire si l'identifiant désigne un compte ouvert.
    Ne dit rien sinon : la page répond la même chose dans tous les cas.

    Idempotent pour une même demande (``demande_le``, l'heure de la demande) : une tâche livrée
    deux fois n'émet pas un second mot de passe si un provisoire a été émis depuis la demande."""
    user = Utilisateur.objects.select_for_update().filter(identifiant=identifiant.strip().upper()).first()
    if user is None or not user.is_active or not user.est_ouvert():
        logger.info("mot de passe oublié : aucun compte ouvert pour la demande")
        return
    emis_le = (
        user.mot_de_passe_provisoire_expire_le - settings.MOT_DE_PASSE_PROVISOIRE_DUREE
        if user.mot_de_passe_provisoire_expire_le
        else None
    )
    if demande_le is not None and emis_le is not None and emis_le >= demande_le:
        logger.info("mot de passe oublié : demande déjà traitée utilisateur=%s", user.pk)
        return
    mot_de_passe_provisoire_emettre(utilisateur=user, par=None)


@transaction.atomic
def mot_de_passe_choisir(*, utilisateur: Utilisateur, mot_de_passe: str) -> None:
    """Enregistre le mot de passe personnel (déjà validé par le formulaire)."""
    utilisateur.set_password(mot_de_passe)
    utilisateur.save(update_fields=["password"])
    audit_enregistrer(par=utilisateur, action="mot_de_passe_choisir", cible=utilisateur)
    courriel_preparer(
        modele="mot_de_passe_modifie", destinataire=utilisateur.email, contexte={"utilisateur": utilisateur}
    )


def sessions_fermer(*, utilisateur: Utilisateur, sauf: str | None = None) -> int:
    """Ferme toutes les sessions ouvertes d'un compte (sauf, éventuellement, la session courante)."""
    suivies = SessionUtilisateur.objects.filter(utilisateur=utilisateur)
    if sauf:
        suivies = suivies.exclude(session_key=sauf)
    cles = list(suivies.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=cles).delete()
    suivies.delete()
    return len(cles)


@transaction.atomic
def utilisateur_cloturer(*, par: Utilisateur | None, utilisateur: Utilisateur, date_cloture: datetime.date) -> None:
    """Clôture un compte à une date (aujourd'hui ou plus tard). Une clôture du jour ferme
    aussitôt ses sessions ; une clôture future prend effet à sa date, car chaque requête relit
    les dates du compte."""
    verifier_plage(date_cloture, champ="date_cloture")
    verifier_cloture_non_passee(date_cloture)
    bloquants = mandats_bloquant_cloture(utilisateur, date_cloture)
    if bloquants:
        libelles = ", ".join(f"« {m.convention.libelle} »" for m in bloquants)
        raise ErreurMetier(
            f"{utilisateur.get_full_name()} est l'administrateur de la convention {libelles} : une "
            "convention a toujours un administrateur. Demandez d'abord à la Caf un avenant qui nomme "
            "son successeur ; le compte pourra être clôturé à partir de la date d'effet de l'avenant."
        )
    avant = {"date_cloture": str(utilisateur.date_cloture) if utilisateur.date_cloture else None}
    # Un compte pas encore ouvert, clôturé avant son ouverture : il ne s'ouvrira pas (période
    # vide, comme une appartenance annulée) ; la base refuse une clôture avant l'ouverture.
    date_cloture = max(date_cloture, utilisateur.date_ouverture)
    utilisateur.date_cloture = date_cloture
    utilisateur.save(update_fields=["date_cloture"])
    audit_enregistrer(
        par=par,
        action="utilisateur_cloturer",
        cible=utilisateur,
        avant=avant,
        apres={"date_cloture": str(date_cloture)},
    )
    if date_cloture <= aujourdhui():
        transaction.on_commit(lambda: sessions_fermer(utilisateur=utilisateur))


def email_changement_demander(*, utilisateur: Utilisateur, nouvel_email: str) -> None:
    """Envoie à la nouvelle adresse un lien de confirmation valable 48 heures. L'adresse du
    compte ne change qu'à la confirmation. L'adresse doit être libre dans la convention, à la
    demande comme à la confirmation (un autre compte a pu la prendre entre-temps)."""
    if utilisateur.convention_id:
        try:
            email_verifier_disponible(convention=utilisateur.convention, email=nouvel_email, sauf=utilisateur)
        except ErreurMetier:
            # Sans l'identifiant de l'autre compte : « Mon profil » ne le révèle pas.
            raise ErreurMetier(
                "Cette adresse mail est déjà celle d'un autre compte ouvert de votre convention : choisissez-en une autre."
            ) from None
    jeton = signing.dumps(
        {"u": utilisateur.pk, "nouveau": nouvel_email.strip().lower(), "ancien": utilisateur.email},
        salt=SEL_CHANGEMENT_EMAIL,
    )
    with transaction.atomic():
        audit_enregistrer(par=utilisateur, action="email_changement_demander", cible=utilisateur)
        courriel_preparer(
            modele="confirmer_email",
            destinataire=nouvel_email.strip().lower(),
            contexte={
                "utilisateur": utilisateur,
                "jeton": jeton,
                "duree_heures": int(DUREE_LIEN_EMAIL.total_seconds() // 3600),
            },
        )


@transaction.atomic
def email_changement_confirmer(*, utilisateur: Utilisateur, jeton: str) -> str:
    """Applique le changement d'adresse si le lien est valide, récent, destiné à ce compte et pas
    déjà utilisé (l'ancienne adresse doit être encore celle du compte)."""
    try:
        donnees = signing.loads(jeton, salt=SEL_CHANGEMENT_EMAIL, max_age=DUREE_LIEN_EMAIL)
    except signing.SignatureExpired as exc:
        raise ErreurMetier("Ce lien de confirmation a expiré : refaites la demande depuis Mon profil.") from exc
    except signing.BadSignature as exc:
        raise ErreurMetier("Ce lien de confirmation n'est pas valide.") from exc
    if donnees.get("u") != utilisateur.pk or donnees.get("ancien") != utilisateur.email:
        raise ErreurMetier("Ce lien de confirmation n'est pas valide ou a déjà été utilisé.")
    if utilisateur.convention_id:
        email_verifier_disponible(convention=utilisateur.convention, email=donnees["nouveau"], sauf=utilisateur)
    ancien = utilisateur.email
    utilisateur.email = donnees["nouveau"]
    utilisateur.save(update_fields=["email"])
    audit_enregistrer(
        par=utilisateur,
        action="email_changement_confirmer",
        cible=utilisateur,
        avant={"email": ancien},
        apres={"email": utilisateur.email},
    )
    courriel_preparer(modele="email_modifie", destinataire=ancien, contexte={"utilisateur": utilisateur})
    return utilisateur.email


def email_verifier_disponible(*, convention: Convention, email: str, sauf: Utilisateur | None = None) -> None:
    """Une adresse mail n'est celle que d'un seul compte ouvert (ou à venir) d'une convention
    (la règle : ``Utilisateur.objects.detenteurs_adresses``)."""
    autres = Utilisateur.objects.detenteurs_adresses(convention, [email])
    if sauf is not None:
        autres = autres.exclude(pk=sauf.pk)
    autre = autres.first()
    if autre is not None:
        raise ErreurMetier(
            f"Cette adresse mail est déjà celle d'un utilisateur ouvert de la convention ({autre.identifiant}).",
            champ="email",
        )


def _donnees_utilisateur(user: Utilisateur) -> dict[str, Any]:
    return {
        "nom": user.nom,
        "prenom": user.prenom,
        "email": user.email,
        "telephone": user.telephone,
        "poste": user.poste,
        "date_ouverture": _iso(user.date_ouverture),
        "date_cloture": _iso(user.date_cloture),
    }


def _iso(jour: datetime.date | None) -> str | None:
    return jour.isoformat() if jour else None


@transaction.atomic
def utilisateur_creer_dans_convention(
    *,
    par: Utilisateur | None,
    convention: Convention,
    nom: str,
    prenom: str,
    email: str,
    telephone: str = "",
    poste: str = Poste.SEDENTAIRE,
    date_ouverture: datetime.date | None = None,
    date_cloture: datetime.date | None = None,
    groupe: Groupe | None = None,
) -> Utilisateur:
    """« Créer un utilisateur » : le compte (deux courriels) et, si un groupe d'habilitation est
    choisi, son appartenance dès l'ouverture du compte, par la porte unique des appartenances."""
    if groupe is not None and groupe.convention_id != convention.pk:
        raise ErreurMetier("Le groupe choisi n'est pas un groupe de cette convention.", champ="groupe")
    journal: list[EvenementAudit] = []
    user = _utilisateur_creer(
        par=par,
        nom=nom,
        prenom=prenom,
        email=email,
        telephone=telephone,
        poste=poste,
        date_ouverture=date_ouverture,
        date_cloture=date_cloture,
        convention=convention,
        journal=journal,
    )
    if groupe is not None:
        _appartenance_ouvrir(
            par=par,
            utilisateur=user,
            groupe=groupe,
            date_ouverture=max(user.date_ouverture, aujourdhui()),
            date_cloture=date_cloture,
            compte_nouveau=True,
            journal=journal,
        )
    audit_ecrire(journal)
    return user


@transaction.atomic
def utilisateurs_creer_dans_convention(
    *,
    par: Utilisateur | None,
    convention: Convention,
    groupe: Groupe | None,
    comptes: Sequence[dict[str, Any]],
) -> list[Utilisateur | ErreurMetier]:
    """« Créer un utilisateur » pour chacun des ``comptes`` d'un coup (import CSV) : les mêmes
    règles que ``utilisateur_creer_dans_convention`` (adresse libre dans la convention, période,
    appartenance par les vérifications de ``_appartenance_ouvrir``), les mêmes écritures (compte,
    appartenance au groupe dès l'ouverture du compte, trois lignes d'audit, deux courriels), mais
    en un nombre de requêtes qui ne dépend pas du nombre de comptes : une lecture des adresses
    prises, un tour de compteur d'identifiants, une insertion par table.

    ``comptes`` : les arguments nommés de ``utilisateur_creer_dans_convention`` (nom, prenom,
    email, et facultativement telephone, poste, date_ouverture, date_cloture). Renvoie, à la place
    de chacun, le compte créé ou l'``ErreurMetier`` qui le refuse ; un refus n'empêche pas les
    autres. Deux comptes à la même adresse : le premier est créé, le second refusé comme s'il
    venait après lui (même message que la création une à une)."""
    resultats: list[Utilisateur | ErreurMetier | None] = [None] * len(comptes)
    if groupe is not None and groupe.convention_id != convention.pk:
        refus = ErreurMetier("Le groupe choisi n'est pas un groupe de cette convention.", champ="groupe")
        return [refus] * len(comptes)
    organisme = convention.organisme
    jour = aujourdhui()
    prises: dict[str, str] = {}
    for adresse, identifiant in Utilisateur.objects.detenteurs_adresses(
        convention, [c["email"] for c in comptes], jour
    ).values_list("adresse", "identifiant"):
        prises.setdefault(adresse, identifiant)
    premier_a_l_adresse: dict[str, int] = {}
    nouveaux: list[tuple[int, Utilisateur]] = []
    for rang, compte in enumerate(comptes):
        email = compte["email"].strip().lower()
        date_ouverture = compte.get("date_ouverture") or jour
        date_cloture = compte.get("date_cloture")
        user = Utilisateur(
            nom=compte["nom"].strip(),
            prenom=compte["prenom"].strip(),
            email=email,
            telephone=compte.get("telephone", "").strip(),
            poste=compte.get("poste") or Poste.SEDENTAIRE,
            date_ouverture=date_ouverture,
            date_cloture=date_cloture,
            organisme=organisme,
            convention=convention,
        )
        try:
            if email in prises:
                raise ErreurMetier(
                    f"Cette adresse mail est déjà celle d'un utilisateur ouvert de la convention ({prises[email]}).",
                    champ="email",
                )
            verifier_periode(date_ouverture, date_cloture)
            if groupe is not None:
                _appartenance_verifier(
                    par=par,
                    utilisateur=user,
                    groupe=groupe,
                    date_ouverture=max(date_ouverture, jour),
                    date_cloture=date_cloture,
                )
        except ErreurMetier as refus:
            resultats[rang] = refus
            continue
        if email in premier_a_l_adresse:
            continue  # refusé plus bas, quand le premier aura son identifiant
        premier_a_l_adresse[email] = rang
        nouveaux.append((rang, user))

    identifiants = identifiants_generer(caf=None, organisme=organisme, nombre=len(nouveaux))
    provisoires: list[str] = []
    for (_rang, user), identifiant in zip(nouveaux, identifiants, strict=True):
        user.identifiant = identifiant
        user.set_unusable_password()
        provisoires.append(_mot_de_passe_provisoire_tirer(user))
    comptes_crees = Utilisateur.objects.bulk_create([user for _rang, user in nouveaux])
    appartenances: list[Appartenance] = []
    journal: list[EvenementAudit] = []
    envois: list[dict[str, Any]] = []
    for (rang, user), provisoire in zip(nouveaux, provisoires, strict=True):
        resultats[rang] = user
        journal += [
            audit_preparer(
                par=par,
                action="utilisateur_creer",
                cible=user,
                apres={
                    "identifiant": user.identifiant,
                    "date_ouverture": str(user.date_ouverture),
                    "caf": None,
                    "organisme": organisme.raison_sociale,
                    "convention": convention.libelle,
                },
            ),
            audit_preparer(par=par, action="mot_de_passe_provisoire_emettre", cible=user),
        ]
        if groupe is not None:
            debut = max(user.date_ouverture, jour)
            appartenances.append(
                Appartenance(utilisateur=user, groupe=groupe, date_ouverture=debut, date_cloture=user.date_cloture)
            )
            journal.append(
                audit_preparer(
                    par=par,
                    action="appartenance_ouvrir",
                    cible=groupe,
                    apres=_periode(user, debut, user.date_cloture),
                )
            )
        envois += [
            {
                "modele": "identifiant",
                "destinataire": user.email,
                "contexte": {"utilisateur": user, "motif": "creation"},
            },
            _courriel_mot_de_passe(user, provisoire, "creation"),
        ]
    Appartenance.objects.bulk_create(appartenances)
    audit_ecrire(journal)
    if envois:
        courriels_preparer(envois)
    for rang, compte in enumerate(comptes):
        if resultats[rang] is None:  # la même adresse qu'un compte créé plus haut dans la liste
            premier = resultats[premier_a_l_adresse[compte["email"].strip().lower()]]
            resultats[rang] = ErreurMetier(
                f"Cette adresse mail est déjà celle d'un utilisateur ouvert de la convention ({premier.identifiant}).",
                champ="email",
            )
    logger.info("%s utilisateurs créés d'un coup dans la convention %s", len(comptes_crees), convention.pk)
    return resultats  # type: ignore[return-value]


# --- L'administrateur nommé par une convention ou un avenant --------------------------------
#
# Nommer l'administrateur d'une convention, c'est lui ouvrir un accès : quand il faut créer son
# compte, l'acte touche les deux couches (comptes ici, conventions en dessous). Il s'orchestre
# donc ici, en une transaction : un refus de l'une ou de l'autre ne laisse ni compte, ni
# convention, ni avenant, ni courriel.


def _administrateur_choisi(
    administrateur: Utilisateur | None, nouvel_administrateur: dict[str, Any] | None, message: str
) -> None:
    if (administrateur is None) == (nouvel_administrateur is None):
        raise ErreurMetier(message)


@transaction.atomic
def convention_formaliser_avec_administrateur(
    *,
    par: Utilisateur,
    organisme: Organisme,
    libelle: str,
    date_ouverture: datetime.date,
    date_cloture: datetime.date | None = None,
    profils: Iterable[Profil],
    administrateur: Utilisateur | None = None,
    nouvel_administrateur: dict[str, Any] | None = None,
) -> Convention:
    """« Formaliser une convention » : son administrateur est un compte existant de l'organisme,
    ou un nouveau compte créé ici par la porte des comptes (``utilisateur_creer``, dont le corps
    s'exécute dans cette transaction : courriels d'identifiant et de mot de passe provisoire),
    puis la convention par ``conventions.services.convention_formaliser``."""
    _administrateur_choisi(
        administrateur, nouvel_administrateur, "Choisissez un administrateur existant ou créez-en un, l'un des deux."
    )
    if nouvel_administrateur is not None:
        administrateur = _utilisateur_creer(par=par, organisme=organisme, **nouvel_administrateur)
    return conventions_services.convention_formaliser(
        par=par,
        organisme=organisme,
        libelle=libelle,
        date_ouverture=date_ouverture,
        date_cloture=date_cloture,
        profils=profils,
        administrateur=administrateur,
    )


@transaction.atomic
def avenant_enregistrer_avec_administrateur(
    *,
    par: Utilisateur,
    convention: Convention,
    type_avenant: str,
    objet: str,
    date_effet: datetime.date,
    administrateur: Utilisateur | None = None,
    nouvel_administrateur: dict[str, Any] | None = None,
) -> Avenant:
    """« Enregistrer un avenant » : un changement d'administrateur nomme un compte existant de
    l'organisme, ou un nouveau compte de la convention créé ici par la porte des comptes
    (``utilisateur_creer``, dans cette transaction : deux courriels), puis l'avenant par
    ``conventions.services.avenant_enregistrer`` (qui prévient le successeur et son
    prédécesseur)."""
    if type_avenant == TypeAvenant.ADMINISTRATEUR and nouvel_administrateur is not None:
        _administrateur_choisi(
            administrateur,
            nouvel_administrateur,
            "Choisissez le nouvel administrateur parmi les comptes existants ou créez-en un.",
        )
        administrateur = _utilisateur_creer(par=par, convention=convention, **nouvel_administrateur)
    return conventions_services.avenant_enregistrer(
        par=par,
        convention=convention,
        type_avenant=type_avenant,
        objet=objet,
        date_effet=date_effet,
        administrateur=administrateur,
    )


@transaction.atomic
def utilisateur_modifier(
    *,
    par: Utilisateur | None,
    utilisateur: Utilisateur,
    nom: str,
    prenom: str,
    email: str,
    telephone: str = "",
    poste: str = Poste.SEDENTAIRE,
) -> Utilisateur:
    """Modifier l'identité et les coordonnées d'un compte (les dates ont leurs propres actes).

    Sa propre adresse mail, quel que soit l'écran, ne change qu'après le lien de confirmation
    envoyé à la nouvelle adresse (comme depuis « Mon profil ») : l'adresse du compte reste
    l'ancienne, le lien part. L'appelant le voit à ``utilisateur.email`` inchangé."""
    if utilisateur.convention_id:
        email_verifier_disponible(convention=utilisateur.convention, email=email, sauf=utilisateur)
    email = email.strip().lower()
    if par is not None and par.pk == utilisateur.pk and email != utilisateur.email.lower():
        email_changement_demander(utilisateur=utilisateur, nouvel_email=email)
        email = utilisateur.email
    avant = _donnees_utilisateur(utilisateur)
    utilisateur.nom, utilisateur.prenom = nom.strip(), prenom.strip()
    utilisateur.email, utilisateur.telephone = email, telephone.strip()
    utilisateur.poste = poste
    utilisateur.save(update_fields=["nom", "prenom", "email", "telephone", "poste"])
    apres = _donnees_utilisateur(utilisateur)
    changes = {k for k in apres if apres[k] != avant[k]}
    if changes:
        audit_enregistrer(
            par=par,
            action="utilisateur_modifier",
            cible=utilisateur,
            avant={k: avant[k] for k in sorted(changes)},
            apres={k: apres[k] for k in sorted(changes)},
        )
    return utilisateur


@transaction.atomic
def utilisateur_rouvrir(*, par: Utilisateur | None, utilisateur: Utilisateur) -> Utilisateur:
    """Rouvre un compte clôturé (ou dont la clôture est programmée) ou suspendu pour
    inactivité ; le délai d'inactivité repart de ce jour."""
    if not perms.peut_accorder_acces(par, utilisateur):
        raise ErreurMetier(REFUS_SON_PROPRE_ACCES)
    if utilisateur.date_cloture is None and not utilisateur.est_suspendu:
        raise ErreurMetier("Ce compte est déjà ouvert.")
    if utilisateur.convention_id:
        email_verifier_disponible(convention=utilisateur.convention, email=utilisateur.email, sauf=utilisateur)
    avant = {"date_cloture": _iso(utilisateur.date_cloture), "suspendu": utilisateur.est_suspendu}
    utilisateur.date_cloture = None
    utilisateur.suspendu_le = None
    utilisateur.inactivite_avertie_le = None
    utilisateur.reouvert_le = timezone.now()
    utilisateur.save(update_fields=["date_cloture", "suspendu_le", "inactivite_avertie_le", "reouvert_le"])
    audit_enregistrer(
        par=par,
        action="utilisateur_rouvrir",
        cible=utilisateur,
        avant=avant,
        apres={"date_cloture": None, "suspendu": False},
    )
    return utilisateur


@transaction.atomic
def identifiant_renvoyer(*, par: Utilisateur | None, utilisateur: Utilisateur) -> None:
    """« Renvoi de l'identifiant par mail » ; à un compte jamais activé, un nouveau mot de passe
    provisoire aussi (le premier a sans doute expiré)."""
    if not utilisateur.est_ouvert() or utilisateur.est_suspendu:
        raise ErreurMetier("Ce compte n'est pas ouvert : rouvrez-le d'abord.")
    audit_enregistrer(par=par, action="identifiant_renvoyer", cible=utilisateur)
    jamais_connecte = utilisateur.last_login is None
    courriel_preparer(
        modele="identifiant",
        destinataire=utilisateur.email,
        contexte={"utilisateur": utilisateur, "motif": "renvoi", "avec_provisoire": jamais_connecte},
    )
    if jamais_connecte:
        mot_de_passe_provisoire_emettre(utilisateur=utilisateur, par=par, motif="renvoi")


# --- Groupes ---------------------------------------------------------------------------------


def _est_de_la_convention(utilisateur: Utilisateur, convention_id: int) -> bool:
    return (
        utilisateur.convention_id == convention_id
        or Mandat.objects.filter(convention_id=convention_id, administrateur=utilisateur).exists()
    )


@transaction.atomic
def groupe_creer(
    *,
    par: Utilisateur | None,
    convention: Convention,
    code: str,
    libelle: str,
    responsable: Utilisateur,
    date_ouverture: datetime.date | None = None,
    date_cloture: datetime.date | None = None,
    parent: Groupe | None = None,
) -> Groupe:
    """Crée un groupe d'une convention ; niveau = celui du parent + 1 ; le responsable
    d'habilitations est un compte ouvert de la convention et reçoit le droit de gérer le groupe."""
    code = code.strip().upper()
    if parent is not None and parent.convention_id != convention.pk:
        raise ErreurMetier("Le groupe parent doit appartenir à la même convention.", champ="parent")
    if responsable.est_agent_caf or not _est_de_la_convention(responsable, convention.pk):
        raise ErreurMetier(
            "Le responsable d'habilitations doit être un utilisateur de la convention.", champ="responsable"
        )
    date_ouverture = date_ouverture or aujourdhui()
    if par is not None:
        verifier_ouverture_non_passee(date_ouverture)
    if not responsable.est_ouvert(max(date_ouverture, aujourdhui())):
        raise ErreurMetier(f"Le compte de {responsable.get_full_name()} n'est pas ouvert.", champ="responsable")
    verifier_periode(date_ouverture, date_cloture)
    if Groupe.objects.filter(convention=convention, code__iexact=code).exists():
        raise ErreurMetier(f"Le code « {code} » est déjà celui d'un groupe de cette convention.", champ="code")
    try:
        with transaction.atomic():
            groupe = Groupe.objects.create(
                convention=convention,
                code=code,
                libelle=libelle.strip(),
                responsable=responsable,
                parent=parent,
                niveau=(parent.niveau + 1) if parent else 1,
                date_ouverture=date_ouverture,
                date_cloture=date_cloture,
            )
    except IntegrityError as exc:
        # Le même code créé au même instant par quelqu'un d'autre : la contrainte d'unicité tranche.
        raise ErreurMetier(f"Le code « {code} » est déjà celui d'un groupe de cette convention.", champ="code") from exc
    groupe.chemin = f"{parent.chemin if parent else '/'}{groupe.pk}/"
    groupe.save(update_fields=["chemin"])
    audit_enregistrer(
        par=par,
        action="groupe_creer",
        cible=groupe,
        apres={
            "code": groupe.code,
            "libelle": groupe.libelle,
            "responsable": responsable.identifiant,
            "parent": parent.code if parent else None,
            "niveau": groupe.niveau,
            "date_ouverture": _iso(date_ouverture),
            "date_cloture": _iso(date_cloture),
        },
    )
    droits_groupes_reconcilier(groupes=[groupe.pk])
    return groupe


@transaction.atomic
def groupe_creer_avec_responsable(
    *,
    par: Utilisateur | None,
    convention: Convention,
    code: str,
    libelle: str,
    responsable: Utilisateur | None = None,
    nouveau_responsable: dict[str, Any] | None = None,
    date_ouverture: datetime.date | None = None,
    date_cloture: datetime.date | None = None,
    parent: Groupe | None = None,
) -> Groupe:
    """« Créer un groupe » avec un responsable existant, ou un nouveau compte créé sur place
    (deux courriels) et membre de son groupe : il est ainsi dans le périmètre de qui l'a créé.
    Une seule transaction : un refus ne laisse ni compte, ni groupe, ni courriel."""
    if (responsable is None) == (nouveau_responsable is None):
        raise ErreurMetier("Choisissez un responsable existant ou créez-en un, l'un des deux.", champ="responsable")
    if nouveau_responsable is not None:
        responsable = utilisateur_creer_dans_convention(par=par, convention=convention, **nouveau_responsable)
    groupe = groupe_creer(
        par=par,
        convention=convention,
        code=code,
        libelle=libelle,
        responsable=responsable,
        date_ouverture=date_ouverture,
        date_cloture=date_cloture,
        parent=parent,
    )
    if nouveau_responsable is not None:
        appartenance_ouvrir(
            par=par,
            utilisateur=responsable,
            groupe=groupe,
            date_ouverture=max(groupe.date_ouverture, responsable.date_ouverture),
            date_cloture=groupe.date_cloture,
        )
    return groupe


@transaction.atomic
def groupe_profil_ajouter(*, par: Utilisateur | None, groupe: Groupe, profil: Profil) -> None:
    """Donne un profil à un groupe : seulement un profil que la convention accorde, et, pour un
    sous-groupe, seulement un profil que son parent détient (la délégation n'accorde jamais plus)."""
    if not perms.peut_accorder_profil_au_groupe(par, groupe):
        raise ErreurMetier(
            f"Vous êtes membre du groupe {groupe.code} : vous ne pouvez pas lui donner un profil, il vous "
            "reviendrait. Demandez-le à votre administrateur."
        )
    if not groupe.convention.profils.filter(pk=profil.pk).exists():
        raise ErreurMetier(f"La convention n'accorde pas le profil « {profil.libelle} ».")
    if groupe.parent_id and not groupe.parent.profils.filter(pk=profil.pk).exists():
        raise ErreurMetier(f"Le groupe parent ne détient pas le profil « {profil.libelle} ».")
    _, cree = GroupeProfil.objects.get_or_create(groupe=groupe, profil=profil)
    if not cree:
        raise ErreurMetier(f"Le groupe a déjà le profil « {profil.libelle} ».")
    audit_enregistrer(par=par, action="groupe_profil_ajouter", cible=groupe, apres={"profil": profil.code})


@transaction.atomic
def groupe_profils_ajouter(*, par: Utilisateur | None, groupe: Groupe, profils: Iterable[Profil]) -> None:
    """Plusieurs profils donnés au groupe d'un seul geste : tous, ou aucun (le premier refus
    annule les autres)."""
    for profil in profils:
        groupe_profil_ajouter(par=par, groupe=groupe, profil=profil)


@transaction.atomic
def groupe_profil_retirer(*, par: Utilisateur | None, groupe: Groupe, profil: Profil) -> int:
    """Retire un profil au groupe et à tous ses sous-groupes (qui ne peuvent détenir plus que
    lui). Renvoie le nombre de sous-groupes qui le perdent aussi."""
    lignes = GroupeProfil.objects.filter(profil=profil, groupe__chemin__startswith=groupe.chemin)
    if not lignes.filter(groupe=groupe).exists():
        raise ErreurMetier(f"Le groupe n'a pas le profil « {profil.libelle} ».")
    sous_groupes = list(lignes.exclude(groupe=groupe).values_list("groupe__code", flat=True))
    lignes.delete()
    audit_enregistrer(
        par=par,
        action="groupe_profil_retirer",
        cible=groupe,
        avant={"profil": profil.code, "sous_groupes": sorted(sous_groupes)},
    )
    return len(sous_groupes)


def droits_groupes_reconcilier(
    *, jour: datetime.date | None = None, groupes: list[int] | None = None
) -> tuple[int, int]:
    """Le droit objet « gerer_groupe » suit les faits du jour : le responsable d'un groupe
    effectif, au compte ouvert, le détient ; personne d'autre."""
    jour = jour or aujourdhui()
    effectifs = Groupe.objects.effectifs(jour).filter(
        q_ouvert(jour, "responsable__"), responsable__suspendu_le__isnull=True
    )
    if groupes is not None:
        effectifs = effectifs.filter(pk__in=groupes)
    attendus = {(r, str(g)) for g, r in effectifs.values_list("pk", "responsable_id")}
    return aligner(modele=Groupe, codename="gerer_groupe", attendus=attendus, objets=groupes, jour_iso=_iso(jour))


# --- Appartenances : l'unique porte d'un utilisateur dans un groupe --------------------------


def _verifier_periode(
    *, utilisateur: Utilisateur, groupe: Groupe, date_ouverture: datetime.date, date_cloture: datetime.date | None
) -> None:
    verifier_periode(date_ouverture, date_cloture)
    if utilisateur.est_agent_caf:
        raise ErreurMetier("Un agent Caf ne peut pas être membre d'un groupe d'un partenaire.")
    if not _est_de_la_convention(utilisateur, groupe.convention_id):
        raise ErreurMetier("Cet utilisateur n'est pas un utilisateur de la convention du groupe.")
    if utilisateur.date_cloture is not None and date_ouverture >= utilisateur.date_cloture:
        raise ErreurMetier(
            f"Le compte de {utilisateur.get_full_name()} est clôturé à cette date.", champ="date_ouverture"
        )
    if groupe.date_cloture is not None and date_ouverture >= groupe.date_cloture:
        raise ErreurMetier(f"Le groupe {groupe.code} est clôturé à cette date.", champ="groupe")


def _verifier_sans_chevauchement(
    *,
    utilisateur: Utilisateur,
    groupe: Groupe,
    date_ouverture: datetime.date,
    date_cloture: datetime.date | None,
    sauf: Appartenance | None = None,
) -> None:
    deja = Appartenance.objects.filter(utilisateur=utilisateur, groupe=groupe).filter(
        q_chevauche(date_ouverture, date_cloture)
    )
    if sauf is not None:
        deja = deja.exclude(pk=sauf.pk)
    if deja.exists():
        raise ErreurMetier("Cet utilisateur appartient déjà à ce groupe sur cette période.", champ="appartenance")


def _periode(utilisateur: Utilisateur, debut: datetime.date, fin: datetime.date | None) -> dict[str, Any]:
    """Les valeurs d'audit d'une appartenance."""
    return {"utilisateur": utilisateur.identifiant, "date_ouverture": _iso(debut), "date_cloture": _iso(fin)}


@transaction.atomic
def appartenance_ouvrir(
    *,
    par: Utilisateur | None,
    utilisateur: Utilisateur,
    groupe: Groupe,
    date_ouverture: datetime.date | None = None,
    date_cloture: datetime.date | None = None,
) -> Appartenance:
    """L'unique porte d'entrée d'un utilisateur dans un groupe, à des dates données : écrans,
    création avec groupe, import CSV, administration technique et démonstration passent ici.
    Une personne (``par``) n'ouvre pas une appartenance dans le passé, quel que soit l'écran ;
    seul le système (``par=None`` : démonstration, reprise de données) écrit un historique."""
    return _appartenance_ouvrir(
        par=par, utilisateur=utilisateur, groupe=groupe, date_ouverture=date_ouverture, date_cloture=date_cloture
    )


def _appartenance_verifier(
    *,
    par: Utilisateur | None,
    utilisateur: Utilisateur,
    groupe: Groupe,
    date_ouverture: datetime.date,
    date_cloture: datetime.date | None,
) -> None:
    """Les règles d'une nouvelle appartenance qui ne lisent rien en base pour un compte de la
    convention du groupe (création une à une ou en nombre) : jamais son propre accès, rien dans
    le passé pour une personne, période dans celles du compte et du groupe."""
    if not perms.peut_accorder_acces(par, utilisateur):
        raise ErreurMetier(REFUS_SON_PROPRE_ACCES)
    if par is not None:
        verifier_ouverture_non_passee(date_ouverture)
    _verifier_periode(utilisateur=utilisateur, groupe=groupe, date_ouverture=date_ouverture, date_cloture=date_cloture)


def _appartenance_ouvrir(
    *,
    par: Utilisateur | None,
    utilisateur: Utilisateur,
    groupe: Groupe,
    date_ouverture: datetime.date | None,
    date_cloture: datetime.date | None,
    compte_nouveau: bool = False,
    journal: list[EvenementAudit] | None = None,
) -> Appartenance:
    """Le corps d'``appartenance_ouvrir``, dans la transaction de l'appelant. Pour un compte
    créé dans cette même transaction (``compte_nouveau``), personne d'autre ne le voit encore :
    ni verrou ni recherche de chevauchement, il n'a aucune appartenance."""
    date_ouverture = date_ouverture or aujourdhui()
    _appartenance_verifier(
        par=par, utilisateur=utilisateur, groupe=groupe, date_ouverture=date_ouverture, date_cloture=date_cloture
    )
    if not compte_nouveau:
        # Verrou du compte : deux ajouts simultanés au même groupe ne se chevauchent pas.
        Utilisateur.objects.select_for_update().filter(pk=utilisateur.pk).first()
        _verifier_sans_chevauchement(
            utilisateur=utilisateur, groupe=groupe, date_ouverture=date_ouverture, date_cloture=date_cloture
        )
    appartenance = Appartenance.objects.create(
        utilisateur=utilisateur, groupe=groupe, date_ouverture=date_ouverture, date_cloture=date_cloture
    )
    evenement = audit_preparer(
        par=par, action="appartenance_ouvrir", cible=groupe, apres=_periode(utilisateur, date_ouverture, date_cloture)
    )
    if journal is None:
        evenement.save()
    else:
        journal.append(evenement)
    return appartenance


@transaction.atomic
def appartenance_modifier(
    *,
    par: Utilisateur | None,
    appartenance: Appartenance,
    date_ouverture: datetime.date,
    date_cloture: datetime.date | None,
) -> Appartenance:
    """Change les dates d'une appartenance (mêmes règles qu'à l'ouverture, sans chevauchement)."""
    utilisateur, groupe = appartenance.utilisateur, appartenance.groupe
    if not perms.peut_accorder_acces(par, utilisateur) and perms.etend_la_periode(
        (appartenance.date_ouverture, appartenance.date_cloture), (date_ouverture, date_cloture)
    ):
        raise ErreurMetier(REFUS_SON_PROPRE_ACCES)
    _verifier_periode(utilisateur=utilisateur, groupe=groupe, date_ouverture=date_ouverture, date_cloture=date_cloture)
    if date_cloture is not None and date_cloture < aujourdhui() and date_cloture != appartenance.date_cloture:
        raise ErreurMetier("La date de clôture ne peut pas être passée.", champ="date_cloture")
    _verifier_sans_chevauchement(
        utilisateur=utilisateur,
        groupe=groupe,
        date_ouverture=date_ouverture,
        date_cloture=date_cloture,
        sauf=appartenance,
    )
    avant = _periode(utilisateur, appartenance.date_ouverture, appartenance.date_cloture)
    appartenance.date_ouverture, appartenance.date_cloture = date_ouverture, date_cloture
    appartenance.save(update_fields=["date_ouverture", "date_cloture"])
    audit_enregistrer(
        par=par,
        action="appartenance_modifier",
        cible=groupe,
        avant=avant,
        apres=_periode(utilisateur, date_ouverture, date_cloture),
    )
    return appartenance


@transaction.atomic
def appartenance_cloturer(
    *, par: Utilisateur | None, appartenance: Appartenance, date_cloture: datetime.date
) -> Appartenance:
    """Clôture une appartenance aujourd'hui ou à une date future (le profil cesse ce jour-là)."""
    verifier_plage(date_cloture, champ="date_cloture")
    verifier_cloture_non_passee(date_cloture)
    if appartenance.est_cloture():
        raise ErreurMetier("Cette appartenance est déjà clôturée.")
    if date_cloture < appartenance.date_ouverture:
        # Pas encore commencée : la clore revient à l'annuler (période vide, l'historique reste).
        date_cloture = appartenance.date_ouverture
    avant = {"date_cloture": _iso(appartenance.date_cloture)}
    appartenance.date_cloture = date_cloture
    appartenance.save(update_fields=["date_cloture"])
    audit_enregistrer(
        par=par,
        action="appartenance_cloturer",
        cible=appartenance.groupe,
        avant={"utilisateur": appartenance.utilisateur.identifiant, **avant},
        apres={"utilisateur": appartenance.utilisateur.identifiant, "date_cloture": _iso(date_cloture)},
    )
    return appartenance


# --- Ce que les dates déclenchent : avis d'échéance, comptes inactifs --------------------------


def _administrateur_de(utilisateur: Utilisateur, jour: datetime.date) -> Utilisateur | None:
    """L'administrateur en fonction de la convention du compte (s'il n'est pas lui-même)."""
    if utilisateur.convention_id is None:
        return None
    mandat = (
        Mandat.objects.filter(q_ouvert(jour), convention_id=utilisateur.convention_id)
        .exclude(administrateur=utilisateur)
        .select_related("administrateur")
        .first()
    )
    return mandat.administrateur if mandat else None


def echeances_notifier(*, jour: datetime.date | None = None) -> int:
    """Prévient l'utilisateur et son responsable qu'une appartenance se termine dans
    ECHEANCE_APPARTENANCE_JOURS jours. Une seule fois par date de fin (relancer la tâche le même
    jour n'envoie rien de plus). Renvoie le nombre d'appartenances signalées."""
    jour = jour or aujourdhui()
    echeance = jour + datetime.timedelta(days=settings.ECHEANCE_APPARTENANCE_JOURS)
    a_signaler = (
        Appartenance.objects.filter(date_cloture=echeance, date_ouverture__lt=echeance)
        .exclude(fin_notifiee_pour=echeance)
        .filter(q_ouvert(jour, "utilisateur__"), utilisateur__suspendu_le__isnull=True)
        .select_related("utilisateur", "groupe__responsable")
    )
    nombre = 0
    for appartenance in a_signaler:
        with transaction.atomic():
            # Relu sous verrou : deux exécutions simultanées n'envoient pas deux fois.
            verrouillee = Appartenance.objects.select_for_update(skip_locked=True).filter(pk=appartenance.pk).first()
            if verrouillee is None or verrouillee.fin_notifiee_pour == echeance:
                continue
            destinataires = [(appartenance.utilisateur, False)]
            responsable = appartenance.groupe.responsable
            if responsable.pk != appartenance.utilisateur_id:
                destinataires.append((responsable, True))
            for destinataire, pour_responsable in destinataires:
                courriel_preparer(
                    modele="echeance_appartenance",
                    destinataire=destinataire.email,
                    contexte={
                        "appartenance": appartenance,
                        "destinataire": destinataire,
                        "pour_responsable": pour_responsable,
                    },
                )
            Appartenance.objects.filter(pk=appartenance.pk).update(fin_notifiee_pour=echeance)
            nombre += 1
    return nombre


def inactivite_traiter(*, maintenant: datetime.datetime | None = None) -> tuple[int, int]:
    """Comptes partenaires ouverts sans connexion depuis INACTIVITE_AVERTISSEMENT_JOURS :
    avertis (eux et leur administrateur), une fois ; depuis INACTIVITE_SUSPENSION_JOURS :
    suspendus (pas supprimés), sessions fermées, eux et leur administrateur prévenus. La
    référence est la dernière connexion, ou la création, ou la dernière réouverture. Renvoie
    (avertis, suspendus)."""
    from django.db.models import F

    maintenant = maintenant or timezone.now()
    jour = timezone.localdate(maintenant)
    avertir_avant = maintenant - datetime.timedelta(days=settings.INACTIVITE_AVERTISSEMENT_JOURS)
    suspendre_avant = maintenant - datetime.timedelta(days=settings.INACTIVITE_SUSPENSION_JOURS)
    comptes = (
        Utilisateur.objects.ouverts(jour)
        .filter(organisme__isnull=False, suspendu_le__isnull=True, is_active=True)
        .annotate(reference=reference_activite())
    )
    suspendus = 0
    for user in comptes.filter(reference__lte=suspendre_avant):
        with transaction.atomic():
            Utilisateur.objects.filter(pk=user.pk).update(suspendu_le=maintenant)
            audit_enregistrer(
                par=None,
                action="utilisateur_suspendre",
                cible=user,
                apres={"derniere_activite": user.reference.isoformat()},
            )
            _prevenir_inactivite(user, jour=jour, suspension=True)
            transaction.on_commit(lambda user=user: sessions_fermer(utilisateur=user))
        suspendus += 1
    avertis = 0
    a_avertir = comptes.filter(reference__lte=avertir_avant, reference__gt=suspendre_avant).filter(
        Q(inactivite_avertie_le__isnull=True) | Q(inactivite_avertie_le__lt=F("reference"))
    )
    for user in a_avertir:
        with transaction.atomic():
            Utilisateur.objects.filter(pk=user.pk).update(inactivite_avertie_le=maintenant)
            audit_enregistrer(par=None, action="utilisateur_avertir_inactivite", cible=user)
            _prevenir_inactivite(user, jour=jour, suspension=False)
        avertis += 1
    return avertis, suspendus


def _prevenir_inactivite(user: Utilisateur, *, jour: datetime.date, suspension: bool) -> None:
    contexte = {
        "utilisateur": user,
        "reference": timezone.localtime(user.reference),
        "suspension": suspension,
        "suspension_le": timezone.localtime(user.reference)
        + datetime.timedelta(days=settings.INACTIVITE_SUSPENSION_JOURS),
        "mois": settings.INACTIVITE_AVERTISSEMENT_JOURS * 12 // 365,
    }
    courriel_preparer(
        modele="inactivite",
        destinataire=user.email,
        contexte={**contexte, "destinataire": user, "pour_administrateur": False},
    )
    administrateur = _administrateur_de(user, jour)
    if administrateur is not None:
        courriel_preparer(
            modele="inactivite",
            destinataire=administrateur.email,
            contexte={**contexte, "destinataire": administrateur, "pour_administrateur": True},
        )
