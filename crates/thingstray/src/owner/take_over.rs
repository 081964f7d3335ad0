//! Taking the owner role over from the computer this one is paired with (`thingstray
//! share take-over`, `--resume`): the new owner's side of a hand-over (hand_over.rs has
//! the protocol and the old owner's side).
//!
//! Each step is written down before the next is taken (session/record.rs), so a take-over
//! cut off anywhere carries on from there: run again, it resumes. It never drops a session
//! whose outcome it does not know: what it received stays aside in the vault until it is
//! in place, and a request that went unanswered may have been decided, so it is asked
//! again (with the same nonce, answered the same), for minutes, with backoff.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::listening::Listening;
use super::{Identity, Registry, DEFAULT_PORT};
use crate::clock::unix_ms;
use crate::config::{Config, Paths};
use crate::connection::hand_over::{kept_aside, take_in};
use crate::connection::{Connection, Options};
use crate::error::{Error, Result};
use crate::session::record::{self, Record, Stage, Taking};
use crate::session::RefreshLock;
use crate::share::pairing::{credentials, this_computer};
use crate::share::wire::{HandOverBundle, HandOverRequest};
use crate::share::{Credentials, ShareClient};
use crate::vault::Vault;

/// How long one request to the old owner may take: its own steps are bounded by its vault
/// timeout and its refresh lock, and it answers a repeat once the first is decided.
pub const REQUEST_TIMEOUT: Duration = crate::share::client::TIMEOUT;
/// How many request timeouts the take-over keeps asking for (about four minutes): longer
/// than the old owner's slowest decision (its refresh lock, a refresh, a few slow vault
/// calls). Then it stops and keeps its record, for `--resume`.
pub const PATIENCE: u32 = 16;

/// Whether to start a take-over or only carry one on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Carry on the take-over this connection has begun, else begin one.
    Begin,
    /// Only carry on (`--resume`): without one begun, there is nothing to do.
    Resume,
}

/// On the paired computer: takes the session of the connection `name` (else the default)
/// over from its owner, which must have offered it, or carries on a take-over begun
/// before. `advertise` is where the old owner will reach this computer's share listener
/// (default: this computer's outward address, port 8766); start it (`thingstray serve
/// --share`) for the old owner to get tokens.
pub async fn take_over(
    paths: &Paths,
    vault: &Vault,
    name: Option<&str>,
    advertise: Option<&str>,
    opts: Options,
) -> Result<Connection> {
    take_over_from(paths, vault, name, advertise, opts, Start::Begin).await
}

pub async fn take_over_from(
    paths: &Paths,
    vault: &Vault,
    name: Option<&str>,
    advertise: Option<&str>,
    opts: Options,
    start: Start,
) -> Result<Connection> {
    let config = Config::load(paths)?;
    let (name, settings) = config.connection(name)?;
    let path = paths.hand_over_record(&name);
    let mut taking = match record::load(&path)? {
        Some(Record::Taking(t)) if t.stage != Stage::Acked => Some(t),
        _ => None,
    };
    if taking.is_none() && (start == Start::Resume || settings.paired.is_none()) {
        return Err(Error::ConnectionKind {
            connection: name.to_string(),
            why: match settings.paired {
                None => "it holds its own sign-in here: there is nothing to take over".to_string(),
                Some(_) => {
                    format!("no take-over of `{name}` was begun here: run `thingstray share take-over` to begin one")
                }
            },
        });
    }
    // The connection's refresh lock, for the whole take-over: a paired process of this
    // connection here (the app, `serve`) asks the owner only under it, so none of them
    // writes a token it got from the owner over the pair put in place below.
    let lock = RefreshLock::new(paths.lock_file(&name)).acquire(opts.session.lock_timeout).await?;
    let with = taking.as_ref().map(|t| t.from.clone()).or(settings.paired.clone()).expect("checked above");
    let creds = credentials(vault, &name, &with).await?;
    let timeout = opts.request_timeout.min(REQUEST_TIMEOUT);
    let client = ShareClient::new(&creds.at, &creds.fingerprint, &creds.owner, timeout)?;
    let b = Taker { paths, vault, name: &name, creds: &creds, client: &client, patience: timeout * PATIENCE };
    let mut t = match taking.take() {
        Some(t) => {
            tracing::info!(connection = %name, stage = ?t.stage, "carrying on the take-over begun before");
            t
        }
        None => b.begin(advertise, settings.location_id.as_deref(), &opts).await?,
    };
    if t.stage == Stage::Requested {
        let bundle = b.request(&mut t, settings.location_id.as_deref()).await?;
        b.keep(&mut t, &bundle).await?;
    }
    if t.stage == Stage::Received {
        let bundle = kept_aside(vault, &name)
            .await?
            .ok_or_else(|| b.pending("the session received is not in the vault any more"))?;
        take_in(paths, vault, &name, &mut t, &bundle).await?;
    }
    if t.stage == Stage::Owner {
        b.confirm(&mut t).await;
    }
    drop(lock);
    tracing::info!(connection = %name, from = %creds.owner, "took the session over");
    let config = Config::load(paths)?;
    Connection::open_with(paths, &config, vault.clone(), Some(&name), opts).await
}

