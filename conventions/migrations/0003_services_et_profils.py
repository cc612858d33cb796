"""Les cinq services en ligne et leurs profils : données de référence, créées par migration."""

from django.db import migrations

SERVICES = [
    ("CDAP", "Consulter dossier", "Consulter les données allocataires en fonction de votre profil organisme ou métier.", 1),
    ("AFAS", "Aide financière d'action sociale",
     "Transmettre vos déclarations de données et visualiser l'estimation du montant de l'Aide Financière d'Action Sociale.", 2),
    ("BAILLEUR", "Espace Bailleur",
     "Planifier des relances, extraire des données, consulter les statistiques et le suivi des déclarations.", 3),
    ("ADONIS", "Adonis", "Déclarer l'activité d'aide et d'accompagnement à domicile et consulter les statistiques.", 4),
    ("DGFIP", "Offre DGFIP", "Consulter les données allocataires utiles aux Directions départementales des Finances publiques.", 5),
]

PROFILS = [
    ("CDAP", "CDAP-T1", "CDAP T1"),
    ("CDAP", "CDAP-T2", "CDAP T2"),
    ("CDAP", "CDAP-T3", "CDAP T3"),
    ("CDAP", "CDAP-SUPERVISION", "Supervision Consulter dossier"),
    ("AFAS", "AFAS-HABILITER", "AFAS-HABILITER"),
    ("AFAS", "AFAS-DECLARER", "AFAS-DECLARER"),
    ("BAILLEUR", "BAILLEUR-GESTION", "Espace Bailleur — gestion"),
    ("ADONIS", "ADONIS-DECLARER", "Adonis — déclarer"),
    ("DGFIP", "DGFIP-CONSULTER", "Offre DGFIP — consulter"),
    ("DGFIP", "DGFIP-SUPERVISION", "Supervision DGFIP"),
]


def creer(apps, schema_editor):
    Service = apps.get_model("conventions", "Service")
    Profil = apps.get_model("conventions", "Profil")
    for code, libelle, description, ordre in SERVICES:
        Service.objects.update_or_create(code=code, defaults={"libelle": libelle, "description": description, "ordre": ordre})
    for service_code, code, libelle in PROFILS:
        Profil.objects.update_or_create(
            code=code, defaults={"libelle": libelle, "service": Service.objects.get(code=service_code)}
        )


class Migration(migrations.Migration):
    dependencies = [("conventions", "0002_initial")]

    operations = [migrations.RunPython(creer, migrations.RunPython.noop)]
