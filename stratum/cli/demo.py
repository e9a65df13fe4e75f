"""``python -m stratum demo``: stratum's main job, shown in under a minute on a built-in example.

Why it exists: a new user has no batch of agent scripts at hand, and ``bench`` needs one. The
demo brings its own: it writes a generated customer-churn table (fixed seed, numeric and
categorical columns, missing values; nothing is downloaded) and the scripts an agent would
write for it: a baseline, then small edits of it (a hyper-parameter, an added feature, another
model, an added report), all sharing the costly read / clean-up / encoding prefix. It runs them
with plain python and under stratum, one process at a time and timed by the wall clock of each
subprocess:

1. the baseline, first stratum run on an empty cache (the cost of tracing);
2. the baseline again, unchanged (everything reusable is reused);
3. the edits as one ``python -m stratum run`` batch (shared work computed once, the libraries
   imported once) against the plain runs one after another;

checks that every stratum run showed exactly what plain python showed (stdout, stderr, exit
code, byte for byte), prints a table and the commands to look further. The demo's cache is a
folder of its own (``STRATUM_CACHE_DIR``), so the user's cache is untouched; ``--keep DIR``
keeps the scripts, data and cache in DIR, otherwise all of it is removed at the end.

The scripts are data: one baseline text and a table of named edits, each a list of
``(old, new)`` replacements of the baseline, as an agent's diff would be.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from stratum.cli.bench.modes import read_summary
from stratum.cli.bench.runs import Outcome, differences

DEFAULT_ROWS = 15_000
MIN_ROWS = 300
MARKER = ".stratum-demo"  # marks a folder the demo made, so --keep may reuse it
TIMEOUT = 600  # seconds for one run: a hung run fails the demo instead of hanging it

# ---- the data set ----------------------------------------------------------------------------
MAKE_DATA = '''\
"""Write data/customers.csv and data/usage.csv: a generated customer-churn data set (a fixed
seed, no download): one row per customer, and one row per session of use."""
import argparse
import os

import numpy as np
import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, default={rows})
n = parser.parse_args().rows
rng = np.random.default_rng(7)
contracts = np.array(["month-to-month", "one-year", "two-year"])
payments = np.array(["electronic-check", "mailed-check", "bank-transfer", "credit-card"])
internets = np.array(["dsl", "fiber", "none"])
regions = np.array([f"region_{{i:02d}}" for i in range(12)])
contract = rng.choice(3, n, p=[0.55, 0.25, 0.20])
payment = rng.choice(4, n)
internet = rng.choice(3, n, p=[0.35, 0.45, 0.20])
region = rng.choice(12, n)
tenure = np.clip(rng.gamma(1.5 + contract, 12.0, n), 0, 72).round().astype(int)
monthly = np.round(20 + 35 * (internet == 1) + 15 * (internet == 0)
                   + rng.gamma(2.0, 10.0, n), 2)
total = np.round(monthly * tenure * rng.normal(1.0, 0.03, n), 2)
age = rng.integers(18, 85, n).astype(float)
products = rng.integers(1, 6, n)
calls = rng.poisson(1.0 + 1.5 * (internet == 1), n)
usage_gb = np.round(rng.gamma(2.0, 80.0, n), 1)
logit = (-0.6 + 1.1 * (contract == 0) - 0.9 * (contract == 2) - 0.035 * tenure
         + 0.018 * (monthly - 60) + 0.35 * calls + 0.4 * (payment == 0)
         + 0.25 * (internet == 1) - 0.1 * products + 0.15 * np.sin(region)
         + 0.004 * (age - 45) + rng.normal(0, 0.8, n))
churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
df = pd.DataFrame({{"customer_id": np.arange(100000, 100000 + n), "tenure": tenure,
                   "monthly_charges": monthly, "total_charges": total, "age": age,
                   "n_products": products, "support_calls": calls, "usage_gb": usage_gb,
                   "contract": contracts[contract], "payment": payments[payment],
                   "internet": internets[internet], "region": regions[region],
                   "churn": churn}})
df.loc[rng.random(n) < 0.03, "total_charges"] = np.nan
df.loc[rng.random(n) < 0.05, "age"] = np.nan
df.loc[rng.random(n) < 0.02, "payment"] = np.nan

# usage.csv: one row per session; customers who churn were less active, and not lately
sessions = rng.poisson(6 + 10 / (1 + np.exp(logit)))
who = np.repeat(np.arange(n), sessions)
m = len(who)
last_day = np.where((churn == 1) & (rng.random(n) < 0.6), rng.integers(240, 366, n), 365)[who]
day = pd.Timestamp("2024-01-01") + pd.to_timedelta((rng.random(m) * last_day).astype(int),
                                                  unit="D")
channel = np.array(["app", "web", "phone", "store"])[
    np.where(rng.random(m) < 0.3 * (internet[who] == 2), 2, rng.choice(4, m))]
usage = pd.DataFrame({{"customer_id": df["customer_id"].to_numpy()[who],
                      "day": day.strftime("%Y-%m-%d"), "channel": channel,
                      "minutes": np.round(rng.gamma(2.0, 6.0, m), 1),
                      "data_gb": np.round(rng.gamma(1.5, 0.4, m), 3)}})
usage = usage.sort_values(["day", "customer_id"], kind="stable")
os.makedirs("data", exist_ok=True)
df.to_csv("data/customers.csv", index=False)
usage.to_csv("data/usage.csv", index=False)
print(f"data/customers.csv: {{len(df)}} customers, {{df.shape[1]}} columns, "
      f"{{int(df.isna().sum().sum())}} missing values, churn rate {{df.churn.mean():.3f}}; "
      f"data/usage.csv: {{len(usage)}} sessions")
'''

# ---- the scripts: a baseline and named edits of it ---------------------------------------------
BASELINE = '''\
"""Customer churn: cross-validated ROC AUC of a model on data/customers.csv + usage.csv."""
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score

df = pd.read_csv("data/customers.csv")
usage = pd.read_csv("data/usage.csv", parse_dates=["day"])

# clean-up: fill the gaps
df["total_charges"] = df["total_charges"].fillna(df["monthly_charges"] * df["tenure"])
df["age"] = df["age"].fillna(df["age"].median())
df["payment"] = df["payment"].fillna("unknown")

# usage per customer: activity, recency, channel mix
per_customer = usage.groupby("customer_id").agg(
    sessions=("minutes", "size"), minutes_mean=("minutes", "mean"),
    gb_total=("data_gb", "sum"), last_seen=("day", "max"))
per_customer["days_since_seen"] = (usage["day"].max() - per_customer["last_seen"]).dt.days
channels = pd.crosstab(usage["customer_id"], usage["channel"], normalize="index")
df = df.join(per_customer.drop(columns="last_seen"), on="customer_id")
df = df.join(channels.add_prefix("share_"), on="customer_id")
df = df.fillna({"sessions": 0, "minutes_mean": 0.0, "gb_total": 0.0, "days_since_seen": 365})
df = df.fillna({c: 0.0 for c in df.columns if c.startswith("share_")})

# features
df["charges_per_product"] = df["monthly_charges"] / df["n_products"]
X = pd.get_dummies(df.drop(columns=["customer_id", "churn"]),
                   columns=["contract", "payment", "internet", "region"], dtype=float)
y = df["churn"]

model = RandomForestClassifier(n_estimators=60, max_depth=8, min_samples_leaf=5, random_state=0)
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
scores = cross_val_score(model, X, y, cv=cv, scoring="roc_auc")
print(f"ROC AUC {scores.mean():.4f} +/- {scores.std():.4f} "
      f"({X.shape[0]} rows, {X.shape[1]} features)")
'''

MODEL_LINE = ("model = RandomForestClassifier(n_estimators=60, max_depth=8, min_samples_leaf=5, "
              "random_state=0)\n")
FEATURE_LINE = 'df["charges_per_product"] = df["monthly_charges"] / df["n_products"]\n'
REPORT_END = '      f"({X.shape[0]} rows, {X.shape[1]} features)")\n'


@dataclass(frozen=True)
class Edit:
    """One candidate script: the baseline with ``changes`` (``(old, new)``, each ``old`` found
    exactly once in the baseline) applied; ``what`` says what the agent changed."""

    name: str
    what: str
    changes: tuple[tuple[str, str], ...] = ()

    def script(self) -> str:
        text = BASELINE
        for old, new in self.changes:
            if BASELINE.count(old) != 1:
                raise AssertionError(f"edit {self.name}: {old!r} is not in the baseline once")
            text = text.replace(old, new)
        return text


EDITS: tuple[Edit, ...] = (
    Edit("01_baseline", "baseline: random forest"),
    Edit("02_deeper_trees", "hyper-parameter: max_depth 8 -> 12",
         ((MODEL_LINE, MODEL_LINE.replace("max_depth=8", "max_depth=12")),)),
    Edit("03_calls_feature", "new feature: support calls per year",
         ((FEATURE_LINE, FEATURE_LINE + 'df["calls_per_year"] = df["support_calls"] / '
                                        '(df["tenure"] / 12 + 1)\n'),)),
    Edit("04_logistic", "other model: logistic regression",
         (("from sklearn.ensemble import RandomForestClassifier\n",
           "from sklearn.linear_model import LogisticRegression\n"),
          ("from sklearn.model_selection import StratifiedKFold, cross_val_score\n",
           "from sklearn.model_selection import StratifiedKFold, cross_val_score\n"
           "from sklearn.pipeline import make_pipeline\n"
           "from sklearn.preprocessing import StandardScaler\n"),
          (MODEL_LINE, 'model = make_pipeline(StandardScaler(), '
                       'LogisticRegression(solver="liblinear"))\n'))),
    Edit("05_importances", "new report: top features of a full fit",
         ((REPORT_END, REPORT_END + "model.fit(X, y)\n"
           "top = pd.Series(model.feature_importances_, index=X.columns).nlargest(5)\n"
           'print("top features:", ", ".join(f"{name} {value:.3f}" '
           'for name, value in top.items()))\n'),)),
)


# ---- running ---------------------------------------------------------------------------------
def _env(cache_dir: Path | None) -> dict[str, str]:
    """The caller's environment without stratum's own settings (a ``STRATUM=1`` exported by the
    user would turn the plain runs into stratum runs); stratum runs get the demo's cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUM")}
    if cache_dir is not None:
        env["STRATUM_CACHE_DIR"] = os.fspath(cache_dir)
    return env


