"""The stratum server (issue 14, docs/server.md): runs handed to it are indistinguishable from
cold runs; a refused, stopped or dead server means a cold run; a killed client kills its run.

One server per module, in a fresh cache directory, started with the environment the
differential harness gives ``python -m stratum`` runs (tests/difftest.py), and a second one for
the harness's ``STRATUM=1`` cache directory; both are stopped at teardown. Every served test
checks the run really was served (the server's count of runs). ``STRATUM_SERVER_CORPUS=all``
runs the whole differential corpus through the server instead of a sample.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

SAMPLE = ["clf_random_forest", "fail_value_error", "io_stdin_input", "misc_os_exit",
          "gal_warnings_encoder", "rand_unseeded_model", "misc_keyboard_interrupt"]
ADMIT = {"STRATUM_ADMIT": "all"}


def _env(cache) -> dict:
    env = difftest.build_env("stratum", cache)
    env.update(ADMIT)
    return env


def _stratum(env, *args, **kw):
    return subprocess.run([sys.executable, "-m", "stratum", *args], env=env,
                          capture_output=True, timeout=120, **kw)


class Server:
    def __init__(self, cache: Path):
        self.cache = cache
        self.env = _env(cache)
        r = _stratum(self.env, "serve")
        assert r.returncode == 0, r.stderr.decode()
        self.pid = self.status()["pid"]

    def status(self) -> dict:
        from stratum.server import server

        st = server.ask(str(self.cache), "status")
        assert st is not None, "the server does not answer"
        return st

    def served(self) -> int:
        return self.status()["served"]

    def stop(self) -> None:
        _stratum(self.env, "serve", "--stop", "--quiet")
        for _ in range(100):
            if not _alive(self.pid):
                return
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    base = tmp_path_factory.mktemp("srv")
    main = Server(base / "cache")
    try:
        env = Server(Path(str(base / "cache") + "-env"))
    except BaseException:
        main.stop()
        raise
    yield main, env
    main.stop()
    env.stop()


@pytest.fixture()
def server(servers):
    return servers[0]


def _run(cmd, env, cwd, stdin=b"", **kw):
    return subprocess.run(cmd, env=env, cwd=cwd, input=stdin, capture_output=True,
                          timeout=120, **kw)


def _plain(script, env, cwd, *args, **kw):
    return _run([sys.executable, script, *args], {k: v for k, v in env.items()
                                                  if not k.startswith("STRATUM")}, cwd, **kw)


def _served(server, script, cwd, *args, env_mode=False, extra=None, **kw):
    env = dict(server.env, **(extra or {}))
    if env_mode:
        env["STRATUM"] = "1"
        return _run([sys.executable, script, *args], env, cwd, **kw)
    return _run([sys.executable, "-m", "stratum", script, *args], env, cwd, **kw)


def _same(a, b):
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)


# ---- pieces -----------------------------------------------------------------------------------
def test_cache_dir_is_configs(monkeypatch):
    from stratum.config import default_cache_dir
    from stratum.session import handoff

    for env in ({}, {"XDG_CACHE_HOME": "/x/y"}, {"STRATUM_CACHE_DIR": "~/c"},
                {"STRATUM_CACHE_DIR": "/a", "XDG_CACHE_HOME": "/b"}):
        monkeypatch.delenv("STRATUM_CACHE_DIR", raising=False)
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        assert handoff.cache_dir() == str(default_cache_dir())


def test_usage_errors(tmp_path):
    env = _env(tmp_path / "c")
    assert _stratum(env, "serve", "--bogus").returncode == 2
    assert _stratum(env, "serve", "--stop", "--status").returncode == 2
    assert _stratum(env, "submit").returncode == 2
    assert _stratum(env, "submit", "--timeout").returncode == 2
    assert b"usage" in _stratum(env, "serve", "--help").stdout
    r = _stratum(env, "serve", "--status")
    assert r.returncode == 1 and b"no server" in r.stdout


def test_socket_is_private(server):
    import stat

    info = os.stat(server.status()["socket"])
    assert stat.S_ISSOCK(info.st_mode) and info.st_mode & 0o777 == 0o600
    assert info.st_uid == os.getuid()


# ---- the corpus -------------------------------------------------------------------------------
def _corpus():
    scripts = difftest.corpus_scripts(filter_text="")
    if os.environ.get("STRATUM_SERVER_CORPUS") == "all":
        return scripts
    return [s for s in scripts if s.stem in SAMPLE]


@pytest.mark.parametrize("script", _corpus(), ids=lambda s: s.stem)
def test_corpus_through_server(script, servers, corpus_data, corpus_workdir):
    """plain vs python -m stratum (cold cache, warm cache) vs STRATUM=1 (cold, warm): all
    served, all identical (tests/difftest.py compares outputs, exit codes, files, traces)."""
    main, env = servers
    for s in servers:  # a cold cache for this script: no entry, no trace of an earlier one
        for what in (("cache", "clear"), ("trace", "clear")):
            _stratum(s.env, *what)
    before = main.served(), env.served()
    results, problems = difftest.run_differential(
        script, corpus_workdir, main.cache, data_dir=corpus_data, env_mode=True,
        support_files=difftest.corpus_folder_files(), reuse_plain=True)
    assert not problems, "\n".join(r.summary() for r in results) + "\n\n" + "\n".join(problems)
    assert (main.served() - before[0], env.served() - before[1]) == (2, 2), \
        "not every run went through the server"


# ---- what a script sees -----------------------------------------------------------------------
SEES = r'''
import os, sys
m = os.umask(0); os.umask(m)
open("made.txt", "w").close()
print(json.dumps({"argv": sys.argv, "file": __file__, "path": sys.path, "cwd": os.getcwd(),
    "env": {k: v for k, v in os.environ.items() if not k.startswith("STRATUM")},
    "flags": list(sys.flags), "tty": [os.isatty(i) for i in range(3)],
    "line_buffering": sys.stdout.line_buffering, "umask": m,
    "mode": os.stat("made.txt").st_mode & 0o777, "hash": hash("abc"),
    "enc": [sys.stdout.encoding, sys.stderr.errors], "name": __name__,
    "main": sorted(k for k in vars(sys.modules["__main__"]) if k.startswith("__")),
    "signals": [str(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM,
                                                   signal.SIGPIPE, signal.SIGHUP)]}))
'''


def _sees_script(folder: Path) -> str:
    (folder / "sees.py").write_text("import json, signal\n" + SEES)
    return "sees.py"


def test_script_sees_what_plain_python_shows(server, tmp_path):
    script = _sees_script(tmp_path)
    um = {"preexec_fn": lambda: os.umask(0o027)}
    plain = json.loads(_plain(script, server.env, tmp_path, "a b", "-x", **um).stdout)
    n = server.served()
    for env_mode in (False, True):
        got = json.loads(_served(server, script, tmp_path, "a b", "-x", env_mode=env_mode,
                                 **um).stdout)
        assert got == plain
    assert server.served() == n + 2


def test_orig_argv_is_the_clients(server, tmp_path):
    (tmp_path / "o.py").write_text("import sys; print(sys.orig_argv[1:])\n")
    n = server.served()
    r = _served(server, "o.py", tmp_path, "z")
    assert r.stdout == b"['-m', 'stratum', 'o.py', 'z']\n"
    r = _served(server, "o.py", tmp_path, "z", env_mode=True)
    assert r.stdout == b"['o.py', 'z']\n"
    assert server.served() == n + 2


def test_tty(server, tmp_path):
    """stdout on a terminal: a tty, line-buffered, as in plain python."""
    import pty

    script = _sees_script(tmp_path)
    outs = []
    for served in (False, True):
        master, slave = pty.openpty()
        env = server.env if served else {k: v for k, v in server.env.items()
                                         if not k.startswith("STRATUM")}
        cmd = [sys.executable, "-m", "stratum", script] if served else [sys.executable, script]
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdin=slave, stdout=slave,
                                stderr=subprocess.PIPE)
        os.close(slave)
        data = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        proc.wait(timeout=60)
        os.close(master)
        outs.append(json.loads(data.decode().replace("\r\n", "\n")))
    assert outs[0]["tty"] == [True, True, False] and outs[0]["line_buffering"]
    assert outs[1] == outs[0]


# ---- endings ----------------------------------------------------------------------------------
ENDINGS = {
    "exit3": "import sys\nprint('a')\nsys.exit(3)\n",
    "exitmsg": "import sys\nsys.exit('bye')\n",
    "raise": "import numpy as np\nprint(np.arange(3))\ndef f():\n    raise ValueError('x')\nf()\n",
    "os_exit": "import os\nprint('lost in the buffer')\nos._exit(7)\n",
    "segv": "import os, signal, sys\nprint('x', flush=True)\nos.kill(os.getpid(), signal.SIGSEGV)\n",
    "syntax": "print('a'\n",
    "atexit": "import atexit\natexit.register(print, 'bye')\nprint('hi')\n",
}


@pytest.mark.parametrize("name", sorted(ENDINGS))
def test_endings_as_plain(server, tmp_path, name):
    (tmp_path / f"end_{name}.py").write_text(ENDINGS[name])
    plain = _plain(f"end_{name}.py", server.env, tmp_path)
    n = server.served()
    _same(_served(server, f"end_{name}.py", tmp_path), plain)
    if name == "segv":
        assert plain.returncode == -signal.SIGSEGV
    assert server.served() == n + 1


def test_files_left_open_are_written(server, tmp_path):
    """Files a script leaves open are flushed at its exit (the server's sockets, inherited by
    the fork, must not close fd numbers the script's files reuse)."""
    (tmp_path / "u.py").write_text("import pandas\nfs = [open(f'f{i}.txt', 'w') for i in "
                                   "range(12)]\nfor i, f in enumerate(fs):\n"
                                   "    f.write(str(i) * 1000)\n")
    n = server.served()
    r = _served(server, "u.py", tmp_path)
    assert r.returncode == 0 and server.served() == n + 1
    for i in range(12):
        assert (tmp_path / f"f{i}.txt").read_text() == str(i) * 1000


SLEEPER = """\
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(os.getpid(), child.pid, flush=True)
time.sleep(60)
"""


def test_client_killed_kills_run(server, tmp_path):
    (tmp_path / "sl.py").write_text(SLEEPER)
    proc = subprocess.Popen([sys.executable, "-m", "stratum", "sl.py"], env=server.env,
                            cwd=tmp_path, stdout=subprocess.PIPE)
    run, child = map(int, proc.stdout.readline().split())
    assert run != proc.pid  # served
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 2
    while (_alive(run) or _alive(child)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(run) and not _alive(child)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_client_as_plain(server, tmp_path, sig):
    (tmp_path / "w.py").write_text("import time\nprint('ready', flush=True)\ntime.sleep(30)\n")
    got = []
    for served in (False, True):
        env = server.env if served else {k: v for k, v in server.env.items()
                                         if not k.startswith("STRATUM")}
        cmd = [sys.executable, "-m", "stratum", "w.py"] if served else [sys.executable, "w.py"]
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(0.5)  # in time.sleep by now (else the traceback shows where it was)
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
        assert time.monotonic() - t0 < 5
        got.append((proc.returncode, out, err))
    assert got[1] == got[0]
    assert got[0][0] == -sig


def test_ctrl_c_on_a_terminal_as_plain(server, tmp_path):
    """Ctrl-C on a terminal reaches plain python and the process it started; through the
    server too (the client forwards a terminal's signal to the run's process group)."""
    import pty

    (tmp_path / "c.py").write_text(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
        "time.sleep(0.5)\nprint('ready', flush=True)\ntime.sleep(30)\n")
    got = []
    n = server.served()
    for served in (False, True):
        env = server.env if served else {k: v for k, v in server.env.items()
                                         if not k.startswith("STRATUM")}
        cmd = [sys.executable, "-m", "stratum", "c.py"] if served else [sys.executable, "c.py"]
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(tmp_path)
            # a terminal's shell starts python with 0 / 1 / 2 only; this fork holds the test
            # process's descriptors (a process given more runs cold: it could use them)
            os.closerange(3, 4096)
            os.execve(sys.executable, cmd, env)
        data = b""
        while b"ready" not in data:
            data += os.read(fd, 4096)
        time.sleep(0.5)
        os.write(fd, b"\x03")
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        got.append((os.waitstatus_to_exitcode(status), sorted(data.splitlines())))
    assert got[1] == got[0]
    assert got[0][0] == -signal.SIGINT and got[0][1].count(b"KeyboardInterrupt") == 2
    assert server.served() == n + 1


# ---- cold instead -----------------------------------------------------------------------------
def test_import_time_env_difference_runs_cold(server, tmp_path):
    (tmp_path / "e.py").write_text("import numpy, os\nprint(os.environ['OMP_NUM_THREADS'])\n")
    n = server.served()
    r = _served(server, "e.py", tmp_path, extra={"OMP_NUM_THREADS": "1", "STRATUM_EXPLAIN": "1"})
    assert r.returncode == 0 and r.stdout == b"1\n"
    assert b"not run by the stratum server: environment variable OMP_NUM_THREADS" in r.stderr
    assert server.served() == n


@pytest.mark.parametrize("how", ["flags", "hashseed"])
def test_other_flags_or_hash_seed_run_cold(server, tmp_path, how):
    """``python -O`` (other sys.flags) or another PYTHONHASHSEED than the server's: cold, and
    the same output as plain python with the same settings."""
    (tmp_path / "h.py").write_text("import sys\nprint(sys.flags.optimize, hash('abc'))\n")
    n = server.served()
    env = dict(server.env, STRATUM_EXPLAIN="1")
    pre = ["-O"] if how == "flags" else []
    if how == "hashseed":
        env["PYTHONHASHSEED"] = "1"
    r = _run([sys.executable, *pre, "-m", "stratum", "h.py"], env, tmp_path)
    plain = _run([sys.executable, *pre, "h.py"], {k: v for k, v in env.items()
                                                  if not k.startswith("STRATUM")}, tmp_path)
    assert r.stdout == plain.stdout and r.returncode == 0
    why = b"interpreter flags" if how == "flags" else b"environment variable PYTHONHASHSEED"
    assert b"not run by the stratum server: " + why in r.stderr
    assert server.served() == n


def test_shadowing_module_runs_cold(server, tmp_path):
    # Whether the server holds joblib depends on its preload (scikit-learn imports it, unless
    # that import was judged noisy and left out): a served probe says which.
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "p.py").write_text("import sys\nprint('joblib' in sys.modules)\n")
    held = _run([sys.executable, "-m", "stratum", "p.py"], server.env, probe).stdout == b"True\n"
    (tmp_path / "joblib.py").write_text("WHO = 'mine'\n")
    (tmp_path / "j.py").write_text("import joblib\nprint(joblib.WHO)\n")
    n = server.served()
    r = _run([sys.executable, "-m", "stratum", "--explain", "j.py"], server.env, tmp_path)
    assert r.stdout == b"mine\n"  # the folder's module, as plain python imports it
    if held:
        assert b"named like a preloaded one (joblib)" in r.stderr
        assert server.served() == n
    else:  # nothing to shadow in the server: a warm fork imports the folder's module itself
        assert b"run by the stratum server" in r.stderr


def test_stopped_server_falls_back_within_bounded_wait(server, tmp_path):
    (tmp_path / "p.py").write_text("print('cold')\n")
    n = server.served()
    os.kill(server.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = _served(server, "p.py", tmp_path, extra={"STRATUM_SERVER_WAIT": "0.5"})
        took = time.monotonic() - t0
    finally:
        os.kill(server.pid, signal.SIGCONT)
    assert r.returncode == 0 and r.stdout == b"cold\n" and r.stderr == b""
    assert took < 10
    time.sleep(0.3)
    assert server.served() == n  # resumed, the server did not run it a second time


def test_dead_server_falls_back(tmp_path):
    import socket

    from stratum.session import handoff

    cache = tmp_path / "c"
    cache.mkdir(mode=0o700)
    env = _env(cache)
    path = subprocess.run([sys.executable, "-c", "from stratum.session import handoff; "
                           "print(handoff.socket_path())"], env=env, capture_output=True,
                          text=True).stdout.strip()
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()  # the file stays, nobody listens: a crashed server
    assert os.path.exists(path) and path.startswith(str(cache))
    (tmp_path / "p.py").write_text("print('cold')\n")
    r = _run([sys.executable, "-m", "stratum", "--explain", "p.py"], env, tmp_path)
    assert r.returncode == 0 and r.stdout == b"cold\n"
    assert b"not run by the stratum server: no server answers" in r.stderr
    assert handoff.socket_path(str(cache)) == path


# ---- the submission API -----------------------------------------------------------------------
CODE = "import numpy as np\nx = np.arange(4)\nprint(x.sum())\n\ndef f():\n    return 1 / 0\n\nf()\n"


def test_client_code_string_as_a_file(server, tmp_path):
    from stratum.client import Client

    (tmp_path / "runfile.py").write_text(CODE)
    plain = _plain("runfile.py", server.env, tmp_path)
    (tmp_path / "runfile.py").unlink()
    res = Client(cache_dir=server.cache).run(CODE, cwd=str(tmp_path), env=server.env)
    assert res.served and not (tmp_path / "runfile.py").exists()
    assert (res.returncode, res.stdout, res.stderr) == (plain.returncode, plain.stdout,
                                                        plain.stderr)
    assert b'runfile.py", line 6, in f' in res.stderr and b"return 1 / 0" in res.stderr
    assert res.operations and res.reused is not None


def test_client_concurrent_submissions(server, tmp_path):
    from stratum.client import Client

    code = ("import os, sys, pandas as pd\nn = int(sys.argv[1])\n"
            "pd.DataFrame({'a': [n] * 3}).to_csv('out.csv', index=False)\n"
            "print(n, os.getcwd(), input())\n"
            "if n == 5:\n    raise SystemExit(n)\n")
    n0 = server.served()
    with Client(cache_dir=server.cache) as client:
        futures = []
        for i in range(8):
            d = tmp_path / f"r{i}"
            d.mkdir()
            futures.append((i, d, client.submit(code, argv=[str(i)], stdin=f"in{i}\n",
                                                cwd=str(d), env=server.env)))
        for i, d, fut in futures:
            res = fut.result(timeout=120)
            assert res.served
            assert res.stdout == f"{i} {d} in{i}\n".encode()
            assert res.returncode == (5 if i == 5 else 0), res.stderr
            assert (d / "out.csv").read_text() == f"a\n{i}\n{i}\n{i}\n"
    assert server.served() == n0 + 8


def test_client_timeout_and_fallback(server, tmp_path):
    from stratum.client import Client

    res = Client(cache_dir=server.cache).run("import time\nprint('a', flush=True)\n"
                                             "time.sleep(30)\n", cwd=str(tmp_path),
                                             env=server.env, timeout=1)
    assert res.timed_out and res.returncode == -signal.SIGKILL and res.stdout == b"a\n"
    assert res.seconds < 5
    cold = Client(cache_dir=tmp_path / "none").run(CODE, cwd=str(tmp_path), env=server.env)
    assert not cold.served and cold.reason and b"ZeroDivisionError" in cold.stderr
    assert b"return 1 / 0" in cold.stderr


def test_submit_command(server, tmp_path):
    r = _run([sys.executable, "-m", "stratum", "submit", "-c",
              "import sys; print(sys.argv); sys.exit(4)", "a"], server.env, tmp_path)
    assert (r.returncode, r.stdout) == (4, b"['runfile.py', 'a']\n")


def test_server_memory_does_not_grow(server, tmp_path):
    from stratum.client import Client

    client = Client(cache_dir=server.cache)
    client.run("import pandas\nprint(1)\n", cwd=str(tmp_path), env=server.env)
    before = server.status()["rss"]
    for _ in range(15):
        client.run("import pandas as pd\nprint(pd.Series(range(1000)).sum())\n",
                   cwd=str(tmp_path), env=server.env)
    assert server.status()["rss"] - before < 8 << 20


# ---- starting and stopping --------------------------------------------------------------------
def test_autostart_then_served_and_sigterm_stops(tmp_path):
    """STRATUM_SERVE=1: the first run is cold and starts a server in the background; a later
    run is served. SIGTERM stops the server at once (no runs in flight) and removes its socket."""
    cache = tmp_path / "c"
    env = dict(_env(cache), STRATUM_SERVE="1")
    (tmp_path / "p.py").write_text("print('hi')\n")
    first = _run([sys.executable, "-m", "stratum", "p.py"], env, tmp_path)
    assert (first.returncode, first.stdout, first.stderr) == (0, b"hi\n", b"")
    from stratum.server import server as srv

    deadline = time.monotonic() + 90
    st = None
    while st is None and time.monotonic() < deadline:
        time.sleep(0.2)
        st = srv.ask(str(cache), "status", 0.5)
    assert st is not None, "STRATUM_SERVE=1 started no server"
    try:
        again = _run([sys.executable, "-m", "stratum", "--explain", "p.py"], env, tmp_path)
        assert again.stdout == b"hi\n" and b"run by the stratum server" in again.stderr
        os.kill(st["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 5
        while _alive(st["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(st["pid"]) and not os.path.exists(st["socket"])
    finally:
        if _alive(st["pid"]):
            os.kill(st["pid"], signal.SIGKILL)


def test_stale_only_when_installs_change(tmp_path):
    """A file created and removed in site-packages (a lock, a probe) does not make the server
    stale; a new distribution does."""
    from stratum.server import server as srv

    site = tmp_path / "site-packages"
    (site / "lib-1.0.dist-info").mkdir(parents=True)
    s = srv.Server(str(tmp_path), [], set())
    s.sites = {str(site): srv._installed(str(site))}
    s.watched = {str(site): srv._stamp(str(site))}
    time.sleep(0.01)
    (site / ".tmp-probe").write_text("x")
    (site / ".tmp-probe").unlink()
    assert s.changed() is None
    time.sleep(0.01)
    (site / "other-2.0.dist-info").mkdir()
    assert s.changed() == str(site)


INFLIGHT = ("import os, sys, time\nprint(os.getpid(), flush=True)\ntime.sleep(2.5)\n"
            "print('end')\nsys.exit(3)\n")


@pytest.mark.parametrize("how", ["deleted", "replaced", "cache_dir_removed"])
def test_server_exits_when_its_socket_goes(tmp_path, how):
    """An idle server whose socket file was deleted, replaced (another server's) or whose cache
    directory was removed can never be reached again: it exits, after its runs in flight end
    (they end as they would have), and leaves a socket that is not its own alone."""
    import shutil
    import socket

    from stratum.server import server as srv

    cache = tmp_path / "c"
    env = _env(cache)
    r = _stratum(env, "serve", "--quiet", "--exclude", "numpy,pandas,scipy,sklearn")
    assert r.returncode == 0, r.stderr.decode()
    st = srv.ask(str(cache), "status")
    pid, sock = st["pid"], st["socket"]
    try:
        proc = None
        if how != "cache_dir_removed":  # a run in flight, served
            (tmp_path / "s.py").write_text(INFLIGHT)
            proc = subprocess.Popen([sys.executable, "-m", "stratum", "s.py"], env=env,
                                    cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert int(proc.stdout.readline()) != proc.pid
        if how == "deleted":
            os.unlink(sock)
        elif how == "replaced":
            other = socket.socket(socket.AF_UNIX)
            other.bind(sock + ".other")
            os.replace(sock + ".other", sock)
        else:
            shutil.rmtree(cache)
        if proc is not None:
            time.sleep(1.5)  # past the server's check: it waits for the run
            assert _alive(pid) and proc.poll() is None
            out, err = proc.communicate(timeout=30)
            assert (proc.returncode, out, err) == (3, b"end\n", b"")
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), "the server did not notice its socket was gone"
        if how == "replaced":
            assert os.path.exists(sock)  # the other server's socket stays
            other.close()
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


# ---- -m module and -c code --------------------------------------------------------------------
MAIN_BODY = {
    "ok": "import sys, numpy as np\nprint(sys.argv, sys.path[0], list(vars()), __name__,\n"
          "      __spec__ and __spec__.name, __package__, np.arange(3).sum())\n",
    "raise": "import numpy as np\nprint('before')\ndef f(a):\n    return a.reshape(7)\n"
             "f(np.arange(3))\n",
    "exit": "import sys\nprint('out')\nsys.exit('bye')\n",
}


def _plain_env(env) -> dict:
    return {k: v for k, v in env.items() if not k.startswith("STRATUM")}


@pytest.mark.parametrize("body", sorted(MAIN_BODY))
def test_module_as_plain(server, tmp_path, body):
    """``python -m stratum -m pk.m`` and ``STRATUM=1 python -m pk.m`` (and a package's
    ``__main__``), served: the bytes, exit code, argv, sys.path[0] and __main__ of plain
    ``python -m``; a traceback shows the same ``<frozen runpy>`` frames."""
    pk = tmp_path / "pk"
    pk.mkdir()
    (pk / "__init__.py").write_text("import os\n")
    (pk / "m.py").write_text(MAIN_BODY[body])
    (pk / "__main__.py").write_text(MAIN_BODY[body])
    for name in ("pk.m", "pk"):
        plain = _run([sys.executable, "-m", name, "a b", "-x"], _plain_env(server.env),
                     tmp_path)
        if body == "raise":
            assert b'File "<frozen runpy>"' in plain.stderr and b"line 4, in f" in plain.stderr
        n = server.served()
        _same(_run([sys.executable, "-m", "stratum", "-m", name, "a b", "-x"], server.env,
                   tmp_path), plain)
        _same(_run([sys.executable, "-m", name, "a b", "-x"], dict(server.env, STRATUM="1"),
                   tmp_path), plain)
        assert server.served() == n + 2


@pytest.mark.parametrize("body", sorted(MAIN_BODY))
def test_command_as_plain(server, tmp_path, body):
    """``python -m stratum -c CODE`` and ``STRATUM=1 python -c CODE``, served: as ``python -c``
    (argv[0] ``-c``, sys.path[0] ``''``, no ``__file__``, tracebacks in ``<string>``)."""
    code = MAIN_BODY[body].replace("__spec__ and __spec__.name, ", "")
    plain = _run([sys.executable, "-c", code, "a b", "-x"], _plain_env(server.env), tmp_path)
    if body == "ok":
        assert plain.stdout.startswith(b"['-c', 'a b', '-x'] ")
    n = server.served()
    _same(_run([sys.executable, "-m", "stratum", "-c", code, "a b", "-x"], server.env,
               tmp_path), plain)
    _same(_run([sys.executable, "-c", code, "a b", "-x"], dict(server.env, STRATUM="1"),
               tmp_path), plain)
    assert server.served() == n + 2


def test_module_and_command_cold_when_they_must(server, tmp_path):
    """What cannot be served identically runs cold, with the same output as plain, and
    --explain says why: a folder module shadowing a preloaded library, a module not found, a
    tool's module under STRATUM=1, a -c glued to its code."""
    (tmp_path / "pandas.py").write_text("WHO = 'mine'\n")
    pk = tmp_path / "pk"
    pk.mkdir()
    (pk / "__init__.py").write_text("")
    (pk / "m.py").write_text("import pandas\nprint(pandas.WHO)\n")
    code = "import pandas\nprint(pandas.WHO)\n"
    plain_env = _plain_env(server.env)
    explain = dict(server.env, STRATUM_EXPLAIN="1")
    n = server.served()
    cases = [([sys.executable, "-m", "pk.m"], b"named like a preloaded one (pandas)"),
             ([sys.executable, "-c", code], b"named like a preloaded one (pandas)"),
             ([sys.executable, "-m", "nosuch_mod_x"], None)]
    for cmd, why in cases:
        plain = _run(cmd, plain_env, tmp_path)
        r = _run([cmd[0], "-m", "stratum", *cmd[1:]], server.env, tmp_path)
        _same(r, plain)
        _same(_run(cmd, dict(server.env, STRATUM="1"), tmp_path), plain)
        if why is not None:
            r = _run([cmd[0], "-m", "stratum", "--explain", *cmd[1:]], server.env, tmp_path)
            assert b"not run by the stratum server: " in r.stderr and why in r.stderr
    tool = _run([sys.executable, "-m", "json.tool"], plain_env, tmp_path, stdin=b'{"a": 1}')
    _same(_run([sys.executable, "-m", "json.tool"], dict(server.env, STRATUM="1"), tmp_path,
               stdin=b'{"a": 1}'), tool)
    glued = _run([sys.executable, "-cimport numpy; print(numpy.int64(3))"],
                 dict(explain, STRATUM="1"), tmp_path)
    assert glued.stdout == b"3\n" and b"not a separate word" in glued.stderr
    assert server.served() == n


# ---- cache entries held in the server's memory ------------------------------------------------
BIG = """\
import numpy as np
from sklearn.preprocessing import StandardScaler

X = np.arange({n} * 8, dtype=float).reshape({n}, 8) % {mod}
Xs = StandardScaler().fit_transform(X)
a = np.arange({n} * 8 + 1, dtype=float)
a[0] = 12345.0  # a change in place: the held bytes must not see it
b = np.arange({n} * 8 + 1, dtype=float)  # the same key, loaded again in the run
print(Xs.shape, float(Xs[1:].sum()), float(b[0]), np.shares_memory(a, b), b.flags.writeable)
"""


def _explained(server, script, cwd, **kw):
    r = _served(server, script, cwd, extra={"STRATUM_EXPLAIN": "1"}, **kw)
    line = [ln for ln in r.stderr.splitlines() if b"run by the stratum server" in ln]
    assert r.returncode == 0 and line, r.stderr.decode()
    return r, line[0]


def _held_keys(server, wait=30.0) -> dict:
    """The server's hot-set figures once it has loaded what the last run used."""
    deadline = time.monotonic() + wait
    while True:
        held = server.status()["hot"]
        if not held["pending"] or time.monotonic() > deadline:
            return held
        time.sleep(0.05)


def test_rerun_reads_entries_from_the_servers_memory(server, tmp_path):
    """A served re-run gets its cache entries from the server's memory, verified once by the
    server, and prints the bytes a plain run prints; a value changed in place by the run does
    not change the held bytes (a second load of the key in the run reads the disk)."""
    (tmp_path / "big.py").write_text(BIG.format(n=300_000, mod=977))  # ~19 MB per entry
    plain = _plain("big.py", server.env, tmp_path)
    first, line = _explained(server, "big.py", tmp_path)
    assert first.stdout == plain.stdout and b"read from its memory" not in line
    held = _held_keys(server)
    assert held["entries"] >= 1 and held["bytes"] <= held["budget"]
    hits = held["hits"]
    for _ in range(2):
        again, line = _explained(server, "big.py", tmp_path)
        assert again.stdout == plain.stdout
        assert b"cache entries (" in line and b"read from its memory" in line, line
    assert _held_keys(server)["hits"] > hits
    from stratum.client import Client

    code = (tmp_path / "big.py").read_text()
    client = Client(cache_dir=server.cache)
    res = client.run(code, cwd=str(tmp_path), env=server.env, filename="big.py")
    assert res.served and res.stdout == plain.stdout and res.hot >= 1
    # a memory limit: the run unmaps its copy of the held entries (they would count) first
    res = client.run(code, cwd=str(tmp_path), env=server.env, filename="big.py",
                     memory=16 << 30)
    assert res.served and res.stdout == plain.stdout and res.hot == 0, res.stderr


def test_entry_rewritten_on_disk_is_not_served_stale(server, tmp_path):
    """An entry replaced on disk after the server held it (another process, a gc) is read from
    the disk; one deleted is recomputed: never the held copy."""
    from stratum.cache import cache as cache_mod

    (tmp_path / "big.py").write_text(BIG.format(n=200_000, mod=613))
    plain = _plain("big.py", server.env, tmp_path)
    before = {p.name for p in (server.cache / "objects").glob("*/*")}
    _explained(server, "big.py", tmp_path)
    mine = [p for p in (server.cache / "objects").glob("*/*") if p.name not in before]
    assert mine
    _held_keys(server)
    # another process rewrites the entries: the same values, signed again (another MAC: the
    # meta's time differs), written by os.replace as the cache does
    secret = cache_mod.read_secret(server.cache)
    from stratum.cache import serialize

    for p in mine:
        frozen, meta = serialize.open_entry(bytearray(p.read_bytes()), key=p.name,
                                            secret=secret)
        value = serialize.thaw(frozen)
        blob = serialize.dumps(value, key=p.name, secret=secret,
                               meta=dict(meta, created=meta.get("created", 0) + 1))
        tmp = p.with_name(".tmp-test")
        tmp.write_bytes(b"".join(bytes(c) for c in blob.chunks))
        os.chmod(tmp, 0o600)
        os.replace(tmp, p)
    r, line = _explained(server, "big.py", tmp_path)
    assert r.stdout == plain.stdout
    assert b"read from its memory" not in line, line  # the held copies are stale: disk
    _held_keys(server)  # the server notices and holds the new bytes
    r, line = _explained(server, "big.py", tmp_path)
    assert r.stdout == plain.stdout and b"read from its memory" in line
    for p in mine:  # deleted (cache gc, eviction): recomputed, not served from memory
        p.unlink()
    r, line = _explained(server, "big.py", tmp_path)
    assert r.stdout == plain.stdout and b"read from its memory" not in line, line


def test_held_entries_stay_within_the_budget(tmp_path):
    """Many runs with distinct big entries: the server holds at most STRATUM_SERVER_HOT_MB of
    them, and its resident memory stays bounded by that budget."""
    cache = tmp_path / "c"
    env = dict(_env(cache), STRATUM_SERVER_HOT_MB="40")
    r = _stratum(env, "serve")
    assert r.returncode == 0, r.stderr.decode()
    srv = Server.__new__(Server)
    srv.cache, srv.env = cache, env
    srv.pid = srv.status()["pid"]
    try:
        assert srv.status()["hot"]["budget"] == 40 << 20
        (tmp_path / "b.py").write_text(
            "import sys\nimport numpy as np\nfrom sklearn.preprocessing import StandardScaler\n"
            "X = np.arange(250_000 * 8, dtype=float).reshape(-1, 8) + int(sys.argv[1])\n"
            "print(StandardScaler().fit_transform(X).sum())\n")
        _served(srv, "b.py", tmp_path, "0")
        _held_keys(srv)
        base = srv.status()["rss"]
        for i in range(1, 10):  # ~16 MB entries each
            r = _served(srv, "b.py", tmp_path, str(i))
            assert r.returncode == 0, r.stderr.decode()
            held = _held_keys(srv)
            assert held["bytes"] <= 40 << 20
        st = srv.status()
        assert st["served"] == 10 and st["hot"]["dropped"] > 0
        assert st["rss"] - base < (40 << 20) + (16 << 20), (st["rss"] - base) / 2**20
        shown = _stratum(env, "serve", "--status").stdout
        assert b"cache entries held in memory" in shown and b"of 40 MiB" in shown
    finally:
        srv.stop()


def test_no_held_entries_with_a_zero_budget(tmp_path):
    cache = tmp_path / "c"
    env = dict(_env(cache), STRATUM_SERVER_HOT_MB="0")
    assert _stratum(env, "serve").returncode == 0
    srv = Server.__new__(Server)
    srv.cache, srv.env = cache, env
    srv.pid = srv.status()["pid"]
    try:
        assert srv.status()["hot"] is None
        (tmp_path / "big.py").write_text(BIG.format(n=100_000, mod=101))
        plain = _plain("big.py", env, tmp_path)
        for _ in range(2):
            r, line = _explained(srv, "big.py", tmp_path)
            assert r.stdout == plain.stdout and b"read from its memory" not in line
    finally:
        srv.stop()


def test_held_entry_is_handed_out_once_per_process(tmp_path):
    """What a run does to a value built on held bytes stays out of a second load of the same
    key in that run: the held copy is used once, then the disk is read (verified)."""
    import numpy as np

    from stratum.cache import cache as cache_mod
    from stratum.cache import hot

    folder = tmp_path / "c"
    key = "ab" * 16
    value = np.arange(300_000 * 8, dtype=float).reshape(-1, 8)
    cache_mod.Cache(folder, 1 << 30, admit_all=True).put(key, value, 1.0)
    held = hot.HotSet(folder, 64 << 20, lambda: cache_mod.read_secret(folder))
    held.want([key])
    while held.busy:
        held.step()
    assert held.stats()["entries"] == 1
    saved, hot.active = hot.active, held
    try:
        cache = cache_mod.Cache(folder, 1 << 30, admit_all=True, memory_budget=0)
        hit, first = cache.get(key)
        assert hit and cache.hot_hits == 1 and np.array_equal(first, value)
        first[0, 0] = 12345.0
        hit, second = cache.get(key)
        assert hit and cache.hot_hits == 1 and second[0, 0] == 0.0
        assert cache.used_keys() == [key]
    finally:
        hot.active = saved


def test_a_run_forked_during_a_load_drops_it(tmp_path):
    """A run forked while the server is half-way through reading an entry closes that file
    (it is in the list of fds the fork closes) and unmaps the half-read copy."""
    import numpy as np

    from stratum.cache import cache as cache_mod
    from stratum.cache import hot

    folder = tmp_path / "c"
    key = "cd" * 16
    cache_mod.Cache(folder, 1 << 30, admit_all=True).put(
        key, np.ones((300_000, 8)), 1.0)  # ~19 MB: more than one slice
    held = hot.HotSet(folder, 64 << 20, lambda: cache_mod.read_secret(folder))
    held.want([key])
    held.step(0)
    assert held.loading is not None and held.loading.done == hot.SLICE
    fds, memory = held.fds(), held.loading.memory
    assert len(fds) == 1
    for fd in fds:
        os.close(fd)
    held.forget_fds()
    assert memory.closed and not held.busy and held.fds() == []
    assert held.stats()["entries"] == 0


def test_a_failure_holding_entries_is_not_the_servers_end(tmp_path, monkeypatch):
    from stratum.cache import hot
    from stratum.server import server as srv

    saved = hot.active
    s = srv.Server(str(tmp_path), [], set(), quiet=True)
    s.start_hot(1 << 20)
    try:
        s.hot.want(["ef" * 16])

        def broken(*a, **k):
            raise RuntimeError("boom")

        monkeypatch.setattr(s.hot, "step", broken)
        s._hold()  # logged, not raised
        assert s.hot.budget == 0 and not s.hot.busy
        s.hot.want(["ef" * 16])
        assert not s.hot.busy  # holds nothing from now on
    finally:
        hot.active = saved


def test_a_run_given_extra_descriptors_runs_cold(server, tmp_path):
    """A process its parent gave a descriptor (``pass_fds``: loky's and multiprocessing's
    resource tracker, a ``python -c`` under ``STRATUM=1``) runs cold: a fork of the server
    would not have it (the tracker died with ``Bad file descriptor``)."""
    code = "import os, sys\nos.write(int(sys.argv[1]), b'through the pipe')\nprint('ok')\n"
    (tmp_path / "s.py").write_text(code)
    for cmd, env in (([sys.executable, "-m", "stratum", "-c", code], server.env),
                     ([sys.executable, "-c", code], dict(server.env, STRATUM="1")),
                     ([sys.executable, "-m", "stratum", "s.py"], server.env)):
        r, w = os.pipe()
        n = server.served()
        try:
            p = subprocess.run([*cmd, str(w)], env=env, cwd=tmp_path, pass_fds=[w],
                               capture_output=True, timeout=120)
            os.close(w)
            data = os.read(r, 100)
        finally:
            os.close(r)
        assert (p.returncode, p.stdout, p.stderr) == (0, b"ok\n", b""), p.stderr.decode()
        assert data == b"through the pipe"
        assert server.served() == n
