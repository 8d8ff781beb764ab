"""YouTube's JavaScript runtime: Crate hands yt-dlp the Deno of the PyPI package by path, and Deno,
run exactly as yt-dlp runs it, can neither connect anywhere nor read a file.

Nothing is mocked but the point where Crate's link download would start extracting: the YoutubeDL
Crate builds is caught there, and its own YouTube extractor's challenge provider runs the real
Deno binary (yt-dlp's code picks the command and its flags) on a probe script.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from yt_dlp.extractor.youtube.jsc._builtin import deno as ytdlp_deno
from yt_dlp.extractor.youtube.jsc._builtin.ejs import ScriptSource
from yt_dlp.extractor.youtube.jsc._director import initialize_jsc_director

from bot.audio import fetch
from bot.audio.jsruntime import MIN_DENO, deno_path, deno_version, js_runtimes
from bot.config import AudioLimits
from bot.errors import CrateError

LOCAL = ("127.0.0.1",)


class _Caught(CrateError):
    """Raised where yt-dlp would start extracting: the YoutubeDL Crate built is all we need."""


@pytest.fixture
def crate_ydl_params(monkeypatch, tmp_path) -> dict:
    """The parameters ``download_link`` gives yt-dlp for a link, and every YoutubeDL it built on the way."""
    built: list[fetch._GuardedYoutubeDL] = []

    class Spy(fetch._GuardedYoutubeDL):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

        def extract_info(self, *args, **kwargs):
            raise _Caught(detail="caught")

    monkeypatch.setattr(fetch, "_GuardedYoutubeDL", Spy)
    monkeypatch.setenv("PATH", "/nonexistent")  # as under systemd with a bare PATH: no venv on it
    with pytest.raises(_Caught):
        fetch.download_link("http://127.0.0.1:9/song.ogg", tmp_path, limits=AudioLimits(), allowlist=LOCAL, timeout=1.0)
    monkeypatch.undo()
    extracting = [ydl for ydl in built if "format" in ydl.params]
    assert len(extracting) == 1
    for ydl in built:  # every HTTP request of every YoutubeDL Crate builds goes through the guard
        handlers = list(ydl._request_director.handlers.values())
        assert len(handlers) == 1 and isinstance(handlers[0], fetch.GuardedRH), handlers
    return dict(extracting[0].params)


@pytest.fixture
def deno_provider(crate_ydl_params) -> Iterator[ytdlp_deno.DenoJCP]:
    """yt-dlp's Deno challenge provider for YouTube, on a YoutubeDL with Crate's parameters."""
    params = {key: crate_ydl_params[key] for key in ("js_runtimes", "quiet", "no_warnings", "cachedir", "proxy")}
    with fetch._GuardedYoutubeDL(params, allowlist=LOCAL) as ydl:
        director = initialize_jsc_director(ydl.get_info_extractor("Youtube"))
        provider = director.providers["Deno"]
        assert isinstance(provider, ytdlp_deno.DenoJCP)
        yield provider


def test_deno_is_the_binary_of_the_deno_package():
    path = deno_path()
    assert path is not None, "the PyPI package deno is a dependency (pyproject.toml)"
    assert Path(path) == Path(sysconfig.get_path("scripts")) / "deno"
    assert os.access(path, os.X_OK)
    version = deno_version(path)
    assert version.supported and version.version_tuple >= MIN_DENO
    assert subprocess.run([path, "--version"], capture_output=True, text=True).stdout.startswith(
        f"deno {version.version}"
    )
    assert js_runtimes() == {"deno": {"path": path}}


def test_crate_names_the_deno_path_in_yt_dlps_params(crate_ydl_params):
    assert crate_ydl_params["js_runtimes"] == {"deno": {"path": deno_path()}}
    assert crate_ydl_params["proxy"] == ""  # and Deno is handed no proxy either


def test_yt_dlp_picks_that_deno_for_youtube_without_path(deno_provider, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert deno_provider.is_available()
    assert deno_provider.runtime_info.path == deno_path()
    assert deno_provider.runtime_info.supported
    # The challenge scripts come from the yt-dlp-ejs package (yt-dlp[default]), not from the network.
    assert deno_provider._lib_script.source is ScriptSource.PYPACKAGE
    assert deno_provider._core_script.source is ScriptSource.PYPACKAGE


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self):
        self.hits.append(self.path)
        body = b"export const pwned = true;"
        self.send_response(200)
        self.send_header("Content-Type", "application/javascript")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server() -> Iterator[tuple[int, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Counting,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


PROBE = """
const tried = {};
async function attempt(name, action) {
  try { await action(); tried[name] = "allowed"; } catch (error) { tried[name] = `${error.name}: ${error.message}`; }
}
await attempt("fetch", () => fetch("http://127.0.0.1:PORT/fetched"));
await attempt("connect", () => Deno.connect({ hostname: "127.0.0.1", port: PORT }));
await attempt("import", () => import("http://127.0.0.1:PORT/module.js"));
await attempt("hostname", () => Deno.readTextFile("/etc/hostname"));
await attempt("secret", () => Deno.readTextFile(SECRET));
await attempt("write", () => Deno.writeTextFile(SECRET, "overwritten"));
await attempt("env", () => Deno.env.get("HOME"));
await attempt("run", () => new Deno.Command(EXECUTABLE).output());
console.log(JSON.stringify(tried));
"""


def test_deno_run_as_yt_dlp_runs_it_has_no_network_and_no_files(deno_provider, local_server, tmp_path, monkeypatch):
    port, hits = local_server
    secret = tmp_path / "secret.txt"
    secret.write_text("the token")
    commands: list[list[str]] = []

    class Recorded(ytdlp_deno.Popen):
        def __init__(self, args, *rest, **kwargs):
            commands.append(list(args))
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(ytdlp_deno, "Popen", Recorded)
    script = (
        PROBE.replace("PORT", str(port))
        .replace("SECRET", json.dumps(str(secret)))
        .replace("EXECUTABLE", json.dumps(sys.executable))
    )
    tried = json.loads(deno_provider._run_js_runtime(script))  # yt-dlp's own command and flags

    assert len(commands) == 1
    command = commands[0]
    assert command[:2] == [deno_path(), "run"] and command[-1] == "-"
    assert not [flag for flag in command if flag.startswith(("--allow", "-A"))], command
    assert {"--no-prompt", "--no-remote", "--no-config", "--no-npm", "--cached-only"} <= set(command)

    assert set(tried) == {"fetch", "connect", "import", "hostname", "secret", "write", "env", "run"}
    for name in ("fetch", "connect"):
        assert tried[name].startswith("NotCapable") and "net access" in tried[name], tried
    assert "--no-remote" in tried["import"], tried
    for name in ("hostname", "secret"):
        assert tried[name].startswith("NotCapable") and "read access" in tried[name], tried
    assert tried["write"].startswith("NotCapable") and "write access" in tried["write"], tried
    assert tried["env"].startswith("NotCapable"), tried
    assert tried["run"].startswith("NotCapable") and "run access" in tried["run"], tried
    assert hits == []  # the local server never heard from Deno
    assert secret.read_text() == "the token"


def test_the_challenge_solver_loads_in_that_sandbox(deno_provider):
    """yt-dlp-ejs's solver (lib and core) loads and defines its entry point under those flags."""
    script = (
        f"{deno_provider._lib_script.code}\nObject.assign(globalThis, lib);\n{deno_provider._core_script.code}\n"
        "console.log(typeof jsc);"
    )
    assert deno_provider._run_js_runtime(script).strip() == "function"
