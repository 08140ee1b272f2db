# syntax=docker/dockerfile:1
# An exact tag: a rebuild next month gets the same Python and Debian, not whatever is newest.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8080 \
    DATABASE_URL=sqlite+aiosqlite:////data/flux-bot.db

RUN useradd --create-home --uid 10001 flux \
    && mkdir /data && chown flux:flux /data

# A Japanese font (about 8 MB): without one, /flux-admin usage charts fall back to English
# labels for Japanese readers rather than draw empty boxes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-ipafont-gothic \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY app ./app
COPY bot ./bot
COPY cogs ./cogs
# Every dependency at the exact version in constraints.txt, not whatever is newest today.
RUN pip install -c constraints.txt .

USER flux
# matplotlib's font cache, built once here rather than at the first usage chart.
RUN python -c "import matplotlib.font_manager"
# Run from / so that the SQLite path of .env.example (./data/flux-bot.db), the default (the
# same) and DATABASE_URL above all name /data/flux-bot.db, on the volume.
WORKDIR /
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["flux-bot", "health"]

ENTRYPOINT ["flux-bot"]
CMD ["run"]
