"""Contrôles de panne, scriptés et rejouables (issue 10) : sur une pile réelle et jetable
(PostgreSQL, Redis, gunicorn en réglages de production, worker et beat Celery), démarrée par le
test lui-même (tests/pannes/pile.py).

1. Redis arrêté 60 s pendant des créations de compte et des « Mot de passe oublié ? » : aucune
   erreur 500, aucun courriel perdu, aucun envoyé deux fois.
2. PostgreSQL redémarré au milieu d'une rafale de requêtes : des erreurs propres pendant la
   coupure (le serveur répond toujours), puis tout repart sans redémarrer gunicorn.
3. Une tâche Celery livrée deux fois : rien n'est fait deux fois.

Les chiffres de chaque contrôle sont affichés (``-s``) et repris dans le README.
"""

import collections
import threading
import time
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.pannes.pile import Navigateur, attendre

pytestmark = pytest.mark.panne

COUPURE_REDIS = 60  # secondes
DELAI_RATTRAPAGE = 240  # balayage de la boîte d'envoi chaque minute, reconnexion du worker


def _tous_envoyes(pile) -> bool:
    return pile.sql("select count(*) from portail_courriel where envoye_le is null") == "0"


def _courriels_en_base(pile) -> list[tuple[str, str]]:
    lignes = pile.sql("select destinataire || '|' || sujet from portail_courriel order by id").splitlines()
    return [tuple(ligne.split("|", 1)) for ligne in lignes if ligne]


def _verifier_un_envoi_par_courriel(pile) -> collections.Counter:
    envoyes = collections.Counter(pile.courriels_envoyes())
    attendus = collections.Counter(_courriels_en_base(pile))
    doublons = {k: n for k, n in envoyes.items() if n > attendus.get(k, 0)}
    perdus = {k: n for k, n in attendus.items() if envoyes.get(k, 0) < n}
    assert not doublons, f"envoyés deux fois : {doublons}"
    assert not perdus, f"perdus : {perdus}"
    return envoyes


def test_redis_arrete_60_s_pendant_creations_et_mots_de_passe_oublies(pile):
    convention = pile.donnees["convention"]
    admin = Navigateur(pile.web_port, pile.donnees["session"])
    anonyme = Navigateur(pile.web_port)
    creer = reverse("gestion:utilisateur_creer", args=[convention])
    oublie = reverse("habilitations:mot_de_passe_oublie")
    attendre(lambda: _tous_envoyes(pile), DELAI_RATTRAPAGE, "courriels de départ envoyés")
    avant = len(_courriels_en_base(pile))

    pile.redis_arreter()
    debut = time.monotonic()
    statuts = collections.Counter()
    for i in range(3):
        jeton = admin.jeton(creer)
        donnees = {
            "jeton": jeton,
            "nom": f"Panne{i}",
            "prenom": "Redis",
            "email": f"panne{i}@bozouls.test",
            "email_confirmation": f"panne{i}@bozouls.test",
            "poste": "sedentaire",
            "date_ouverture": datetime.now(UTC).date().isoformat(),
        }
        statut, _, _ = admin.post(creer, donnees)
        statuts[f"création {statut}"] += 1
        # Double soumission pendant la panne : toujours un seul compte.
        statut, _, _ = admin.post(creer, donnees)
        statuts[f"création renvoyée {statut}"] += 1
    anonyme.get(oublie)
    for identifiant in (pile.donnees["membre"], "INCONNU0001", pile.donnees["administrateur"], "INCONNU0002"):
        statut, _, _ = anonyme.post(oublie, {"identifiant": identifiant})
        statuts[f"oubli {statut}"] += 1
    duree_requetes = time.monotonic() - debut
    time.sleep(max(0.0, COUPURE_REDIS - duree_requetes))
    pile.redis_demarrer()
    retour = time.monotonic()

    attendre(lambda: _tous_envoyes(pile), DELAI_RATTRAPAGE, "tous les courriels partis après le retour de Redis", 1)
    rattrapage = time.monotonic() - retour
    envoyes = _verifier_un_envoi_par_courriel(pile)
    nouveaux = len(_courriels_en_base(pile)) - avant
    comptes = pile.sql("select count(*) from habilitations_utilisateur where nom like 'Panne%'")
    print(
        f"\nRedis arrêté {COUPURE_REDIS} s : réponses {dict(statuts)} (requêtes en {duree_requetes:.1f} s) ; "
        f"{comptes} comptes créés ; {nouveaux} courriels écrits pendant la panne, tous partis "
        f"{rattrapage:.0f} s après le retour de Redis ; {sum(envoyes.values())} envoyés au total, aucun en double."
    )
    assert not [s for s in statuts if s.endswith(" 500")], statuts
    assert statuts["création 302"] == 3 and statuts["oubli 302"] == 4, statuts
    assert comptes == "3"
    # 3 comptes : identifiant + mot de passe provisoire ; 2 comptes existants : un provisoire.
    assert nouveaux == 3 * 2 + 2


