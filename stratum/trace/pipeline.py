"""The merged graph at pipeline level: the stages a person thinks in, not every recorded call.

A merged graph of a few notebooks' scripts holds hundreds of microsecond ``getitem`` /
``setitem`` / ``print`` nodes around a handful of calls that cost seconds; drawn one dot per
node it hides what costs time. This module reduces it, without HTML, to what
``stratum.trace.graphview`` draws:

- *stages*: data sources, fits, evaluations and other library calls of the modelling libraries,
  and any operation that costs time (``STAGE_SECONDS``, or a share of the costliest node);
- an estimator's construction is folded into the stages that use it, which are labelled with it
  (``cross_val_score(RandomForestClassifier)``, ``fit LogisticRegression``);
- cheap operations connected to each other form one *steps* group when they feed a stage (the
  feature engineering between ``read_csv`` and a fit), are folded into the stage that consumes
  them when they are few, or into the stage they come from when nothing downstream needs them;
  prints and other sinks are only counted;
- per-run nodes of one call site (an unseeded fit in every run) are one stage;
- every stage carries its costs: one run's mean seconds, compute seconds over all executions,
  seconds saved by reuse (mean cost x reuses - time spent restoring).

Deterministic: the same graph gives the same stages in the same order (costliest first).
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

STAGE_SECONDS = 0.01  # an operation this slow (mean) is a stage whatever it is
STAGE_SHARE = 0.02  # ... and so is one costing this share of the costliest node
SMALL_GROUP = 2  # at most this many cheap ops feeding a single stage are folded into it
MODEL_LIBRARIES = ("sklearn", "scipy", "xgboost", "lightgbm", "catboost", "statsmodels")
EVALUATIONS = ("score", "cross_val", "evaluate", "permutation_importance", "learning_curve",
               "validation_curve", "predict")


def status(n) -> str:
    """How a merged node (or a stage) fared over its runs: per-run, reused, executed, both."""
    if n.per_run:
        return "per-run"
    if n.executions and n.reuses:
        return "both"
    return "reused" if n.reuses else "executed"


@dataclass
class Stage:
    id: str  # the representative merged node's id, or "steps:N" for a group of cheap ops
    kind: str  # "source", "fit", "evaluate", "step" (a costly or library op), "steps" (group)
    label: str  # what it is: "cross_val_score(RandomForestClassifier)", "read_csv", "12 ops ..."
    site: str  # where: "forest.py:14", "forest.py:6-10"
    members: list[str] = field(default_factory=list)  # merged node ids drawn as this stage
    estimator: str | None = None  # the estimator it uses, if any
    folded: int = 0  # operations folded into it (recorded inside it, or cheap ops around it)
    cost: float = 0.0  # mean seconds of one run (sum over its own nodes)
    seconds: float = 0.0  # compute seconds over every execution
    saved: float = 0.0  # seconds saved by reuse
    runs: int = 0
    scripts: int = 0
    executions: int = 0
    reuses: int = 0
    per_run: bool = False
    first_run: int = 0
    ops: list[str] = field(default_factory=list)  # full op names (a group: most common first)

    @property
    def status(self) -> str:
        return status(self)

    @property
    def shared(self) -> bool:
        return self.scripts >= 2 and not self.per_run


@dataclass
class PipelineView:
    stages: list[Stage]  # costliest first
    edges: list[tuple[str, str]]  # between stage ids
    prints: int = 0  # sinks (print, to_csv ...) counted, not drawn
    folded_away: int = 0  # cheap ops that feed nothing drawn and come from nothing drawn
    hidden: int = 0  # stages left out past the cap
    note: str = ""

    @property
    def folded_total(self) -> int:
        return sum(s.folded for s in self.stages) + self.folded_away


def short_op(op: str) -> str:
    parts = op.split(".")
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return f"{parts[-2]}.{parts[-1]}"
    return parts[-1]


def short_site(site: str) -> str:
    return os.path.basename(site or "") or "?"


def _library(op: str) -> str:
    return op.split(".", 1)[0]


def is_estimator(n) -> bool:
    """The construction of a modelling object: ``sklearn....RandomForestClassifier(...)``."""
    last = n.op.rsplit(".", 1)[-1]
    return (_library(n.op) in MODEL_LIBRARIES and last[:1].isupper() and n.kind == last
            and n.effect != "sink")


def _is_sink(n) -> bool:
    return n.effect == "sink" or n.op == "builtins.print"


def _method(op: str) -> tuple[str, str] | None:
    """("RandomForestClassifier", "fit") for a method of a class, else None."""
    parts = op.split(".")
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2], parts[-1]
    return None


def _kind(n) -> str:
    name = n.op.rsplit(".", 1)[-1]
    if n.effect == "source":
        return "source"
    if n.effect == "fit" or name.startswith("fit"):
        return "fit"
    if any(name.startswith(e) or e in name for e in EVALUATIONS):
        return "evaluate"
    return "step"


def pipeline_view(graph, cap: int = 500) -> PipelineView:
    """The stages of ``graph`` (a ``MergedGraph``) and the edges between them."""
    nodes = graph.nodes

    def top(nid):
        seen = set()
        while nodes[nid].parent in nodes and nid not in seen:
            seen.add(nid)
            nid = nodes[nid].parent
        return nid

    tops = {nid: top(nid) for nid in nodes}
    inner = Counter(t for nid, t in tops.items() if t != nid)
    ids = [nid for nid in nodes if tops[nid] == nid]
    succ: dict[str, list[str]] = {i: [] for i in ids}
    pred: dict[str, list[str]] = {i: [] for i in ids}
    for s, d in dict.fromkeys((tops[s], tops[d]) for s, d in graph.edges
                              if s in tops and d in tops):
        if s != d:
            succ[s].append(d)
            pred[d].append(s)

    top_cost = max((nodes[i].mean_seconds or 0.0 for i in ids), default=0.0)
    threshold = max(STAGE_SECONDS, STAGE_SHARE * top_cost) if top_cost >= STAGE_SECONDS \
        else STAGE_SECONDS
    role: dict[str, str] = {}
    for i in ids:
        n = nodes[i]
        if _is_sink(n):
            role[i] = "sink"
        elif is_estimator(n):
            role[i] = "estimator"
        elif (n.effect in ("source", "fit") or _library(n.op) in MODEL_LIBRARIES
              or (n.mean_seconds or 0.0) >= threshold):
            role[i] = "stage"
        else:
            role[i] = "cheap"

    # Estimators: named (a Pipeline by its steps), attached to the stages that take them.
    def est_name(e, depth=0):
        name = nodes[e].op.rsplit(".", 1)[-1]
        inside = [est_name(p, depth + 1) for p in pred[e] if role[p] == "estimator"] \
            if depth < 2 else []
        return f"{name}({', '.join(dict.fromkeys(inside))})" if inside else name

    used_by: dict[str, list[str]] = {}
    for i in ids:
        if role[i] == "stage":
            for p in pred[i]:
                if role[p] == "estimator":
                    used_by.setdefault(i, []).append(p)
    consumed = {e for es in used_by.values() for e in es} | {
        p for i in ids if role[i] == "estimator" for p in pred[i] if role[p] == "estimator"}
    for e in ids:  # an estimator whose use was not recorded as an edge: the next library call
        if role[e] != "estimator" or e in consumed:
            continue
        f, line = _file_line(nodes[e].site)
        later = [i for i in ids if role[i] == "stage" and i not in used_by
                 and _library(nodes[i].op) in MODEL_LIBRARIES
                 and _file_line(nodes[i].site)[0] == f and _file_line(nodes[i].site)[1] >= line]
        if later:
            target = min(later, key=lambda i: _file_line(nodes[i].site)[1])
            used_by[target] = [e]
            consumed.add(e)

    # Units: what each top-level node is drawn as (a stage id), or None (counted only).
    unit: dict[str, str | None] = {}
    stages: dict[str, Stage] = {}
    per_run_key: dict[tuple[str, str], str] = {}
    for i in ids:
        if role[i] != "stage":
            continue
        n = nodes[i]
        if n.per_run:  # per-run nodes of one call site are one stage
            k = (n.op, n.site)
            if k in per_run_key:
                unit[i] = per_run_key[k]
                stages[unit[i]].members.append(i)
                continue
            per_run_key[k] = i
        unit[i] = i
        stages[i] = Stage(i, _kind(n), "", short_site(n.site), [i], ops=[n.op],
                          per_run=n.per_run, first_run=n.first_run)
    for i, es in used_by.items():
        st = stages.get(unit.get(i) or "")
        if st is not None:
            st.estimator = ", ".join(dict.fromkeys(est_name(e) for e in es))
    for i in ids:
        if role[i] == "estimator":
            users = [u for u, es in used_by.items() if i in es]
            unit[i] = unit.get(users[0]) if users else None
            if users and unit[i]:
                stages[unit[i]].folded += 1

    # Cheap components: a group of steps when they feed a stage, else folded.
    cheap = [i for i in ids if role[i] == "cheap"]
    comp = _components(cheap, succ, pred, {i for i in cheap})
    folded_away = 0
    groups = 0
    for members in comp:
        mset = set(members)
        down = list(dict.fromkeys(unit[d] for m in members for d in succ[m]
                                  if d not in mset and role[d] == "stage"))
        up = list(dict.fromkeys(unit[p] for m in members for p in pred[m]
                                if p not in mset and role[p] == "stage"))
        if down and (len(members) > SMALL_GROUP or len(down) > 1):
            groups += 1
            gid = f"steps:{groups}"
            stages[gid] = _group(gid, members, nodes)
            for m in members:
                unit[m] = gid
        elif down or up:
            target = down[0] if down else up[0]
            for m in members:
                unit[m] = target
            stages[target].folded += len(members)
        else:
            for m in members:
                unit[m] = None
            folded_away += len(members)
    prints = 0
    for i in ids:
        if role[i] == "sink":
            unit[i] = None
            prints += 1

    for st in stages.values():
        _totals(st, nodes, inner)
        if st.kind != "steps":
            st.label = _label(nodes[st.members[0]], st.estimator)
    _distinct_labels(list(stages.values()))

    order = sorted(stages.values(), key=lambda s: (-s.cost, -s.scripts, -s.seconds, s.id))
    hidden = 0
    note = ""
    if len(order) > cap:
        keep = sorted(order, key=lambda s: (s.per_run, -s.scripts, -s.runs, -s.cost, s.id))[:cap]
        kept = {s.id for s in keep}
        hidden = len(order) - cap
        note = (f"showing {cap} of {len(order)} stages: the most shared and costly "
                "(use --json or --dot for all)")
        order = [s for s in order if s.id in kept]
    kept = {s.id for s in order}
    edges = []
    for s in ids:
        for d in succ[s]:
            a, b = unit.get(s), unit.get(d)
            if a and b and a != b and a in kept and b in kept:
                edges.append((a, b))
    return PipelineView(order, list(dict.fromkeys(edges)), prints, folded_away, hidden, note)


def _components(members, succ, pred, inside):
    parent = {m: m for m in members}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for m in members:
        for d in succ[m]:
            if d in inside:
                a, b = find(m), find(d)
                if a != b:
                    parent[b] = a
    out: dict[str, list[str]] = {}
    for m in members:
        out.setdefault(find(m), []).append(m)
    return list(out.values())


def _file_line(site: str) -> tuple[str, int]:
    path, _, line = (site or "").rpartition(":")
    return (path, int(line)) if line.isdigit() else (site or "", 0)


def _group(gid, members, nodes) -> Stage:
    ops = Counter(nodes[m].op for m in members)
    names = list(dict.fromkeys(short_op(op) for op, _ in ops.most_common()))
    shown = ", ".join(names[:3]) + (", \u2026" if len(names) > 3 else "")
    label = f"{len(members)} cheap ops: {shown}" if len(members) > 1 else shown
    files = Counter(_file_line(nodes[m].site)[0] for m in members)
    main = files.most_common(1)[0][0]
    lines = sorted(_file_line(nodes[m].site)[1] for m in members
                   if _file_line(nodes[m].site)[0] == main)
    span = f"{lines[0]}" if lines[0] == lines[-1] else f"{lines[0]}\u2013{lines[-1]}"
    site = f"{os.path.basename(main)}:{span}" + (f" +{len(files) - 1} files" if len(files) > 1
                                                    else "")
    return Stage(gid, "steps", label, site, list(members),
                 ops=[op for op, _ in ops.most_common()],
                 per_run=all(nodes[m].per_run for m in members),
                 first_run=min(nodes[m].first_run for m in members))


def _totals(st: Stage, nodes, inner) -> None:
    ms = [nodes[m] for m in st.members]
    if st.kind != "steps" and len(ms) > 1:  # one per-run call site seen in several runs
        execs = sum(n.executions for n in ms)
        st.cost = sum(n.seconds for n in ms) / execs if execs else 0.0
    else:
        st.cost = sum(n.mean_seconds or 0.0 for n in ms)
    st.seconds = sum(n.seconds for n in ms)
    st.saved = sum(max(0.0, (n.mean_seconds or 0.0) * n.reuses - n.reuse_seconds) for n in ms)
    st.runs = sum(n.runs for n in ms) if st.per_run and st.kind != "steps" \
        else max(n.runs for n in ms)
    st.scripts = max(n.scripts for n in ms)
    st.executions = sum(n.executions for n in ms)
    st.reuses = sum(n.reuses for n in ms)
    if st.kind != "steps":
        st.folded += inner.get(st.members[0], 0)
    st.first_run = min(n.first_run for n in ms)


def _label(n, estimator: str | None) -> str:
    m = _method(n.op)
    if m is not None:
        cls, name = m
        if estimator and estimator.split("(", 1)[0] == cls:
            cls = estimator  # fit Pipeline(StandardScaler, LogisticRegression)
        elif estimator:
            return f"{name} {cls}({estimator})"
        return f"{name} {cls}"
    name = n.op.rsplit(".", 1)[-1]
    return f"{name}({estimator})" if estimator else name


def _distinct_labels(stages: list[Stage]) -> None:
    """Two stages never read the same: their call sites differ, else their first run is added."""
    seen = Counter((s.label, s.site) for s in stages)
    for s in stages:
        if seen[(s.label, s.site)] > 1:
            s.label = f"{s.label} (run {s.first_run})"
    seen = Counter((s.label, s.site) for s in stages)
    dup: Counter = Counter()
    for s in stages:
        if seen[(s.label, s.site)] > 1:
            dup[(s.label, s.site)] += 1
            s.label = f"{s.label} #{dup[(s.label, s.site)]}"
