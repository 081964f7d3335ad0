//! ThingsTray's core: everything but the window. Signs in to SmartThings with OAuth2
//! (authorization code + PKCE), keeps the tokens in the OS keychain, refreshes them ahead
//! of expiry without ever losing a rotated refresh token, and talks to the REST API.
//!
//! No Tauri, no webkit: the desktop app, the CLI and the token server are thin shells
//! over this crate, and its tests build in seconds on a machine with no GUI libraries.
//!
//! The modules, lowest first: each uses only those before it, so none is in a circle
//! ([`MODULE_ORDER`] is this list; tests/integration/house.rs checks every `crate::` path
//! of src/ against it).
//!
//! - `error`: the one error type, a variant per thing a user can act on.
//! - `clock`: wall-clock time, behind a trait so tests can live through a month.
//! - `failpoint`: crash-test hooks (the `failpoints` feature only).
//! - `fsutil`: durable file writes, owner-only directories and lock files.
//! - `config`: the settings file (no secrets in it), paths per OS.
//! - `http`: the HTTP client every call shares, bodies read with a cap.
//! - `token`: the token pair, the part callers see, and how long a token handed out
//!   stays valid.
//! - `vault`: where secrets live: OS keychain, owner-only file, memory.
//! - `oauth`: sign-in (authorize URL, the one callback parser, exchange) and refresh.
//! - `schema`: ST Schema callback tokens.
//! - `share`: the paired computer's side of sharing a sign-in: invites, the pinned TLS
//!   client, the wire types both sides speak.
//! - `session`: the one owner of a connection's tokens; `oauth`, `schema` and `share` are
//!   where it gets them.
//! - `api`: SmartThings' REST API with the session's token.
//! - `alerts`: what changed between two device reads, and which changes to notify of.
//! - `connection`: settings, session and API assembled; the ways to make one (a sign-in,
//!   an invite redeemed, a connector's grant kept).
//! - `apps`: the OAuth-In app itself, made and mended with a pasted personal access token.
//! - `events`: the change feed, one poller for `watch`, `/v1/events` and the alerts.
//! - `serve`: the loopback token server and API proxy.
//! - `owner`: the owner's side of sharing: the TLS listener, the registry of paired
//!   computers, the hand-over.
//! - `agent`: the user-only socket the running app answers the CLI on.
//! - `desktop`: the desktop app's logic, Tauri-free.

pub mod agent;
pub mod alerts;
pub mod api;
pub mod apps;
pub mod clock;
pub mod config;
pub mod connection;
pub mod desktop;
pub mod error;
pub mod events;
mod failpoint;
mod fsutil;
pub mod http;
pub mod oauth;
pub mod owner;
pub mod schema;
pub mod serve;
pub mod session;
pub mod share;
pub mod token;
pub mod vault;

pub use connection::Connection;
pub use error::{Error, Result};
#[cfg(feature = "failpoints")]
pub use failpoint::drill;

/// The crate's modules, lowest first: each uses only those before it (the list in the
/// crate's documentation; tests/integration/house.rs holds the source to it).
pub const MODULE_ORDER: &[&str] = &[
    "error",
    "clock",
    "failpoint",
    "fsutil",
    "config",
    "http",
    "token",
    "vault",
    "oauth",
    "schema",
    "share",
    "session",
    "api",
    "alerts",
    "connection",
    "apps",
    "events",
    "serve",
    "owner",
    "agent",
    "desktop",
];
