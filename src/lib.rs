//! kubesim: a deterministic discrete-event simulator of Kubernetes clusters.
//!
//! The module tree follows the system:
//! - [`sim`]: clock, event queue, random streams, engine (knows nothing of Kubernetes);
//! - [`api`]: the API store, the object model, quantities, selectors, watches;
//! - [`runtime`]: one simulated cluster: engine + store + watch delivery + components + outputs;
//! - [`scenario`]: scenario files in, a checked [`scenario::Scenario`] out.
//!
//! ```
//! use kubesim::runtime::Cluster;
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
//! let mut cluster = Cluster::new(s.config.clone(), Box::new(Vec::new()), Box::new(Vec::new()));
//! for o in &s.objects {
//!     cluster.apply(o.object.clone()).unwrap();
//! }
//! cluster.run().unwrap();
//! assert_eq!(cluster.stats().nodes_ready, 2);
//! ```

pub mod api;
pub mod runtime;
pub mod scenario;
pub mod scheduler;
pub mod sim;
