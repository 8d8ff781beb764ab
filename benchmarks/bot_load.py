"""A burst of concurrent /genre requests against the real bot on the fake Discord.

    python benchmarks/bot_load.py [--requests 20] [--workers 2] [--queue-depth N] [--links N]
                                   [--seed 0] [--stalls SECONDS] [-v] [--quick]
    python benchmarks/bot_load.py --mixed [--requests 200] [--seconds 10] [--members 50] [--quick]

Runs the real bot entry point (``cogs.client.run_bot``) exactly like the end-to-end tests do
(``tests/fakediscord/harness.py``): the fake Discord on 127.0.0.1, a temporary SQLite file, ``--workers``
analysis workers and the configured queue depth (``Settings`` default unless ``--queue-depth``).
Members of the two fake guilds then send ``/genre`` all at once with real music: the three
``examples/*.ogg``, 20-60 s cuts of the Debian tracks from ``tests/music.py`` (OGG and MP3, made
with ffmpeg into a temporary directory) and a few links served by the harness's ``music_server``.

Measured, against the targets from the issue:

* each interaction's acknowledgement latency (dispatch -> callback, ``ix.ack_latency``): max, p99
  (target: every one <= 3 s, Discord's deadline);
* how each request ended: an embed with genre bars (answered), a ``bot.jobs.admission`` busy message (told busy),
  anything else (failure, printed); target: all answered or told busy;
* event-loop lag: a ticker in the bot's loop sleeps 10 ms and records its overshoot, from the
  first request to the last answer (target: p99 <= 100 ms). The fake Discord and this driver run
  in the same loop as the bot, so the figure includes their work too: it is conservative;
* wall time from the first request to the last answer;
* peak RSS (VmHWM) of this process (bot + fake Discord + driver) and of every analysis worker,
  read just before shutdown, and their sum.

With ``--mixed`` (issue 11's figures): ``--requests`` interactions (200, or 1000) spread over
``--seconds`` (10) from ``--members`` (50) members of one guild: 20 % ``/genre`` with real
attachments, 25 % ratings (👍/👎 buttons and /like, /dislike), 20 % ``/recommend``, 15 %
``/profile``, 20 % ``/like`` autocomplete, after three tracks were shared. Printed: how many were
acknowledged within 3 s, p50/p99 time to acknowledge and to the final answer (per kind too),
answered / busy / failed, event-loop lag p99, peak RSS of the bot and of each worker.
``--quick`` is a small version of it (20 in 2 s from 10 members), run by the test suite.

Not a test: it prints figures (and exits 1 if a target is missed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EXAMPLES = ROOT / "examples"
ACK_TARGET = 3.0
LAG_P99_TARGET = 0.100
TICK = 0.010
ANSWER_TIMEOUT = 600.0


# --------------------------------------------------------------------------- music


@dataclass
class Upload:
    name: str  # what the member shares (attachment filename or link path)
    data: bytes
    content_type: str
    as_link: bool = False
    origin: str = ""


def make_music(scratch: Path, count: int, rng: random.Random, links: int) -> list[Upload]:
    """``count`` shares: the examples, cuts of real Debian music, ``links`` of them as links."""
    from tests import music

    uploads = [
        Upload(p.name, p.read_bytes(), "audio/ogg", origin=f"examples/{p.name}") for p in sorted(EXAMPLES.glob("*.ogg"))
    ]
    sources = [(p.stem, p) for p in music.singularity_tracks()]
    with contextlib.suppress(music.MissingTestMusic, OSError, KeyError):  # optional: singularity has enough
        sources += [(name, music.nexuiz_track(name)) for name in music.nexuiz_names()[:6]]
    rng.shuffle(sources)
    jobs: list = []
    i = 0
    while len(uploads) + len(jobs) < count:
        stem, path = sources[i % len(sources)]
        length = rng.randint(20, 60)
        start = rng.randint(0, 40)
        mp3 = i % 3 == 2
        suffix, args = (
            (".mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]) if mp3 else (".ogg", ["-c:a", "libvorbis", "-q:a", "3"])
        )
        target = scratch / f"{i:02d}-{stem.replace(' ', '_')}-{start}s+{length}s{suffix}"
        jobs.append(
            (
                path,
                target,
                ["-ss", str(start), "-t", str(length), "-vn", *args],
                mp3,
                f"{path.name} @{start}s, {length}s",
            )
        )
        i += 1
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        list(ex.map(lambda j: music.convert(j[0], j[1], *j[2]), jobs))
    for _, target, _, mp3, origin in jobs:
        uploads.append(Upload(target.name, target.read_bytes(), "audio/mpeg" if mp3 else "audio/ogg", origin=origin))
    uploads = uploads[:count]
    # ``links`` shares (default: one in five) are links to the local music server, never the examples
    candidates = [u for n, u in enumerate(uploads) if n >= 3]
    step = max(1, len(candidates) // links) if links else 0
    for upload in candidates[step - 1 :: step][:links] if links else []:
        upload.as_link = True
    return uploads


# --------------------------------------------------------------------------- measuring


class LagTicker:
    """Sleeps ``TICK`` in a loop and records how late each wake-up was.

    With ``stalls`` a watchdog thread samples the loop thread's stack whenever the ticker has not
    run for more than ``stalls`` seconds, to show what blocks the loop.
    """

    def __init__(self, stalls: float | None = None) -> None:
        self.lags: list[float] = []  # seconds late
        self.at: list[float] = []  # monotonic time of each wake-up
        self._task: asyncio.Task | None = None
        self._stalls = stalls
        self._last = time.monotonic()
        self._stop = threading.Event()
        self.samples: dict[str, int] = {}
        self._thread: threading.Thread | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(TICK)
            self.lags.append(max(0.0, loop.time() - before - TICK))
            self._last = time.monotonic()
            self.at.append(self._last)

    def _watch(self, loop_thread: int) -> None:
        import traceback

        while not self._stop.wait(0.02):
            if self._stalls is not None and time.monotonic() - self._last > self._stalls:
                names = {t.ident: t.name for t in threading.enumerate()}
                for ident, frame in sys._current_frames().items():
                    if ident == threading.get_ident():
                        continue
                    who = "loop thread" if ident == loop_thread else f"thread {names.get(ident, ident)}"
                    stack = f"[{who}]\n" + "".join(traceback.format_stack(frame)[-10:])
                    self.samples[stack] = self.samples.get(stack, 0) + 1

    def start(self) -> None:
        self._last = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="lag-ticker")
        if self._stalls:
            self._thread = threading.Thread(target=self._watch, args=(threading.get_ident(),), daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        assert self._task is not None
        self._stop.set()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(rank) - 1]


def vm_hwm_kib(pid: int | str = "self") -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def children_of(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live children of ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
            ppid = int(text[text.rindex(")") + 2 :].split()[1])
            if ppid != pid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as cmd:
                cmdline = cmd.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError):
            continue
        found.append((int(entry), cmdline))
    return found


def is_busy(text: str) -> bool:
    """The bot's "busy" answers: everybody's (``Busy``), a member's or a server's (``bot.jobs.admission``)."""
    from bot.jobs.admission import Busy

    return Busy.user_message in text or "being analyzed" in text


def analysis_pool():
    """The bot's AnalysisPool, if it can be found (run_bot keeps it in a local)."""
    import gc

    from bot.jobs.analysis import AnalysisPool

    pools = [
        o for o in gc.get_objects() if issubclass(type(o), AnalysisPool) and not o._closed
    ]  # type(): no dead weakproxy is touched
    return pools[0] if len(pools) == 1 else None


