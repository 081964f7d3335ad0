//! The database: a pool of connections, the migrations, the settings rows, and the
//! database's clock.
//!
//! Every call has a deadline ([`Store::timeout`]): a replica cut off from PostgreSQL
//! (a partition, a failover in progress) gets `store_unavailable` in seconds instead of a
//! request that hangs, and goes on serving the tokens it holds that are still valid.

use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use secrecy::SecretString;
use thingstray::clock::Clock;
use thingstray::error::{Error, Result};
use tokio_postgres::NoTls;

use crate::key::{StoreKey, KEY_CHECK};

/// The migrations, in order; each runs once, in its own transaction.
const MIGRATIONS: &[(i32, &str)] =
    &[(1, include_str!("../migrations/0001_sessions.sql")), (2, include_str!("../migrations/0002_refresh_budget.sql"))];

/// A constant of our own for `pg_advisory_xact_lock`: replicas that start together apply
/// the migrations one after the other.
const MIGRATION_LOCK: i64 = 0x7468_696e_6773_7472; // "thingstr"

#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    pub(crate) key: Arc<StoreKey>,
    timeout: Duration,
    /// PostgreSQL's clock minus ours, in ms: every replica schedules and judges expiry on
    /// the database's clock, so a replica whose clock is off neither hands out an expired
    /// token nor refreshes at the wrong time.
    skew_ms: Arc<AtomicI64>,
    /// Where the store is, without the password: for logs and `status`.
    described: Arc<str>,
    /// This replica's own clock (a test's clock in tests), which the skew corrects.
    base: Arc<dyn Clock>,
    skew: Skew,
    /// When a call last found the database unreachable (cleared by the next that worked):
    /// a cut-off replica serves the sessions it holds at once instead of waiting out a
    /// connect timeout on every hand-out.
    unreachable_at: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

/// Connections per replica. A refresh holds one for its whole HTTP call (the row's lock
/// lives in its transaction), so the scheduler runs at most half this many at once and
/// hand-outs, claims and writes always find one.
pub const POOL_SIZE: usize = 16;

/// How long after a failed call a replica that holds a session serves it without asking.
pub const UNREACHABLE_GRACE: Duration = Duration::from_secs(5);

/// Whose clock the replicas share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skew {
    /// PostgreSQL's: each replica measures its own clock against the database's and
    /// corrects for the difference (production).
    Measure,
    /// The given clock's, as it is: for a simulation where every replica and the
    /// simulator share one moved clock (tests, the report), which the database's real
    /// clock would otherwise pull back.
    Trust,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("at", &self.described).finish_non_exhaustive()
    }
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::StoreUnavailable { detail: e.to_string() }
}

/// `postgres://user@host:port/db`, never the password. Every host, in order: a URL naming
/// a primary and its standbys (`h1:p1,h2:p2/db?target_session_attrs=read-write`, how the
/// replicas follow a failover) must show all of them, or the log and `status` name a server
/// the store may no longer be on. Ports pair with hosts as tokio-postgres pairs them: one
/// each, or a single port for every host, or none (5432).
fn describe(cfg: &tokio_postgres::Config) -> String {
    let ports = cfg.get_ports();
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                tokio_postgres::config::Host::Tcp(s) => s.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            };
            let port = ports.get(i).or(if ports.len() == 1 { ports.first() } else { None }).copied().unwrap_or(5432);
            format!("{host}:{port}")
        })
        .collect();
    let mut out =
        format!("postgres://{}@{}/{}", cfg.get_user().unwrap_or(""), hosts.join(","), cfg.get_dbname().unwrap_or(""));
    if cfg.get_target_session_attrs() == tokio_postgres::config::TargetSessionAttrs::ReadWrite {
        out.push_str("?target_session_attrs=read-write");
    }
    out
}

impl Store {
    /// Connects, applies the migrations, and checks the key against the store's (a new
    /// store takes this key). `url` is a libpq URL or key=value string.
    pub async fn open(url: &SecretString, key: StoreKey) -> Result<Store> {
        Store::open_with_clock(url, key, Arc::new(thingstray::clock::SystemClock), Skew::Measure).await
    }

