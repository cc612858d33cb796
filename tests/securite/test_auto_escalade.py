"""La garde d'auto-escalade (issue 10) : pour chaque persona, aucune suite de requêtes sur une
adresse d'écriture du registre ne lui donne, à elle-même, un profil, une appartenance, une
responsabilité de groupe, une convention à administrer ou une date qu'elle n'avait pas.

Les adresses sont celles du registre dont ``pk`` désigne un utilisateur, une appartenance ou un
groupe (``cible``) : la garde y met sa propre clé (son compte, ses appartenances, ses groupes),
lit les formulaires de la page, et envoie chaque choix de chaque liste (le groupe où se remettre,
le compte à ajouter : le sien) avec des dates qui reculent l'ouverture ou effacent la clôture.
Se retirer un accès reste permis : la garde vérifie qu'on ne gagne rien, jour par jour, sur un
an (une clôture effacée ne se voit qu'après sa date)."""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from afas.enums import Portee, RoleAfas
from afas.models import HabilitationAfas, ValidationApprobateur
from habilitations import perms
from habilitations.models import Appartenance, Groupe, Utilisateur
from portail.socle.dates import aujourdhui
from tests.securite import formulaires, registre
from tests.securite.conftest import connecter

PERSONAS = ("administrateur", "habilitateur", "responsable", "membre", "declarant", "agent_caf")
JOURS = (0, 1, 2, 30, 365)
OPTIONS_PAR_LISTE = 8


@dataclass(frozen=True)
class Acces:
    """Tout ce qui donne accès à une persona, jour par jour."""

    profils: dict[int, frozenset[int]]
    responsable_de: dict[int, frozenset[int]]
    administre: dict[int, frozenset[int]]
    appartenances: frozenset[tuple[int, datetime.date, datetime.date | None]]
    compte: tuple
    # AFAS (issue 12) : ses rôles actifs jour par jour, et toutes ses habilitations.
    roles_afas: dict[int, frozenset[int]]
    habilitations_afas: frozenset[tuple]

    @classmethod
    def de(cls, user: Utilisateur) -> Acces:
        user = Utilisateur.objects.get(pk=user.pk)
        jours = {n: aujourdhui() + datetime.timedelta(days=n) for n in JOURS}
        return cls(
            profils={
                n: frozenset(perms.profils_effectifs(user, j).values_list("pk", flat=True)) for n, j in jours.items()
            },
            responsable_de={
                n: frozenset(perms.groupes_responsable(user, j).values_list("pk", flat=True)) for n, j in jours.items()
            },
            administre={
                n: frozenset(perms.conventions_administrees(user, j).values_list("pk", flat=True))
                for n, j in jours.items()
            },
            appartenances=frozenset(
                Appartenance.objects.filter(utilisateur=user).values_list("groupe_id", "date_ouverture", "date_cloture")
            ),
            compte=(
                user.date_ouverture,
                user.date_cloture,
                user.suspendu_le is not None,
                user.is_staff,
                user.is_superuser,
                user.caf_id,
                user.organisme_id,
                user.convention_id,
                frozenset(user.user_permissions.values_list("pk", flat=True)),
            ),
            roles_afas={
                n: frozenset(HabilitationAfas.objects.filter(utilisateur=user).actives(j).values_list("pk", flat=True))
                for n, j in jours.items()
            },
            habilitations_afas=frozenset(
                HabilitationAfas.objects.filter(utilisateur=user).values_list(
                    "pk", "role", "activite_id", "lieu_id", "date_ouverture", "date_cloture", "validation__decision"
                )
            ),
        )

    def gains_depuis(self, avant: Acces) -> list[str]:
        gains = []
        for nom in ("profils", "responsable_de", "administre", "roles_afas"):
            for n in JOURS:
                nouveaux = getattr(self, nom)[n] - getattr(avant, nom)[n]
                if nouveaux:
                    gains.append(f"{nom} à J+{n} : {sorted(nouveaux)}")
        for groupe, debut, fin in self.appartenances:
            couverte = any(
                g == groupe and d <= debut and (f is None or (fin is not None and fin <= f))
                for g, d, f in avant.appartenances
            )
            if not couverte:
                gains.append(f"appartenance au groupe {groupe} du {debut} au {fin}")
        (debut, fin, suspendu, *reste), (debut_av, fin_av, suspendu_av, *reste_av) = self.compte, avant.compte
        if debut < debut_av or (fin_av is not None and (fin is None or fin > fin_av)) or (suspendu_av and not suspendu):
            gains.append(f"compte rouvert ou prolongé : {avant.compte[:3]} → {self.compte[:3]}")
        anciennes = {h[0]: h for h in avant.habilitations_afas}
        for h in self.habilitations_afas:
            if h[0] not in anciennes:
                gains.append(f"rôle AFAS {h[1]} sur l'activité {h[2]} (lieu {h[3]})")
            elif h[6] != anciennes[h[0]][6] and h[6] == "validee":
                gains.append(f"approbation AFAS {h[0]} validée")
        if reste != reste_av:
            gains.append("rattachement ou permissions du compte changés")
        return gains


