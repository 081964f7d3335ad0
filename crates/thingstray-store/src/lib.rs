//! ThingsTray's sessions on PostgreSQL, for services that hold many users' sessions
//! (an API Access project, an ST Schema connector) on any number of replicas.
//!
//! The core's promises hold here as on a desktop, with the same `Session` code: single
//! flight across replicas by each session row's lock (pair.rs), persist-before-use by the
//! transaction that stores the new pair, a refused refresh ending a session only after a
//! re-read shows the refused token is still the stored one. The tokens are sealed with
//! the operator's key (key.rs); replicas agree on time through the database's clock.
//!
//! Rooms, in the order imports flow: key, db (pool, migrations, settings, clock), clock,
//! pair (one row as the core's shared pair), rows (the tables), claims (who refreshes
//! what, the service's refresh budget), service (sessions, sign-ins,
//! grants), scheduler (claims due refreshes), api (HTTP).

pub mod api;
pub mod claims;
mod clock;
pub mod db;
pub mod key;
pub mod pair;
pub mod rows;
pub mod scheduler;
pub mod service;

pub use claims::{Claim, Claimed};
pub use db::{Skew, Store};
pub use key::StoreKey;
pub use scheduler::SchedulerOptions;
pub use service::Service;
