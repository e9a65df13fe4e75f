"""Submissions in flight share their work (issue 14): several runs handed to the server at
once that compute the same operations compute each of them once; the others wait for it and
reuse it (the cache's single flight across processes, ``stratum.cache.cache.Flight``), and
every output is plain python's."""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_server import Server  # noqa: E402

CODE = """\
import sys
import numpy as np
from sklearn.ensemble import RandomForestClassifier
rng = np.random.RandomState(0)
X = rng.rand(2000, 12)
y = (X[:, 0] + rng.rand(2000) > 1).astype(int)
model = RandomForestClassifier(n_estimators=60, random_state=0).fit(X, y)
print(sys.argv[1], model.score(X[:400], y[:400]), model.predict_proba(X[:3]).round(4).tolist())
"""


def test_concurrent_submissions_compute_shared_operations_once(tmp_path):
    from stratum.client import Client

    server = Server(tmp_path / "cache")
    try:
        client = Client(cache_dir=str(server.cache), fallback=False)
        env = server.env  # the harness's environment the server was started with
        futures = [client.submit(CODE, argv=[str(i)], cwd=str(tmp_path), filename="agent.py",
                                 env=env) for i in range(3)]
        results = [f.result(timeout=300) for f in futures]
        again = client.run(CODE, argv=["9"], cwd=str(tmp_path), filename="agent.py",
                           env=env, timeout=300)
    finally:
        server.stop()
    for i, r in enumerate(results):
        plain = subprocess.run([sys.executable, "-c", CODE, str(i)], capture_output=True,
                               timeout=300, env={k: v for k, v in env.items()
                                                 if not k.startswith("STRATUM")})
        assert r.served and r.returncode == 0, r.stderr
        assert (r.stdout, r.stderr) == (plain.stdout, plain.stderr)
    # The sequential run after them reuses every reusable operation: R of them. Each was
    # computed once among the three concurrent runs and reused by the two others.
    reusable = again.reused
    assert reusable > 0
    assert sum(r.reused for r in results) == 2 * reusable, [r.reused for r in results]
