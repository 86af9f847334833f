# Songda image: one image for every process; the command picks the role
# (`songda web`, `songda worker`, `songda db upgrade`, `songda run`).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# PDF rendering (WeasyPrint) needs Pango, and libharfbuzz-subset0 -- without it every PDF
# spends seconds subsetting the CJK font in Python. No font package: Songda brings its own
# fonts (templates/fonts, decision 0019) and uses no font of the machine.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system songda \
    && useradd --system --gid songda --home-dir /srv/songda --shell /usr/sbin/nologin songda

# Install from a scratch directory that is removed afterwards, so the installed packages are
# the only copy and the working directory holds no source tree that could shadow them.
WORKDIR /usr/src/songda
COPY pyproject.toml README.md ./
COPY delivery ./delivery
COPY channels ./channels
COPY templates ./templates
COPY tracking ./tracking
COPY escalation ./escalation
RUN pip install --no-cache-dir . \
    && cd / && rm -rf /usr/src/songda

WORKDIR /srv/songda
RUN mkdir -p /srv/songda/var && chown -R songda:songda /srv/songda
VOLUME ["/srv/songda/var"]

ENV SONGDA_DATA_DIR=/srv/songda/var \
    SONGDA_HOST=0.0.0.0

USER songda
EXPOSE 8080

# Only meaningful for `songda web` (urlopen raises on a 503, so the exit status is non-zero);
# compose.yaml disables it for the worker and migrate services.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

CMD ["songda", "web"]
