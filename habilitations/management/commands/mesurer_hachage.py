"""Mesure le temps d'un hachage Argon2id aux paramètres du portail, à deux lignes du minimum OWASP et aux
paramètres d'avant le ticket 11 ; le plafond de connexions par seconde et par cœur qui en découle
(un hachage par tentative de connexion)."""

import time

import argon2
from django.core.management.base import BaseCommand

from habilitations.hashers import Argon2idPortailHasher


class Command(BaseCommand):
    help = "Mesure le coût d'un hachage de mot de passe (Argon2id)."

    def handle(self, *args, **options):
        cas = [
            (
                "portail",
                Argon2idPortailHasher.time_cost,
                Argon2idPortailHasher.memory_cost,
                Argon2idPortailHasher.parallelism,
            ),
            ("OWASP 19 MiB", 2, 19456, 1),
            ("OWASP 7 MiB", 5, 7168, 1),
            ("avant ticket 11", 3, 65536, 2),
        ]
        for nom, t, m, p in cas:
            hacheur = argon2.PasswordHasher(time_cost=t, memory_cost=m, parallelism=p, type=argon2.Type.ID)
            hacheur.hash("échauffement")
            debut = time.perf_counter()
            for _ in range(10):
                hacheur.hash("une phrase de passe assez longue")
            ms = (time.perf_counter() - debut) / 10 * 1000
            self.stdout.write(
                f"{nom:15} t={t} m={m // 1024} MiB p={p} : {ms:.1f} ms par hachage, "
                f"{1000 / ms / p:.1f} hachages/s par cœur"
            )
