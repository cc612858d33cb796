"""Argon2id aux paramètres du portail.

Mesuré sur la machine de référence (2 cœurs, argon2-cffi 25.1) : t=3, m=64 MiB, p=2 donne
environ 100 ms par hachage ; le minimum OWASP (t=2, m=19 MiB, p=1) en donne 27 ms. On prend
trois fois plus de mémoire et un passage de plus que ce minimum, pour un coût qu'un utilisateur
ne remarque pas à la connexion et que le verrouillage (5 échecs) borne côté serveur.
``make bench-hash`` refait la mesure.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPortailHasher(Argon2PasswordHasher):
    algorithm = "argon2"  # même préfixe que Django : les empreintes restent interchangeables
    time_cost = 3
    memory_cost = 65536  # en KiB : 64 MiB
    parallelism = 2
