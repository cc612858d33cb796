"""Application Celery du portail.

Sans CELERY_BROKER_URL (mode embarqué), les tâches s'exécutent immédiatement dans le processus
(voir ``CELERY_TASK_ALWAYS_EAGER`` dans les réglages).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portail.settings.dev")

app = Celery("portail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
