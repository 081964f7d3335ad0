//! The core's integration tests, in one binary (as ripgrep does): the simulator over real
//! HTTP on 127.0.0.1, the real Secret Service where one is up. One binary links axum,
//! reqwest and tokio once instead of once per file.
//!
//! `cargo test -p thingstray --test integration session::` runs one module.

mod apps;
mod common;
mod handover;
mod handover_faults;
mod handover_world;
mod house;
mod keychain;
mod logs;
mod paired;
mod payloads;
mod schema;
mod session;
mod share;
mod sign_in;
mod storms;
mod tls;
mod vault_trouble;
