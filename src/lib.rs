//! kubesim: a deterministic discrete-event simulator of Kubernetes clusters.
//!
//! The module tree follows the system:
//! - [`sim`]: clock, event queue, random streams, engine (knows nothing of Kubernetes);
//! - [`api`]: the API store, the object model, quantities, selectors, watches;
//! - [`runtime`]: one simulated cluster: engine + store + watch delivery + components + outputs;
//! - [`network`]: the cluster network: places, links, partitions, latency and loss;
//! - [`scenario`]: scenario files in, a checked [`scenario::Scenario`] out;
//! - [`scheduler`]: the kube-scheduler component (profiles, plugins, queue, explain);
//! - [`proxy`]: kube-proxy (rules per node) and [`traffic`]: requests to Services;
//! - [`setup`]: a checked scenario into a cluster with its objects and components;
//! - [`bench`]: scheduler profiles compared over scenarios and seeds (`kubesim bench`);
//! - [`fuzz`]: property testing: scenario generators, properties, reproducers.
//!
//! ```
//! use kubesim::scenario;
//! use std::path::Path;
//!
//! let text = r#"
//! apiVersion: kubesim.io/v1alpha1
//! kind: Scenario
//! metadata: {name: tiny}
//! spec:
//!   duration: 30s
//!   cluster:
//!     nodePools:
//!       - name: pool
//!         count: 2
//!         template: {status: {capacity: {cpu: "4", memory: 16Gi, pods: "110"}}}
//! "#;
//! let no_files = |_: &Path| Err(std::io::Error::other("no includes here"));
//! let s = scenario::load_str("tiny.yaml", text, Path::new("."), &no_files).unwrap();
//! let mut cluster = kubesim::setup::build(&s, Box::new(Vec::new()), Box::new(Vec::new())).unwrap();
//! cluster.run().unwrap();
//! assert_eq!(cluster.stats().nodes_ready, 2);
//! ```

pub mod api;
pub mod bench;
pub mod controllers;
pub mod expect;
pub mod fuzz;
pub mod kubelet;
pub mod network;
pub mod proxy;
pub mod runtime;
pub mod scenario;
pub mod scheduler;
pub mod setup;
pub mod sim;
pub mod timeline;
pub mod traffic;
