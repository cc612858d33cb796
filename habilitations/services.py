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

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from conventions.models import Caf, Organisme
from habilitations.enums import Poste
from habilitations.models import CompteurIdentifiant, SessionUtilisateur, Utilisateur
from portail.audit import audit_enregistrer
from portail.dates import aujourdhui
from portail.emails import courriel_preparer

logger = logging.getLogger(__name__)

ALPHABET_PROVISOIRE = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
LONGUEUR_PROVISOIRE = 16
SEL_CHANGEMENT_EMAIL = "habilitations.changement-email"
DUREE_LIEN_EMAIL = datetime.timedelta(days=2)


class ErreurMetier(Exception):
    """Une règle métier refuse l'opération ; le message est destiné à l'utilisateur."""


def _lettres(texte: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", texte).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_.upper() if c.isalpha())


def identifiant_generer(*, caf: Caf | None, organisme: Organisme | None) -> str:
    """Trois lettres, le code Caf sur trois chiffres, un numéro d'ordre sur quatre chiffres,
    comme ``COM0120009``. Les lettres viennent de l'organisme (« CAF » pour un agent) ; le
    numéro est attribué sous verrou de ligne, donc unique même en cas de créations simultanées."""
    code_caf = caf.code if caf else (organisme.caf.code if organisme else "000")
    prefixe = "CAF" if caf else (_lettres(organisme.raison_sociale)[:3] if organisme else "PPA")
    prefixe = prefixe.ljust(3, "X")
    with transaction.atomic():
        try:
            with transaction.atomic():
                CompteurIdentifiant.objects.get_or_create(code_caf=code_caf)
        except IntegrityError:
            pass  # créé au même instant par une autre transaction
        compteur = CompteurIdentifiant.objects.select_for_update().get(code_caf=code_caf)
        while True:
            compteur.dernier += 1
            identifiant = f"{prefixe}{code_caf}{compteur.dernier:04d}"
            if not Utilisateur.objects.filter(identifiant=identifiant).exists():
                break
        compteur.save(update_fields=["dernier"])
    return identifiant


@transaction.atomic
def utilisateur_creer(
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
) -> Utilisateur:
    """Crée un compte sans mot de passe utilisable et envoie deux courriels : l'identifiant,
    puis le mot de passe provisoire (valable 24 heures)."""
    if caf is not None and organisme is not None:
        raise ErreurMetier("Un compte est soit celui d'un agent Caf, soit celui d'un partenaire, pas les deux.")
    date_ouverture = date_ouverture or aujourdhui()
    if date_cloture is not None and date_cloture <= date_ouverture:
        raise ErreurMetier("La date de clôture doit être postérieure à la date d'ouverture.")
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
    )
    user.set_unusable_password()
    user.save()
    audit_enregistrer(
        par=par,
        action="utilisateur_creer",
        cible=user,
        apres={
            "identifiant": user.identifiant,
            "date_ouverture": str(date_ouverture),
            "caf": caf and caf.code,
            "organisme": organisme and organisme.pk,
        },
    )
    courriel_preparer(modele="identifiant", destinataire=user.email, contexte={"utilisateur": user})
    mot_de_passe_provisoire_emettre(utilisateur=user, par=par)
    logger.info("utilisateur %s créé", user.pk)
    return user


@transaction.atomic
def mot_de_passe_provisoire_emettre(*, utilisateur: Utilisateur, par: Utilisateur | None) -> None:
    """Tire un mot de passe provisoire aléatoire, n'en garde que l'empreinte, l'envoie par
    courriel. Valable 24 heures, une seule connexion. Le mot de passe personnel éventuel reste
    valable : demander un mot de passe provisoire ne permet pas de bloquer le compte d'autrui."""
    provisoire = "".join(secrets.choice(ALPHABET_PROVISOIRE) for _ in range(LONGUEUR_PROVISOIRE))
    utilisateur.mot_de_passe_provisoire = make_password(provisoire)
    utilisateur.mot_de_passe_provisoire_expire_le = timezone.now() + settings.MOT_DE_PASSE_PROVISOIRE_DUREE
    utilisateur.mot_de_passe_provisoire_utilise_le = None
    utilisateur.save(
        update_fields=[
            "mot_de_passe_provisoire",
            "mot_de_passe_provisoire_expire_le",
            "mot_de_passe_provisoire_utilise_le",
        ]
    )
    audit_enregistrer(par=par, action="mot_de_passe_provisoire_emettre", cible=utilisateur)
    courriel_preparer(
        modele="mot_de_passe_provisoire",
        destinataire=utilisateur.email,
        contexte={
            "utilisateur": utilisateur,
            "mot_de_passe": provisoire,
            "expire_le": utilisateur.mot_de_passe_provisoire_expire_le,
        },
    )


