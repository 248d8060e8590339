//! Resource lists and the compact resource vector the scheduler and kubelet do arithmetic on.
//!
//! - CPU is counted in millicores (`MilliValue`, rounded up), everything else in whole units
//!   (`Value`, rounded up): memory and ephemeral storage in bytes, extended resources
//!   (`nvidia.com/gpu`, any `domain/name`) in units.
//! - A pod's request follows `k8s.io/component-helpers/resource/helpers.go` (`PodRequests`):
//!   the larger of the app containers' sum and each init container's request (sidecar init
//!   containers, `restartPolicy: Always`, run alongside and are added), plus pod overhead.

use std::collections::BTreeMap;

use crate::api::objects::pod::{ContainerRestartPolicy, PodSpec};
use crate::api::quantity::Quantity;

/// `resourceName -> quantity`, as in `requests`, `limits`, `capacity`, `allocatable`.
pub type ResourceList = BTreeMap<String, Quantity>;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// A resource vector in integer units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// The `pods` resource (a node's pod capacity).
    pub pods: i64,
    /// Extended and other resources by name, in whole units.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    pub fn from_list(list: &ResourceList) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list {
            r.set(name, *q);
        }
        r
    }

    fn set(&mut self, name: &str, q: Quantity) {
        match name {
            CPU => self.milli_cpu = q.milli_value(),
            MEMORY => self.memory = q.value(),
            EPHEMERAL_STORAGE => self.ephemeral_storage = q.value(),
            PODS => self.pods = q.value(),
            _ => {
                self.scalar.insert(name.to_string(), q.value());
            }
        }
    }

    /// Combines `other` into `self` component by component with `f`; a scalar resource
    /// missing on one side counts as 0.
    fn zip_with(&mut self, other: &Resources, f: impl Fn(i64, i64) -> i64) {
        self.milli_cpu = f(self.milli_cpu, other.milli_cpu);
        self.memory = f(self.memory, other.memory);
        self.ephemeral_storage = f(self.ephemeral_storage, other.ephemeral_storage);
        self.pods = f(self.pods, other.pods);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = f(*e, *v);
        }
    }

    /// Adds `other` component-wise (saturating).
    pub fn add(&mut self, other: &Resources) {
        self.zip_with(other, i64::saturating_add);
    }

    /// Subtracts `other` component-wise (saturating).
    pub fn sub(&mut self, other: &Resources) {
        self.zip_with(other, i64::saturating_sub);
    }

    /// Component-wise maximum.
    pub fn max_with(&mut self, other: &Resources) {
        self.zip_with(other, i64::max);
    }
}

/// The scheduler's default CPU request for a container that sets none
/// (`pkg/scheduler/util/pod_resources.go`): 100 millicores.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The scheduler's default memory request for a container that sets none: 200 MiB.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// The resources a pod requests, as `PodRequests` computes them (see the module doc).
pub fn pod_requests(spec: &PodSpec) -> Resources {
    pod_requests_with(spec, false)
}

/// `PodRequests` with `NonMissingContainerRequests`: a container *missing* a cpu or memory
/// request counts 100m / 200Mi (an explicit 0 stays 0). The scheduler's scoring uses this.
pub fn pod_non_zero_requests(spec: &PodSpec) -> Resources {
    pod_requests_with(spec, true)
}

fn container_requests(list: &ResourceList, non_zero: bool) -> Resources {
    let mut r = Resources::from_list(list);
    if non_zero {
        if !list.contains_key(CPU) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !list.contains_key(MEMORY) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

fn pod_requests_with(spec: &PodSpec, non_zero: bool) -> Resources {
    let mut reqs = Resources::default();
    for c in &spec.containers {
        reqs.add(&container_requests(&c.resources.requests, non_zero));
    }
    let mut restartable_init = Resources::default();
    let mut init_max = Resources::default();
    for c in &spec.init_containers {
        let own = container_requests(&c.resources.requests, non_zero);
        let effective = if c.restart_policy == Some(ContainerRestartPolicy::Always) {
            reqs.add(&own);
            restartable_init.add(&own);
            restartable_init.clone()
        } else {
            let mut t = own;
            t.add(&restartable_init);
            t
        };
        init_max.max_with(&effective);
    }
    reqs.max_with(&init_max);
    reqs.add(&Resources::from_list(&spec.overhead));
    reqs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::objects::pod::Container;

    fn container(cpu: &str, mem: &str) -> Container {
        let mut c = Container::default();
        c.resources
            .requests
            .insert(CPU.into(), Quantity::parse(cpu).unwrap());
        c.resources
            .requests
            .insert(MEMORY.into(), Quantity::parse(mem).unwrap());
        c
    }

    #[test]
    fn pod_requests_take_the_larger_of_app_sum_and_init_max() {
        let spec = PodSpec {
            containers: vec![container("100m", "100Mi"), container("200m", "100Mi")],
            init_containers: vec![container("500m", "50Mi")],
            ..PodSpec::default()
        };
        let r = pod_requests(&spec);
        assert_eq!(r.milli_cpu, 500);
        assert_eq!(r.memory, 200 * 1024 * 1024);
    }

    #[test]
    fn sidecar_init_containers_add_to_app_containers() {
        let mut sidecar = container("50m", "1Mi");
        sidecar.restart_policy = Some(ContainerRestartPolicy::Always);
        let spec = PodSpec {
            containers: vec![container("100m", "1Mi")],
            init_containers: vec![sidecar, container("120m", "1Mi")],
            ..PodSpec::default()
        };
        // app 100 + sidecar 50 = 150; second init runs with the sidecar: 120 + 50 = 170.
        assert_eq!(pod_requests(&spec).milli_cpu, 170);
    }

    #[test]
    fn cpu_rounds_up_to_millicores_and_extended_resources_count_units() {
        let mut list = ResourceList::new();
        list.insert(CPU.into(), Quantity::parse("0.0001").unwrap());
        list.insert("nvidia.com/gpu".into(), Quantity::parse("2").unwrap());
        let r = Resources::from_list(&list);
        assert_eq!(r.milli_cpu, 1);
        assert_eq!(r.scalar["nvidia.com/gpu"], 2);
    }
}
