//! Validation of objects, as the API server does it after defaulting.
//!
//! A subset of `pkg/apis/core/validation/validation.go` and
//! `pkg/apis/apps/validation/validation.go`: the rules whose violation would make the
//! simulation meaningless (names, required fields, negative counts, selectors that do not
//! match their template, requests above limits). Messages follow upstream's
//! `field.Error` wording: `<path>: <Required value|Invalid value: ...|...>`.

use std::fmt;

use crate::api::meta::ObjectMeta;
use crate::api::objects::pod::{Container, PodSpec, PodTemplateSpec};
use crate::api::objects::{Kind, Object};
use crate::api::quantity::Quantity;
use crate::api::selector::{self, LabelSelector};

/// One problem with one field; `path` is relative to the object (`spec.replicas`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }
    fn required(&mut self, path: impl Into<String>) {
        self.push(path, "Required value");
    }
    fn non_negative(&mut self, path: &str, value: Option<i64>) {
        if let Some(v) = value.filter(|v| *v < 0) {
            self.push(
                path,
                format!("Invalid value: {v}: must be greater than or equal to 0"),
            );
        }
    }
}

/// Validates an object after defaulting. An empty list means valid.
pub fn validate(obj: &Object) -> Vec<FieldError> {
    let mut e = Errors::default();
    validate_meta(obj.kind(), obj.meta(), &mut e);
    match obj {
        Object::Pod(p) => validate_pod_spec(&p.spec, "spec", &mut e),
        Object::ReplicaSet(rs) => {
            e.non_negative("spec.replicas", rs.spec.replicas.map(i64::from));
            e.non_negative(
                "spec.minReadySeconds",
                Some(rs.spec.min_ready_seconds.into()),
            );
            validate_selector_and_template(rs.spec.selector.as_ref(), &rs.spec.template, &mut e);
        }
        Object::ReplicationController(rc) => {
            e.non_negative("spec.replicas", rc.spec.replicas.map(i64::from));
            match &rc.spec.template {
                None => e.required("spec.template"),
                Some(t) => {
                    let sel = LabelSelector {
                        match_labels: rc.spec.selector.clone(),
                        ..LabelSelector::default()
                    };
                    validate_selector_and_template(Some(&sel), t, &mut e);
                }
            }
        }
        Object::Deployment(d) => {
            e.non_negative("spec.replicas", d.spec.replicas.map(i64::from));
            e.non_negative(
                "spec.minReadySeconds",
                Some(d.spec.min_ready_seconds.into()),
            );
            e.non_negative(
                "spec.revisionHistoryLimit",
                d.spec.revision_history_limit.map(i64::from),
            );
            if let Some(ru) = &d.spec.strategy.rolling_update {
                for (name, v) in [
                    ("maxSurge", &ru.max_surge),
                    ("maxUnavailable", &ru.max_unavailable),
                ] {
                    if let Some(v) = v
                        && v.scaled_value(100, true).is_err()
                    {
                        e.push(
                            format!("spec.strategy.rollingUpdate.{name}"),
                            format!("Invalid value: {v:?}: a valid percent string must be a numeric string followed by an ending '%'"),
                        );
                    }
                }
            }
            validate_selector_and_template(d.spec.selector.as_ref(), &d.spec.template, &mut e);
        }
        Object::DaemonSet(ds) => {
            validate_selector_and_template(ds.spec.selector.as_ref(), &ds.spec.template, &mut e)
        }
        Object::StatefulSet(ss) => {
            e.non_negative("spec.replicas", ss.spec.replicas.map(i64::from));
            validate_selector_and_template(ss.spec.selector.as_ref(), &ss.spec.template, &mut e);
        }
        Object::Job(j) => {
            e.non_negative("spec.parallelism", j.spec.parallelism.map(i64::from));
            e.non_negative("spec.completions", j.spec.completions.map(i64::from));
            e.non_negative("spec.backoffLimit", j.spec.backoff_limit.map(i64::from));
            e.non_negative("spec.activeDeadlineSeconds", j.spec.active_deadline_seconds);
            e.non_negative(
                "spec.ttlSecondsAfterFinished",
                j.spec.ttl_seconds_after_finished.map(i64::from),
            );
            if j.spec.template.spec.restart_policy
                == crate::api::objects::pod::RestartPolicy::Always
            {
                e.push(
                    "spec.template.spec.restartPolicy",
                    "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"",
                );
            }
            // The selector is generated at create unless manualSelector is true.
            validate_selector_and_template(j.spec.selector.as_ref(), &j.spec.template, &mut e);
        }
        Object::CronJob(cj) => {
            if let Err(msg) = crate::api::cron::Schedule::parse(&cj.spec.schedule) {
                e.push(
                    "spec.schedule",
                    format!("Invalid value: {:?}: {msg}", cj.spec.schedule),
                );
            }
            if let Some(tz) = &cj.spec.time_zone
                && !matches!(tz.as_str(), "UTC" | "Etc/UTC")
            {
                e.push(
                    "spec.timeZone",
                    format!("Invalid value: {tz:?}: kubesim models only UTC"),
                );
            }
            e.non_negative(
                "spec.startingDeadlineSeconds",
                cj.spec.starting_deadline_seconds,
            );
            e.non_negative(
                "spec.successfulJobsHistoryLimit",
                cj.spec.successful_jobs_history_limit.map(i64::from),
            );
            e.non_negative(
                "spec.failedJobsHistoryLimit",
                cj.spec.failed_jobs_history_limit.map(i64::from),
            );
            let t = &cj.spec.job_template.spec.template;
            if t.spec.restart_policy == crate::api::objects::pod::RestartPolicy::Always {
                e.push(
                    "spec.jobTemplate.spec.template.spec.restartPolicy",
                    "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"",
                );
            }
            validate_pod_spec(&t.spec, "spec.jobTemplate.spec.template.spec", &mut e);
        }
        Object::Service(s) => {
            for (i, p) in s.spec.ports.iter().enumerate() {
                if !(1..=65535).contains(&p.port) {
                    e.push(
                        format!("spec.ports[{i}].port"),
                        format!(
                            "Invalid value: {}: must be between 1 and 65535, inclusive",
                            p.port
                        ),
                    );
                }
            }
        }
        Object::PodDisruptionBudget(pdb) => {
            if pdb.spec.min_available.is_some() && pdb.spec.max_unavailable.is_some() {
                e.push(
                    "spec",
                    "Invalid value: minAvailable and maxUnavailable cannot be both set",
                );
            }
        }
        Object::Namespace(_)
        | Object::Node(_)
        | Object::EndpointSlice(_)
        | Object::Lease(_)
        | Object::PriorityClass(_) => {}
    }
    e.0
}

