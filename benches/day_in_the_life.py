#!/usr/bin/env python3
"""Writes issue 9's "day in the life" scenario: 5,000 nodes in 3 zones, 1,500 Deployments
of 100 replicas (150,000 pods), a tenth with a crash-looping canary Deployment beside it,
one rolling update per Deployment spread over 24 simulated hours, node MTBF chaos and one
30-minute zone outage.

    python3 benches/day_in_the_life.py [--scale 0.1] > /tmp/day.yaml
    cargo build --release && /usr/bin/time -v target/release/kubesim run /tmp/day.yaml --out /tmp/day

`--scale` shrinks nodes and Deployments together (BENCHMARKS.md reports both sizes).
"""
import argparse


def deployment(name: str, labels: str, replicas: int, image: str) -> str:
    """One Deployment (250m CPU, 512 MiB requests per pod) in the scenario's objects list;
    `labels` is a flow mapping body such as `app: app-1, track: canary`."""
    return f"""    - apiVersion: apps/v1
      kind: Deployment
      metadata: {{name: {name}, namespace: default}}
      spec:
        replicas: {replicas}
        selector: {{matchLabels: {{{labels}}}}}
        template:
          metadata: {{labels: {{{labels}}}}}
          spec:
            containers: [{{name: app, image: "{image}", resources: {{requests: {{cpu: 250m, memory: 512Mi}}}}}}]
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scale", type=float, default=1.0)
    a = p.parse_args()
    nodes = max(3, round(5000 * a.scale))
    deployments = max(1, round(1500 * a.scale))
    out = []
    w = out.append
    w(f"""apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: day-in-the-life-{nodes}-nodes}}
spec:
  seed: 1
  duration: 24h
  metrics: {{interval: 1m}}
  limits: {{maxEvents: 2000000000}}
  api: {{defaultUnreachableTolerationSeconds: 60}}
  cluster:
    nodePools:
      - name: node
        count: {nodes}
        zones: [zone-a, zone-b, zone-c]
        template:
          status:
            capacity: {{cpu: "32", memory: 128Gi, pods: "110"}}
  behaviors:
    - name: canary-crash
      selector: {{matchLabels: {{track: canary}}}}
      crashAfter: {{exponential: {{mean: 2m}}}}
  chaos:
    nodeFailures:
      - {{pool: node, mtbf: 720h, mttr: 20m}}
  events:
    - {{name: zone-a-outage, at: 10h, duration: 30m, zoneOutage: {{zone: zone-a}}}}
""")
    for i in range(deployments):
        at = 60 + (i * 86000) // deployments
        w(f"    - {{name: roll-{i}, at: {at}s, setImage: {{name: app-{i}, image: app:{i}-v2}}}}\n")
    w("  objects:\n")
    for i in range(deployments):
        w(deployment(f"app-{i}", f"app: app-{i}", 100, f"app:{i}-v1"))
        if i % 10 == 0:
            w(deployment(f"app-{i}-canary", f"app: app-{i}, track: canary", 1, f"app:{i}-canary"))
    print("".join(out), end="")


if __name__ == "__main__":
    main()
