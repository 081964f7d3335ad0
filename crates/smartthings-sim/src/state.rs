//! Shared state of one running simulator, behind short-lived locks.
//!
//! Locks are `std::sync::Mutex` held only for synchronous work (never across `.await`),
//! and a poisoned lock is recovered rather than turned into a panic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::clock::SimClock;
use crate::faults::Faults;
use crate::home::Home;
use crate::oauth_store::OAuthStore;
use crate::schema::{SchemaPartner, SchemaStore};
use crate::stats::Stats;
use crate::SimClient;

pub(crate) struct AppState {
    pub clock: SimClock,
    pub client: SimClient,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    /// `Host` header values that name this server (for absolute `_links`).
    pub own_hosts: Vec<String>,
    pub auto_approve: bool,
    pub expires_in: AtomicU64,
    pub refresh_token_lifetime: u64,
    pub code_lifetime: u64,
    /// `appId` reported by `GET /installedapps/{id}` (the OAuth-In app's id).
    pub app_id: String,
    pub home: Mutex<Home>,
    pub oauth: Mutex<OAuthStore>,
    pub faults: Mutex<Faults>,
    pub stats: Mutex<Stats>,
    /// The ST Schema partner connector and its callback tokens (schema.rs).
    pub schema_partner: SchemaPartner,
    pub schema: Mutex<SchemaStore>,
}

impl AppState {
    pub(crate) fn expires_in(&self) -> u64 {
        self.expires_in.load(Ordering::SeqCst)
    }
}

/// Locks a mutex, recovering the data if a previous holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