def test_postgresql_redemarre_pendant_une_rafale(pile):
    admin = Navigateur(pile.web_port, pile.donnees["session"])
    profil = reverse("habilitations:profil")
    assert admin.get(profil)[0] == 200
    resultats: list[tuple[float, str, float]] = []
    arret = threading.Event()
    debut = time.monotonic()

    def rafale():
        client = Navigateur(pile.web_port, pile.donnees["session"])
        while not arret.is_set():
            t = time.monotonic()
            try:
                statut = str(client.get(profil, delai=15)[0])
            except OSError as exc:
                statut = type(exc).__name__
            resultats.append((t - debut, statut, time.monotonic() - t))

    fils = [threading.Thread(target=rafale) for _ in range(4)]
    for fil in fils:
        fil.start()
    time.sleep(5)
    coupure = time.monotonic() - debut
    pile.postgresql_redemarrer()
    reprise = time.monotonic() - debut
    time.sleep(10)
    arret.set()
    for fil in fils:
        fil.join(timeout=30)

    # Par moment : finie avant la coupure, commencée après la reprise, ou à cheval.
    avant = collections.Counter(s for t, s, d in resultats if t + d < coupure)
    apres = collections.Counter(s for t, s, _ in resultats if t >= reprise)
    pendant = collections.Counter(s for t, s, d in resultats if t + d >= coupure and t < reprise)
    plus_long = max(d for _, _, d in resultats)
    print(
        f"\nPostgreSQL redémarré ({reprise - coupure:.1f} s) pendant 4 clients en boucle : avant {dict(avant)}, "
        f"pendant {dict(pendant)}, après {dict(apres)} ; réponse la plus longue {plus_long:.1f} s ; "
        "gunicorn jamais redémarré."
    )
    # Le serveur a toujours répondu, par une page ou une erreur HTTP (400 : session non
    # enregistrée ; 500), jamais par une connexion coupée ni une attente sans fin ...
    assert set(avant) == {"200"}, avant
    assert set(pendant) <= {"200", "400", "500", "503"}, pendant
    assert plus_long < 15
    # ... et, PostgreSQL revenu, chaque requête réussit.
    assert set(apres) == {"200"}, apres
    assert sum(apres.values()) > 10

    # Redémarrage au calme : chaque processus web garde une connexion persistante morte. Sans
    # vérification avant usage (CONN_HEALTH_CHECKS), sa première requête serait une erreur 500.
    pile.postgresql_redemarrer()
    premieres = collections.Counter(str(admin.get(profil)[0]) for _ in range(8))
    print(f"Redémarrage au calme, 8 requêtes ensuite : {dict(premieres)}")
    assert set(premieres) == {"200"}, premieres


def test_une_tache_livree_deux_fois_ne_fait_rien_deux_fois(pile):
    attendre(lambda: _tous_envoyes(pile), DELAI_RATTRAPAGE, "boîte d'envoi vide au départ")
    script = f"""
import django; django.setup()
from django.utils import timezone
from portail.models import Courriel
from portail.tasks import envoyer_courriel
from habilitations.tasks import mot_de_passe_oublie
courriel = Courriel.objects.create(modele="identifiant", destinataire="double@bozouls.test", sujet="Livré deux fois", corps=".")
for _ in range(2):
    envoyer_courriel.apply_async((courriel.pk,))
demande_le = timezone.now().isoformat()
for _ in range(2):
    mot_de_passe_oublie.apply_async(({pile.donnees["membre"]!r}, demande_le))
"""
    avant = collections.Counter(pile.courriels_envoyes())
    pile.manage("shell", "-c", script)
    membre_email = pile.sql(
        f"select email from habilitations_utilisateur where identifiant = '{pile.donnees['membre']}'"  # noqa: S608
    )
    attendre(
        lambda: (
            pile.sql("select count(*) from portail_courriel where envoye_le is null") == "0"
            and pile.sql(f"select count(*) from portail_courriel where destinataire = '{membre_email}'") != ""  # noqa: S608
        ),
        60,
        "les deux livraisons traitées",
        0.5,
    )
    time.sleep(5)  # laisser à une éventuelle seconde livraison le temps d'agir
    apres = collections.Counter(pile.courriels_envoyes()) - avant
    provisoires = [k for k in apres if k[0] == membre_email]
    print(f"\nTâches livrées deux fois : {dict(apres)}")
    assert apres[("double@bozouls.test", "Livré deux fois")] == 1
    assert sum(apres[k] for k in provisoires) == 1, apres
    _verifier_un_envoi_par_courriel(pile)
