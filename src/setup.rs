//! From a checked [`Scenario`] to a [`Cluster`] ready to run: apply the scenario's objects at
//! t=0 (as `kubectl apply` would, in the scenario's apply order) and register the control
//! plane's components.
//!
//! Components registered: the kube-scheduler (with the scenario's `spec.scheduler`
//! configuration, or the default profile) and the kubelet fleet (with the scenario's
//! `spec.behaviors`).

use std::io::Write;

use crate::runtime::Cluster;
use crate::scenario::{Scenario, ScenarioError};
use crate::scheduler::Scheduler;
use crate::scheduler::config::SchedulerConfig;

/// Builds the cluster. An object the API store rejects is reported at its place in the
/// scenario.
pub fn build(
    scenario: &Scenario,
    events: Box<dyn Write>,
    metrics: Box<dyn Write>,
) -> Result<Cluster, ScenarioError> {
    let mut cluster = Cluster::new(scenario.config.clone(), events, metrics);
    let mut diagnostics = Vec::new();
    for so in &scenario.objects {
        if let Err(e) = cluster.apply(so.object.clone()) {
            let mut d = so.origin.clone();
            d.message = e.to_string();
            diagnostics.push(d);
        }
    }
    let scheduler =
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
    cluster
        .add_component(Box::new(Scheduler::new(scheduler)))
        .expect("the scheduler is the only component named scheduler");
    crate::kubelet::register(&mut cluster, scenario.behaviors.clone())
        .expect("the kubelet fleet is the only component named kubelet");
    Ok(cluster)
}