    /// [`Store::open`] with this replica's clock given (tests move it, or set it wrong).
    pub async fn open_with_clock(url: &SecretString, key: StoreKey, base: Arc<dyn Clock>, skew: Skew) -> Result<Store> {
        use secrecy::ExposeSecret;
        let mut cfg = tokio_postgres::Config::from_str(url.expose_secret()).map_err(|e| Error::InvalidSetting {
            field: "store".into(),
            why: format!("it is not a PostgreSQL URL ({e}); use postgres://USER:PASSWORD@HOST:PORT/DATABASE"),
        })?;
        cfg.connect_timeout(Duration::from_secs(5));
        // A peer that vanished (a failover, a cable) is noticed by the kernel, not never.
        cfg.keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        // A primary that vanished without closing its connections (a partition, a host
        // gone) would otherwise leave pooled connections that look alive until the kernel
        // gives up (minutes): unacknowledged data for 15 s closes one, and the pool drops it.
        cfg.tcp_user_timeout(Duration::from_secs(15));
        cfg.application_name("thingstray");
        let described: Arc<str> = describe(&cfg).into();
        let mgr = Manager::from_config(cfg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(mgr)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(unavailable)?;
        let store = Store {
            pool,
            key: Arc::new(key),
            timeout: Duration::from_secs(10),
            skew_ms: Arc::default(),
            described,
            base,
            skew,
            unreachable_at: Arc::default(),
        };
        store.migrate().await?;
        store.check_key().await?;
        store.measure_skew().await?;
        tracing::info!(store = %store.described, "session store open");
        Ok(store)
    }

    pub fn describe(&self) -> &str {
        &self.described
    }

    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    /// `fut` under the store's deadline; a late answer is `store_unavailable`.
    pub(crate) async fn timed<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let result = tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| unavailable(format!("no answer within {} s", self.timeout.as_secs())))
            .and_then(|r| r);
        let mut at = self.unreachable_at.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Err(Error::StoreUnavailable { .. }) => *at = Some(std::time::Instant::now()),
            _ => *at = None,
        }
        result
    }

    /// Did a call find the database unreachable within the last [`UNREACHABLE_GRACE`]?
    pub fn recently_unreachable(&self) -> bool {
        let at = self.unreachable_at.lock().unwrap_or_else(|p| p.into_inner());
        at.is_some_and(|t| t.elapsed() < UNREACHABLE_GRACE)
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(unavailable)
    }

    async fn migrate(&self) -> Result<()> {
        self.timed(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(unavailable)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(unavailable)?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS thingstray_migrations (
                     version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await
            .map_err(unavailable)?;
            let applied: Option<i32> =
                tx.query_one("SELECT max(version) FROM thingstray_migrations", &[]).await.map_err(unavailable)?.get(0);
            let applied = applied.unwrap_or(0);
            let newest = MIGRATIONS.last().map_or(0, |m| m.0);
            if applied > newest {
                return Err(Error::InvalidSetting {
                    field: "store".into(),
                    why: format!(
                        "the store is at schema version {applied}, newer than this ThingsTray knows ({newest}); \
                         upgrade every replica"
                    ),
                });
            }
            for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > applied) {
                tx.batch_execute(sql).await.map_err(unavailable)?;
                tx.execute("INSERT INTO thingstray_migrations (version) VALUES ($1)", &[version])
                    .await
                    .map_err(unavailable)?;
                tracing::info!(version, "applied a store migration");
            }
            tx.commit().await.map_err(unavailable)
        })
        .await
    }

    /// A new store takes this key; an existing one must have been made with it.
    async fn check_key(&self) -> Result<()> {
        let fresh = self.key.check_value()?;
        let stored = self
            .timed(async {
                let client = self.client().await?;
                client
                    .execute(
                        "INSERT INTO thingstray_settings (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                        &[&KEY_CHECK, &fresh],
                    )
                    .await
                    .map_err(unavailable)?;
                let row = client
                    .query_one("SELECT secret FROM thingstray_settings WHERE name = $1", &[&KEY_CHECK])
                    .await
                    .map_err(unavailable)?;
                Ok(row.get::<_, Vec<u8>>(0))
            })
            .await?;
        if self.key.fits(&stored) {
            Ok(())
        } else {
            Err(Error::StoreKey { detail: "the store was made with another key".into() })
        }
    }

    /// Measures PostgreSQL's clock against ours (the midpoint of a round trip).
    pub async fn measure_skew(&self) -> Result<()> {
        if self.skew == Skew::Trust {
            return Ok(());
        }
        let before = self.base.now();
        let db_ms: f64 = self
            .timed(async {
                let client = self.client().await?;
                let row = client
                    .query_one("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8", &[])
                    .await
                    .map_err(unavailable)?;
                Ok(row.get(0))
            })
            .await?;
        let after = self.base.now();
        let mid = thingstray::clock::unix_ms(before) as f64
            + (thingstray::clock::unix_ms(after) as f64 - thingstray::clock::unix_ms(before) as f64) / 2.0;
        let skew = (db_ms - mid).round() as i64;
        self.skew_ms.store(skew, Ordering::SeqCst);
        if skew.abs() > 5_000 {
            tracing::warn!(
                skew_ms = skew,
                "this machine's clock is off from the database's; scheduling on the database's"
            );
        }
        Ok(())
    }

    /// The database's time, as this replica estimates it.
    pub fn now(&self) -> SystemTime {
        shift(self.base.now(), self.skew_ms.load(Ordering::SeqCst))
    }

    /// The clock every session of this replica runs on: the database's time.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(crate::clock::StoreClock::new(self.base.clone(), self.skew_ms.clone()))
    }

    /// A plain setting (JSON, never a secret).
    pub async fn setting(&self, name: &str) -> Result<Option<String>> {
        self.timed(async {
            let client = self.client().await?;
            let row = client
                .query_opt("SELECT value FROM thingstray_settings WHERE name = $1", &[&name])
                .await
                .map_err(unavailable)?;
            Ok(row.and_then(|r| r.get(0)))
        })
        .await
    }

    /// A sealed setting, opened.
    pub async fn secret(&self, name: &str) -> Result<Option<SecretString>> {
        let sealed: Option<Vec<u8>> = self
            .timed(async {
                let client = self.client().await?;
                let row = client
                    .query_opt("SELECT secret FROM thingstray_settings WHERE name = $1", &[&name])
                    .await
                    .map_err(unavailable)?;
                Ok(row.and_then(|r| r.get(0)))
            })
            .await?;
        let Some(sealed) = sealed else { return Ok(None) };
        let plain = self.key.open(name, &sealed)?;
        let text = String::from_utf8(plain).map_err(|_| Error::StoreKey { detail: format!("`{name}` is not text") })?;
        Ok(Some(SecretString::from(text)))
    }

    /// Writes a setting: its plain value, its secret (sealed), or both.
    pub async fn put_setting(&self, name: &str, value: Option<&str>, secret: Option<&SecretString>) -> Result<()> {
        use secrecy::ExposeSecret;
        let sealed = secret.map(|s| self.key.seal(name, s.expose_secret().as_bytes())).transpose()?;
        self.timed(async {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO thingstray_settings (name, value, secret) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET
                        value = coalesce(EXCLUDED.value, thingstray_settings.value),
                        secret = coalesce(EXCLUDED.secret, thingstray_settings.secret),
                        updated_at = now()",
                    &[&name, &value, &sealed],
                )
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// A sealed setting, made by `make` the first time: every replica gets the same one
    /// even when they start together (the first insert wins; the others read it).
    pub async fn secret_or_create(&self, name: &str, make: impl FnOnce() -> SecretString) -> Result<SecretString> {
        use secrecy::ExposeSecret;
        if let Some(s) = self.secret(name).await? {
            return Ok(s);
        }
        let sealed = self.key.seal(name, make().expose_secret().as_bytes())?;
        self.timed(async {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO thingstray_settings (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                    &[&name, &sealed],
                )
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await?;
        self.secret(name).await?.ok_or_else(|| unavailable(format!("`{name}` vanished right after it was written")))
    }
}

pub(crate) fn shift(t: SystemTime, ms: i64) -> SystemTime {
    if ms >= 0 {
        t + Duration::from_millis(ms as u64)
    } else {
        t - Duration::from_millis(ms.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(url: &str) -> String {
        describe(&tokio_postgres::Config::from_str(url).unwrap())
    }

    #[test]
    fn every_host_is_described_never_the_password() {
        assert_eq!(described("postgres://u:secret@db:6543/app"), "postgres://u@db:6543/app");
        assert_eq!(described("postgres://u@db/app"), "postgres://u@db:5432/app");
        let failover = "postgres://u:secret@a:1,b:2/app?target_session_attrs=read-write";
        assert_eq!(described(failover), "postgres://u@a:1,b:2/app?target_session_attrs=read-write");
        // One port for every host (key=value form).
        assert_eq!(described("host=a,b port=7 user=u dbname=app password=secret"), "postgres://u@a:7,b:7/app");
    }
}