def mot_de_passe_oublie(*, identifiant: str) -> None:
    """Envoie un nouveau mot de passe provisoire si l'identifiant désigne un compte ouvert.
    Ne dit rien sinon : la page répond la même chose dans tous les cas."""
    user = Utilisateur.objects.filter(identifiant=identifiant.strip().upper()).first()
    if user is None or not user.is_active or not user.est_ouvert():
        logger.info("mot de passe oublié : aucun compte ouvert pour la demande")
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
    if date_cloture < aujourdhui():
        raise ErreurMetier("La date de clôture ne peut pas être passée.")
    from conventions.services import mandats_bloquant_cloture

    bloquants = mandats_bloquant_cloture(utilisateur, date_cloture)
    if bloquants:
        libelles = ", ".join(f"« {m.convention.libelle} »" for m in bloquants)
        raise ErreurMetier(
            f"{utilisateur.get_full_name()} est l'administrateur de la convention {libelles} : une "
            "convention a toujours un administrateur. Demandez d'abord à la Caf un avenant qui nomme "
            "son successeur ; le compte pourra être clôturé à partir de la date d'effet de l'avenant."
        )
    avant = {"date_cloture": str(utilisateur.date_cloture) if utilisateur.date_cloture else None}
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
    compte ne change qu'à la confirmation."""
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


@transaction.atomic
def groupe_creer(
    *,
    par: Utilisateur | None,
    convention,
    code: str,
    libelle: str,
    responsable: Utilisateur,
    date_ouverture: datetime.date | None = None,
    date_cloture: datetime.date | None = None,
    parent=None,
):
    """Crée un groupe d'une convention ; niveau = celui du parent + 1 (premier jet : les écrans et
    les règles de délégation viennent avec l'issue « gestion des habilitations »)."""
    from habilitations.models import Groupe

    if parent is not None and parent.convention_id != convention.pk:
        raise ErreurMetier("Le groupe parent doit appartenir à la même convention.")
    groupe = Groupe.objects.create(
        convention=convention,
        code=code.strip(),
        libelle=libelle.strip(),
        responsable=responsable,
        parent=parent,
        niveau=(parent.niveau + 1) if parent else 1,
        date_ouverture=date_ouverture or aujourdhui(),
        date_cloture=date_cloture,
    )
    audit_enregistrer(
        par=par, action="groupe_creer", cible=groupe, apres={"code": groupe.code, "convention": convention.pk}
    )
    return groupe


@transaction.atomic
def groupe_profil_ajouter(*, par: Utilisateur | None, groupe, profil) -> None:
    """Donne un profil à un groupe : seulement un profil que la convention accorde, et, pour un
    sous-groupe, seulement un profil que son parent détient (la délégation n'accorde jamais plus)."""
    from habilitations.models import GroupeProfil

    if not groupe.convention.profils.filter(pk=profil.pk).exists():
        raise ErreurMetier(f"La convention n'accorde pas le profil « {profil.libelle} ».")
    if groupe.parent_id and not groupe.parent.profils.filter(pk=profil.pk).exists():
        raise ErreurMetier(f"Le groupe parent ne détient pas le profil « {profil.libelle} ».")
    GroupeProfil.objects.get_or_create(groupe=groupe, profil=profil)
    audit_enregistrer(par=par, action="groupe_profil_ajouter", cible=groupe, apres={"profil": profil.code})


@transaction.atomic
def appartenance_ouvrir(
    *,
    par: Utilisateur | None,
    utilisateur: Utilisateur,
    groupe,
    date_ouverture: datetime.date | None = None,
    date_cloture: datetime.date | None = None,
):
    """L'unique porte d'entrée d'un utilisateur dans un groupe, à des dates données."""
    from habilitations.models import Appartenance

    date_ouverture = date_ouverture or aujourdhui()
    if date_cloture is not None and date_cloture <= date_ouverture:
        raise ErreurMetier("La date de clôture doit être postérieure à la date d'ouverture.")
    if utilisateur.est_agent_caf:
        raise ErreurMetier("Un agent Caf ne peut pas être membre d'un groupe d'un partenaire.")
    deja = Appartenance.objects.filter(utilisateur=utilisateur, groupe=groupe).filter(
        models_q_chevauche(date_ouverture, date_cloture)
    )
    if deja.exists():
        raise ErreurMetier("Cet utilisateur appartient déjà à ce groupe sur cette période.")
    appartenance = Appartenance.objects.create(
        utilisateur=utilisateur, groupe=groupe, date_ouverture=date_ouverture, date_cloture=date_cloture
    )
    audit_enregistrer(
        par=par,
        action="appartenance_ouvrir",
        cible=appartenance.groupe,
        apres={
            "utilisateur": utilisateur.identifiant,
            "date_ouverture": str(date_ouverture),
            "date_cloture": str(date_cloture) if date_cloture else None,
        },
    )
    return appartenance


def models_q_chevauche(debut: datetime.date, fin: datetime.date | None):
    """Périodes [date_ouverture, date_cloture) qui chevauchent [debut, fin)."""
    from django.db.models import Q

    q = Q(date_cloture__isnull=True) | Q(date_cloture__gt=debut)
    if fin is not None:
        q &= Q(date_ouverture__lt=fin)
    return q
