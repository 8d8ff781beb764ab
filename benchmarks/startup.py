"""How long a newcomer waits, and how much memory Crate holds, on a first and on a second run.

    python benchmarks/startup.py [--quick]

Each phase runs real commands in fresh processes:

* ``crate demo`` wall time (the scripted console session on the example music, one worker);
* ``crate classify one.ogg`` wall time (one example track, in-process analysis);
* a probe that imports the bot's run path and every cog, starts the analysis pool with one
  worker and prints: the worker's ready time (spawn -> "ready"), a replacement's ready time
  (after the worker is made to exit), the idle RSS (and PSS, which counts pages shared
  with the fork server once) of the bot process and of the worker, and which of librosa, numba,
  scipy.signal and scikit-learn the bot process imported (none: only analysis imports librosa).

Phases: ``fresh`` (a fresh copy of this checkout without any ``__pycache__``, so Crate's own
modules compile as on a fresh clone; the dependencies' bytecode is what pip wrote at install),
``second`` (the same copy, run again), and ``cold`` (every module, the dependencies' too, compiled
again into a new temporary ``PYTHONPYCACHEPREFIX``: a worst case no newcomer meets). The one
other cache is numba's, of librosa's functions: set-up builds it (``python -m bot.listen.warm``,
which is run first here, as set-up's last step, and timed) and no phase compiles into it.
``--quick`` runs only the probe and classify, once, on the caches already in place
(the test suite runs it). Figures are wall times on whatever else the machine is doing: run it
on a quiet machine; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRATE = [sys.executable, "-m", "bot"]
EXAMPLE = ROOT / "examples" / "singularity-awakening.ogg"

PROBE = r"""
import asyncio, importlib, json, os, pkgutil, sys, time

def memory(pid):
    out = {}
    for name, key in (("status", "VmRSS:"), ("smaps_rollup", "Pss:")):
        try:
            for line in open(f"/proc/{pid}/{name}"):
                if line.startswith(key):
                    out[name] = int(line.split()[1]) / 1024
        except OSError:
            pass
    return {"rss_mb": round(out.get("status", 0), 1), "pss_mb": round(out.get("smaps_rollup", 0), 1)}

import bot.cli, bot.app.crate, cogs, cogs.client
for module in pkgutil.iter_modules(cogs.__path__):
    importlib.import_module("cogs." + module.name)
from bot.jobs.analysis import AnalysisPool

async def main():
    async with AnalysisPool(workers=1, queue_depth=1, job_timeout=60) as pool:
        ready = pool.ready_seconds[0]
        await asyncio.sleep(0.5)
        worker = memory(pool.worker_pids[0])
        bot = memory(os.getpid())
        try:
            await pool.run(os._exit, 1)
        except Exception:
            pass
        started = time.perf_counter()
        await pool.wait_ready()
        replaced = time.perf_counter() - started
        heavy = [m for m in ("librosa", "numba", "scipy.signal", "sklearn") if m in sys.modules]
    print(json.dumps({"worker_ready_s": ready, "replacement_ready_s": replaced, "bot": bot,
                      "worker": worker, "bot_heavy_modules": heavy}))

asyncio.run(main())
"""


def _wall(command: list[str], env: dict[str, str], root: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _probe(env: dict[str, str], root: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=root, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def phase(name: str, env: dict[str, str], *, demo: bool, root: Path = ROOT) -> dict:
    """Time the commands run from ``root`` (this checkout, or a fresh copy of it)."""
    env = {**env, "PYTHONPATH": str(root)}
    figures: dict = {"phase": name}
    if demo:
        figures["demo_s"] = _wall([*CRATE, "demo"], env, root)
    figures["classify_s"] = _wall([*CRATE, "classify", str(root / EXAMPLE.relative_to(ROOT))], env, root)
    figures.update(_probe(env, root))
    return figures


def fresh_copy(target: Path) -> Path:
    """This checkout's code and example music, without any bytecode: what a clone holds."""
    for part in ("bot", "cogs", "examples"):
        shutil.copytree(ROOT / part, target / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def report(figures: dict) -> str:
    demo = f"crate demo {figures['demo_s']:.1f} s   " if "demo_s" in figures else ""
    return (
        f"{figures['phase']:>6}: {demo}crate classify {figures['classify_s']:.1f} s   "
        f"worker ready {figures['worker_ready_s']:.2f} s (replacement {figures['replacement_ready_s']:.2f} s)   "
        f"idle RSS bot {figures['bot']['rss_mb']:.0f} MB, worker {figures['worker']['rss_mb']:.0f} MB "
        f"(PSS {figures['worker']['pss_mb']:.0f} MB)   bot imports {figures['bot_heavy_modules'] or 'none of'} "
        "librosa/numba/scipy.signal/sklearn"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="probe + classify once, on the existing cache")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CRATE_DATABASE", None)
    # Python writes bytecode unless told not to: a newcomer's second run finds it. (Some sandboxes
    # and CI images set PYTHONDONTWRITEBYTECODE, which would make every run compile everything.)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.quick:
        figures = phase("quick", env, demo=False)
        print(report(figures))
        print(json.dumps(figures))
        return 0
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="crate-clone-") as clone:
        root = fresh_copy(Path(clone))
        warm = _wall([sys.executable, "-m", "bot.listen.warm"], {**env, "PYTHONPATH": str(root)}, root)
        print(f" setup: numba cache of librosa's functions (python -m bot.listen.warm) {warm:.1f} s", flush=True)
        for name in ("fresh", "second"):
            figures = phase(name, env, demo=True, root=root)
            print(report(figures), flush=True)
            print(json.dumps(figures), flush=True)
    with tempfile.TemporaryDirectory(prefix="crate-pycache-") as cache:
        figures = phase("cold", {**env, "PYTHONPYCACHEPREFIX": cache}, demo=True)
        print(report(figures), flush=True)
        print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
