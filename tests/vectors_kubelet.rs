//! Every `kubelet.*` row of the reference vectors (`../shared/reference/vectors/controllers.json`,
//! or `$KUBESIM_REFERENCE/vectors/controllers.json`) checked against kubesim's kubelet.
//! Prints a "skipping" line and passes when the file is absent.
//! A row with an id this file does not know fails the test, so new rows cannot be skipped.

use kubesim::api::objects::pod::{Probe, RestartPolicy};
use kubesim::api::objects::{Object, Pod};
use kubesim::kubelet::backoff::{Backoff, BackoffCurve, crash_loop_delays};
use kubesim::kubelet::{
    KubeletConfig, MINIMUM_GRACE_SECONDS, ProbeKind, ProbeResult, image_backoff_key, reasons, sync,
};
use kubesim::sim::{SimDuration, SimTime};
use serde_json::Value;

fn secs(v: &Value) -> SimDuration {
    SimDuration::from_secs(v.as_u64().expect("whole seconds"))
}

fn delays_s(curve: BackoffCurve, crashes: usize) -> Vec<u64> {
    crash_loop_delays(curve, crashes)
        .iter()
        .map(|d| d.as_secs())
        .collect()
}

fn expected_u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

fn check_crash_curve(case: &Value, curve: BackoffCurve) {
    let i = &case["inputs"];
    assert_eq!(curve.initial, secs(&i["initial_s"]));
    assert_eq!(curve.max, secs(&i["cap_s"]));
    assert_eq!(i["factor"], 2);
    let n = i["consecutive_crashes"].as_u64().unwrap() as usize;
    assert_eq!(
        delays_s(curve, n),
        expected_u64s(&case["expected"]["restart_delay_after_crash_s"])
    );
}

fn check_image_pull_backoff(e: &Value) {
    let c = KubeletConfig::default().image_backoff;
    assert_eq!(c.initial, secs(&e["imageBackOffPeriod_s"]));
    assert_eq!(c.max, secs(&e["MaxImageBackOff_s"]));
    assert_eq!(e["key"], "<podUID>_<image>");
    assert_eq!(image_backoff_key("<podUID>", "<image>"), "<podUID>_<image>");
    assert_eq!(e["first_failure_reason"], reasons::ERR_IMAGE_PULL);
    assert_eq!(e["in_window_reason"], reasons::IMAGE_PULL_BACK_OFF);
    // window_check: now - lastUpdate < backoff.
    let mut b = Backoff::new(c);
    let t = SimTime::ZERO.saturating_add(SimDuration::from_secs(100));
    b.next("k".to_string(), t, t);
    let at = |s| t.saturating_add(SimDuration::from_secs(s));
    assert!(b.in_backoff_since_update(&"k".to_string(), at(9)));
    assert!(!b.in_backoff_since_update(&"k".to_string(), at(10)));
}

fn check_pod_worker_requeue(e: &Value) {
    assert_eq!(sync::BACKOFF_PERIOD, secs(&e["backOffPeriod_s"]));
    assert_eq!(
        sync::WORKER_BACKOFF_JITTER_PERCENT as f64 / 100.0,
        e["workerBackOffPeriodJitterFactor"].as_f64().unwrap()
    );
    assert_eq!(sync::SYNC_FREQUENCY, secs(&e["syncFrequency_s"]));
    assert_eq!(
        sync::WORKER_RESYNC_JITTER_PERCENT as f64 / 100.0,
        e["workerResyncIntervalJitterFactor"].as_f64().unwrap()
    );
    assert_eq!(
        sync::BACKOFF_ON_TRANSIENT_ERROR,
        secs(&e["backOffOnTransientErrorPeriod_s"])
    );
    assert_eq!(e["jitter_formula"], "d + rand[0,1)*0.5*d");
    let j = |u| sync::jitter(sync::BACKOFF_PERIOD, sync::WORKER_BACKOFF_JITTER_PERCENT, u);
    assert_eq!(j(0), SimDuration::from_secs(10));
    assert_eq!(j(500_000), SimDuration::from_millis(12_500));
    assert!(j(999_999) < SimDuration::from_secs(15));
}

