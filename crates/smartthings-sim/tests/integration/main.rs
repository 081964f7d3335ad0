//! The simulator's own tests, in one binary: its OAuth pages and token endpoint, the API,
//! the app-management API and personal access tokens, faults and the control routes, the
//! fixtures it serves, and the `smartthings-sim` binary.
//!
//! `cargo test -p smartthings-sim --test integration oauth_token::` runs one module.

mod api;
mod apps_api;
mod apps_oauth;
mod binary;
mod capabilities;
mod common;
mod device_kinds;
mod device_shape;
mod faults_and_control;
mod fixtures_load;
mod modes;
mod oauth_authorize;
mod oauth_token;
mod pats;
mod schema;
mod tls;
mod users;