def _run(cmd: list[str], cwd: Path, cache_dir: Path | None = None) -> Outcome:
    """Run ``cmd`` to completion, output captured; seconds are the subprocess's wall clock."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=_env(cache_dir), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                              timeout=TIMEOUT)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, out, err = -9, exc.stdout or b"", (exc.stderr or b"") + \
            f"\n[stopped after {TIMEOUT} s]\n".encode()
    return Outcome(code, out, err, time.perf_counter() - t0)


@dataclass
class Row:
    """One line of the table: a plain run (or several) against a stratum run."""

    step: str
    plain_s: float
    stratum_s: float | None
    identical: bool
    indent: bool = False


class Progress:
    """One line per run: what runs, then its seconds. Plain text, so a pipe or a log file sees
    the same lines a terminal does (no control codes)."""

    def __init__(self, out):
        self.out = out

    def start(self, label: str) -> None:
        self.out.write(f"  {label:<64}")
        self.out.flush()

    def done(self, seconds: float, note: str = "") -> None:
        self.out.write(f"{seconds:6.2f} s{note}\n")
        self.out.flush()


class Demo:
    def __init__(self, folder: Path, rows: int, out=None, err=None):
        self.folder, self.rows = folder, rows
        self.out = sys.stdout if out is None else out
        self.err = sys.stderr if err is None else err
        self.cache = folder / "cache"
        self.progress = Progress(self.out)
        self.rows_out: list[Row] = []
        self.problems: list[str] = []  # outputs that differ, runs that failed
        self.mismatch = False  # an output differs: a bug in stratum
        self.printed: dict[str, bytes] = {}  # script -> what its plain run printed

    # -- setup
    def write_files(self) -> list[str]:
        (self.folder / "scripts").mkdir(parents=True, exist_ok=True)
        (self.folder / "make_data.py").write_text(MAKE_DATA.format(rows=self.rows))
        names = []
        for edit in EDITS:
            path = f"scripts/{edit.name}.py"
            (self.folder / path).write_text(edit.script())
            names.append(path)
        (self.folder / MARKER).write_text("made by python -m stratum demo\n")
        return names

    def make_data(self) -> bool:
        self.progress.start(f"data     python make_data.py --rows {self.rows}")
        out = _run([sys.executable, "make_data.py", "--rows", str(self.rows)], self.folder)
        self.progress.done(out.seconds)
        if out.exit_code != 0:
            self.problems.append("writing the data set failed:\n" +
                                 out.stderr.decode("utf-8", "replace")[-2000:])
            return False
        return True

    # -- runs
    def plain(self, script: str) -> Outcome:
        self.progress.start(f"plain    python {script}")
        out = _run([sys.executable, script], self.folder)
        self.printed[script] = out.stdout
        self.progress.done(out.seconds, "" if out.exit_code == 0 else
                           f"  (exit {out.exit_code})")
        if out.exit_code != 0:
            self.problems.append(f"plain `python {script}` exited {out.exit_code} (is "
                                 f"scikit-learn installed?):\n" +
                                 out.stderr.decode("utf-8", "replace")[-2000:])
        return out

    def stratum(self, script: str, what: str) -> Outcome:
        self.progress.start(f"stratum  python -m stratum {script}  ({what})")
        out = _run([sys.executable, "-m", "stratum", script], self.folder, self.cache)
        self.progress.done(out.seconds)
        return out

    def compare(self, script: str, plain: Outcome, other: Outcome, label: str) -> bool:
        if plain.shown() == other.shown():
            return True
        self.mismatch = True
        self.problems.append(f"{script}: the output under {label} differs from plain python's:\n"
                             + differences(plain, other, label))
        return False

    def single(self, step: str, script: str, what: str, stratum_first: bool) -> None:
        if stratum_first:
            strat = self.stratum(script, what)
            plain = self.plain(script)
        else:
            plain = self.plain(script)
            strat = self.stratum(script, what)
        same = self.compare(script, plain, strat, f"stratum ({what})")
        self.rows_out.append(Row(step, plain.seconds, strat.seconds, same))

    def batch(self, scripts: list[str]) -> None:
        plains = [self.plain(s) for s in scripts]
        out_dir = self.folder / "batch-out"
        shutil.rmtree(out_dir, ignore_errors=True)
        cmd = [sys.executable, "-m", "stratum", "run", "--out", "batch-out", *scripts]
        numbers = " ".join(Path(s).name.partition("_")[0] for s in scripts)
        self.progress.start(f"stratum  python -m stratum run {numbers}  (one batch)")
        run = _run(cmd, self.folder, self.cache)
        self.progress.done(run.seconds)
        try:
            entries = read_summary(out_dir, self.folder)
            if len(entries) != len(scripts):
                raise ValueError(f"{len(entries)} scripts in summary.json, {len(scripts)} run")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.problems.append(f"`python -m stratum run` exited {run.exit_code} without a "
                                 f"usable summary ({exc}):\n" +
                                 run.stderr.decode("utf-8", "replace")[-2000:])
            entries = None
        sames = []
        for i, (script, plain) in enumerate(zip(scripts, plains)):
            same = entries is not None and self.compare(script, plain, entries[i]["outcome"],
                                                        "stratum run (batch)")
            sames.append(same)
        self.rows_out.append(Row(f"{len(scripts)} edits, one batch", sum(p.seconds for p in plains),
                                 run.seconds, all(sames)))
        for script, plain, same in zip(scripts, plains, sames):
            self.rows_out.append(Row(Path(script).name, plain.seconds, None, same, indent=True))

    def run(self) -> int:
        scripts = self.write_files()
        self.out.write(f"stratum demo: {len(EDITS)} agent-style scripts on a generated "
                       f"customer-churn data set ({self.rows:,} customers), in {self.folder}\n")
        for script, edit in zip(scripts, EDITS):
            self.out.write(f"  {script:<28} {edit.what}\n")
        self.out.flush()
        if not self.make_data():
            return self.finish(scripts)
        base = scripts[0]
        self.single("baseline, first run", base, "empty cache", stratum_first=True)
        if not self.problems:
            self.single("baseline, re-run", base, "re-run", stratum_first=False)
        if not self.problems:
            self.batch(scripts[1:])
        return self.finish(scripts)

    # -- report
    def _text(self, text: str) -> None:
        import textwrap

        width = shutil.get_terminal_size().columns if self.out.isatty() else 100
        self.out.write(textwrap.fill(text, max(40, min(width, 100))) + "\n")

    def finish(self, scripts: list[str]) -> int:
        from rich.console import Console

        console = Console(file=self.out, width=None if self.out.isatty() else 110,
                          highlight=False)
        if self.rows_out:
            console.print("\nplain python vs stratum: wall-clock seconds of each run, one run "
                          "at a time", markup=False)
            console.print(_table(self.rows_out))
            self._text(f"Plain runs go one after another, as an agent's loop runs them; the "
                       f"batch runs up to {_cores()} script{'s' if _cores() != 1 else ''} at a "
                       f"time (one per core), imports the libraries once and reuses what the "
                       f"baseline's runs computed.")
        if not self.problems:
            self._text("Every stratum run printed exactly what plain python printed (stdout, "
                       "stderr and exit code, byte for byte).")
        if self.printed and not self.problems:
            console.print("\nwhat the scripts printed (the same bytes plain and under stratum):",
                          markup=False)
            width = max(len(s) for s in self.printed)
            for script, text in self.printed.items():
                lines = text.decode("utf-8", "replace").splitlines() or [""]
                for i, line in enumerate(lines):
                    console.print(f"  {script if i == 0 else '':<{width}}  {line}", markup=False,
                                  soft_wrap=True)
        if not self.problems:
            return 0
        self.out.flush()
        errors = Console(file=self.err, width=None if self.err.isatty() else 110,
                         highlight=False)
        for problem in self.problems:
            errors.print(problem, markup=False, style="red" if self.err.isatty() else None)
        errors.print("stratum demo: FAILED: " + (
            "an output under stratum differs from plain python's: that is a bug in stratum; "
            "please report it with the diff above" if self.mismatch
            else "a run failed (see above)"), markup=False)
        return 1


def _cores() -> int:
    """What ``python -m stratum run`` takes as its default ``--jobs``."""
    return len(os.sched_getaffinity(0))


def _table(rows: list[Row]):
    from rich.table import Table

    table = Table()
    table.add_column("step")
    for col in ("plain s", "stratum s", "speed-up"):
        table.add_column(col, justify="right")
    table.add_column("identical", justify="center")
    for r in rows:
        speed = f"{r.plain_s / r.stratum_s:.1f}x" if r.stratum_s else ""
        table.add_row(("  " if r.indent else "") + r.step, f"{r.plain_s:.2f}",
                      "" if r.stratum_s is None else f"{r.stratum_s:.2f}", speed,
                      "yes" if r.identical else "NO",
                      style="dim" if r.indent else None)
    top = [r for r in rows if not r.indent]
    plain = sum(r.plain_s for r in top)
    strat = sum(r.stratum_s or 0.0 for r in top)
    table.add_section()
    table.add_row("total", f"{plain:.2f}", f"{strat:.2f}",
                  f"{plain / strat:.1f}x" if strat else "",
                  "yes" if all(r.identical for r in rows) else "NO")
    return table


def next_steps(folder: Path | None, scripts: list[str]) -> str:
    """Commands to look further: on the kept folder (with its cache named), else how to keep it."""
    if folder is None:
        return ("\nwhere to look next: everything the demo wrote has been removed;\n"
                "`python -m stratum demo --keep DIR` keeps the scripts, the data and the cache "
                "in DIR\nand prints the commands to explore them. On your own scripts:\n"
                "  python -m stratum bench --html report.html scripts/   plain vs stratum, in "
                "detail\n"
                "  python -m stratum --explain script.py                 what a run reused, "
                "and why not the rest\n"
                "  python -m stratum trace merged --html graph.html      what your runs "
                "share\n")
    q = shlex.quote
    env = f"STRATUM_CACHE_DIR={q(str(folder / 'cache'))}"
    lines = [f"\nwhere to look next: kept in {folder}: scripts/, data/ and the demo's cache, "
             f"cache/",
             "(the commands name that cache, so they do not touch your own). From that folder:",
             f"  cd {q(str(folder))}",
             f"  {env} python -m stratum trace merged --html graph.html",
             "      the merged graph of every run: what the scripts share, what each step cost",
             f"  {env} python -m stratum --explain {scripts[-1]}",
             "      run an edit again: what was reused, and why the rest was not",
             f"  {env} python -m stratum bench --repeat 1 --html report.html scripts/",
             "      plain vs stratum on these scripts in more detail (bench uses fresh caches)",
             f"  python {scripts[0]}",
             "      the baseline, plain: the same output as under stratum"]
    return "\n".join(lines) + "\n"


# ---- the command -----------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m stratum demo",
        description="Show what stratum does, on a built-in example: write a generated "
                    "customer-churn table and five agent-style scripts (a baseline and "
                    "edits of it), run them with plain python and under stratum (first run, "
                    "re-run, the edits as one batch), check that the outputs are identical "
                    "byte for byte and show the time each took. No network; under a minute on "
                    "two cores. Uses a cache of its own, never yours.")
    p.add_argument("--keep", metavar="DIR",
                   help="keep the scripts, the data and the demo's cache in DIR (new or "
                        "empty, or a folder an earlier demo made) to play with; without it "
                        "everything is removed at the end")
    p.add_argument("--rows", type=int, default=DEFAULT_ROWS, metavar="N",
                   help=f"rows of the generated table (default {DEFAULT_ROWS:,}; smaller is "
                        f"faster, at least {MIN_ROWS})")
    return p


def _usage_error(text: str) -> int:
    sys.stderr.write(f"stratum demo: {text}\n")
    return 2


def keep_folder(path: str) -> Path | str:
    """The folder to keep, made ready; or the reason it cannot be used."""
    folder = Path(path).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        return f"--keep {path}: not a directory"
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / MARKER).is_file():
            return f"--keep {path}: the folder is not empty (give a new or empty one)"
        for name in ("scripts", "data", "cache", "batch-out"):  # an earlier demo's: start over
            shutil.rmtree(folder / name, ignore_errors=True)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"--keep {path}: cannot create it ({exc.strerror or exc})"
    return folder


def main(argv: list[str] | None = None) -> int:
    ns = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if ns.rows < MIN_ROWS:
        return _usage_error(f"--rows must be at least {MIN_ROWS}")
    if ns.keep is not None:
        folder = keep_folder(ns.keep)
        if isinstance(folder, str):
            return _usage_error(folder)
    else:
        folder = Path(tempfile.mkdtemp(prefix="stratum-demo-"))
    t0 = time.perf_counter()
    try:
        demo = Demo(folder, ns.rows)
        code = demo.run()
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        sys.stderr.write("stratum demo: interrupted\n")
        return 130
    finally:
        if ns.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    scripts = [f"scripts/{e.name}.py" for e in EDITS]
    sys.stdout.write(next_steps(folder if ns.keep is not None else None, scripts))
    sys.stdout.write(f"\nstratum demo: done in {time.perf_counter() - t0:.1f} s\n")
    return code
