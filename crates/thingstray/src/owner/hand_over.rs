//! Moving the owner role to a paired computer without a new sign-in (`thingstray share
//! hand-over NAME` on the owner, then `thingstray share take-over` on NAME): for a laptop
//! that retires the role to the home server.
//!
//! The one moment a refresh token leaves its computer, so it is done in two steps over the
//! pinned TLS connection, and only for a computer the owner offered it to (within 10
//! minutes, once):
//! 1. `POST /share/v1/hand-over`: the new owner says how the old one will reach it (its
//!    address, fingerprint, and an id and secret it enrolled for the old owner). The old
//!    owner answers with the session (settings, client secret, token pair) and keeps its
//!    refresh lock, so nothing here spends the pair meanwhile (for at most [`CONFIRM_WITHIN`]).
//! 2. The new owner stores the pair, then `POST /share/v1/hand-over/confirm`: the old
//!    owner becomes paired with it (no refresh token, no client secret left) and its
//!    session retires. Confirming twice is answered the same, so a lost answer is retried.
//!
//! If step 2 never comes, the old owner stays the owner and the new one discards the pair:
//! never two holders of one refresh token. Other computers paired with the old owner pair
//! again with the new one (its certificate is another).
//!
//! This file is the old owner's side: the listener's two routes. The new owner's is
//! take_over.rs, the session's (its pair held, then retired) session/hold.rs; what goes
//! over the wire is share/wire.rs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};

use super::server::{caller, internal, read_body, refuse, Owner};
use crate::config::{Config, ConnectionSettings, PairedWith, Paths};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::serve::{error_response, json_no_store as json};
use crate::session::Hold;
use crate::share::wire::{HandOverBundle, HandOverRequest};
use crate::token::{RefreshToken, TokenSet};

/// How long the old owner holds its refresh lock waiting for the confirmation.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(60);

/// The old owner's side between the two steps.
#[derive(Default)]
pub(crate) struct Slot {
    pending: Mutex<Option<Pending>>,
    /// The computer the session went to, to answer a repeated confirmation.
    done: Mutex<Option<String>>,
    /// One confirmation at a time: a repeat (the new owner retrying after a slow answer)
    /// waits for the first, then finds it done instead of "not offered".
    confirming: tokio::sync::Mutex<()>,
}

struct Pending {
    id: String,
    to: PairedWith,
    secret: SecretString,
    conn: Connection,
    hold: Hold,
    until: SystemTime,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Step 1, on the old owner.
pub(super) async fn offer(State(owner): State<Arc<Owner>>, req: Request) -> Response {
    let (id, name) = match caller(&owner, req.headers()).await {
        Ok(who) => who,
        Err(refusal) => return refusal,
    };
    let body = match read_body(req, owner.body_timeout).await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let Ok(r) = serde_json::from_slice::<HandOverRequest>(&body) else {
        return error_response(StatusCode::BAD_REQUEST, "bad_request", "expected {owner, at, fingerprint, id, secret}");
    };
    // Checked before the offer is spent: a request this computer cannot use leaves the
    // offer standing for a good one.
    let to = PairedWith { owner: r.owner, at: r.at, fingerprint: r.fingerprint, id: r.id };
    if let Err(e) = ConnectionSettings::paired(to.clone(), crate::config::DEFAULT_API_URL).validate() {
        return error_response(StatusCode::BAD_REQUEST, "bad_request", &e.to_string());
    }
    let now = owner.clock.now();
    let registry = owner.registry.clone();
    let who = id.clone();
    match tokio::task::spawn_blocking(move || registry.take_hand_over(&who, now)).await {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => {
            tracing::info!(computer = %name, "hand-over refused: not offered to this computer");
            return refuse(StatusCode::FORBIDDEN, &Error::HandOverNotOffered { owner: owner.name.clone() });
        }
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&Error::io("checking the hand-over", e)),
    }
    let answer = async {
        let conn = owner.source.connection()?;
        let hold = conn.session.hold_for_hand_over().await?;
        let client_secret = conn.session.vault().client_secret(&conn.name).await?.ok_or_else(|| Error::InvalidSetting {
            field: "client_secret".into(),
            why: format!("no client secret is stored for `{}`", conn.name),
        })?;
        let settings = Config::load(owner.registry.paths())?.connections.remove(&conn.name).unwrap_or_else(|| conn.settings.clone());
        let bundle = HandOverBundle {
            settings,
            client_secret: client_secret.expose_secret().to_string(),
            tokens: hold.pair().clone(),
        };
        Ok::<_, Error>((bundle, conn, hold))
    }
    .await;
    let (bundle, conn, hold) = match answer {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(computer = %name, code = e.code(), "hand-over failed: {e}");
            return crate::serve::core_error_response(&e);
        }
    };
    let until = now + CONFIRM_WITHIN;
    *lock(&owner.hand_over.pending) =
        Some(Pending { id: id.clone(), to, secret: SecretString::from(r.secret), conn, hold, until });
    // Give the lock back if the confirmation never comes: the owner stays the owner.
    let waiting = owner.clone();
    tokio::spawn(async move {
        tokio::time::sleep(CONFIRM_WITHIN).await;
        let mut pending = lock(&waiting.hand_over.pending);
        if pending.as_ref().is_some_and(|p| p.id == id) {
            tracing::warn!("the hand-over was not confirmed in time; this computer keeps the session");
            *pending = None;
        }
    });
    tracing::info!(computer = %name, "handing the session over; waiting for the confirmation");
    json(&bundle)
}

