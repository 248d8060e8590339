//! Discrete-event simulation core: integer time, an ordered event queue, seeded random streams
//! and an engine with limits.
//!
//! **Invariant:** this module knows nothing about Kubernetes. It is generic over the event
//! payload type, and nothing here reads the wall clock or OS randomness.
//!
//! - Time is [`SimTime`] / [`SimDuration`]: integer nanoseconds, never floats.
//! - Events with equal time come out in insertion order ([`EventQueue`]).
//! - Every component draws from its own [`RngStream`], forked from the scenario seed by a
//!   stable label ([`RngFactory`]), so adding a component never shifts another's draws.
//! - [`Engine`] stops at its [`Limits`] with a typed [`SimError`].

mod engine;
mod queue;
mod rng;
mod time;

pub use engine::{Engine, Limits, SimError};
pub use queue::{EventId, EventQueue};
pub use rng::{RngFactory, RngStream};
pub use time::{SimDuration, SimTime, parse_duration};
