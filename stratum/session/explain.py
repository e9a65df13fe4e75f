"""``--explain``: after the run, what was executed, what was reused, and why not the rest."""
from __future__ import annotations

from collections import Counter


def report(session, out) -> None:
    engine = session.engine
    nodes = engine.nodes if engine is not None else []
    reused = [n for n in nodes if n.reused]
    executed = [n for n in nodes if not n.reused]
    cache = engine.opened_cache if engine is not None else None
    loaded = cache.stats().get("bytes_loaded", 0) if cache is not None else 0
    saved = engine.saved_seconds if engine is not None else 0.0
    lines = [
        f"stratum: {len(nodes)} operations traced: {len(executed)} executed, {len(reused)} reused",
        f"stratum: seconds saved by reuse: {saved:.3f}; bytes loaded from cache: {loaded}",
    ]
    top_level = [n for n in executed if n.parent is None and n.cpu is not None]
    cpu = sum(n.cpu for n in top_level)
    wall = sum(n.seconds for n in top_level)
    if wall >= 0.001:  # below that, a ratio of clock readings says nothing
        lines.append(f"stratum: CPU seconds of executed operations: {cpu:.3f} in {wall:.3f}s "
                     f"({cpu / wall:.1f} cores busy on average)"
                     + (f"; waited {engine.cpu_waited:.3f}s for cores other stratum processes "
                        "were using" if engine.cpu_waited >= 0.001 else ""))
        parallel = sorted((n for n in top_level if n.seconds >= 0.05 and n.cpu > 1.25 * n.seconds),
                          key=lambda n: -n.cpu)[:3]
        for n in parallel:
            lines.append(f"stratum:   {n.op} at {n.site} kept {n.cpu / n.seconds:.1f} cores busy "
                         f"({n.cpu:.3f} CPU s in {n.seconds:.3f}s)")
    if engine is not None and engine.folded_calls:
        sites = sum(1 for n in nodes if n.kind == "folded")
        lines.append(f"stratum: {engine.folded_calls} cheap operations at {sites} call sites in "
                     "hot loops ran untraced (STRATUM_FOLD_AFTER); replay stops at the first")
    from stratum.session import handoff

    if handoff.served_by is not None:
        held = getattr(cache, "hot_hits", 0) if cache is not None else 0
        lines.append(f"stratum: run by the stratum server (pid {handoff.served_by}), forked "
                     "with the libraries already imported" + (
                         f"; {held} cache entries ({cache.hot_bytes} bytes) read from its "
                         "memory" if held else ""))
    elif handoff.last_reason is not None:
        lines.append(f"stratum: not run by the stratum server: {handoff.last_reason}")
    if engine is not None and engine.dropped_nodes:
        lines.append(f"stratum: {engine.dropped_nodes} further operations were not recorded")
    if not session.settings.cache_enabled or not session.cache_dir_ok:
        lines.append("stratum: cache disabled for this run")
    reasons = Counter()
    costly = {}
    for n in executed:
        if n.reason and n.reason != "cheap operation (not worth caching)" and n.kind != "folded":
            reasons[n.reason] += 1
            costly.setdefault(n.reason, []).append(n)
    for reason, count in reasons.most_common():
        sample = max(costly[reason], key=lambda n: n.seconds)
        lines.append(f"stratum:   not reused ({count}x): {reason} - e.g. {sample.op} at "
                     f"{sample.site} ({sample.seconds:.3f}s)")
    from stratum import kernels

    for (kernel, why), count in sorted(kernels.summary().items(), key=lambda kv: -kv[1]):
        if why is None:
            lines.append(f"stratum:   native kernel {kernel}: used {count}x")
        else:
            lines.append(f"stratum:   library instead of native {kernel} ({count}x): {why}")
    top = sorted(reused, key=lambda n: -n.nbytes)[:5]
    for n in top:
        lines.append(f"stratum:   reused {n.op} at {n.site}")
    out.write("\n".join(lines) + "\n")
    out.flush()