def _ses_cles(monde, user: Utilisateur, cible: str) -> list[int]:
    """Les clés qui le désignent, lui : son compte, ses appartenances, ses groupes."""
    if cible == "utilisateur":
        return [user.pk]
    if cible == "appartenance":
        return list(Appartenance.objects.filter(utilisateur=user).values_list("pk", flat=True))
    if cible == "habilitation_afas":
        return list(HabilitationAfas.objects.filter(utilisateur=user).values_list("pk", flat=True))
    if cible == "validation_afas":
        return list(ValidationApprobateur.objects.filter(habilitation__utilisateur=user).values_list("pk", flat=True))
    groupes = Groupe.objects.filter(convention=monde.convention).order_by("pk")
    return sorted(
        set(groupes.filter(appartenances__utilisateur=user).values_list("pk", flat=True))
        | set(groupes.filter(responsable=user).values_list("pk", flat=True))
    )


def _envois(user: Utilisateur, formulaire: formulaires.Formulaire):
    """Chaque choix de chaque liste (le sien d'abord), avec deux jeux de dates : ouverture
    reculée d'un mois et clôture effacée ; ouverture du jour et clôture dans dix ans."""
    soi = {str(user.pk), user.identifiant}
    listes = {n: c for n, c in formulaire.champs.items() if c.type in ("select", "radio", "checkbox") and c.options}
    dates = (
        {"date_ouverture": (aujourdhui() - datetime.timedelta(days=30)).isoformat(), "date_cloture": ""},
        {"date_ouverture": aujourdhui().isoformat(), "date_cloture": f"{aujourdhui().year + 10}-01-01"},
    )
    choix_par_liste = [
        [(nom, o) for o in sorted(c.options, key=lambda o: o not in soi)[:OPTIONS_PAR_LISTE] if o] or [(nom, "")]
        for nom, c in listes.items()
    ]
    combinaisons = list(itertools.product(*choix_par_liste))[: OPTIONS_PAR_LISTE * 2] or [()]
    for choix, jeu in itertools.product(combinaisons, dates):
        envoi = {n: c.valeur for n, c in formulaire.champs.items()}
        envoi.update({n: user.identifiant for n, c in formulaire.champs.items() if n in ("utilisateur", "responsable")})
        envoi.update(dict(choix))
        envoi.update({n: v for n, v in jeu.items() if n in formulaire.champs})
        yield envoi


ADRESSES = sorted(
    (nom, p)
    for nom, p in registre.REGISTRE.items()
    if "POST" in p.methodes
    and (p.cible or nom in ("gestion:groupe_creer", "gestion:utilisateur_creer", "afas:habiliter"))
)


@pytest.mark.parametrize("persona", PERSONAS)
def test_personne_ne_s_accorde_rien(client, db, monde, persona):
    user = monde.persona(persona)
    connecter(client, user)
    avant = Acces.de(user)
    requetes = 0
    for nom, p in ADRESSES:
        cles = _ses_cles(monde, user, p.cible) if p.cible else [None]
        for cle in cles:
            kwargs = {**p.kwargs(monde), **({"pk": cle} if cle is not None else {})}
            url = reverse(nom, kwargs=kwargs)
            page = client.get(url)
            requetes += 1
            trouves = []
            if page.status_code == 200:
                trouves = formulaires.formulaires(page.content.decode(), urlsplit(url).path, "post")
            envois = [e for f in trouves for e in _envois(user, f)] or [{}]
            for envoi in envois:
                if "jeton" in envoi:  # jeton contre le double envoi : un neuf à chaque essai
                    envoi["jeton"] = client.get(url).context["jeton"]
                    requetes += 1
                reponse = client.post(url, envoi)
                requetes += 1
                assert reponse.status_code in (200, 302, 403, 404, 405), (nom, envoi, reponse.status_code)
    gains = Acces.de(user).gains_depuis(avant)
    assert not gains, f"{persona} s'est accordé : {gains}"
    assert requetes > len(ADRESSES)


@pytest.mark.parametrize("persona", ["administrateur", "habilitateur", "declarant"])
def test_personne_ne_se_donne_un_role_afas(client, db, monde, persona):
    """HABILITER UN UTILISATEUR envoyé avec sa propre clé (le formulaire ne la propose pas) :
    chaque rôle, sur l'activité, sur son lieu, sur « toutes les activités » ; et l'approbateur en
    attente ne valide pas sa propre demande. Rien n'est gagné."""
    user = monde.persona(persona)
    connecter(client, user)
    avant = Acces.de(user)
    base = {"partenaire": monde.convention.pk, "utilisateur": user.pk, "date_ouverture": aujourdhui().isoformat()}
    for role, portee, bouton in itertools.product(RoleAfas.values, Portee.values, ("enregistrer", "quitter")):
        envoi = {
            **base,
            "role": role,
            "portee": portee,
            "activites": [monde.activite.pk],
            "lieux": [monde.lieu.pk],
            "toutes_activite": [monde.activite.pk],
            "toutes": "on",
            bouton: "1",
        }
        assert client.post(reverse("afas:habiliter"), envoi).status_code in (200, 403)
    for nom in ("afas:valider", "afas:refuser"):
        reponse = client.post(reverse(nom, kwargs={"pk": monde.validation.pk}), {"motif": "Moi-même"})
        assert reponse.status_code in (403, 404)
    gains = Acces.de(user).gains_depuis(avant)
    assert not gains, f"{persona} s'est accordé : {gains}"