fn validate_meta(kind: Kind, meta: &ObjectMeta, e: &mut Errors) {
    if meta.name.is_empty() {
        if meta.generate_name.is_empty() {
            e.push(
                "metadata.name",
                "Required value: name or generateName is required",
            );
        }
    } else {
        let label_only = matches!(kind, Kind::Namespace | Kind::Service);
        if let Err(msg) = if label_only {
            dns1123_label(&meta.name)
        } else {
            dns1123_subdomain(&meta.name)
        } {
            e.push(
                "metadata.name",
                format!("Invalid value: {:?}: {msg}", meta.name),
            );
        }
    }
    if kind.is_namespaced()
        && !meta.namespace.is_empty()
        && let Err(msg) = dns1123_label(&meta.namespace)
    {
        e.push(
            "metadata.namespace",
            format!("Invalid value: {:?}: {msg}", meta.namespace),
        );
    }
    for (k, v) in &meta.labels {
        if let Err(msg) = selector::validate_label_key(k) {
            e.push(
                format!("metadata.labels.{k}"),
                format!("Invalid value: {k:?}: {msg}"),
            );
        }
        if let Err(msg) = selector::validate_label_value(v) {
            e.push(
                format!("metadata.labels.{k}"),
                format!("Invalid value: {v:?}: {msg}"),
            );
        }
    }
}

fn validate_selector_and_template(
    sel: Option<&LabelSelector>,
    template: &PodTemplateSpec,
    e: &mut Errors,
) {
    match sel {
        None => e.required("spec.selector"),
        Some(s) if s.match_labels.is_empty() && s.match_expressions.is_empty() => e.push(
            "spec.selector",
            "Invalid value: \"{}\": empty selector is invalid",
        ),
        Some(s) => match s.to_selector() {
            Err(err) => e.push("spec.selector", format!("Invalid value: {err}")),
            Ok(parsed) => {
                if !parsed.matches(&template.metadata.labels) {
                    e.push(
                        "spec.template.metadata.labels",
                        format!(
                            "Invalid value: {:?}: `selector` does not match template `labels`",
                            template.metadata.labels
                        ),
                    );
                }
            }
        },
    }
    validate_pod_spec(&template.spec, "spec.template.spec", e);
}

