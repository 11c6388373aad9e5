# The portal's container image: one image for the web server and the job engine (the command
# chooses: web, worker, migrate, ...; see deploy/docker-entrypoint.sh and docs/operations.md).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORTAL_PRODUCTION=true \
    STATIC_ROOT=/app/staticfiles \
    PORTAL_VAR_DIR=/var/lib/k5portal \
    HOME=/var/lib/k5portal \
    PROMETHEUS_MULTIPROC_DIR=/run/k5portal/metrics \
    PORT=8000

# A fixed, unprivileged uid, so that an orchestrator can check "not root" without a name.
RUN groupadd --system --gid 10001 k5portal \
 && useradd --system --uid 10001 --gid k5portal --home-dir /var/lib/k5portal --no-create-home \
      --shell /usr/sbin/nologin k5portal

WORKDIR /app
# Dependencies first, so that a code change does not reinstall them. Every pin in
# requirements.txt has a wheel for this platform (psycopg[binary]): no compiler in the image.
COPY requirements.txt ./
RUN pip install --no-compile -r requirements.txt

COPY . .
# Static files are collected at build time, with production storage (hashed names, compressed
# copies). The settings need secrets to load: throwaway ones, made here and never kept.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    K5_CREDENTIAL_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    ALLOWED_HOSTS=build.invalid \
    python manage.py collectstatic --noinput \
 && mkdir -p /var/lib/k5portal /run/k5portal/metrics \
 && chown -R k5portal:k5portal /var/lib/k5portal /run/k5portal

USER k5portal
EXPOSE 8000
ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]
CMD ["web"]