def analysis_worker_pids(pool) -> list[int]:
    """The analysis workers' pids: the pool's own list (workers are forked from a fork server, so
    they are not this process's children), else the spawned children of this process."""
    if pool is not None:
        return list(pool.worker_pids)
    return [pid for pid, cmd in children_of(os.getpid()) if "spawn_main" in cmd]


@dataclass
class Outcome:
    upload: Upload
    member: str
    guild: str
    ack: float | None = None
    kind: str = "failure"  # answered / busy / failure
    detail: str = ""
    finished: float | None = None  # monotonic
    genre: str = ""
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- the burst


async def burst(args: argparse.Namespace) -> int:
    from tests.fakediscord import FakeDiscord
    from tests.fakediscord.harness import music_server, running_crate, settings_for

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="crate-bot-load-") as tmp:
        scratch = Path(tmp)
        t = time.perf_counter()
        links = args.requests // 5 if args.links is None else args.links
        uploads = make_music(scratch / "music", args.requests, rng, links)
        print(
            f"prepared {len(uploads)} shares in {time.perf_counter() - t:.1f} s "
            f"({sum(u.as_link for u in uploads)} links, {sum(not u.as_link for u in uploads)} attachments, "
            f"{sum(len(u.data) for u in uploads) / 2**20:.1f} MiB)"
        )
        files = {f"/{u.name}": (u.data, u.content_type) for u in uploads if u.as_link}

        async with FakeDiscord() as fake, music_server(files) as web:
            overrides = {"workers": args.workers}
            if args.queue_depth is not None:
                overrides["queue_depth"] = args.queue_depth
            settings = settings_for(fake, scratch / "crate.sqlite3", **overrides)
            t = time.perf_counter()
            async with running_crate(fake, settings):
                print(
                    f"bot ready in {time.perf_counter() - t:.1f} s "
                    f"(workers={settings.workers}, queue_depth={settings.queue_depth}, "
                    f"admits {settings.workers + settings.queue_depth} jobs at once)"
                )
                pool = analysis_pool()

                members = [(g, m) for g in fake.guilds for m in ("alice", "bob", "carol")]
                outcomes = []
                for n, upload in enumerate(uploads):
                    guild, member = members[n % len(members)]
                    outcomes.append(Outcome(upload, member, guild.name))

                if args.warm_yt_dlp and files:  # diagnosis: pay yt-dlp's first-use cost before the burst
                    from bot.audio.fetch import download_link

                    warm = scratch / "warm"
                    warm.mkdir()
                    await asyncio.to_thread(
                        download_link,
                        f"{web}{next(iter(files))}",
                        warm,
                        limits=settings.limits,
                        allowlist=settings.url_allowlist,
                        timeout=settings.download_timeout,
                    )

                ticker = LagTicker(args.stalls)
                ticker.start()
                await asyncio.sleep(0.2)  # a baseline before the burst
                baseline = len(ticker.lags)
                first = time.monotonic()

                async def one(outcome: Outcome) -> None:
                    guild = next(g for g in fake.guilds if g.name == outcome.guild)
                    channel = next(c for c in guild.channels if c.name == "music")
                    u = outcome.upload
                    if u.as_link:
                        ix = await fake.slash(guild, channel, outcome.member, "genre", {"url": f"{web}/{u.name}"})
                    else:
                        ix = await fake.slash(
                            guild,
                            channel,
                            outcome.member,
                            "genre",
                            attachments={"file": (u.name, u.data, u.content_type)},
                        )
                    try:
                        await ix.wait_response(timeout=30)
                        outcome.ack = ix.ack_latency
                        message = await ix.wait_answer(
                            predicate=finished,
                            timeout=ANSWER_TIMEOUT,
                        )
                    except Exception as error:
                        outcome.ack = ix.ack_latency
                        outcome.detail = f"{type(error).__name__}: {error}; callbacks={ix.callbacks!r}"
                        outcome.finished = time.monotonic()
                        return
                    outcome.finished = time.monotonic()
                    description = message.text
                    bars = next((line for line in description.splitlines() if "█" in line and "%" in line), None)
                    if message.shown and bars:
                        outcome.kind = "answered"
                        outcome.genre = bars.strip("`").split()[0]
                    elif "⚠️" in description and is_busy(description):
                        outcome.kind = "busy"
                    else:
                        outcome.detail = repr(message.payload())

                await asyncio.gather(*(one(o) for o in outcomes))
                last = max(o.finished for o in outcomes if o.finished is not None)
                await ticker.stop()
                lags = ticker.lags[baseline:]
                stall_at = [(lag, at - first) for lag, at in zip(ticker.lags, ticker.at) if lag > LAG_P99_TARGET]

                # peak RSS, just before shutdown
                pool_pids = pool.worker_pids if pool is not None else None
                worker_rows = [(pid, vm_hwm_kib(pid)) for pid in analysis_worker_pids(pool)]
                bot_hwm = vm_hwm_kib()
                restarts = pool.restarts if pool is not None else None
                late = list(fake.late_acks)

    # ----------------------------------------------------------------- report
    acks = [o.ack for o in outcomes if o.ack is not None]
    answered = [o for o in outcomes if o.kind == "answered"]
    busy = [o for o in outcomes if o.kind == "busy"]
    failures = [o for o in outcomes if o.kind == "failure"]
    wall = last - first

    print()
    print(f"{'#':>2}  {'member':<18} {'shared':<46} {'ack s':>6} {'done s':>7}  outcome")
    for n, o in enumerate(outcomes):
        what = ("link " if o.upload.as_link else "file ") + o.upload.name
        done = f"{o.finished - first:7.2f}" if o.finished is not None else "      -"
        ack = f"{o.ack:6.3f}" if o.ack is not None else "     -"
        result = {"answered": f"answered ({o.genre})", "busy": "told busy"}.get(o.kind, "FAILURE")
        print(f"{n:>2}  {o.member + '@' + o.guild:<18} {what[:46]:<46} {ack} {done}  {result}")
    for o in failures:
        print(f"  failure for {o.member}@{o.guild} ({o.upload.name}): {o.detail[:600]}")

    def kib(v: int | None) -> str:
        return f"{v / 1024:8.1f} MiB" if v is not None else "       ?"

    print()
    print(
        f"requests                      {len(outcomes)} at once, {args.workers} workers, "
        f"queue depth {settings.queue_depth}"
    )
    print(f"answered / told busy / failed {len(answered)} / {len(busy)} / {len(failures)}")
    print(
        f"ack latency                   max {max(acks):.3f} s, p99 {percentile(acks, 99):.3f} s, "
        f"p50 {percentile(acks, 50):.3f} s  ({len(acks)}/{len(outcomes)} acknowledged)"
        if acks
        else "ack latency                   none acknowledged"
    )
    if late:
        print(f"late acks seen by the fake    {len(late)}")
    print(
        f"event-loop lag ({len(lags)} ticks) p50 {percentile(lags, 50) * 1000:.1f} ms, "
        f"p99 {percentile(lags, 99) * 1000:.1f} ms, max {max(lags) * 1000:.1f} ms"
    )
    for lag, at in stall_at:
        print(f"    stall of {lag * 1000:.0f} ms ending {at:.2f} s after the first request")
    print(
        "    (ticker in the bot's event loop; the fake Discord and this driver share that loop, so it is conservative)"
    )
    print(f"wall time                     {wall:.2f} s from the first request to the last answer")
    if answered:
        print(
            f"answers done at               {', '.join(f'{(o.finished or 0.0) - first:.1f}' for o in sorted(answered, key=lambda o: o.finished or 0.0))} s"
        )
    print(
        f"peak RSS, bot process         {kib(bot_hwm)}  (bot + fake Discord + driver + {len(uploads)} shares in memory)"
    )
    for pid, hwm in worker_rows:
        tag = "" if pool_pids is None else (" (pool worker)" if pid in pool_pids else " (not in pool.worker_pids)")
        print(f"peak RSS, worker pid {pid:<8} {kib(hwm)}{tag}")
    total = (bot_hwm or 0) + sum(h or 0 for _, h in worker_rows)
    print(f"peak RSS, sum                 {kib(total)}  (ffmpeg children of workers not included)")
    if ticker.samples:
        print("\nwhere the loop was stuck (stack samples every 20 ms while stalled):")
        for stack, hits in sorted(ticker.samples.items(), key=lambda kv: -kv[1])[:10]:
            print(f"--- {hits} samples\n{stack}")
    if restarts:
        print(f"worker restarts               {restarts}")

    checks = [
        (
            f"every interaction acknowledged within {ACK_TARGET:g} s",
            len(acks) == len(outcomes) and max(acks, default=99) <= ACK_TARGET and not late,
        ),
        (f"event-loop lag p99 <= {LAG_P99_TARGET * 1000:.0f} ms", percentile(lags, 99) <= LAG_P99_TARGET),
        (f"{len(outcomes)}/{len(outcomes)} answered or told busy", not failures),
    ]
    print()
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for _, ok in checks) else 1


