"""Argon2id aux paramètres du portail : le minimum de l'OWASP (t=2, m=19 MiB, p=1).

Ticket 11 : la connexion doit tenir 15 par seconde et par cœur (le dimensionnement de Keycloak)
à au moins 90 % du plafond du hacheur. L'ancien choix (t=3, m=64 MiB, p=2, environ 100 ms par
hachage, deux fils) plafonnait la machine de référence à 8 hachages par seconde ; le minimum OWASP
en donne 27 ms sur un fil, soit plus de 30 par seconde et par cœur. La résistance aux essais hors
ligne reste celle que l'OWASP juge suffisante ; en ligne, le verrouillage (5 échecs par
identifiant) et la limite par adresse, vérifiée avant tout hachage, bornent les essais.

Les empreintes déjà enregistrées aux anciens paramètres restent valables : Django les vérifie
avec les paramètres qu'elles portent, puis les recalcule aux nouveaux à la connexion réussie
(``must_update``, tests/habilitations/test_mots_de_passe.py). ``make bench-hash`` refait la mesure.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPortailHasher(Argon2PasswordHasher):
    algorithm = "argon2"  # même préfixe que Django : les empreintes restent interchangeables
    time_cost = 2
    memory_cost = 19456  # en KiB : 19 MiB
    parallelism = 1
