//! The sessions table and the sign-ins table: what any replica may do to a row outside
//! a session's own lock (the session reads and writes its pair through pair.rs).

use std::time::{Duration, SystemTime};

use serde::Serialize;
use thingstray::error::{Error, Result};
use thingstray::token::TokenSet;

use crate::db::{unavailable, Store};
use crate::pair::{discard, refresh_due, seal_pair};

/// What `GET /v1/connections` and `thingstray status --store` show: never a secret.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub kind: String,
    pub name: Option<String>,
    pub location_id: Option<String>,
    pub status: String,
    /// Unix seconds.
    pub expires_at: Option<u64>,
    pub ended: Option<String>,
}

fn unix(t: Option<SystemTime>) -> Option<u64> {
    t.map(|t| thingstray::clock::unix_ms(t) / 1000)
}

impl SessionRow {
    fn from_row(r: &tokio_postgres::Row) -> SessionRow {
        SessionRow {
            id: r.get("id"),
            kind: r.get("kind"),
            name: r.get("name"),
            location_id: r.get("location_id"),
            status: r.get("status"),
            expires_at: unix(r.get("expires_at")),
            ended: r.get("ended"),
        }
    }
}

/// A new session's first pair, and what it is.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub name: Option<&'a str>,
    pub location_id: Option<&'a str>,
    /// ST Schema: the grant's callbackUrls, JSON.
    pub schema_urls: Option<&'a str>,
    pub tokens: &'a TokenSet,
}

const COLUMNS: &str = "id, kind, name, location_id, status, expires_at, ended";

