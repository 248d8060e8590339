//! Generators: proptest strategies for whole scenarios, and their rendering as scenario YAML.
//!
//! A [`FuzzCase`] is a small cluster (one or two node pools, up to six nodes, zones, a
//! tainted pool), its workloads (Deployments with PodDisruptionBudgets and Services,
//! a StatefulSet, a DaemonSet, a Job; tolerations, zone spreading, pod anti-affinity),
//! container behaviours (slow starts, crashes, flaky Job runs) and a fault timeline (node
//! crash, kubelet stop, zone outage, control-plane outage, drain, rollout) that stops by
//! [`FAULTS_END_S`]. [`FuzzCase::to_yaml`] writes it as an ordinary scenario file, so a
//! counterexample is replayed by `kubesim run` like any other scenario.
//!
//! Every field shrinks towards "less": fewer nodes, workloads and faults, smaller counts,
//! no behaviours. Everything is stated in integers (seconds, millicores) so the YAML is
//! exact.
//!
//! Not generated yet: network partitions (`networkPartition` waits for the network model,
//! which another change is adding), required node affinity and `DoNotSchedule` spreading
//! (they make "capacity allows" hard to state; see `docs/properties.md`), scaling.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Every fault has fired and healed by this time (seconds): the `T` of the convergence
/// property.
pub const FAULTS_END_S: u64 = 90;

/// `spec.limits.maxEvents` of generated scenarios.
pub const MAX_EVENTS: u64 = 300_000;

/// One generated scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuzzCase {
    pub seed: u64,
    /// `spec.api.default{NotReady,Unreachable}TolerationSeconds`: 300 (upstream's default)
    /// or 30.
    pub toleration_s: u32,
    pub pools: Vec<Pool>,
    pub deployments: Vec<Deploy>,
    pub statefulset: Option<Sts>,
    pub daemonset: Option<Ds>,
    pub job: Option<JobW>,
    pub faults: Vec<Fault>,
}

/// A node pool `p<i>`: nodes `p<i>-0..count`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub count: u32,
    pub cpu_milli: u32,
    /// Zones `zone-a`, `zone-b` (the first `zones` of them), round-robin.
    pub zones: u32,
    /// `dedicated=fuzz:NoSchedule` on every node.
    pub tainted: bool,
}

/// Deployment `d<i>` (label `app: d<i>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deploy {
    pub replicas: u32,
    pub cpu_milli: u32,
    pub max_surge: u32,
    pub max_unavailable: u32,
    pub tolerates: bool,
    /// `topologySpreadConstraints` over zones, `ScheduleAnyway`.
    pub spread: bool,
    /// Preferred pod anti-affinity on the hostname.
    pub anti_affinity: bool,
    /// Upper bound of a uniform readiness delay (0: ready at start, no probe).
    pub slow_start_s: u32,
    /// Containers crash 10–40 s after each start (a crash loop).
    pub crashes: bool,
    /// A PodDisruptionBudget with this `minAvailable`.
    pub pdb_min_available: Option<u32>,
    /// A Service selecting the pods.
    pub service: bool,
}

/// StatefulSet `sts` (label `app: sts`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sts {
    pub replicas: u32,
    pub cpu_milli: u32,
    pub parallel: bool,
    pub slow_start_s: u32,
}

/// DaemonSet `ds` (label `app: ds`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ds {
    pub cpu_milli: u32,
    pub tolerates: bool,
}

/// Job `job` (label `app: job`), `backoffLimit: 2`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobW {
    pub completions: u32,
    pub parallelism: u32,
    pub cpu_milli: u32,
    pub run_s: u32,
    /// 30 % of the runs fail.
    pub flaky: bool,
}

/// One timeline entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub at_s: u64,
    /// Healed this long after `at_s` (faults with an opposite); a drain's timeout.
    pub duration_s: u64,
    pub kind: FaultKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// Node index into [`FuzzCase::node_names`] (modulo).
    NodeCrash(u32),
    KubeletStop(u32),
    /// Zone index (modulo the zones in use).
    ZoneOutage(u32),
    ControlPlaneOutage,
    /// `drain` with a timeout of `duration_s`, then `uncordon` at [`FAULTS_END_S`].
    Drain(u32),
    /// `setImage` on Deployment index (modulo); no heal.
    Rollout(u32),
}

