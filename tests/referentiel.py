"""Le référentiel créé par migration, recréé à la demande par les tests qui vident la base."""


def referentiel_recreer() -> None:
    """Services et profils (conventions 0003) et barème national du financement AFAS (afas 0004) :
    données de référence créées par migration, recréées ici de façon idempotente. Le cache des
    types de contenu, lu par les droits objets, est vidé aussi (post_migrate les recrée sous
    d'autres clés après un vidage)."""
    import importlib

    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    from afas.models import ParametreFinancement

    ContentType.objects.clear_cache()
    importlib.import_module("conventions.migrations.0003_services_et_profils").creer(apps, None)
    if not ParametreFinancement.objects.filter(caf__isnull=True).exists():
        importlib.import_module("afas.migrations.0004_financement").bareme_national(apps, None)
