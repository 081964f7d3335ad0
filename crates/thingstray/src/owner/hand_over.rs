//! Moving the owner role to a paired computer without a new sign-in (`thingstray share
//! hand-over NAME` on the owner, then `thingstray share take-over` on NAME): for a laptop
//! that retires the role to the home server.
//!
//! The one moment a refresh token leaves its computer. It must never end with the session
//! on neither computer (each step of either side may be cut off: a crash, a lid closed,
//! Wi-Fi gone, a keychain that stalls) nor with both refreshing it. So each side writes
//! down what it decided before it tells the other (session/record.rs), and each message
//! can be sent again and is answered the same:
//!
//! 1. The new owner B writes its record (`Taking`, a fresh `nonce`), then asks:
//!    `POST /share/v1/hand-over` `{how to reach B, nonce, B's location}`.
//! 2. The old owner A, for a computer it offered the session to (within 10 minutes):
//!    takes the refresh lock (no refresh of its own in flight), writes its decision
//!    (`Giving{nonce}`, synced) and only then answers with the session (settings, client
//!    secret, pair). From the decision on, A never spends the refresh token, in any
//!    process (they all read the record under the lock before a refresh), and keeps the
//!    pair, so the same request is answered with the same session, after a restart too
//!    (the decision is on disk; the listener answers it whether sharing is on or off).
//! 3. B keeps the session aside in its vault, then its record says `Received`: from here
//!    B is its home, and B never drops it. It puts the pair in place, its settings say it
//!    holds the sign-in (`Owner`), and only now may it refresh: A decided before it
//!    answered, so at most one computer ever refreshes.
//! 4. B: `POST /share/v1/hand-over/confirm {nonce}`. A becomes paired with B (record
//!    `acked`, then settings, then the refresh token and client secret leave its vault).
//!    Confirming again is answered the same.
//!
//! A session B cannot use (another location, unusable) is declined: `POST
//! /share/v1/hand-over/decline {nonce}`, and A, its record removed, refreshes again. B
//! never declines what it has started to store.
//!
//! B retries each request with backoff for minutes and, unanswered, keeps its record;
//! `thingstray share take-over --resume` (or any later `take-over`) carries on where it
//! stopped. A process that opens a connection finishes what needs no other computer
//! (connection/hand_over.rs). The whole protocol, every step of either side cut off or
//! stalled, is explored in owner/model.rs and run against this code in the core's
//! tests/integration/handover_faults.rs.
//!
//! This file is A's side: the listener's three routes. B's is take_over.rs.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};

use super::server::{caller, internal, read_body, refuse, Owner};
use crate::clock::unix_ms;
use crate::config::{Config, ConnectionSettings, PairedWith};
use crate::connection::hand_over::give_up;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::serve::{error_response, json_no_store as json};
use crate::session::record::{self, digest, Giving, Record};
use crate::share::wire::{HandOverBundle, HandOverRequest, HandOverWord};

/// The old owner's side between the requests: one decision at a time, so a repeat (the new
/// owner retrying after a slow answer) waits for the first and finds its record.
#[derive(Default)]
pub(crate) struct Slot {
    deciding: tokio::sync::Mutex<()>,
}

/// A nonce as the new owner makes it: 16 to 64 letters and digits.
fn usable_nonce(n: &str) -> bool {
    (16..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The request: the session, once decided on disk; the same session for a repeat.
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
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected {owner, at, fingerprint, id, secret, nonce}",
        );
    };
    if !usable_nonce(&r.nonce) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the hand-over needs a nonce: update ThingsTray on both computers",
        );
    }
    // Checked before anything is decided: a request this computer cannot use leaves the
    // offer standing for a good one.
    let to =
        PairedWith { owner: r.owner.clone(), at: r.at.clone(), fingerprint: r.fingerprint.clone(), id: r.id.clone() };
    if let Err(e) = ConnectionSettings::paired(to.clone(), crate::config::DEFAULT_API_URL).validate() {
        return error_response(StatusCode::BAD_REQUEST, "bad_request", &e.to_string());
    }
    let _one = owner.hand_over.deciding.lock().await;
    match decide(&owner, &id, &name, to, &r).await {
        Ok(bundle) => json(&bundle),
        Err((status, e)) => {
            tracing::info!(computer = %name, code = e.code(), "hand-over refused: {e}");
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                internal(&e)
            } else {
                refuse(status, &e)
            }
        }
    }
}

type Refusal = (StatusCode, Error);

fn fail(e: Error) -> Refusal {
    (StatusCode::INTERNAL_SERVER_ERROR, e)
}

