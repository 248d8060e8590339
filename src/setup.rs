//! From a checked [`Scenario`] to a [`Cluster`] ready to run: install the network
//! (`spec.network`, or the default topology), apply the scenario's objects at t=0 (as
//! `kubectl apply` would, in the scenario's apply order) and register the control plane's
//! components.
//!
//! Components registered: the kube-scheduler (with the scenario's `spec.scheduler`
//! configuration, or the default profile), the kubelet fleet (with the scenario's
//! `spec.behaviors`), the ReplicaSet/ReplicationController, Deployment, DaemonSet,
//! StatefulSet, Job, TTL-after-finished and CronJob controllers, the disruption controller
//! (PodDisruptionBudget status), and, when the kubelet runs, the node lifecycle controller,
//! the taint eviction controller and the pod garbage collector (with `spec.controllers`)
//! and the EndpointSlice controller (endpoints need the pod IPs kubelets assign), then,
//! when the scenario has `spec.traffic` (and the kubelet and controllers run), `kube-proxy`
//! and the `traffic` sources (nothing else reads the nodes' rules, so kube-proxy is left
//! out without traffic), then the scenario's `timeline` (`spec.events` plus the faults `spec.chaos` draws for the seed) and
//! `expectations` (`spec.expect`) when the scenario has any. Without
//! kubelets no node renews its Lease, so the node lifecycle controller would mark every node
//! unreachable after the grace period. [`Components`] turns the kubelet and the controllers
//! off for scheduler-only measurements.

use std::io::Write;

use crate::runtime::Cluster;
use crate::scenario::{Scenario, ScenarioError};
use crate::scheduler::Scheduler;
use crate::scheduler::config::SchedulerConfig;

/// Which components [`build_with`] registers besides the scheduler. Default: all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Components {
    /// The kubelet fleet. Off for scheduler-only measurements (upstream's scheduler_perf
    /// runs no kubelets: bound pods stay as bound).
    pub kubelet: bool,
    /// Run the scheduler without its memoized count tables (plain re-computation each
    /// cycle; same results, slower): see [`crate::scheduler::memo`].
    pub scheduler_plain_counts: bool,
    /// kube-controller-manager's controllers. Off for scheduler-only measurements
    /// (upstream's scheduler_perf runs the scheduler against an API server alone).
    pub controllers: bool,
}

impl Default for Components {
    fn default() -> Self {
        Components {
            kubelet: true,
            scheduler_plain_counts: false,
            controllers: true,
        }
    }
}

/// Builds the cluster with every component. An object the API store rejects is reported at
/// its place in the scenario.
pub fn build(
    scenario: &Scenario,
    events: Box<dyn Write>,
    metrics: Box<dyn Write>,
) -> Result<Cluster, ScenarioError> {
    build_with(scenario, events, metrics, Components::default())
}

/// [`build`] with a choice of components.
pub fn build_with(
    scenario: &Scenario,
    events: Box<dyn Write>,
    metrics: Box<dyn Write>,
    components: Components,
) -> Result<Cluster, ScenarioError> {
    let mut cluster = Cluster::new(scenario.config.clone(), events, metrics);
    cluster.set_network(crate::network::Network::new(scenario.network.clone()));
    let mut diagnostics = Vec::new();
    for so in &scenario.objects {
        if let Err(e) = cluster.apply(so.object.clone()) {
            let mut d = so.origin.clone();
            d.message = e.to_string();
            diagnostics.push(d);
        }
    }
    let mut scheduler =
        SchedulerConfig::from_config(&scenario.scheduler).map_err(|message| ScenarioError {
            diagnostics: vec![crate::scenario::Diagnostic {
                file: String::new(),
                location: None,
                path: "spec.scheduler".into(),
                message,
            }],
        })?;
    if !diagnostics.is_empty() {
        return Err(ScenarioError { diagnostics });
    }
    scheduler.plain_counts = components.scheduler_plain_counts;
    cluster
        .add_component(Box::new(Scheduler::new(scheduler)))
        .expect("the scheduler is the only component named scheduler");
    if components.kubelet {
        crate::kubelet::register(&mut cluster, scenario.behaviors.clone())
            .expect("the kubelet fleet is the only component named kubelet");
    }
    if components.controllers {
        use crate::controllers::*;
        let mut list: Vec<Box<dyn crate::runtime::Component>> = vec![
            Box::new(ReplicaSetController::new()),
            Box::new(DeploymentController::new()),
            Box::new(DaemonSetController::new()),
            Box::new(StatefulSetController::new()),
            Box::new(JobController::new()),
            Box::new(TtlAfterFinishedController::new()),
            Box::new(CronJobController::new()),
            Box::new(DisruptionController::new()),
        ];
        if components.kubelet {
            let cfg = scenario.controllers.clone();
            let gc_threshold = cfg.terminated_pod_gc_threshold;
            list.push(Box::new(NodeLifecycleController::new(cfg)));
            list.push(Box::new(TaintEvictionController::new()));
            list.push(Box::new(PodGcController::new(gc_threshold)));
            list.push(Box::new(EndpointSliceController::new()));
        }
        for c in list {
            cluster
                .add_component(c)
                .expect("controller names are unique");
        }
    }
    if let Some(traffic) = &scenario.traffic
        && components.kubelet
        && components.controllers
    {
        cluster
            .add_component(Box::new(crate::proxy::KubeProxy::new(traffic.proxy)))
            .expect("kube-proxy is registered once");
        cluster
            .add_component(Box::new(crate::traffic::Traffic::new(
                traffic.sources.clone(),
            )))
            .expect("traffic is registered once");
        // services.csv joins the digest whether or not the caller keeps it.
        cluster.set_services_output(Box::new(std::io::sink()));
    }
    let (_, timeline) = crate::timeline::full_timeline(scenario);
    if !timeline.is_empty() {
        cluster
            .add_component(Box::new(crate::timeline::Timeline::new(
                timeline,
                scenario.pools.clone(),
                scenario.config.duration,
            )))
            .expect("the timeline is registered once");
    }
    if !scenario.expectations.is_empty() {
        cluster
            .add_component(Box::new(crate::expect::Expectations::new(
                scenario.expectations.clone(),
            )))
            .expect("the expectations component is registered once");
    }
    Ok(cluster)
}
