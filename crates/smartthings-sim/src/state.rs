//! Shared state of one running simulator, behind short-lived locks.
//!
//! Locks are `std::sync::Mutex` held only for synchronous work (never across `.await`),
//! and a poisoned lock is recovered rather than turned into a panic. Where two are held at
//! once, `apps` is taken before `oauth` (a new client secret or a deleted app must not
//! fall between a client check and the grant that follows it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::app_store::AppStore;
use crate::clock::SimClock;
use crate::faults::ActiveFaults;
use crate::home::Home;
use crate::oauth_store::OAuthStore;
use crate::pat::PatStore;
use crate::schema::{SchemaPartner, SchemaStore};
use crate::stats::{LoggedRequest, Stats};
use crate::users::Users;
use crate::SimClient;

pub(crate) struct AppState {
    pub clock: SimClock,
    /// The configured app (`SimConfig::client`) as it was at start; `apps` holds it as
    /// the first registered app, with its current settings.
    pub client: SimClient,
    /// `http` or `https` (`SimConfig::tls`): every absolute URL given out uses it.
    pub scheme: &'static str,
    /// `http://127.0.0.1:PORT` (`https://` with TLS), no trailing slash.
    pub base_url: String,
    /// `Host` header values that name this server (for absolute `_links`).
    pub own_hosts: Vec<String>,
    pub auto_approve: bool,
    pub expires_in: AtomicU64,
    pub refresh_token_lifetime: u64,
    pub code_lifetime: u64,
    /// `appId` of the configured app (the first of `apps`).
    pub app_id: String,
    /// The account's apps, each an OAuth-In client (app_store.rs).
    pub apps: Mutex<AppStore>,
    /// Personal access tokens (pat.rs).
    pub pats: Mutex<PatStore>,
    pub home: Mutex<Home>,
    pub oauth: Mutex<OAuthStore>,
    pub faults: Mutex<ActiveFaults>,
    pub stats: Mutex<Stats>,
    /// Every request that reached the simulator, in order (stats.rs).
    pub requests: Mutex<Vec<LoggedRequest>>,
    /// The ST Schema partner connector and its callback tokens (schema.rs).
    pub schema_partner: SchemaPartner,
    pub schema: Mutex<SchemaStore>,
    /// The accounts and their lazily built homes' templates (users.rs).
    pub users: Users,
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