async fn decide(
    owner: &Owner,
    id: &str,
    name: &str,
    to: PairedWith,
    r: &HandOverRequest,
) -> std::result::Result<HandOverBundle, Refusal> {
    let paths = owner.registry.paths();
    let conn = owner.source.connection().map_err(fail)?;
    let path = paths.hand_over_record(&conn.name);
    match record::load(&path).map_err(fail)? {
        Some(Record::Giving(g)) if !g.acked && g.nonce == r.nonce && g.peer_id == id => {
            return again(owner, &conn, g, to, r).await
        }
        Some(Record::Giving(g)) if g.nonce == r.nonce => {
            return Err((StatusCode::CONFLICT, Error::HandedOver { to: g.to.owner }))
        }
        Some(Record::Giving(g)) if !g.acked => {
            return Err((
                StatusCode::CONFLICT,
                Error::HandOverElsewhere { owner: owner.name.clone(), to: g.peer_name },
            ));
        }
        _ => {}
    }
    let now = owner.clock.now();
    if !owner.registry.hand_over_offered(id, now).map_err(fail)? {
        return Err((StatusCode::FORBIDDEN, Error::HandOverNotOffered { owner: owner.name.clone() }));
    }
    if let (Some(want), Some(have)) = (&r.location_id, &conn.settings.location_id) {
        if want != have {
            let e = Error::ShareWrongLocation { owner: owner.name.clone(), expected: want.clone(), got: have.clone() };
            return Err((StatusCode::CONFLICT, e));
        }
    }
    crate::failpoint::step("give.checked", &paths.dir).await;
    let vault = conn.session.vault();
    // The refresh lock, until the decision is on disk: no refresh of this computer's is
    // in flight, and none starts after (each reads the record first).
    let hold = conn.session.hold_for_hand_over().await.map_err(fail)?;
    let client_secret = vault.client_secret(&conn.name).await.map_err(fail)?.ok_or_else(|| {
        fail(Error::SecretMissing {
            connection: conn.name.clone(),
            item: "client secret",
            fix: "it cannot be handed over without it; run `thingstray setup` again here first".into(),
        })
    })?;
    let settings =
        Config::load(paths).map_err(fail)?.connections.remove(&conn.name).unwrap_or_else(|| conn.settings.clone());
    crate::failpoint::step("give.held", &paths.dir).await;
    // The new owner's secret for this computer, for when it is paired with it.
    vault.store_pairing_secret(&conn.name, SecretString::from(r.secret.clone())).await.map_err(fail)?;
    crate::failpoint::step("give.secret_stored", &paths.dir).await;
    let giving = Giving {
        nonce: r.nonce.clone(),
        peer_id: id.to_string(),
        peer_name: name.to_string(),
        to: to.clone(),
        pair_digest: digest(hold.pair().refresh_token.secret()),
        settings: settings.clone(),
        decided_at_ms: unix_ms(now),
        acked: false,
    };
    // The decision. From here the session is the new owner's, whatever happens next.
    record::save(&path, &Record::Giving(giving)).map_err(fail)?;
    crate::failpoint::step("give.decided", &paths.dir).await;
    conn.session.retire(Error::HandingOver { to: to.owner.clone() });
    if let Err(e) = owner.registry.take_hand_over(id, now) {
        tracing::warn!(code = e.code(), "could not mark the offer as used");
    }
    let tokens = hold.pair().clone();
    drop(hold);
    tracing::info!(computer = %name, "handing the session over; it is not refreshed here any more");
    crate::failpoint::step("give.answering", &paths.dir).await;
    Ok(HandOverBundle {
        settings,
        client_secret: client_secret.expose_secret().to_string(),
        tokens,
        nonce: r.nonce.clone(),
    })
}

/// The same request again (its answer was lost, or this computer restarted): the same
/// session, from the vault, which has kept it untouched since the decision.
async fn again(
    owner: &Owner,
    conn: &Connection,
    mut g: Giving,
    to: PairedWith,
    r: &HandOverRequest,
) -> std::result::Result<HandOverBundle, Refusal> {
    let paths = owner.registry.paths();
    let vault = conn.session.vault();
    if g.to != to {
        // A new owner that restarted enrolled this computer again: its latest pairing.
        vault.store_pairing_secret(&conn.name, SecretString::from(r.secret.clone())).await.map_err(fail)?;
        g.to = to;
        record::save(&paths.hand_over_record(&conn.name), &Record::Giving(g.clone())).map_err(fail)?;
    }
    let tokens = vault.tokens(&conn.name).await.map_err(fail)?;
    let tokens = tokens.filter(|t| digest(t.refresh_token.secret()) == g.pair_digest).ok_or_else(|| {
        fail(Error::HandOverPending {
            owner: owner.name.clone(),
            detail: "the pair handed over is no longer in this computer's vault".into(),
        })
    })?;
    let client_secret = vault.client_secret(&conn.name).await.map_err(fail)?.ok_or_else(|| {
        fail(Error::SecretMissing {
            connection: conn.name.clone(),
            item: "client secret",
            fix: "it cannot be handed over without it; run `thingstray setup` again here first".into(),
        })
    })?;
    crate::failpoint::step("give.answering_again", &paths.dir).await;
    tracing::info!(computer = %g.peer_name, "handing the session over again (the same one)");
    Ok(HandOverBundle {
        settings: g.settings,
        client_secret: client_secret.expose_secret().to_string(),
        tokens,
        nonce: r.nonce.clone(),
    })
}