/// Whether the old owner has yet to hear that this computer holds the session (it then
/// keeps a copy it will never use, and is not paired with this one yet): `take-over
/// --resume` tells it.
pub fn unconfirmed(paths: &Paths, name: &str) -> Option<String> {
    match record::load(&paths.hand_over_record(name)) {
        Ok(Some(Record::Taking(t))) if t.stage == Stage::Owner => Some(t.from.owner),
        _ => None,
    }
}

struct Taker<'a> {
    paths: &'a Paths,
    vault: &'a Vault,
    name: &'a str,
    creds: &'a Credentials,
    client: &'a ShareClient,
    patience: Duration,
}

/// Answers that settle a request: the old owner did not and will not decide this nonce.
fn refused(e: &Error) -> bool {
    matches!(
        e,
        Error::HandOverNotOffered { .. }
            | Error::HandOverElsewhere { .. }
            | Error::HandedOver { .. }
            | Error::ShareWrongLocation { .. }
    ) || matches!(e, Error::ShareOwnerError { code, .. } if ["hand_over_elsewhere", "handed_over", "share_wrong_location"].contains(&code.as_str()))
        || matches!(
            e,
            Error::ShareRevoked { .. } | Error::ShareUnauthorized { .. } | Error::ShareFingerprintMismatch { .. }
        )
}

