# Les demandes de validation portent une copie de ce qui ne change jamais dans leur habilitation
# (compte, partenaire de la convention, activité, date de début) : la file de la Caf se trie par
# ces colonnes sans joindre les habilitations. Ajoutées vides, remplies depuis l'habilitation,
# puis obligatoires.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copier_depuis_les_habilitations(apps, schema_editor):
    ValidationApprobateur = apps.get_model("afas", "ValidationApprobateur")
    HabilitationAfas = apps.get_model("afas", "HabilitationAfas")
    habilitation = HabilitationAfas.objects.filter(pk=OuterRef("habilitation_id"))
    ValidationApprobateur.objects.update(
        utilisateur_id=Subquery(habilitation.values("utilisateur_id")[:1]),
        organisme_id=Subquery(habilitation.values("convention__organisme_id")[:1]),
        activite_id=Subquery(habilitation.values("activite_id")[:1]),
        date_ouverture=Subquery(habilitation.values("date_ouverture")[:1]),
    )


class Migration(migrations.Migration):

    dependencies = [
        ("afas", "0007_index_validations_par_cles"),
        ("conventions", "0006_siret_chiffres_ascii"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="validationapprobateur",
            name="utilisateur",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="approbateur",
            ),
        ),
        migrations.AddField(
            model_name="validationapprobateur",
            name="organisme",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="conventions.organisme",
                verbose_name="partenaire",
            ),
        ),
        migrations.AddField(
            model_name="validationapprobateur",
            name="activite",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="afas.activite",
                verbose_name="activité",
            ),
        ),
        migrations.AddField(
            model_name="validationapprobateur",
            name="date_ouverture",
            field=models.DateField(editable=False, null=True, verbose_name="début de l'habilitation"),
        ),
        migrations.RunPython(copier_depuis_les_habilitations, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="validationapprobateur",
            name="utilisateur",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="approbateur",
            ),
        ),
        migrations.AlterField(
            model_name="validationapprobateur",
            name="organisme",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="conventions.organisme",
                verbose_name="partenaire",
            ),
        ),
        migrations.AlterField(
            model_name="validationapprobateur",
            name="activite",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="afas.activite",
                verbose_name="activité",
            ),
        ),
        migrations.AlterField(
            model_name="validationapprobateur",
            name="date_ouverture",
            field=models.DateField(editable=False, verbose_name="début de l'habilitation"),
        ),
        migrations.RemoveIndex(
            model_name="validationapprobateur",
            name="validation_caf_decision_tri",
        ),
        migrations.AddIndex(
            model_name="validationapprobateur",
            index=models.Index(
                fields=["caf", "decision", "demandee_le", "id", "organisme", "utilisateur", "activite"],
                name="validation_caf_decision_tri",
            ),
        ),
        migrations.AddIndex(
            model_name="validationapprobateur",
            index=models.Index(
                fields=["caf", "decision", "date_ouverture", "demandee_le", "id"], name="validation_caf_debut_tri"
            ),
        ),
    ]