/// The new owner's word on hand-over `nonce`, with the caller.
async fn word(owner: &Owner, req: Request) -> std::result::Result<(String, String, String), Response> {
    let (id, name) = caller(owner, req.headers()).await?;
    let body = read_body(req, owner.body_timeout).await?;
    let Ok(HandOverWord { nonce }) = serde_json::from_slice::<HandOverWord>(&body) else {
        return Err(error_response(StatusCode::BAD_REQUEST, "bad_request", "expected {\"nonce\": \"…\"}"));
    };
    Ok((id, name, nonce))
}

/// The new owner holds the session: this computer becomes paired with it.
pub(super) async fn confirm(State(owner): State<Arc<Owner>>, req: Request) -> Response {
    let (id, name, nonce) = match word(&owner, req).await {
        Ok(w) => w,
        Err(refusal) => return refusal,
    };
    let _one = owner.hand_over.deciding.lock().await;
    match confirmed(&owner, &id, &nonce).await {
        Ok(Some(to)) => {
            tracing::info!(computer = %name, "the new owner holds the session; this computer is paired with it");
            json(&serde_json::json!({ "handed_over": true, "to": to }))
        }
        Ok(None) => refuse(StatusCode::FORBIDDEN, &Error::HandOverNotOffered { owner: owner.name.clone() }),
        Err(e) => internal(&e),
    }
}

async fn confirmed(owner: &Owner, id: &str, nonce: &str) -> Result<Option<String>> {
    let paths = owner.registry.paths();
    let conn = owner.source.connection()?;
    let Some(Record::Giving(mut g)) = record::load(&paths.hand_over_record(&conn.name))? else { return Ok(None) };
    if g.nonce != nonce || g.peer_id != id {
        return Ok(None);
    }
    crate::failpoint::step("give.confirming", &paths.dir).await;
    give_up(paths, conn.session.vault(), &conn.name, &mut g).await?;
    conn.session.retire(Error::HandedOver { to: g.to.owner.clone() });
    Ok(Some(g.to.owner))
}

/// The new owner will never use the session: this computer keeps it and refreshes again.
pub(super) async fn decline(State(owner): State<Arc<Owner>>, req: Request) -> Response {
    let (id, name, nonce) = match word(&owner, req).await {
        Ok(w) => w,
        Err(refusal) => return refusal,
    };
    let _one = owner.hand_over.deciding.lock().await;
    let kept = async {
        let paths = owner.registry.paths();
        let conn = owner.source.connection()?;
        let path = paths.hand_over_record(&conn.name);
        match record::load(&path)? {
            Some(Record::Giving(g)) if g.nonce == nonce && g.peer_id == id && g.acked => {
                Err(Error::HandedOver { to: g.to.owner })
            }
            Some(Record::Giving(g)) if g.nonce == nonce && g.peer_id == id => {
                record::remove(&path)?;
                crate::failpoint::step("give.declined", &paths.dir).await;
                conn.session.unretire();
                tracing::warn!(computer = %name, "the hand-over was declined; this computer keeps the session");
                Ok(())
            }
            // Nothing was decided for this nonce: kept already.
            _ => Ok(()),
        }
    }
    .await;
    match kept {
        Ok(()) => json(&serde_json::json!({ "kept": true })),
        Err(e @ Error::HandedOver { .. }) => refuse(StatusCode::CONFLICT, &e),
        Err(e) => internal(&e),
    }
}

/// The hand-over of `name` this computer decided and the new owner has not confirmed: its
/// listener must answer (a restart, sharing off: `serve` and the desktop start it).
pub fn unfinished(paths: &crate::config::Paths, name: &str) -> Option<Giving> {
    match record::load(&paths.hand_over_record(name)) {
        Ok(Some(Record::Giving(g))) if !g.acked => Some(g),
        _ => None,
    }
}
