//! The API store and the Kubernetes object model: the cluster's single source of truth.
//!
//! - [`Store`] holds every object and stamps resourceVersions; components never share state
//!   any other way.
//! - [`objects`] mirrors the upstream schemas; [`Quantity`] and [`selector`] parse exactly as
//!   upstream does; [`defaults`] and [`validation`] run on every write.
//! - [`eviction`] is the `pods/eviction` subresource (PodDisruptionBudget checks).
//! - [`watch`] describes changes and filters; delivering them (with latency) is the runtime's
//!   job, since it needs the event queue.

pub mod cron;
pub mod defaults;
pub mod error;
pub mod eviction;
pub mod meta;
pub mod objects;
pub mod quantity;
pub mod resources;
pub mod scheduling;
pub mod selector;
pub mod store;
pub mod validation;
pub mod watch;

pub use error::ApiError;
pub use meta::{IntOrString, ObjectMeta, OwnerReference, Time};
pub use objects::{Kind, Object, ObjectKey};
pub use quantity::Quantity;
pub use resources::{ResourceList, Resources};
pub use selector::{LabelSelector, Labels, Selector};
pub use store::{AdmissionConfig, DeleteOptions, DeleteOutcome, Propagation, Store, StoreLimits};
pub use watch::{Change, WatchEvent, WatchEventType, WatchFilter};
