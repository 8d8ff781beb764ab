"""How long Crate takes to listen to one track, stage by stage, on one core, warm.

    python benchmarks/analyze.py [--runs 7] [--cpu N] [--track FILE.ogg] [--clock wall|cpu] [--profile] [--no-seed] [--quick]

Times the real code path of ``Listener.analyze`` on a full ~5-minute OGG track (a real
singularity-music track of 4.5-6 minutes, default: the one closest to 5:00) and on a 30-second
clip cut from it with ffmpeg:

* probe + decode  ``bot.audio.decode.decode_excerpts`` (the header, read with libsndfile for OGG/FLAC/WAV
                  or ffprobe, then 3 x 6 s decoded in-process with PyAV: no ffmpeg process)
* tempo           ``features.excerpt_tempo`` on each excerpt: all the default answer needs of the
                  handcrafted block
* handcrafted     ``features.handcrafted_features`` on each excerpt (only a custom genre head reads them)
* musicnn         ``musicnn.excerpt_patches`` for each excerpt (the log-mel of its two 3-s patches),
                  then the networks as ``Listener.describe`` runs them: one ``musicnn.Taggers`` call
                  running both networks on every patch (and, for reference, the MSD network alone)
* custom head     assembling the excerpt vectors and the custom genre head's ``predict_proba`` (numpy arrays)
* total           ``Listener.analyze`` end to end, timed on its own, as ``Listener.load()`` builds it
                  (the packaged family model: tempo only); and with the GTZAN custom genre head
                  (``crate train``), which reads the handcrafted features. The target and the seed
                  comparison use the first.
* seed pipeline   for comparison, the seed articles' recipe on the same files: ``librosa.load`` of
                  the whole file, then MFCC, chroma, spectral contrast and tonnetz (``--no-seed`` skips);
                  each of its runs is paired with one of Crate's, and the speed-up is the median of
                  the pairs' ratios (and the ratio of the fastest runs, for a machine that was busy)

Each figure is the median of ``--runs`` runs after one untimed warm-up run; the one-off costs
(loading the models, the first call in a fresh process) are reported separately. The process,
and so any ffprobe it starts, is pinned to one CPU, and BLAS/OpenMP pools are limited to
one thread. Peak RSS is ``getrusage`` ``ru_maxrss`` for this process (decoding runs in it, with PyAV).

``--clock cpu`` times with this thread's CPU time instead of the wall clock: on a machine shared
with other work, wall times count the waits for a core, CPU times much less so (they still grow
with the cache and memory traffic of the neighbours). Decoding runs in-process (PyAV), so
``--clock cpu`` counts it in full; only an ffprobe (not run for OGG/FLAC/WAV) would be counted
on its waiting side alone. Prefer the wall clock on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SINGULARITY_DIR = Path("/usr/share/games/singularity/music")
TARGET_SECONDS = 300.0
TRACK_RANGE = (270.0, 360.0)  # 4.5-6 minutes
CLIP_START, CLIP_SECONDS = 60.0, 30.0
BUDGET_SECONDS, BUDGET_MB = 0.30, 400
SEED_SPEEDUP = 20.0


def _duration(path: Path) -> float:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(done.stdout.strip())


def pick_track() -> Path:
    """The singularity-music track whose length is closest to 5:00, among those of 4.5-6 min."""
    durations = {p: _duration(p) for p in sorted(SINGULARITY_DIR.glob("*.ogg"))}
    fitting = [(abs(d - TARGET_SECONDS), p) for p, d in durations.items() if TRACK_RANGE[0] <= d <= TRACK_RANGE[1]]
    if not fitting:
        sys.exit(f"no 4.5-6 minute track in {SINGULARITY_DIR}: run scripts/setup.sh (singularity-music)")
    return min(fitting)[1]


def cut_clip(track: Path, folder: Path) -> Path:
    target = folder / f"clip-{CLIP_SECONDS:.0f}s.ogg"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", str(CLIP_START), "-t", str(CLIP_SECONDS),
         "-i", str(track), "-c:a", "libvorbis", "-q:a", "4", str(target)],
        check=True,
    )  # fmt: skip
    return target


CLOCK: Callable[[], float] = time.perf_counter


def _timed(function: Callable, *args):
    start = CLOCK()
    result = function(*args)
    return CLOCK() - start, result


class Stages:
    """The stages of ``Listener.describe`` + ``analyze_decoded``, called as they call them."""

    def __init__(self, listener, limits, family_listener):
        self.listener = listener
        self.limits = limits
        self.family_listener = family_listener

    def run(self, path: Path) -> dict[str, float]:
        from bot.audio.decode import decode_excerpts, probe
        from bot.listen import musicnn
        from bot.listen.features import excerpt_tempo, handcrafted_features

        times: dict[str, float] = {}
        times["probe+decode"], decoded = _timed(decode_excerpts, path, self.limits)
        times["  probe alone"], _ = _timed(probe, path, self.limits)

        start = CLOCK()
        [excerpt_tempo(excerpt.samples, decoded.sample_rate) for excerpt in decoded.excerpts]
        times["tempo"] = CLOCK() - start
        start = CLOCK()
        handcrafted = [handcrafted_features(excerpt.samples, decoded.sample_rate) for excerpt in decoded.excerpts]
        times["handcrafted features"] = CLOCK() - start

        start = CLOCK()
        patches = [musicnn.excerpt_patches(e.samples) for e in decoded.excerpts]
        logmel_time = CLOCK() - start
        # As Listener.describe runs them: both taggers fused, on every patch of every excerpt.
        fused_time, _ = _timed(self.listener._tagger_set().predict, np.concatenate(patches))
        times["musicnn taggers"] = logmel_time + fused_time
        times["  log-mel + patches"] = logmel_time
        times[f"  both nets, {len(patches)} excerpts x {len(patches[0])} patches"] = fused_time
        times["  (MSD alone, every excerpt)"], outputs = _timed(self.listener.tagger.predict, np.concatenate(patches))
        per_excerpt = len(outputs.tag_probs) // len(decoded.excerpts)
        embeddings = [
            outputs.penultimate[i : i + per_excerpt].mean(axis=0) for i in range(0, len(outputs.tag_probs), per_excerpt)
        ]
        tag_probs = [
            outputs.tag_probs[i : i + per_excerpt].mean(axis=0) for i in range(0, len(outputs.tag_probs), per_excerpt)
        ]

        def genre() -> np.ndarray:
            embeddings_ = np.stack(embeddings).astype(np.float32)
            tag_probs_ = np.stack(tag_probs).astype(np.float32)
            vectors = np.concatenate([embeddings_, tag_probs_, np.stack(handcrafted)], axis=1)
            return self.listener.genre_model.predict_proba(vectors).mean(axis=0)

        times["custom genre head"], _ = _timed(genre)
        times["sum of stages (default)"] = sum(times[k] for k in ("probe+decode", "tempo", "musicnn taggers"))
        # What Listener.load() runs: the family model, no handcrafted block, tempo only.
        times["total: Listener.analyze"], _ = _timed(self.family_listener.analyze, path, self.limits)
        times["  with the custom genre head"], _ = _timed(self.listener.analyze, path, self.limits)
        return times


def seed_pipeline(path: Path) -> None:
    """The seed articles' recipe: decode the whole file with librosa, then four librosa features."""
    import librosa

    y, sr = librosa.load(path)
    for feature in (librosa.feature.mfcc, librosa.feature.chroma_stft, librosa.feature.spectral_contrast):
        feature(y=y, sr=sr)
    librosa.feature.tonnetz(y=y, sr=sr)


