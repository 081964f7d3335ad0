//! A keychain locked at login, unlocked later: the desktop app (the core's `Desktop`, as
//! the tray runs it) starts while every read of the keychain fails, and must start
//! refreshing on its own once the user unlocks it: no restart, no "first run" set-up.
//!
//! The keychain is the file vault behind a lock this section turns (a real Secret Service
//! cannot be locked and unlocked from a test without a prompt); locked, every call fails
//! with `keychain_unavailable`, as the keyring crate reports a locked collection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use smartthings_sim::SimConfig;
use thingstray::config::Config;
use thingstray::connection::Options;
use thingstray::desktop::Desktop;
use thingstray::session::{SessionOptions, Status};
use thingstray::vault::{FileStore, SecretStore, Vault};
use thingstray::Error;
use tokio::sync::watch;

use crate::report::Section;
use crate::world::{World, CONNECTION};

struct Locked {
    inner: FileStore,
    locked: AtomicBool,
    /// Calls refused so far: the driver waits on it to unlock after the app's Nth try.
    refused: watch::Sender<u64>,
}

impl Locked {
    fn check(&self) -> thingstray::Result<()> {
        if self.locked.load(Ordering::SeqCst) {
            self.refused.send_modify(|n| *n += 1);
            return Err(Error::KeychainUnavailable { detail: "the collection is locked".into() });
        }
        Ok(())
    }
}

impl SecretStore for Locked {
    fn get(&self, key: &str) -> thingstray::Result<Option<SecretString>> {
        self.check()?;
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &SecretString) -> thingstray::Result<()> {
        self.check()?;
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> thingstray::Result<()> {
        self.check()?;
        self.inner.delete(key)
    }
    fn describe(&self) -> String {
        "a keychain locked by the proof".into()
    }
}

/// Waits for `done` to hold, waking on every change the desktop announces.
async fn until(d: &Desktop, within: Duration, done: impl Fn(&Desktop) -> bool) -> bool {
    let mut changed = d.subscribe();
    let wait = async {
        while !done(d) {
            if changed.changed().await.is_err() {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(within, wait).await.unwrap_or(false)
}

/// `tries`: how many of the app's background tries fail before the user unlocks.
pub async fn run(tries: u64) -> Section {
    let mut s = Section::new("Keychain locked at login, unlocked later");
    let opts = SessionOptions::default();
    s.intro(format!(
        "The desktop core (`Desktop::open_with`, what the tray app runs) starts with the one connection's secrets in a \
         keychain that refuses every call (`keychain_unavailable`, as a locked Secret Service collection does), and the \
         stored token expired meanwhile (the machine was off). The app's own tuning: it opens the connection again in \
         the background with the session's backoff ({} s, doubling, with jitter, at most {} min). The user unlocks the \
         keychain right after the app's {} in the background {} failed; the next try must open the connection \
         and its refresher must refresh, with no restart. Times are real time.",
        opts.retry_min.as_secs(),
        opts.retry_max.as_secs() / 60,
        tries_text(tries),
        if tries == 1 { "has" } else { "have" }
    ));
    let w = World::start(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    w.jump(Duration::from_secs(3_601));
    let (refused, mut refusals) = watch::channel(0u64);
    let store =
        Arc::new(Locked { inner: FileStore::new(w.paths.file_vault()), locked: AtomicBool::new(true), refused });
    let config = Config::load(&w.paths).expect("the config");
    let options = Options {
        clock: Arc::new(w.clock.clone()),
        session: opts.clone(),
        request_timeout: Duration::from_secs(10),
        extra_roots: None,
    };
    let started = Instant::now();
    let d =
        Desktop::open_with(w.paths.clone(), &config, Vault::new(store.clone()), options).await.expect("the app starts");
    let problems: Vec<String> = d.problems().iter().map(|(n, e)| format!("{n}: {}", e.code())).collect();
    let first_run = d.is_first_run();
    s.check(
        "Start with the keychain locked",
        format!(
            "app started; connections open: {}, not opened: {}; first run: {}",
            d.connection_names().len(),
            problems.join(", "),
            if first_run { "yes" } else { "no" }
        ),
        "starts, names the connection and why, not a first run",
        d.connection_names().is_empty() && problems == [format!("{CONNECTION}: keychain_unavailable")] && !first_run,
    );

    // Each try reads the connection's client secret first: one refused call per try.
    let initial = *refusals.borrow();
    let waited = tokio::time::timeout(Duration::from_secs(300), refusals.wait_for(|n| *n >= initial + tries)).await;
    let locked_for = started.elapsed();
    let rotations = w.refreshes();
    store.locked.store(false, Ordering::SeqCst);
    let unlocked = Instant::now();
    // The next try waits at most retry_min * 2^tries (the ceiling of try tries + 1).
    let ceiling = opts.retry_min.saturating_mul(1 << tries.min(20)).min(opts.retry_max);
    let opened = until(&d, ceiling + Duration::from_secs(30), |d| !d.connection_names().is_empty()).await;
    let open_after = unlocked.elapsed();
    let now_s = || w.clock.now_ms() / 1000;
    let fresh = until(&d, Duration::from_secs(30), |d| {
        d.connections()
            .first()
            .is_some_and(|c| matches!(c.status, Status::Connected { expires_at, .. } if expires_at > now_s()))
    })
    .await;
    let refreshed_after = unlocked.elapsed();
    let refreshes = w.refreshes() - rotations;
    s.info(
        "Background tries while locked",
        format!(
            "{} failed in {:.1} s{}",
            tries_text(tries),
            locked_for.as_secs_f64(),
            if waited.is_ok() { "" } else { " (timed out waiting for them)" }
        ),
    );
    s.check(
        "Unlocked: the connection opens, refreshing resumes, no restart",
        format!(
            "opened {:.1} s after the unlock, token refreshed {:.1} s after it; {refreshes} refresh",
            open_after.as_secs_f64(),
            refreshed_after.as_secs_f64()
        ),
        &format!(
            "by the next try (within {} s: {} s doubled for each failed try), exactly 1 refresh",
            ceiling.as_secs(),
            opts.retry_min.as_secs()
        ),
        waited.is_ok() && opened && fresh && refreshed_after <= ceiling + Duration::from_secs(2) && refreshes == 1,
    );
    let copied = d.token_for_copy(CONNECTION).await;
    let valid = copied.as_ref().is_ok_and(|(g, _)| w.valid_at(g.secret(), w.sim.now_ms()));
    s.check(
        "A token copied from the tray afterwards",
        format!(
            "{}; refreshes since the unlock: {}",
            match &copied {
                Ok(_) if valid => "valid".to_string(),
                Ok(_) => "not accepted by the simulator".to_string(),
                Err(e) => format!("error {}", e.code()),
            },
            w.refreshes() - rotations
        ),
        "valid, no further refresh",
        valid && w.refreshes() - rotations == 1,
    );
    s.check("Problems listed after the unlock", d.problems().len().to_string(), "0", d.problems().is_empty());
    s
}

fn tries_text(n: u64) -> String {
    if n == 1 {
        "1 try".into()
    } else {
        format!("{n} tries")
    }
}
