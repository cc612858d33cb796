# Portail Partenaires. `make run` : le portail en local ; `make test` : toute la suite.
# Le premier Python >= 3.12 qui fonctionne vraiment (un shim pyenv peut exister sans marcher).
PYTHON_SYSTEME ?= $(shell for p in python3.12 python3.13 python3.14 $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEPS := $(VENV)/.deps-installees

.PHONY: install run demo test test-e2e verify lint format check lock bench-hash bench bench-donnees clean

$(PY):
	$(PYTHON_SYSTEME) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(DEPS): requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(DEPS)

## install : environnement virtuel et dépendances épinglées
install: $(DEPS)

## run : migre, charge les données de démonstration, sert http://127.0.0.1:8000 (SQLite, tâches immédiates)
run: install
	DJANGO_SETTINGS_MODULE=portail.settings.dev $(PY) manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=portail.settings.dev $(PY) manage.py demo
	DJANGO_SETTINGS_MODULE=portail.settings.dev $(PY) manage.py runserver 127.0.0.1:8000

demo: install
	DJANGO_SETTINGS_MODULE=portail.settings.dev $(PY) manage.py demo

## test : contrôles Django, migrations, puis toute la suite pytest (navigateur compris si chromium est là),
## répartie sur un processus par cœur (pytest-xdist ; chacun sa base de test et sa file Celery)
PYTEST_PROCESSUS ?= auto
test: install
	DJANGO_SETTINGS_MODULE=portail.settings.test $(PY) manage.py check
	DJANGO_SETTINGS_MODULE=portail.settings.test $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest -n $(PYTEST_PROCESSUS) --dist worksteal --durations=20

test-e2e: install
	$(PY) -m pytest tests/e2e

## verify : contrôles de panne (Redis arrêté, PostgreSQL redémarré, tâche livrée deux fois) sur une
## pile jetable démarrée par le test (PostgreSQL et Redis installés requis) ; quelques minutes
verify: install
	$(PY) -m pytest tests/pannes -m panne -s

## lint : ruff (règles et format), couches et cycles d'imports (import-linter, contrats dans pyproject.toml)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## check : contrôle de déploiement avec les réglages de production
check: install
	DJANGO_SETTINGS_MODULE=portail.settings.prod DJANGO_SECRET_KEY=$$(openssl rand -hex 40) DJANGO_ALLOWED_HOSTS=portail.example $(PY) manage.py check --deploy --fail-level WARNING

lock:
	$(PYTHON_SYSTEME) -m venv /tmp/portail-lock && /tmp/portail-lock/bin/pip install -q -r requirements.in
	( echo "# Generated from requirements.in by 'make lock'. Every runtime dependency, pinned."; /tmp/portail-lock/bin/pip freeze ) > requirements.txt
	rm -rf /tmp/portail-lock

bench-hash: install
	DJANGO_SETTINGS_MODULE=portail.settings.dev $(PY) manage.py mesurer_hachage

## bench-donnees : remplit la base de DATABASE_URL avec des données générées (ECHELLE=demo|departement|nationale)
ECHELLE ?= departement
GRAINE ?= 1
bench-donnees: install
	@test -n "$$DATABASE_URL" || { echo "DATABASE_URL (PostgreSQL) est requis : voir README, « Données à l'échelle et banc d'essai »."; exit 1; }
	DJANGO_SETTINGS_MODULE=portail.settings.bench $(PY) manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=portail.settings.bench $(PY) manage.py generer_donnees --echelle $(ECHELLE) --graine $(GRAINE) --remplacer

## bench : gunicorn (réglages bench) sur les données générées, charge bornée, tableau et bench/results/*.json
bench: install
	@test -n "$$DATABASE_URL" || { echo "DATABASE_URL (PostgreSQL) est requis : voir README, « Données à l'échelle et banc d'essai »."; exit 1; }
	DJANGO_SETTINGS_MODULE=portail.settings.bench $(PY) manage.py collectstatic --noinput -v0
	$(PY) bench/banc.py $(BANC_OPTIONS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
