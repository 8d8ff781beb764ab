# Crate in a container: ffmpeg for voice playback and ffprobe (decoding uses the libraries bundled in the
# PyAV wheel), libopus for voice, a non-root user.
FROM python:3.11-slim-bookworm

# Debian's ffmpeg/libopus follow the base image's security updates, so they are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg libopus0 tini \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 crate && useradd --create-home --uid 10001 --gid 10001 crate \
    && mkdir -p /home/crate/data && chown crate:crate /home/crate/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY examples ./examples
# Editable, so that `crate demo` finds /app/examples beside the code.
RUN pip install --no-cache-dir -e .
USER 10001:10001
WORKDIR /home/crate
# librosa's numba functions, compiled into numba's cache at build time, in a folder of the crate user's
# (site-packages is read-only to it); for a generic CPU, so that the cache holds on any host.
ENV CRATE_DATABASE=/home/crate/data/crate.sqlite3 \
    NUMBA_CACHE_DIR=/home/crate/.cache/numba \
    NUMBA_CPU_NAME=generic \
    PYTHONUNBUFFERED=1
# Then `crate doctor` fails the build when something Crate needs is missing (ffmpeg, libopus, davey, Deno
# for YouTube, the models, a writable database folder); its warnings (no DISCORD_TOKEN at build time) do not.
RUN python -m bot.listen.warm && crate doctor
VOLUME ["/home/crate/data"]
# `docker stop` sends SIGTERM to PID 1: tini forwards it to crate (which stops cleanly on it) and
# reaps orphaned ffmpeg processes; the exec form keeps a shell out of the way.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["crate", "run"]