def _rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _mb_self() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per input (default: 7)")
    parser.add_argument("--cpu", type=int, help="CPU to pin to (default: the last one allowed)")
    parser.add_argument("--track", type=Path, help="the full track (default: a 4.5-6 min singularity-music track)")
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall", help="wall clock (default) or this thread's CPU time"
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile Listener.analyze on the full track")
    parser.add_argument("--no-seed", action="store_true", help="skip timing the seed articles' pipeline")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run that prints the same table: 1 timed run, no seed pipeline (run by the tests)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.no_seed = 1, True
    global CLOCK
    CLOCK = time.thread_time if args.clock == "cpu" else time.perf_counter

    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)

    track = args.track or pick_track()
    with tempfile.TemporaryDirectory(prefix="crate-bench-") as scratch:
        clip = cut_clip(track, Path(scratch))
        inputs = {f"{CLIP_SECONDS:.0f}-s clip": clip, f"full track ({_duration(track) / 60:.1f} min)": track}

        start = time.perf_counter()
        from bot.config import AudioLimits
        from bot.listen import analyze, musicnn, warm  # (import cost reported, not timed below)

        imports = time.perf_counter() - start
        load_librosa, _ = _timed(warm.warm)  # what the fork server does once for every worker
        rss = {"after imports": _rss_now_mb()}
        load_tagger, (tagger, mtt_tagger) = _timed(lambda: (musicnn.Musicnn.load(), musicnn.Musicnn.load(model="mtt")))
        rss["after loading both taggers"] = _rss_now_mb()
        from bot.listen.head import default_model_path, load_head

        load_genre, genre_model = _timed(
            lambda: load_head(default_model_path(), feature_version=analyze.FEATURE_VERSION)
        )
        rss["after loading the genre model"] = _rss_now_mb()
        rss["peak before any analysis"] = _mb_self()
        listener = analyze.Listener(tagger, genre_model, mtt_tagger)
        from bot.listen.families import default_model

        family_listener = analyze.Listener(tagger, None, mtt_tagger, default_model())
        # One fused pass (and one set of its scratch buffers) for both listeners, as in a worker.
        listener._taggers = family_listener._tagger_set()
        limits = AudioLimits()
        stages = Stages(listener, limits, family_listener)

        first = {}
        for name, path in inputs.items():  # warm-up: untimed in the medians, reported as one-off
            first[name], _ = _timed(family_listener.analyze, path, limits)
            stages.run(path)

        results: dict[str, list[dict[str, float]]] = {name: [] for name in inputs}
        for _ in range(args.runs):  # interleaved, so that a burst of load hits both inputs alike
            for name, path in inputs.items():
                results[name].append(stages.run(path))

        load = os.getloadavg()
        print(f"Crate analysis benchmark: {track.name} ({_duration(track):.1f} s) and a {CLIP_SECONDS:.0f}-s cut of it")
        print(f"pinned to CPU {cpu} of {os.cpu_count()}, 1 BLAS thread, {args.clock} clock; median of {args.runs} warm runs; "
              f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
        print()
        names = list(next(iter(results.values()))[0])
        header = f"{'stage':<30}" + "".join(f"{name:>24}" for name in results)
        print(header)
        print("-" * len(header))
        for stage in names:
            cells = []
            for runs in results.values():
                values = [run[stage] for run in runs]
                cells.append(f"{statistics.median(values) * 1000:9.1f} ms (min {min(values) * 1000:6.1f})")
            print(f"{stage:<30}" + "".join(f"{c:>24}" for c in cells))
        print()
        print("one-off costs (not in the medians):")
        print(f"  imports (bot.listen; librosa on first use) {imports * 1000:8.1f} ms")
        print(f"  librosa + numba's cache (bot.listen.warm)  {load_librosa * 1000:8.1f} ms")
        print(f"  load both taggers' weights                 {load_tagger * 1000:8.1f} ms")
        print(f"  load genre model (arrays, checked)         {load_genre * 1000:8.1f} ms")
        for name, seconds in first.items():
            median = statistics.median(run["total: Listener.analyze"] for run in results[name])
            print(
                f"  first analyze, {name:<28}{seconds * 1000:8.1f} ms  (+{(seconds - median) * 1000:.1f} ms over warm)"
            )
        print()
        peak_self = _mb_self()
        print("RSS " + ", ".join(f"{when} {mb:.0f} MB" for when, mb in rss.items()))
        print(f"peak RSS of this process (decoding included: it runs in-process): {peak_self:.0f} MB")

        full = list(results)[-1]
        total = statistics.median(run["total: Listener.analyze"] for run in results[full])
        if not args.no_seed:
            print()
            for name, path in inputs.items():
                seed_pipeline(path)  # warm-up (librosa's first calls)
                # Paired runs: each seed run is followed by one of Crate's, so that a burst of load
                # from the host hits both sides of a ratio alike (Crate's after an untimed one: the
                # seed's whole-file arrays leave the caches cold, unlike a worker's previous track).
                pairs = []
                for _ in range(max(1, args.runs // 2)):
                    seed_seconds = _timed(seed_pipeline, path)[0]
                    family_listener.analyze(path, limits)
                    pairs.append((seed_seconds, _timed(family_listener.analyze, path, limits)[0]))
                seed = statistics.median(s for s, _ in pairs)
                ours = statistics.median(o for _, o in pairs)
                ratio = statistics.median(s / o for s, o in pairs)
                fastest = min(s for s, _ in pairs) / min(o for _, o in pairs)
                print(f"seed articles' pipeline, {name}: {seed:.3f} s; Crate (both taggers) {ours:.3f} s: "
                      f"{ratio:.1f}x faster (median of {len(pairs)} paired runs; fastest runs {fastest:.1f}x; "
                      f"target: {SEED_SPEEDUP:.0f}x on the full track)")  # fmt: skip
        verdict = "within" if total <= BUDGET_SECONDS and peak_self <= BUDGET_MB else "OVER"
        print(f"target: {full} in <= {BUDGET_SECONDS} s and <= {BUDGET_MB} MB -> {total:.3f} s, "
              f"{peak_self:.0f} MB: {verdict} budget")  # fmt: skip

        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.runs):
                listener.analyze(track, limits)
            profiler.disable()
            print(f"\ncProfile of {args.runs} x Listener.analyze on the full track (cumulative, top 30):")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            print("(tottime, top 20):")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