/// Step 2, on the old owner: it becomes paired with the new one.
pub(super) async fn confirm(State(owner): State<Arc<Owner>>, req: Request) -> Response {
    let (id, name) = match caller(&owner, req.headers()).await {
        Ok(who) => who,
        Err(refusal) => return refusal,
    };
    // Run to the end even if the new owner hangs up (its request timed out while the
    // keychain was slow): stopped halfway, neither computer would hold the session.
    tokio::spawn(confirm_once(owner, id, name))
        .await
        .unwrap_or_else(|e| internal(&Error::io("confirming the hand-over", e)))
}

async fn confirm_once(owner: Arc<Owner>, id: String, name: String) -> Response {
    let _one = owner.hand_over.confirming.lock().await;
    if lock(&owner.hand_over.done).as_deref() == Some(id.as_str()) {
        return json(&serde_json::json!({ "handed_over": true }));
    }
    let pending = {
        let mut slot = lock(&owner.hand_over.pending);
        match slot.take() {
            Some(p) if p.id == id && owner.clock.now() < p.until => p,
            other => {
                *slot = other.filter(|p| p.id != id);
                return refuse(StatusCode::FORBIDDEN, &Error::HandOverNotOffered { owner: owner.name.clone() });
            }
        }
    };
    let conn = pending.conn.clone();
    if let Err(e) = become_paired(owner.registry.paths(), &conn, &pending).await {
        tracing::error!(computer = %name, code = e.code(), "could not become paired after the hand-over: {e}");
        return internal(&e);
    }
    conn.session.retire(Error::HandedOver { to: pending.to.owner.clone() });
    drop(pending);
    *lock(&owner.hand_over.done) = Some(id);
    tracing::info!(computer = %name, "handed the session over; this computer is now paired with it");
    json(&serde_json::json!({ "handed_over": true }))
}

/// The old owner's connection, rewritten as paired with the new owner: the refresh token
/// leaves its vault first (the access token alone stays, else nothing), then its pairing
/// secret and the settings, then the client secret goes. A failure before the settings
/// are written puts the pair back: this computer stays the owner, the new one discards.
async fn become_paired(paths: &Paths, conn: &Connection, p: &Pending) -> Result<()> {
    let vault = conn.session.vault();
    let access_only = TokenSet { refresh_token: RefreshToken::new(String::new()), from_refresh: false, ..p.hold.pair().clone() };
    if let Err(e) = vault.store_tokens(&conn.name, &access_only).await {
        // Never a paired connection with the refresh token still here: it would be spent
        // one day and end the new owner's session.
        tracing::warn!(code = e.code(), "could not keep the access token after the hand-over; removing the pair");
        vault.delete_tokens(&conn.name).await?;
    }
    let rest = async {
        vault.store_pairing_secret(&conn.name, p.secret.clone()).await?;
        Config::update(paths, |config| {
            let old = config.connections.get(&conn.name).cloned().unwrap_or_else(|| conn.settings.clone());
            let mut settings = ConnectionSettings::paired(p.to.clone(), old.api_url.clone());
            settings.location_id = old.location_id;
            settings.location_name = old.location_name;
            settings.installed_app_id = old.installed_app_id;
            config.connections.insert(conn.name.clone(), settings);
            Ok(())
        })
    }
    .await;
    if let Err(e) = rest {
        if let Err(undo) = vault.store_tokens(&conn.name, p.hold.pair()).await {
            tracing::error!(code = undo.code(), "could not put the pair back after a failed hand-over");
        }
        return Err(e);
    }
    if let Err(e) = vault.delete_client_secret(&conn.name).await {
        tracing::warn!(code = e.code(), "could not remove the client secret after the hand-over");
    }
    Ok(())
}
