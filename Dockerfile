# The image of the nightly job (README, "Nightly job"): bulk with its excel extra, built
# from this repository (bulk is not published on the package index), run by a user
# without privileges. Build: docker build -t rungen-bulk .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# What the package is built from, and nothing else (see .dockerignore).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bulk ./bulk
RUN pip install '.[excel]' && rm -rf /src

# A user of its own: the job needs no root, and its files (results, journals) are its own.
RUN useradd --create-home --uid 10001 bulk
USER 10001
WORKDIR /data

ENTRYPOINT ["python", "-m", "bulk"]
CMD ["--help"]