impl Taker<'_> {
    fn pending(&self, detail: &str) -> Error {
        Error::HandOverPending { owner: self.creds.owner.clone(), detail: detail.to_string() }
    }

    fn save(&self, t: &Taking) -> Result<()> {
        record::save(&self.paths.hand_over_record(self.name), &Record::Taking(t.clone()))
    }

    /// A new take-over: the location checked with the owner, then the record, first.
    async fn begin(&self, advertise: Option<&str>, location: Option<&str>, opts: &Options) -> Result<Taking> {
        // Another location's session is not taken (its devices are not this connection's).
        if let (Some(want), Ok(token)) = (location, self.client.token(self.creds, Duration::from_secs(1)).await) {
            if let Some(got) = token.location_id.filter(|got| got != want) {
                return Err(Error::ShareWrongLocation {
                    owner: self.creds.owner.clone(),
                    expected: want.to_string(),
                    got,
                });
            }
        }
        let at = Listening::new(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), DEFAULT_PORT), advertise).at;
        let t = Taking {
            nonce: crate::owner::registry::random_hex(16),
            from: crate::config::PairedWith {
                owner: self.creds.owner.clone(),
                at: self.creds.at.clone(),
                fingerprint: self.creds.fingerprint.as_str().to_string(),
                id: self.creds.id.clone(),
            },
            at,
            enrolled_id: String::new(),
            stage: Stage::Requested,
            uncertain: false,
            started_at_ms: unix_ms(opts.clock.now()),
        };
        self.save(&t)?;
        crate::failpoint::step("take.begun", &self.paths.dir).await;
        Ok(t)
    }

    /// Asks for the session until it comes, a refusal settles it, or patience runs out.
    async fn request(&self, t: &mut Taking, location: Option<&str>) -> Result<HandOverBundle> {
        let registry = Registry::open(self.paths);
        let now = std::time::SystemTime::now();
        // The old owner's way back to this computer, made again on each run (only hashes
        // are kept here); the old owner keeps the latest one it was sent.
        let enrolled = registry.enroll(&self.creds.owner, now)?;
        t.enrolled_id = enrolled.id.clone();
        self.save(t)?;
        let identity = Identity::load_or_create(self.vault).await?;
        let request = HandOverRequest {
            owner: this_computer(),
            at: t.at.clone(),
            fingerprint: identity.fingerprint().as_str().to_string(),
            id: enrolled.id.clone(),
            secret: enrolled.secret.expose_secret().to_string(),
            nonce: t.nonce.clone(),
            location_id: location.map(str::to_string),
        };
        let deadline = tokio::time::Instant::now() + self.patience;
        let mut attempt = 0;
        loop {
            attempt += 1;
            crate::failpoint::step("take.asking", &self.paths.dir).await;
            let e = match self.client.hand_over(self.creds, &request).await {
                Ok(bundle) => {
                    crate::failpoint::step("take.answered", &self.paths.dir).await;
                    return self.check(t, bundle, location).await;
                }
                Err(e) => e,
            };
            if refused(&e) {
                if t.uncertain {
                    // An earlier attempt may have been decided: keep this take-over's place.
                    return Err(self.pending(&format!(
                        "{e}; an earlier request went unanswered, so this computer keeps its place"
                    )));
                }
                self.forget(&registry, now);
                return Err(match e {
                    Error::ShareOwnerError { code, .. } if code == "share_wrong_location" => {
                        Error::ShareWrongLocation {
                            owner: self.creds.owner.clone(),
                            expected: location.unwrap_or("?").to_string(),
                            got: "another one".into(),
                        }
                    }
                    e => e,
                });
            }
            if !t.uncertain {
                t.uncertain = true;
                self.save(t)?;
            }
            let pause = crate::session::backoff::delay(attempt, Duration::from_millis(200), Duration::from_secs(20));
            if tokio::time::Instant::now() + pause >= deadline {
                tracing::warn!(
                    code = e.code(),
                    "the old owner did not answer the hand-over; keeping this computer's place in it"
                );
                return Err(self.pending(&e.to_string()));
            }
            tracing::info!(code = e.code(), "the old owner did not answer the hand-over yet; asking again");
            tokio::time::sleep(pause).await;
        }
    }

    /// The take-over's record and pairing are gone: nothing was decided for it.
    fn forget(&self, registry: &Registry, now: std::time::SystemTime) {
        if let Err(e) = registry.revoke(&self.creds.owner, now) {
            tracing::warn!(code = e.code(), "could not forget the pairing made for the hand-over");
        }
        if let Err(e) = record::remove(&self.paths.hand_over_record(self.name)) {
            tracing::warn!(code = e.code(), "could not remove the take-over's record");
        }
    }

    /// A session this computer cannot use is declined (the old owner then keeps it); it
    /// is never stored here.
    async fn check(&self, t: &mut Taking, bundle: HandOverBundle, location: Option<&str>) -> Result<HandOverBundle> {
        if bundle.nonce.is_empty() {
            // An owner from before issue 25: it keeps the session unless told, and it is
            // not told (it knows no nonce); nothing was stored here.
            self.forget(&Registry::open(self.paths), std::time::SystemTime::now());
            return Err(Error::ShareProtocol {
                owner: self.creds.owner.clone(),
                detail: "it speaks an older hand-over: update ThingsTray there, then take the session over again"
                    .into(),
            });
        }
        let usable = bundle.nonce == t.nonce
            && bundle.settings.paired.is_none()
            && bundle.settings.validate().is_ok()
            && !bundle.tokens.refresh_token.secret().is_empty()
            && !bundle.client_secret.is_empty();
        let wrong = match (location, &bundle.settings.location_id) {
            (Some(want), Some(got)) if want != got => Some(got.clone()),
            _ => None,
        };
        if usable && wrong.is_none() {
            return Ok(bundle);
        }
        let why = match wrong {
            Some(got) => Error::ShareWrongLocation {
                owner: self.creds.owner.clone(),
                expected: location.unwrap_or("?").into(),
                got,
            },
            None => Error::ShareProtocol {
                owner: self.creds.owner.clone(),
                detail: "the hand-over held no usable session".into(),
            },
        };
        let deadline = tokio::time::Instant::now() + self.patience;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.client.decline_hand_over(self.creds, &t.nonce).await {
                Ok(()) => {
                    self.forget(&Registry::open(self.paths), std::time::SystemTime::now());
                    return Err(why);
                }
                Err(e) if refused(&e) => {
                    return Err(self.pending(&format!("{why}; and the old owner would not take it back: {e}")))
                }
                Err(e) => {
                    let pause =
                        crate::session::backoff::delay(attempt, Duration::from_millis(200), Duration::from_secs(20));
                    if tokio::time::Instant::now() + pause >= deadline {
                        return Err(self.pending(&format!("{why}; the old owner has not heard that it keeps it: {e}")));
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// The session received goes aside in the vault, then the record says so: from here
    /// this computer is its home, whatever happens to the old owner.
    async fn keep(&self, t: &mut Taking, bundle: &HandOverBundle) -> Result<()> {
        let json = serde_json::to_string(bundle).map_err(|e| Error::io("encoding the session received", e))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.vault.store_taking_over(self.name, SecretString::from(json.clone())).await {
                Ok(()) => break,
                // Not kept: the old owner keeps it and answers this nonce again.
                Err(e) if attempt >= 5 => {
                    return Err(self.pending(&format!("the session received could not be kept: {e}")))
                }
                Err(e) => {
                    tracing::warn!(code = e.code(), "could not keep the session received yet; trying again");
                    tokio::time::sleep(crate::session::backoff::delay(
                        attempt,
                        Duration::from_millis(200),
                        Duration::from_secs(5),
                    ))
                    .await;
                }
            }
        }
        crate::failpoint::step("take.kept_aside", &self.paths.dir).await;
        t.stage = Stage::Received;
        self.save(t)?;
        crate::failpoint::step("take.received", &self.paths.dir).await;
        Ok(())
    }

    /// Tells the old owner this computer holds the session, until it has heard. Unheard,
    /// this computer is the owner all the same (the old one decided before it answered),
    /// and `--resume` tells it later.
    async fn confirm(&self, t: &mut Taking) {
        let deadline = tokio::time::Instant::now() + self.patience;
        let mut attempt = 0;
        loop {
            attempt += 1;
            crate::failpoint::step("take.confirming", &self.paths.dir).await;
            let e = match self.client.confirm_hand_over(self.creds, &t.nonce).await {
                Ok(()) => None,
                Err(e) if refused(&e) => {
                    tracing::warn!(code = e.code(), "the old owner knows nothing of this hand-over any more: {e}");
                    None
                }
                Err(e) => Some(e),
            };
            let Some(e) = e else { break };
            let pause = crate::session::backoff::delay(attempt, Duration::from_millis(200), Duration::from_secs(20));
            if tokio::time::Instant::now() + pause >= deadline {
                tracing::warn!(code = e.code(), "the old owner has not heard yet that this computer holds the session; `thingstray share take-over --resume` tells it");
                return;
            }
            tokio::time::sleep(pause).await;
        }
        crate::failpoint::step("take.confirmed", &self.paths.dir).await;
        t.stage = Stage::Acked;
        if let Err(e) = self.save(t) {
            tracing::warn!(code = e.code(), "could not note that the old owner heard");
        }
        if let Err(e) = self.vault.delete_pairing_secret(self.name).await {
            tracing::warn!(code = e.code(), "could not remove the old pairing secret");
        }
        if let Err(e) = self.vault.delete_taking_over(self.name).await {
            tracing::warn!(code = e.code(), "could not remove the copy of the session received");
        }
    }
}