impl FaultKind {
    /// Faults that take capacity or the control plane away (everything but drains and
    /// rollouts, which are voluntary).
    pub fn involuntary(&self) -> bool {
        !matches!(self, FaultKind::Drain(_) | FaultKind::Rollout(_))
    }
}

fn pool() -> impl Strategy<Value = Pool> {
    (
        1u32..=3,
        prop::sample::select(vec![2000u32, 4000]),
        1u32..=2,
        any::<bool>(),
    )
        .prop_map(|(count, cpu_milli, zones, tainted)| Pool {
            count,
            cpu_milli,
            zones,
            tainted,
        })
}

fn milli() -> impl Strategy<Value = u32> {
    (1u32..=15).prop_map(|n| n * 100)
}

fn deploy() -> impl Strategy<Value = Deploy> {
    (
        (1u32..=4, milli(), 0u32..=2, 0u32..=2),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        (
            prop_oneof![3 => Just(0u32), 1 => 1u32..=10],
            prop::bool::weighted(0.15),
        ),
        (option::weighted(0.3, 1u32..=3), any::<bool>()),
    )
        .prop_map(
            |(
                (replicas, cpu_milli, max_surge, max_unavailable),
                (tolerates, spread, anti_affinity),
                (slow_start_s, crashes),
                (pdb, service),
            )| Deploy {
                replicas,
                cpu_milli,
                max_surge,
                // Both 0 is rejected by validation (upstream too).
                max_unavailable: if max_surge == 0 {
                    max_unavailable.max(1)
                } else {
                    max_unavailable
                },
                tolerates,
                spread,
                anti_affinity,
                slow_start_s,
                crashes,
                pdb_min_available: pdb.map(|m| m.min(replicas)),
                service,
            },
        )
}

fn sts() -> impl Strategy<Value = Sts> {
    (
        1u32..=3,
        milli(),
        any::<bool>(),
        prop_oneof![Just(0u32), 1u32..=5],
    )
        .prop_map(|(replicas, cpu_milli, parallel, slow_start_s)| Sts {
            replicas,
            cpu_milli,
            parallel,
            slow_start_s,
        })
}

fn ds() -> impl Strategy<Value = Ds> {
    ((1u32..=3).prop_map(|n| n * 100), any::<bool>()).prop_map(|(cpu_milli, tolerates)| Ds {
        cpu_milli,
        tolerates,
    })
}

fn job() -> impl Strategy<Value = JobW> {
    (1u32..=3, 1u32..=2, milli(), 1u32..=20, any::<bool>()).prop_map(
        |(completions, parallelism, cpu_milli, run_s, flaky)| JobW {
            completions,
            parallelism,
            cpu_milli,
            run_s,
            flaky,
        },
    )
}

fn fault() -> impl Strategy<Value = Fault> {
    let kind = prop_oneof![
        (0u32..6).prop_map(FaultKind::NodeCrash),
        (0u32..6).prop_map(FaultKind::KubeletStop),
        (0u32..2).prop_map(FaultKind::ZoneOutage),
        Just(FaultKind::ControlPlaneOutage),
        (0u32..6).prop_map(FaultKind::Drain),
        (0u32..2).prop_map(FaultKind::Rollout),
    ];
    (5u64..FAULTS_END_S - 5, 5u64..=60, kind).prop_map(|(at_s, duration_s, kind)| {
        // Every fault heals by T; a control-plane outage a second before, so that the
        // uncordons at T (after drains) are not refused.
        let end = if kind == FaultKind::ControlPlaneOutage {
            FAULTS_END_S - 1
        } else {
            FAULTS_END_S
        };
        Fault {
            at_s,
            duration_s: duration_s.min(end - at_s),
            kind,
        }
    })
}

/// The strategy for whole cases.
pub fn cases() -> impl Strategy<Value = FuzzCase> {
    (
        (0u64..1_000_000, prop_oneof![Just(300u32), Just(30u32)]),
        (pool(), option::of(pool())),
        vec(deploy(), 0..=2),
        (
            option::weighted(0.3, sts()),
            option::weighted(0.3, ds()),
            option::weighted(0.3, job()),
        ),
        vec(fault(), 0..=3),
    )
        .prop_map(
            |(
                (seed, toleration_s),
                (p0, p1),
                deployments,
                (statefulset, daemonset, job),
                faults,
            )| {
                let mut pools = vec![Pool {
                    // The first pool is never tainted, so every workload has somewhere to go.
                    tainted: false,
                    ..p0
                }];
                pools.extend(p1);
                FuzzCase {
                    seed,
                    toleration_s,
                    pools,
                    deployments,
                    statefulset,
                    daemonset,
                    job,
                    faults,
                }
            },
        )
}

