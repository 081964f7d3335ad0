//! What one asker saw during the soak: every token it was handed, checked against the
//! simulator's own record of that token's expiry at the moment it was handed out.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Tally {
    pub handouts: u64,
    /// Handed out at or after the simulator's expiry for it.
    pub expired: u64,
    /// Never issued by the simulator (or forgotten by it).
    pub unknown: u64,
    /// Asks answered "sign in again": the session was lost.
    pub lost: u64,
    /// Asks that failed with a passing error (then asked again), by error code.
    pub errors: BTreeMap<String, u64>,
    /// Real milliseconds from the first ask to the token, by value.
    pub waits_ms: BTreeMap<u64, u64>,
    /// The least validity left at a handout, simulated ms.
    pub min_left_ms: Option<u64>,
    pub distinct_tokens: u64,
}

impl Tally {
    /// Records a handout at `at_ms` (sim clock) of a token expiring at `expires_ms`.
    pub fn handout(&mut self, expires_ms: Option<u64>, at_ms: u64, wait_ms: u64) {
        self.handouts += 1;
        *self.waits_ms.entry(wait_ms).or_default() += 1;
        match expires_ms {
            None => self.unknown += 1,
            Some(exp) if at_ms >= exp => self.expired += 1,
            Some(exp) => {
                let left = exp - at_ms;
                self.min_left_ms = Some(self.min_left_ms.map_or(left, |m| m.min(left)));
            }
        }
    }

    pub fn error(&mut self, code: &str) {
        *self.errors.entry(code.to_string()).or_default() += 1;
    }

    pub fn merge(&mut self, o: &Tally) {
        self.handouts += o.handouts;
        self.expired += o.expired;
        self.unknown += o.unknown;
        self.lost += o.lost;
        self.distinct_tokens += o.distinct_tokens;
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.waits_ms {
            *self.waits_ms.entry(*k).or_default() += v;
        }
        self.min_left_ms = match (self.min_left_ms, o.min_left_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// The wait at quantile `q` (0..=1), ms.
    pub fn wait_quantile(&self, q: f64) -> u64 {
        let total: u64 = self.waits_ms.values().sum();
        let want = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (ms, n) in &self.waits_ms {
            seen += n;
            if seen >= want {
                return *ms;
            }
        }
        0
    }
}

/// Remembers each token's expiry once (tokens never change it), keyed by the token
/// itself, in memory only.
#[derive(Default)]
pub struct Expiries(HashMap<String, Option<u64>>);

impl Expiries {
    pub fn known(&self, token: &str) -> Option<Option<u64>> {
        self.0.get(token).copied()
    }

    pub fn insert(&mut self, token: &str, exp: Option<u64>) {
        self.0.insert(token.to_string(), exp);
    }

    pub fn len(&self) -> u64 {
        self.0.len() as u64
    }
}