impl Store {
    /// Stores a signed-in session (a new row, or the same installed app signed in again):
    /// the pair is committed before anyone is handed it. For OAuth-In, SmartThings keeps
    /// one sign-in per app and location: any other session of that location is dead from
    /// now on, and is removed in the same transaction.
    pub async fn put_session(&self, s: NewSession<'_>) -> Result<Vec<String>> {
        let sealed = seal_pair(self, s.id, s.tokens)?;
        let due = refresh_due(s.tokens);
        let expires = s.tokens.expires_at();
        self.timed(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(unavailable)?;
            let replaced: Vec<String> = match (s.kind, s.location_id) {
                ("oauth", Some(loc)) => tx
                    .query(
                        "DELETE FROM thingstray_sessions WHERE kind = 'oauth' AND location_id = $1 AND id <> $2 RETURNING id",
                        &[&loc, &s.id],
                    )
                    .await
                    .map_err(unavailable)?
                    .iter()
                    .map(|r| r.get(0))
                    .collect(),
                _ => Vec::new(),
            };
            tx.execute(
                "INSERT INTO thingstray_sessions (id, kind, name, location_id, schema_urls, tokens, expires_at, refresh_due, status)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active')
                 ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind,
                     name = coalesce(EXCLUDED.name, thingstray_sessions.name),
                     location_id = coalesce(EXCLUDED.location_id, thingstray_sessions.location_id),
                     schema_urls = EXCLUDED.schema_urls, tokens = EXCLUDED.tokens,
                     expires_at = EXCLUDED.expires_at, refresh_due = EXCLUDED.refresh_due,
                     status = 'active', ended = NULL, failures = 0, claimed_until = NULL, claimed_by = NULL,
                     updated_at = now()",
                &[&s.id, &s.kind, &s.name, &s.location_id, &s.schema_urls, &sealed, &expires, &due],
            )
            .await
            .map_err(unavailable)?;
            tx.commit().await.map_err(unavailable)?;
            Ok(replaced)
        })
        .await
    }

    /// Records where an OAuth-In session signed in. SmartThings keeps one sign-in per app
    /// and location, so every other session of that location is dead: removed, and named.
    pub async fn locate_session(&self, id: &str, location_id: &str) -> Result<Vec<String>> {
        self.timed(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(unavailable)?;
            tx.execute("UPDATE thingstray_sessions SET location_id = $2 WHERE id = $1", &[&id, &location_id])
                .await
                .map_err(unavailable)?;
            let replaced = tx
                .query(
                    "DELETE FROM thingstray_sessions WHERE kind = 'oauth' AND location_id = $1 AND id <> $2 RETURNING id",
                    &[&location_id, &id],
                )
                .await
                .map_err(unavailable)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            tx.commit().await.map_err(unavailable)?;
            Ok(replaced)
        })
        .await
    }

    /// The row's version: it changes with every write to the row (PostgreSQL's `xmin`,
    /// the transaction that wrote the row's current version). `None`: no such row.
    pub async fn session_version(&self, id: &str) -> Result<Option<i64>> {
        self.timed(async {
            let client = self.client().await?;
            let row = client
                .query_opt("SELECT xmin::text::bigint FROM thingstray_sessions WHERE id = $1", &[&id])
                .await
                .map_err(unavailable)?;
            Ok(row.map(|r| r.get::<_, i64>(0)))
        })
        .await
    }

    pub async fn sessions(&self) -> Result<Vec<SessionRow>> {
        self.timed(async {
            let client = self.client().await?;
            let rows = client
                .query(&format!("SELECT {COLUMNS} FROM thingstray_sessions ORDER BY created_at, id"), &[])
                .await
                .map_err(unavailable)?;
            Ok(rows.iter().map(SessionRow::from_row).collect())
        })
        .await
    }

    /// One session's row, with its ST Schema callback URLs when it has them.
    pub async fn session_row(&self, id: &str) -> Result<Option<(SessionRow, Option<String>)>> {
        self.timed(async {
            let client = self.client().await?;
            let row = client
                .query_opt(&format!("SELECT {COLUMNS}, schema_urls FROM thingstray_sessions WHERE id = $1"), &[&id])
                .await
                .map_err(unavailable)?;
            Ok(row.map(|r| (SessionRow::from_row(&r), r.get("schema_urls"))))
        })
        .await
    }

    /// Forgets a session (an uninstall). True when there was one.
    pub async fn delete_session(&self, id: &str) -> Result<bool> {
        self.timed(async {
            let client = self.client().await?;
            let n =
                client.execute("DELETE FROM thingstray_sessions WHERE id = $1", &[&id]).await.map_err(unavailable)?;
            Ok(n > 0)
        })
        .await
    }

    /// Waits for this replica's turn to finish a sign-in: one at a time across the
    /// service, from the code exchange to the committed pair. SmartThings keeps the pair
    /// of the last exchange for a location (one sign-in per app and location, the same
    /// installed app id) and kills the other's refresh token; two replicas finishing at
    /// once could commit in the other order and keep the dead pair. Sign-ins are a
    /// person's clicks, so a turn costs nothing. The turn ends when it is dropped.
    pub async fn sign_in_turn(&self) -> Result<SignInTurn> {
        let client = self.timed(self.client()).await?;
        let locked = tokio::time::timeout(
            Duration::from_secs(40),
            client.batch_execute(&format!(
                "BEGIN; SET LOCAL lock_timeout = '30s'; SELECT pg_advisory_xact_lock({SIGN_IN_LOCK})"
            )),
        )
        .await;
        match locked {
            Ok(Ok(())) => Ok(SignInTurn { client: Some(client) }),
            Ok(Err(e)) => {
                discard(client);
                Err(unavailable(e))
            }
            Err(_) => {
                discard(client);
                Err(unavailable("no answer while waiting for another replica's sign-in"))
            }
        }
    }

    /// Keeps a started sign-in (sealed) so any replica can finish it.
    pub async fn put_sign_in(
        &self,
        state: &str,
        exported: &secrecy::SecretString,
        name: Option<&str>,
        expires_at: SystemTime,
    ) -> Result<()> {
        use secrecy::ExposeSecret;
        let hash = state_hash(state);
        let sealed = self.key.seal(&format!("sign-ins/{hash}"), exported.expose_secret().as_bytes())?;
        self.timed(async {
            let client = self.client().await?;
            // Old ones go as new ones come: the table never grows past what 30 minutes bring.
            client
                // The store's time, not this machine's: a replica whose clock runs ahead must
                // not delete sign-ins other replicas started.
                .execute("DELETE FROM thingstray_sign_ins WHERE expires_at < $1", &[&self.now()])
                .await
                .map_err(unavailable)?;
            client
                .execute(
                    "INSERT INTO thingstray_sign_ins (state_hash, sign_in, name, expires_at) VALUES ($1, $2, $3, $4)",
                    &[&hash, &sealed, &name, &expires_at],
                )
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// Takes a started sign-in by its state, once: a second callback with the same state
    /// finds nothing. An expired one is gone too.
    pub async fn take_sign_in(
        &self,
        state: &str,
        now: SystemTime,
    ) -> Result<Option<(secrecy::SecretString, Option<String>)>> {
        let hash = state_hash(state);
        let row = self
            .timed(async {
                let client = self.client().await?;
                client
                    .query_opt(
                        "DELETE FROM thingstray_sign_ins WHERE state_hash = $1 RETURNING sign_in, name, expires_at",
                        &[&hash],
                    )
                    .await
                    .map_err(unavailable)
            })
            .await?;
        let Some(row) = row else { return Ok(None) };
        let expires: SystemTime = row.get(2);
        if expires < now {
            return Ok(None);
        }
        let plain = self.key.open(&format!("sign-ins/{hash}"), &row.get::<_, Vec<u8>>(0))?;
        let text = String::from_utf8(plain).map_err(|_| Error::StoreKey { detail: "a sign-in is not text".into() })?;
        Ok(Some((secrecy::SecretString::from(text), row.get(1))))
    }
}

/// The sign-ins table is keyed by a hash of the state, not the state itself.
fn state_hash(state: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, state.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The advisory lock key sign-ins take turns on ("TSIN").
const SIGN_IN_LOCK: i64 = 0x5453_494e;

/// A replica's turn to finish a sign-in (see [`Store::sign_in_turn`]).
pub struct SignInTurn {
    client: Option<deadpool_postgres::Object>,
}

impl Drop for SignInTurn {
    /// Closing the connection ends its transaction and frees the lock whatever happened
    /// in between (an error, a cancelled request): nothing goes back to the pool mid-way.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            discard(client);
        }
    }
}