/// What a workload asks of the cluster, for the capacity rule of the convergence property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Demand {
    pub cpu_milli: u64,
    pub pods: u64,
    pub tolerates: bool,
}

impl FuzzCase {
    /// Node names in pool order.
    pub fn node_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, p) in self.pools.iter().enumerate() {
            for j in 0..p.count {
                out.push(format!("p{i}-{j}"));
            }
        }
        out
    }

    /// The zone of each node, as the pool generator assigns them.
    pub fn zone_of(&self, node: &str) -> Option<String> {
        let (pool, index) = node.strip_prefix('p')?.split_once('-')?;
        let p = self.pools.get(pool.parse::<usize>().ok()?)?;
        let index: u32 = index.parse().ok()?;
        Some(zone_name(index % p.zones.max(1)))
    }

    fn zones_in_use(&self) -> u32 {
        self.pools.iter().map(|p| p.zones).max().unwrap_or(1).max(1)
    }

    /// The node a fault's index names.
    pub fn node_at(&self, index: u32) -> String {
        let names = self.node_names();
        names[index as usize % names.len().max(1)].clone()
    }

    /// Faults with their targets resolved (a rollout of a case without Deployments is
    /// dropped).
    pub fn effective_faults(&self) -> Vec<&Fault> {
        self.faults
            .iter()
            .filter(|f| !matches!(f.kind, FaultKind::Rollout(_)) || !self.deployments.is_empty())
            .collect()
    }

    /// Every pod the workloads may want at once (Deployments at `replicas + maxSurge`, one
    /// DaemonSet pod per eligible node, the Job at its parallelism).
    pub fn demands(&self) -> Vec<Demand> {
        let mut out = Vec::new();
        for d in &self.deployments {
            out.push(Demand {
                cpu_milli: u64::from(d.cpu_milli),
                pods: u64::from(d.replicas + d.max_surge),
                tolerates: d.tolerates,
            });
        }
        if let Some(s) = &self.statefulset {
            out.push(Demand {
                cpu_milli: u64::from(s.cpu_milli),
                pods: u64::from(s.replicas),
                tolerates: false,
            });
        }
        if let Some(j) = &self.job {
            out.push(Demand {
                cpu_milli: u64::from(j.cpu_milli),
                pods: u64::from(j.parallelism),
                tolerates: false,
            });
        }
        out
    }

    /// Renders the case as a scenario file; `scheduler` is a `spec.scheduler` value (JSON,
    /// which YAML reads as a flow mapping) and `duration_s` the run's length.
    pub fn to_yaml(&self, duration_s: u64, scheduler: Option<&serde_json::Value>) -> String {
        let mut y = String::new();
        let case = serde_json::to_string(self).unwrap_or_default();
        let _ = writeln!(y, "# Generated by kubesim's property tests (src/fuzz).");
        let _ = writeln!(y, "# kubesim-fuzz-case: {case}");
        y.push_str("apiVersion: kubesim.io/v1alpha1\nkind: Scenario\n");
        y.push_str("metadata: {name: fuzz-case}\nspec:\n");
        let _ = writeln!(y, "  seed: {}", self.seed);
        let _ = writeln!(y, "  duration: {duration_s}s");
        let _ = writeln!(
            y,
            "  api: {{defaultNotReadyTolerationSeconds: {t}, defaultUnreachableTolerationSeconds: {t}}}",
            t = self.toleration_s
        );
        // A run that loops (e.g. pods rejected and recreated for ever) stops at a limit,
        // which is reported; generated cases need a few tens of thousands of events.
        let _ = writeln!(y, "  limits: {{maxEvents: {MAX_EVENTS}}}");
        if let Some(s) = scheduler {
            let _ = writeln!(y, "  scheduler: {s}");
        }
        y.push_str("  cluster:\n    nodePools:\n");
        for (i, p) in self.pools.iter().enumerate() {
            let zones: Vec<String> = (0..p.zones).map(zone_name).collect();
            let _ = writeln!(y, "      - name: p{i}");
            let _ = writeln!(y, "        count: {}", p.count);
            let _ = writeln!(y, "        zones: [{}]", zones.join(", "));
            y.push_str("        template:\n");
            if p.tainted {
                y.push_str(
                    "          spec: {taints: [{key: dedicated, value: fuzz, effect: NoSchedule}]}\n",
                );
            }
            let _ = writeln!(
                y,
                "          status: {{capacity: {{cpu: {}m, memory: 16Gi, pods: \"110\"}}}}",
                p.cpu_milli
            );
        }
        self.behaviors_yaml(&mut y);
        let mut objects = String::new();
        self.objects_yaml(&mut objects);
        if objects.is_empty() {
            y.push_str("  objects: []\n");
        } else {
            y.push_str("  objects:\n");
            y.push_str(&objects);
        }
        self.events_yaml(&mut y);
        y
    }

    fn behaviors_yaml(&self, y: &mut String) {
        let mut b = Vec::new();
        for (i, d) in self.deployments.iter().enumerate() {
            if d.slow_start_s > 0 {
                b.push(format!(
                    "{{name: d{i}-slow, selector: {{matchLabels: {{app: d{i}}}}}, readinessDelay: {{uniform: {{min: 0s, max: {}s}}}}}}",
                    d.slow_start_s
                ));
            }
            if d.crashes {
                b.push(format!(
                    "{{name: d{i}-crash, selector: {{matchLabels: {{app: d{i}}}}}, crashAfter: {{uniform: {{min: 10s, max: 40s}}}}}}"
                ));
            }
        }
        if let Some(s) = &self.statefulset
            && s.slow_start_s > 0
        {
            b.push(format!(
                "{{name: sts-slow, selector: {{matchLabels: {{app: sts}}}}, readinessDelay: {{uniform: {{min: 0s, max: {}s}}}}}}",
                s.slow_start_s
            ));
        }
        if let Some(j) = &self.job {
            b.push(format!(
                "{{name: job-run, selector: {{matchLabels: {{app: job}}}}, exitAfter: {}s, failureRatio: {}}}",
                j.run_s,
                if j.flaky { "0.3" } else { "0" }
            ));
        }
        if !b.is_empty() {
            y.push_str("  behaviors:\n");
            for line in b {
                let _ = writeln!(y, "    - {line}");
            }
        }
    }

    fn objects_yaml(&self, y: &mut String) {
        const TOLERATION: &str =
            "tolerations: [{key: dedicated, operator: Equal, value: fuzz, effect: NoSchedule}]";
        const PROBE: &str = ", readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 2}";
        let container = |name: &str, cpu: u32, probe: bool| {
            format!(
                "[{{name: {name}, image: \"img:1\", resources: {{requests: {{cpu: {cpu}m, memory: 64Mi}}}}{}}}]",
                if probe { PROBE } else { "" }
            )
        };
        for (i, d) in self.deployments.iter().enumerate() {
            let name = format!("d{i}");
            let mut spec = vec![format!(
                "containers: {}",
                container(&name, d.cpu_milli, d.slow_start_s > 0)
            )];
            if d.tolerates {
                spec.push(TOLERATION.into());
            }
            if d.spread {
                spec.push(format!("topologySpreadConstraints: [{{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway, labelSelector: {{matchLabels: {{app: {name}}}}}}}]"));
            }
            if d.anti_affinity {
                spec.push(format!("affinity: {{podAntiAffinity: {{preferredDuringSchedulingIgnoredDuringExecution: [{{weight: 100, podAffinityTerm: {{topologyKey: kubernetes.io/hostname, labelSelector: {{matchLabels: {{app: {name}}}}}}}}}]}}}}"));
            }
            let _ = writeln!(
                y,
                "    - {{apiVersion: apps/v1, kind: Deployment, metadata: {{name: {name}, namespace: default}}, spec: {{replicas: {}, selector: {{matchLabels: {{app: {name}}}}}, strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: {}, maxUnavailable: {}}}}}, template: {{metadata: {{labels: {{app: {name}}}}}, spec: {{{}}}}}}}}}",
                d.replicas,
                d.max_surge,
                d.max_unavailable,
                spec.join(", ")
            );
            if let Some(m) = d.pdb_min_available {
                let _ = writeln!(
                    y,
                    "    - {{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {{name: {name}, namespace: default}}, spec: {{minAvailable: {m}, selector: {{matchLabels: {{app: {name}}}}}}}}}"
                );
            }
            if d.service {
                let _ = writeln!(
                    y,
                    "    - {{apiVersion: v1, kind: Service, metadata: {{name: {name}, namespace: default}}, spec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}}}"
                );
            }
        }
        if let Some(s) = &self.statefulset {
            let _ = writeln!(
                y,
                "    - {{apiVersion: apps/v1, kind: StatefulSet, metadata: {{name: sts, namespace: default}}, spec: {{serviceName: sts, replicas: {}, podManagementPolicy: {}, selector: {{matchLabels: {{app: sts}}}}, template: {{metadata: {{labels: {{app: sts}}}}, spec: {{containers: {}}}}}}}}}",
                s.replicas,
                if s.parallel {
                    "Parallel"
                } else {
                    "OrderedReady"
                },
                container("sts", s.cpu_milli, s.slow_start_s > 0)
            );
        }
        if let Some(d) = &self.daemonset {
            let _ = writeln!(
                y,
                "    - {{apiVersion: apps/v1, kind: DaemonSet, metadata: {{name: ds, namespace: default}}, spec: {{selector: {{matchLabels: {{app: ds}}}}, template: {{metadata: {{labels: {{app: ds}}}}, spec: {{containers: {}{}}}}}}}}}",
                container("ds", d.cpu_milli, false),
                if d.tolerates {
                    format!(", {TOLERATION}")
                } else {
                    String::new()
                }
            );
        }
        if let Some(j) = &self.job {
            let _ = writeln!(
                y,
                "    - {{apiVersion: batch/v1, kind: Job, metadata: {{name: job, namespace: default}}, spec: {{completions: {}, parallelism: {}, backoffLimit: 2, template: {{metadata: {{labels: {{app: job}}}}, spec: {{restartPolicy: Never, containers: {}}}}}}}}}",
                j.completions,
                j.parallelism,
                container("job", j.cpu_milli, false)
            );
        }
    }

    fn events_yaml(&self, y: &mut String) {
        let faults = self.effective_faults();
        if faults.is_empty() {
            return;
        }
        y.push_str("  events:\n");
        for (i, f) in faults.iter().enumerate() {
            let (at, d) = (f.at_s, f.duration_s);
            let line = match &f.kind {
                FaultKind::NodeCrash(n) => format!(
                    "{{name: f{i}-node-crash, at: {at}s, duration: {d}s, nodeCrash: {{node: {}}}}}",
                    self.node_at(*n)
                ),
                FaultKind::KubeletStop(n) => format!(
                    "{{name: f{i}-kubelet-stop, at: {at}s, duration: {d}s, kubeletStop: {{node: {}}}}}",
                    self.node_at(*n)
                ),
                FaultKind::ZoneOutage(z) => format!(
                    "{{name: f{i}-zone-outage, at: {at}s, duration: {d}s, zoneOutage: {{zone: {}}}}}",
                    zone_name(z % self.zones_in_use())
                ),
                FaultKind::ControlPlaneOutage => format!(
                    "{{name: f{i}-control-plane-outage, at: {at}s, duration: {d}s, controlPlaneOutage: {{}}}}"
                ),
                FaultKind::Drain(n) => {
                    let node = self.node_at(*n);
                    format!(
                        "{{name: f{i}-drain, at: {at}s, drain: {{node: {node}, timeout: {d}s}}}}\n    - {{name: f{i}-uncordon, at: {FAULTS_END_S}s, uncordon: {{node: {node}}}}}"
                    )
                }
                FaultKind::Rollout(k) => format!(
                    "{{name: f{i}-rollout, at: {at}s, setImage: {{name: d{}, image: \"img:{}\"}}}}",
                    *k as usize % self.deployments.len().max(1),
                    i + 2
                ),
            };
            let _ = writeln!(y, "    - {line}");
        }
    }
}

/// `zone-a`, `zone-b`, ...
pub fn zone_name(i: u32) -> String {
    format!("zone-{}", (b'a' + (i % 26) as u8) as char)
}
