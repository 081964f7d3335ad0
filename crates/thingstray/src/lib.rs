//! ThingsTray's core: everything but the window. Signs in to SmartThings with OAuth2
//! (authorization code + PKCE), keeps the tokens in the OS keychain, refreshes them ahead
//! of expiry without ever losing a rotated refresh token, and talks to the REST API.
//!
//! No Tauri, no webkit: the desktop app, the CLI and the token server are thin shells
//! over this crate, and its tests build in seconds on a machine with no GUI libraries.

pub mod agent;
pub mod api;
pub mod clock;
pub mod config;
pub mod connection;
pub mod desktop;
pub mod error;
mod failpoint;
mod fsutil;
pub mod http;
pub mod oauth;
pub mod owner;
pub mod schema;
pub mod serve;
pub mod share;
pub mod session;
pub mod token;
pub mod vault;

pub use connection::Connection;
pub use error::{Error, Result};