fn check_config_defaults(e: &Value) {
    let c = KubeletConfig::default();
    assert_eq!(
        c.node_status_update_frequency,
        secs(&e["nodeStatusUpdateFrequency_s"])
    );
    assert_eq!(
        c.node_status_report_frequency,
        secs(&e["nodeStatusReportFrequency_s"])
    );
    assert_eq!(
        u64::from(c.node_lease_duration_seconds),
        e["nodeLeaseDurationSeconds"].as_u64().unwrap()
    );
    assert_eq!(
        f64::from(c.node_lease_renew_interval_percent) / 100.0,
        e["nodeLeaseRenewIntervalFraction"].as_f64().unwrap()
    );
    assert_eq!(c.lease_renew_interval(), secs(&e["lease_renew_interval_s"]));
    assert_eq!(c.sync_frequency, secs(&e["syncFrequency_s"]));
    assert_eq!(c.max_pods, e["maxPods"].as_i64().unwrap());
    assert_eq!(
        c.pod_housekeeping_period,
        secs(&e["podHousekeepingPeriod_s"])
    );
    assert_eq!(
        c.eviction_pressure_transition_period,
        secs(&e["evictionPressureTransitionPeriod_s"])
    );
    assert_eq!(c.image_minimum_gc_age, secs(&e["imageMinimumGCAge_s"]));
    assert_eq!(
        u64::from(c.image_gc_high_threshold_percent),
        e["imageGCHighThresholdPercent"].as_u64().unwrap()
    );
    assert_eq!(
        u64::from(c.image_gc_low_threshold_percent),
        e["imageGCLowThresholdPercent"].as_u64().unwrap()
    );
    assert_eq!(c.crash_backoff.max, secs(&e["MaxContainerBackOff_s"]));
}

fn check_probe_and_pod_defaults(e: &Value) {
    let p = Probe::default();
    assert_eq!(
        i64::from(p.timeout_seconds),
        e["timeoutSeconds"].as_i64().unwrap()
    );
    assert_eq!(
        i64::from(p.period_seconds),
        e["periodSeconds"].as_i64().unwrap()
    );
    assert_eq!(
        i64::from(p.success_threshold),
        e["successThreshold"].as_i64().unwrap()
    );
    assert_eq!(
        i64::from(p.failure_threshold),
        e["failureThreshold"].as_i64().unwrap()
    );
    assert_eq!(
        i64::from(p.initial_delay_seconds),
        e["initialDelaySeconds"].as_i64().unwrap()
    );
    // What the API server's defaulting gives a pod that sets neither.
    let mut obj = Object::Pod(Pod::default());
    kubesim::api::defaults::apply(&mut obj);
    let Object::Pod(pod) = obj else {
        unreachable!()
    };
    assert_eq!(
        pod.spec.termination_grace_period_seconds,
        e["terminationGracePeriodSeconds"].as_i64()
    );
    assert_eq!(e["restartPolicy"], "Always");
    assert_eq!(pod.spec.restart_policy, RestartPolicy::Always);
    let name = |r: ProbeResult| format!("{r:?}");
    let init = &e["initial_result"];
    assert_eq!(
        init["readiness"],
        name(ProbeKind::Readiness.initial_result())
    );
    assert_eq!(init["liveness"], name(ProbeKind::Liveness.initial_result()));
    assert_eq!(init["startup"], name(ProbeKind::Startup.initial_result()));
    assert_eq!(
        MINIMUM_GRACE_SECONDS,
        e["minimumGracePeriodInSeconds"].as_i64().unwrap()
    );
}

#[test]
fn every_kubelet_vector_row_holds() {
    let path = std::env::var_os("KUBESIM_REFERENCE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference")
        })
        .join("vectors/controllers.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "skipping: controller vectors not found at {} (set KUBESIM_REFERENCE)",
            path.display()
        );
        return;
    };
    let data: Value = serde_json::from_str(&text).unwrap();
    let cases: Vec<Value> = data["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["topic"]
                .as_str()
                .is_some_and(|t| t.starts_with("kubelet."))
        })
        .cloned()
        .collect();
    assert_eq!(cases.len(), 6, "the reference has 6 kubelet.* rows");
    for case in &cases {
        let id = case["id"].as_str().unwrap();
        assert!(case["topic"].as_str().unwrap().starts_with("kubelet."));
        let e = &case["expected"];
        match id {
            "kubelet.crashloop.default_curve" => check_crash_curve(case, BackoffCurve::CRASH_LOOP),
            "kubelet.crashloop.reduced_decay_curve" => {
                check_crash_curve(case, BackoffCurve::CRASH_LOOP_REDUCED_DECAY)
            }
            "kubelet.image_pull_backoff" => check_image_pull_backoff(e),
            "kubelet.pod_worker_requeue" => check_pod_worker_requeue(e),
            "kubelet.config_defaults" => check_config_defaults(e),
            "core.probe_and_pod_defaults" => check_probe_and_pod_defaults(e),
            other => panic!("no check for vector row {other}"),
        }
    }
}