# --------------------------------------------------------------------------- the mixed load

#: The mix of the issue's figures: kind -> share of all interactions.
MIX = {"genre": 0.20, "rating": 0.25, "recommend": 0.20, "profile": 0.15, "autocomplete": 0.20}
SEED_SHARES = 3  # the examples, shared before the load so ratings and picks have tracks


@dataclass
class Mixed:
    kind: str
    member: str
    at: float  # seconds after the start at which it is sent
    sent: float | None = None  # monotonic
    ack: float | None = None
    done: float | None = None  # seconds from sending to the final answer
    outcome: str = "failed"  # answered / busy / failed
    detail: str = ""


def schedule(count: int, seconds: float, members: int, rng: random.Random) -> list[Mixed]:
    """``count`` interactions spread evenly over ``seconds`` (jittered), kinds in MIX's proportions."""
    kinds = [kind for kind, share in MIX.items() for _ in range(round(share * count))]
    kinds = (kinds + ["rating"] * count)[:count]
    rng.shuffle(kinds)
    step = seconds / max(1, count)
    return [
        Mixed(kind, f"m{rng.randrange(members):02d}", max(0.0, i * step + rng.uniform(-step / 2, step / 2)))
        for i, kind in enumerate(kinds)
    ]


def finished(message) -> bool:
    """An answer, not a progress line: embeds or a Components V2 card, or a text that is not
    "⏬ downloading", "🎧 listening" or "⏳ waiting"."""
    content = message.content or ""
    return message.shown or bool(content and not any(mark in content for mark in ("⏬", "🎧", "⏳")))


