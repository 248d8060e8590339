#!/usr/bin/env python3
"""Peak memory per node and per pod of `kubesim run` (issue 9's envelope).

Generates clusters of N nodes (3 zones, 32 CPU / 128 GiB / 110 pods each) with D
Deployments of 100 replicas (250m CPU, 512 MiB requests: the "day in the life" pods),
runs each for 5 simulated minutes (the scale-up settles well before) under
`/usr/bin/time -v`, and fits peak RSS = base + a*N + b*P by least squares over the runs.

    cargo build --release
    python3 benches/memory.py [--kubesim target/release/kubesim]

Standard library only; scenarios and outputs go to a temporary directory.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from day_in_the_life import deployment  # noqa: E402

SIZES = [(1000, 0), (5000, 0), (1000, 50), (1000, 100), (2000, 200)]


def scenario(nodes: int, deployments: int) -> str:
    out = [
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\n",
        f"metadata: {{name: memory-{nodes}-{deployments}}}\n",
        "spec:\n  seed: 1\n  duration: 5m\n  metrics: {interval: 1m}\n",
        "  cluster:\n    nodePools:\n      - name: node\n",
        f"        count: {nodes}\n        zones: [zone-a, zone-b, zone-c]\n",
        '        template: {status: {capacity: {cpu: "32", memory: 128Gi, pods: "110"}}}\n',
    ]
    if deployments:
        out.append("  objects:\n")
    for i in range(deployments):
        out.append(deployment(f"app-{i}", f"app: app-{i}", 100, f"app:{i}"))
    return "".join(out)


def peak_rss_kb(kubesim: str, path: str, out_dir: str) -> int:
    r = subprocess.run(
        ["/usr/bin/time", "-v", kubesim, "run", path, "--out", out_dir],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        sys.exit(f"kubesim run {path} failed ({r.returncode}):\n{r.stderr}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    if not m:
        sys.exit("no peak RSS in /usr/bin/time output")
    return int(m.group(1))


def solve3(a, b):
    """Solves the 3x3 system a x = b (Gaussian elimination)."""
    n = 3
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kubesim", default="target/release/kubesim")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for nodes, deployments in SIZES:
            path = os.path.join(tmp, f"m-{nodes}-{deployments}.yaml")
            with open(path, "w") as f:
                f.write(scenario(nodes, deployments))
            kb = peak_rss_kb(args.kubesim, path, os.path.join(tmp, "out"))
            pods = deployments * 100
            rows.append((nodes, pods, kb * 1024))
            print(f"{nodes:6d} nodes {pods:7d} pods  peak RSS {kb / 1024:8.1f} MiB", flush=True)
    # Least squares: rss = base + a*nodes + b*pods.
    xs = [(1.0, n, p) for n, p, _ in rows]
    ata = [[sum(x[i] * x[j] for x in xs) for j in range(3)] for i in range(3)]
    atb = [sum(x[i] * r for x, (_, _, r) in zip(xs, rows)) for i in range(3)]
    base, per_node, per_pod = solve3(ata, atb)
    print(f"fit: base {base / 2**20:.1f} MiB, {per_node / 1024:.1f} KiB per node, "
          f"{per_pod / 1024:.1f} KiB per pod")


if __name__ == "__main__":
    main()
