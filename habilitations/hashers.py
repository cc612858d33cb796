"""Argon2id aux paramètres du portail : 7 MiB de mémoire, 19 passes, un fil (t=19, m=7 MiB, p=1).

Ticket 11 : la connexion doit tenir 15 par seconde et par cœur (le dimensionnement de Keycloak)
avec un hacheur au moins au minimum de l'OWASP, et à au moins 90 % du plafond de ce hacheur.

Le minimum de l'OWASP est une famille de réglages équivalents, du plus gourmand en mémoire au
plus gourmand en passes : (46 MiB, t=1), (19 MiB, t=2), (12 MiB, t=3), (9 MiB, t=4), (7 MiB,
t=5), tous à p=1. Le portail prend la ligne à 7 MiB et quatre fois ses passes. Pourquoi :

- La part du plafond est hachage ÷ (hachage + reste de la connexion). Le reste (requête HTTP,
  formulaire, deux requêtes SQL, session) coûte 1,5 ms de Python quand les connexions se
  suivent sans hachage (mesure dans le processus), mais 5 à 7 ms (gunicorn, Django, PostgreSQL)
  quand un hachage passe entre elles : Argon2 remplit des mégaoctets de mémoire et chasse des
  caches du cœur ce que Python et PostgreSQL relisent ensuite. Plus la mémoire du hachage est grande,
  plus le reste grandit (mesuré au calme, un worker) : 19 MiB → 7,5 ms ; 12 MiB → 7,1 ms ;
  7 MiB → 5,3 à 6,2 ms.
- 90 % demandent un hachage d'au moins 9 × le reste ; 15 par seconde, un total d'au plus
  66,7 ms. Au minimum (19 MiB, t=2 : 18 ms), la connexion ne tenait que 73 à 75 % du plafond ;
  à 19 MiB il faudrait t=8 (60 ms, 13,7/s) pour 90 %. À 7 MiB, t=19 donne 51 à 55 ms par
  hachage : 90 à 91 % du plafond et 17 connexions par seconde et par cœur au calme (15,2/s et
  91 % sur la machine chargée).
- Pour l'attaquant hors ligne, le coût d'un essai (mémoire × passes) est 3,5 fois celui du
  réglage (19 MiB, t=2) ; la mémoire par hachage en cours est plus petite (7 MiB au lieu de 19),
  ce qui borne aussi la mémoire qu'un afflux de connexions peut prendre au serveur.

En ligne, le verrouillage (5 échecs par identifiant) et la limite par adresse, vérifiée avant
tout hachage, bornent les essais.

Les empreintes déjà enregistrées à d'autres paramètres restent valables : Django les vérifie
avec les paramètres qu'elles portent, puis les recalcule aux nouveaux à la connexion réussie
(``must_update``, tests/habilitations/test_mots_de_passe.py). ``make bench-hash`` refait la mesure
du hachage seul ; ``make bench`` mesure la connexion et le plafond dans la même course.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher

# Le minimum de l'OWASP (Password Storage Cheat Sheet, Argon2id) : (mémoire en KiB, passes), p=1.
MINIMUMS_OWASP = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))


class Argon2idPortailHasher(Argon2PasswordHasher):
    algorithm = "argon2"  # même préfixe que Django : les empreintes restent interchangeables
    time_cost = 19
    memory_cost = 7168  # en KiB : 7 MiB
    parallelism = 1