fn validate_pod_spec(spec: &PodSpec, path: &str, e: &mut Errors) {
    if spec.containers.is_empty() {
        e.required(format!("{path}.containers"));
    }
    let mut names: Vec<&str> = Vec::new();
    for (list, field) in [
        (&spec.init_containers, "initContainers"),
        (&spec.containers, "containers"),
    ] {
        for (i, c) in list.iter().enumerate() {
            let cpath = format!("{path}.{field}[{i}]");
            validate_container(c, &cpath, e);
            if !c.name.is_empty() {
                if names.contains(&c.name.as_str()) {
                    e.push(
                        format!("{cpath}.name"),
                        format!("Duplicate value: {:?}", c.name),
                    );
                }
                names.push(&c.name);
            }
        }
    }
    if let Some(p) = spec.priority
        && !spec.priority_class_name.is_empty()
        && p < 0
    {
        e.push(
            format!("{path}.priority"),
            format!("Invalid value: {p}: must be greater than or equal to 0"),
        );
    }
    e.non_negative(
        &format!("{path}.terminationGracePeriodSeconds"),
        spec.termination_grace_period_seconds,
    );
}

fn validate_container(c: &Container, path: &str, e: &mut Errors) {
    if c.name.is_empty() {
        e.required(format!("{path}.name"));
    } else if let Err(msg) = dns1123_label(&c.name) {
        e.push(
            format!("{path}.name"),
            format!("Invalid value: {:?}: {msg}", c.name),
        );
    }
    if c.image.trim().is_empty() {
        e.required(format!("{path}.image"));
    }
    for (list, field) in [
        (&c.resources.requests, "requests"),
        (&c.resources.limits, "limits"),
    ] {
        for (name, q) in list {
            if *q < Quantity::ZERO {
                e.push(
                    format!("{path}.resources.{field}.{name}"),
                    format!("Invalid value: \"{q}\": must be greater than or equal to 0"),
                );
            }
        }
    }
    for (name, req) in &c.resources.requests {
        if let Some(limit) = c.resources.limits.get(name)
            && req > limit
        {
            e.push(
                format!("{path}.resources.requests"),
                format!("Invalid value: \"{req}\": must be less than or equal to {name} limit of {limit}"),
            );
        }
    }
    for (i, p) in c.ports.iter().enumerate() {
        if !(1..=65535).contains(&p.container_port) {
            e.push(
                format!("{path}.ports[{i}].containerPort"),
                format!(
                    "Invalid value: {}: must be between 1 and 65535, inclusive",
                    p.container_port
                ),
            );
        }
    }
}

/// RFC 1123 label: at most 63 lowercase alphanumerics or '-', starting and ending alphanumeric.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (at most 63 characters)".into())
    }
}

/// RFC 1123 subdomain: at most 253 characters, dot-separated labels.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    let ok =
        !s.is_empty() && s.len() <= 253 && s.split('.').all(|part| dns1123_label(part).is_ok());
    if ok {
        Ok(())
    } else {
        Err("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (at most 253 characters)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(json: &str) -> Object {
        let mut o =
            Object::from_json(Kind::Deployment, serde_json::from_str(json).unwrap()).unwrap();
        crate::api::defaults::apply(&mut o);
        o
    }

    const VALID: &str = r#"{"metadata":{"name":"web"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
        "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx:1.27"}]}}}}"#;

    #[test]
    fn a_valid_deployment_has_no_errors() {
        assert_eq!(validate(&deployment(VALID)), vec![]);
    }

    #[test]
    fn negative_replicas_are_rejected_at_spec_replicas() {
        let errs = validate(&deployment(
            &VALID.replace("\"replicas\":2", "\"replicas\":-1"),
        ));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path, "spec.replicas");
        assert!(errs[0].message.contains("greater than or equal to 0"));
    }

    #[test]
    fn selector_must_match_template_labels() {
        let errs = validate(&deployment(&VALID.replace(
            "\"labels\":{\"app\":\"web\"}",
            "\"labels\":{\"app\":\"other\"}",
        )));
        assert_eq!(errs[0].path, "spec.template.metadata.labels", "{errs:?}");
    }

    #[test]
    fn containers_need_a_name_and_an_image() {
        let errs = validate(&deployment(
            &VALID.replace("\"name\":\"c\",\"image\":\"nginx:1.27\"", "\"name\":\"\""),
        ));
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "spec.template.spec.containers[0].name",
                "spec.template.spec.containers[0].image"
            ]
        );
    }

    #[test]
    fn dns_names_follow_rfc_1123() {
        assert!(dns1123_subdomain("web-1.example").is_ok());
        assert!(dns1123_subdomain("Web").is_err());
        assert!(dns1123_label("a.b").is_err());
        assert!(dns1123_label(&"a".repeat(64)).is_err());
    }
}