def _classify(message, busy_text: str) -> tuple[str, str]:
    text = message.text
    if busy_text in text or is_busy(text) or "database is busy" in text:
        return "busy", ""
    if "⚠️" in text or "Something went wrong" in text:
        return "failed", text[:300]
    return "answered", ""


async def mixed_load(args: argparse.Namespace) -> int:
    from bot.jobs.pool import Busy
    from tests.fakediscord import FakeDiscord, make_guild
    from tests.fakediscord.harness import running_crate, settings_for

    rng = random.Random(args.seed)
    names = [f"m{i:02d}" for i in range(args.members)]
    plan = schedule(args.requests, args.seconds, args.members, rng)
    with tempfile.TemporaryDirectory(prefix="crate-mixed-load-") as tmp:
        scratch = Path(tmp)
        genre_count = sum(m.kind == "genre" for m in plan)
        uploads = make_music(scratch / "music", max(SEED_SHARES + 1, min(genre_count, 24)), rng, 0)
        async with FakeDiscord(guilds=[make_guild("Load", members=names)]) as fake:
            settings = settings_for(fake, scratch / "crate.sqlite3", workers=args.workers)
            async with running_crate(fake, settings):
                guild = fake.guilds[0]
                channel = next(c for c in guild.channels if c.name == "music")
                pool = analysis_pool()
                seeds = []  # (message, track id) of the tracks shared before the load
                for n, upload in enumerate(uploads[:SEED_SHARES]):
                    ix = await fake.slash(
                        guild,
                        channel,
                        names[n],
                        "genre",
                        attachments={"file": (upload.name, upload.data, upload.content_type)},
                    )
                    message = await ix.wait_original(predicate=lambda m: m.shown, timeout=ANSWER_TIMEOUT)
                    track = int(next(c for c in message.custom_ids if c.startswith("crate:rate:")).split(":")[2])
                    seeds.append((message, track))
                shares = uploads[SEED_SHARES:] or uploads

                ticker = LagTicker()
                ticker.start()
                start = time.monotonic()

                async def one(item: Mixed, n: int) -> None:
                    await asyncio.sleep(max(0.0, start + item.at - time.monotonic()))
                    item.sent = time.monotonic()
                    message, track = seeds[n % len(seeds)]
                    try:
                        if item.kind == "autocomplete":
                            ix = await fake.autocomplete_interaction(
                                guild,
                                channel,
                                item.member,
                                "like",
                                focused="track",
                                value=rng.choice(["", "a", "e", "n"]),
                            )
                            await ix.wait_choices(timeout=30)
                            item.ack = item.done = ix.ack_latency
                            item.outcome = "answered"
                            return
                        if item.kind == "genre":
                            u = shares[n % len(shares)]
                            ix = await fake.slash(
                                guild,
                                channel,
                                item.member,
                                "genre",
                                attachments={"file": (u.name, u.data, u.content_type)},
                            )
                        elif item.kind == "rating" and n % 2:
                            ix = await fake.click(
                                guild,
                                channel,
                                item.member,
                                message,
                                f"crate:rate:{track}:{'up' if n % 4 == 1 else 'down'}",
                            )
                        elif item.kind == "rating":
                            ix = await fake.slash(
                                guild, channel, item.member, "like" if n % 4 == 0 else "dislike", {"track": track}
                            )
                        elif item.kind == "recommend":
                            ix = await fake.slash(guild, channel, item.member, "recommend")
                        else:
                            ix = await fake.slash(guild, channel, item.member, "profile")
                        await ix.wait_response(timeout=30)
                        item.ack = ix.ack_latency
                        final = await ix.wait_answer(predicate=finished, timeout=ANSWER_TIMEOUT)
                        item.done = time.monotonic() - item.sent
                        item.outcome, item.detail = _classify(final, Busy.user_message)
                    except Exception as error:
                        item.detail = f"{type(error).__name__}: {error}"[:300]

                await asyncio.gather(*(one(item, n) for n, item in enumerate(plan)))
                wall = time.monotonic() - start
                await ticker.stop()
                lags = ticker.lags
                workers = [(pid, vm_hwm_kib(pid)) for pid in analysis_worker_pids(pool)]
                bot_hwm = vm_hwm_kib()
                late = len(fake.late_acks)
                restarts = pool.restarts if pool is not None else None

    def kib(v: int | None) -> str:
        return f"{v / 1024:.0f} MiB" if v is not None else "?"

    acks = [m.ack for m in plan if m.ack is not None]
    dones = [m.done for m in plan if m.done is not None]
    in_time = sum(1 for m in plan if m.ack is not None and m.ack <= ACK_TARGET)
    counts = {o: sum(m.outcome == o for m in plan) for o in ("answered", "busy", "failed")}
    print(
        f"mixed load: {len(plan)} interactions in {args.seconds:g} s from {args.members} members, "
        f"{args.workers} workers, queue depth {settings.queue_depth}"
    )
    print("mix                           " + ", ".join(f"{k} {sum(m.kind == k for m in plan)}" for k in MIX))
    print(f"acknowledged within {ACK_TARGET:g} s       {in_time}/{len(plan)}  (late acks seen by the fake: {late})")
    print(f"time to acknowledge           p50 {percentile(acks, 50):.3f} s, p99 {percentile(acks, 99):.3f} s")
    print(f"time to final answer          p50 {percentile(dones, 50):.3f} s, p99 {percentile(dones, 99):.3f} s")
    for kind in MIX:
        mine = [m for m in plan if m.kind == kind]
        kd = [m.done for m in mine if m.done is not None]
        ka = [m.ack for m in mine if m.ack is not None]
        print(
            f"    {kind:<13} ack p99 {percentile(ka, 99):.3f} s, answer p50 {percentile(kd, 50):.2f} s p99 "
            f"{percentile(kd, 99):.2f} s; " + "/".join(str(sum(m.outcome == o for m in mine)) for o in counts)
        )
    print(f"answered / busy / failed      {counts['answered']} / {counts['busy']} / {counts['failed']}")
    print(
        f"event-loop lag p99            {percentile(lags, 99) * 1000:.1f} ms (max {max(lags, default=0) * 1000:.1f} ms;"
        " the fake Discord and this driver share the loop)"
    )
    print(f"wall time                     {wall:.1f} s until the last answer")
    print(
        f"peak RSS                      bot {kib(bot_hwm)} (with the fake Discord and driver), workers "
        + ", ".join(kib(h) for _, h in workers)
    )
    if restarts:
        print(f"worker restarts               {restarts}")
    for m in plan:
        if m.outcome == "failed":
            print(f"  failed {m.kind} by {m.member}: {m.detail}")
    ok = in_time == len(plan) and not late and counts["failed"] == 0
    print(f"{'PASS' if ok else 'FAIL'}  every interaction acknowledged within {ACK_TARGET:g} s, none failed")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue-depth", type=int, default=None, help="default: Settings' default")
    parser.add_argument("--links", type=int, default=None, help="how many shares are links (default: 1 in 5)")
    parser.add_argument(
        "--warm-yt-dlp",
        action="store_true",
        help="diagnosis: download one link in this process before the burst (yt-dlp's first use)",
    )
    parser.add_argument("--seed", type=int, default=0, help="which cuts of which tracks")
    parser.add_argument(
        "--stalls",
        type=float,
        default=None,
        metavar="SECONDS",
        help="sample the loop thread's stack while the loop is stuck longer than this",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log the bot at INFO")
    parser.add_argument(
        "--mixed",
        action="store_true",
        help="the mixed load instead: --requests spread over --seconds from --members members",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="--mixed: how long the load lasts")
    parser.add_argument("--members", type=int, default=50, help="--mixed: how many members send it")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run that prints the same figures (the burst: 3 requests, the examples only,"
        " 1 worker; with --mixed: 20 interactions in 2 s from 10 members); run by the tests",
    )
    args = parser.parse_args(argv)
    if args.quick and args.mixed:
        args.requests, args.seconds, args.members = 20, 2.0, 10
    elif args.quick:
        args.requests, args.workers, args.links = 3, 1, 0
    import logging

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return asyncio.run(mixed_load(args) if args.mixed else burst(args))


if __name__ == "__main__":
    sys.exit(main())
