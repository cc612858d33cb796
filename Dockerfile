# Image du Portail Partenaires (web, worker et beat : voir docker-compose.yml).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Bibliothèques et polices dont WeasyPrint (génération de PDF) a besoin.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dépendances d'abord : cette couche reste en cache tant que requirements.txt ne change pas.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

ENV DJANGO_SETTINGS_MODULE=portail.settings.prod

# Fichiers statiques (servis par whitenoise). La clé n'existe que le temps de cette commande.
RUN DJANGO_SECRET_KEY=construction-de-l-image-uniquement python manage.py collectstatic --noinput

# Le code et les fichiers statiques appartiennent à root : l'application ne peut pas les modifier.
RUN useradd --create-home --uid 10001 --user-group portail
USER portail

EXPOSE 8000

CMD ["gunicorn", "portail.wsgi:application", "--bind=0.0.0.0:8000", "--workers=3", "--worker-tmp-dir=/dev/shm", "--access-logfile=-"]
