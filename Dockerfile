# The bot in a container: the same `python -m bot` the README runs, as a non-root user, with the
# database and its backups in the /data volume. Build: docker build -t smsbot .
# Run:   docker run -d --name smsbot --env-file .env -v smsbot-data:/data -p 127.0.0.1:8080:8080 \
#          --stop-timeout 30 smsbot
# (or `docker compose up -d`, see compose.yaml). Secrets come from the environment at run time: .env is
# never copied into the image (.dockerignore lets in only what is listed there).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# `python -m bot` imports the package from the working directory, and bot/app.py finds the translation
# catalogs beside it (../locales): both are copied here.
WORKDIR /app

# What `pip install .` builds (pyproject.toml and the four packages) and the catalogs; nothing else.
COPY pyproject.toml ./
COPY bot ./bot
COPY handlers ./handlers
COPY providers ./providers
COPY storage ./storage
COPY locales ./locales

# The project without its dev extras, then every catalog compiled (.po -> .mo) as `make i18n` does: Babel
# is a runtime dependency, so pybabel is installed. A catalog that does not compile fails the build.
RUN pip install . \
    && rm -rf build ./*.egg-info \
    && pybabel compile --statistics -d locales -D messages

# An unprivileged user that owns only /data: the code stays read-only for the process.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin smsbot \
    && mkdir -p /data/backups \
    && chown -R smsbot:smsbot /data

# The database (with its lock and WAL files) and the backups live in the volume, so they outlive the
# container. The HTTP server listens on every interface of the container: /healthz, /readyz, /metrics,
# and the webhook when WEBHOOK_URL is set. Settings given at run time (compose's environment:, -e) win.
ENV DATABASE_PATH=/data/bot.sqlite3 \
    BACKUP_DIR=/data/backups \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8080
VOLUME ["/data"]
EXPOSE 8080

USER smsbot

# /healthz answers while the process is up (bot/runtime/health.py). slim has no curl: Python's urllib,
# which raises (exit 1) on a refused connection, a timeout or a non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('WEB_PORT', '8080') + '/healthz', timeout=4)"]

# SIGTERM (docker stop) is a graceful stop: updates stop, purchases in flight get SHUTDOWN_GRACE_SECONDS
# (20 by default) to finish. Give the container more than that: docker stop -t 30, compose's
# stop_grace_period: 30s.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
