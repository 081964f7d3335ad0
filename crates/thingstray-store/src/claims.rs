//! Who refreshes what, when: replicas claim due sessions (`FOR UPDATE SKIP LOCKED`)
//! through the service's one refresh budget, let go of what they will not do, and note
//! failures for backoff. The scheduler (scheduler.rs) is the only writer besides tests.

use std::time::{Duration, SystemTime};

use thingstray::error::Result;

use crate::db::{unavailable, Store};

/// One claimed session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub id: String,
    /// An OAuth-In session whose location SmartThings did not say at sign-in: the
    /// scheduler asks again after its refresh (read with the claim, so a session whose
    /// location is known costs no query for it).
    pub unlocated: bool,
}

/// What a claim got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// These sessions are this replica's to refresh until the lease ends (none: none due).
    Sessions(Vec<Claim>),
    /// SmartThings asked the app to wait: nobody refreshes before then.
    Paused(SystemTime),
    /// The service used its refreshes for now: the next one is free in about this long.
    OverBudget(Duration),
}

impl Claimed {
    /// The claimed sessions; none when paused or over budget.
    pub fn sessions(self) -> Vec<String> {
        match self {
            Claimed::Sessions(claims) => claims.into_iter().map(|c| c.id).collect(),
            _ => Vec::new(),
        }
    }
}

impl Store {
    /// Claims up to `limit` sessions due for a refresh at `now` for `lease`: rows another
    /// replica is refreshing (their lock held) or has claimed are skipped, never waited on.
    /// Every replica's claims go through the service's one budget row, so the service as
    /// a whole starts at most `rate` refreshes a second (a bucket of up to a second's
    /// worth, refilled on the database's clock: replicas' clocks never add to it) and all
    /// of them stop while SmartThings' 429 pause lasts. `rate` infinite: no budget.
    pub async fn claim_due(
        &self,
        now: SystemTime,
        lease: Duration,
        limit: i64,
        replica: &str,
        rate: f64,
    ) -> Result<Claimed> {
        let until = now + lease;
        let budgeted = rate.is_finite() && rate > 0.0;
        let cap = rate.max(1.0);
        self.timed(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(unavailable)?;
            let budget = if budgeted {
                tx.query_one(
                    "UPDATE thingstray_refresh_budget SET
                         tokens = CASE WHEN at IS NULL THEN $1
                                  ELSE least($1, tokens + greatest(0, extract(epoch FROM clock_timestamp() - at))::float8 * $2)
                                  END,
                         at = clock_timestamp()
                     RETURNING tokens, paused_until",
                    &[&cap, &rate],
                )
                .await
            } else {
                tx.query_one("SELECT 0::float8 AS tokens, paused_until FROM thingstray_refresh_budget", &[]).await
            }
            .map_err(unavailable)?;
            let tokens: f64 = budget.get("tokens");
            if let Some(paused) = budget.get::<_, Option<SystemTime>>("paused_until").filter(|p| *p > now) {
                tx.commit().await.map_err(unavailable)?;
                return Ok(Claimed::Paused(paused));
            }
            let n = if budgeted { limit.min(tokens.floor() as i64) } else { limit };
            if n < 1 {
                tx.commit().await.map_err(unavailable)?;
                return Ok(Claimed::OverBudget(Duration::from_secs_f64(((1.0 - tokens) / rate).clamp(0.001, 86_400.0))));
            }
            let rows = tx
                .query(
                    "UPDATE thingstray_sessions s SET claimed_until = $2, claimed_by = $3
                     WHERE s.id IN (
                         SELECT id FROM thingstray_sessions
                         WHERE status = 'active' AND refresh_due <= $1
                           AND (claimed_until IS NULL OR claimed_until <= $1)
                         ORDER BY refresh_due LIMIT $4
                         FOR UPDATE SKIP LOCKED)
                     RETURNING s.id, s.kind = 'oauth' AND s.location_id IS NULL",
                    &[&now, &until, &replica, &n],
                )
                .await
                .map_err(unavailable)?;
            if budgeted && !rows.is_empty() {
                tx.execute("UPDATE thingstray_refresh_budget SET tokens = tokens - $1", &[&(rows.len() as f64)])
                    .await
                    .map_err(unavailable)?;
            }
            tx.commit().await.map_err(unavailable)?;
            Ok(Claimed::Sessions(rows.iter().map(|r| Claim { id: r.get(0), unlocated: r.get(1) }).collect()))
        })
        .await
    }

    /// SmartThings answered 429: no replica claims a refresh before `until` (a later
    /// pause already set is kept).
    pub async fn pause_refreshes(&self, until: SystemTime) -> Result<()> {
        self.timed(async {
            let client = self.client().await?;
            client
                .execute("UPDATE thingstray_refresh_budget SET paused_until = greatest(paused_until, $1)", &[&until])
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// Claimed sessions this replica will not refresh now: claimable again from `at`.
    pub async fn release(&self, ids: &[String], at: SystemTime) -> Result<()> {
        self.timed(async {
            let client = self.client().await?;
            client
                .execute("UPDATE thingstray_sessions SET claimed_until = $2 WHERE id = ANY($1)", &[&ids, &at])
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// After a failed scheduled refresh: not claimed again before `retry_at`.
    pub async fn note_failure(&self, id: &str, retry_at: SystemTime) -> Result<()> {
        self.timed(async {
            let client = self.client().await?;
            client
                .execute(
                    "UPDATE thingstray_sessions SET failures = failures + 1, claimed_until = $2 WHERE id = $1",
                    &[&id, &retry_at],
                )
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// How many scheduled refreshes of a session failed in a row.
    pub async fn session_failures(&self, id: &str) -> Result<u32> {
        self.timed(async {
            let client = self.client().await?;
            let row = client
                .query_opt("SELECT failures FROM thingstray_sessions WHERE id = $1", &[&id])
                .await
                .map_err(unavailable)?;
            Ok(row.map_or(0, |r| r.get::<_, i32>(0).max(0) as u32))
        })
        .await
    }

    /// The backlog at `now`: active sessions due for a refresh that has not been tried
    /// since they fell due (waiting for a claim, or being refreshed right now). Sessions
    /// whose refresh failed are not in it: they wait out their backoff and count in
    /// `failures`. For monitoring, and for the proof's simulated hours.
    pub async fn backlog(&self, now: SystemTime) -> Result<i64> {
        self.timed(async {
            let client = self.client().await?;
            let row = client
                .query_one(
                    "SELECT count(*) FROM thingstray_sessions WHERE status = 'active' AND refresh_due <= $1 AND failures = 0",
                    &[&now],
                )
                .await
                .map_err(unavailable)?;
            Ok(row.get(0))
        })
        .await
    }

    /// When the next session is due (for the scheduler's sleep), if any is.
    pub async fn next_due(&self) -> Result<Option<SystemTime>> {
        self.timed(async {
            let client = self.client().await?;
            let row = client
                .query_one(
                    "SELECT min(greatest(refresh_due, coalesce(claimed_until, refresh_due)))
                     FROM thingstray_sessions WHERE status = 'active'",
                    &[],
                )
                .await
                .map_err(unavailable)?;
            Ok(row.get(0))
        })
        .await
    }
}
