//! Pairing attempts, counted on the owner. An invite code has 60 bits, so guessing is
//! hopeless; this limit is the second wall, and it must not become a way to keep pairing
//! shut for everyone.
//!
//! - An attempt is counted when it starts (before its body is read), as a failure that a
//!   right code takes back: parallel connections cannot each get a guess in while the
//!   count lags behind.
//! - Per address: [`Attempts::PER_ADDRESS`] failures in [`Attempts::WINDOW`] lock that
//!   address out for [`Attempts::LOCKOUT`], and only that address.
//! - All addresses together: [`Attempts::OVERALL`] failures in the window lock everyone
//!   out, bounding a guesser with many addresses. One address alone can never reach it.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// Failures in a sliding window, and a lock-out once too many.
#[derive(Debug, Default)]
struct Window {
    failures: VecDeque<SystemTime>,
    locked_until: Option<SystemTime>,
}

impl Window {
    fn locked(&mut self, now: SystemTime) -> Option<Duration> {
        match self.locked_until {
            Some(until) if now < until => Some(until.duration_since(now).unwrap_or(Duration::ZERO)),
            Some(_) => {
                self.locked_until = None;
                None
            }
            None => None,
        }
    }

    fn count(&mut self, now: SystemTime, max: usize) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t).unwrap_or(Duration::ZERO) >= Attempts::WINDOW)
        {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        if self.failures.len() >= max {
            self.failures.clear();
            self.locked_until = Some(now + Attempts::LOCKOUT);
        }
    }

    fn take_back(&mut self, at: SystemTime) {
        if let Some(i) = self.failures.iter().rposition(|t| *t == at) {
            self.failures.remove(i);
        }
    }
}

/// An attempt in progress: counted as a failure until [`Attempts::succeeded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    addr: IpAddr,
    at: SystemTime,
}

#[derive(Debug, Default)]
pub struct Attempts {
    by_address: HashMap<IpAddr, Window>,
    overall: Window,
}

impl Attempts {
    pub const PER_ADDRESS: usize = 5;
    pub const OVERALL: usize = 30;
    pub const WINDOW: Duration = Duration::from_secs(60);
    pub const LOCKOUT: Duration = Duration::from_secs(60);

    /// Starts an attempt from `addr`, counted at once; `Err(wait)` while refused.
    pub fn begin(&mut self, addr: IpAddr, now: SystemTime) -> Result<Attempt, Duration> {
        // Forget addresses with nothing to remember (a long-lived owner meets many).
        self.by_address.retain(|_, w| {
            w.locked(now).is_some()
                || w.failures.back().is_some_and(|t| now.duration_since(*t).unwrap_or_default() < Self::WINDOW)
        });
        let mine = self.by_address.entry(addr).or_default();
        if let Some(wait) = mine.locked(now) {
            return Err(wait);
        }
        if let Some(wait) = self.overall.locked(now) {
            return Err(wait);
        }
        mine.count(now, Self::PER_ADDRESS);
        self.overall.count(now, Self::OVERALL);
        Ok(Attempt { addr, at: now })
    }

    /// The code was right: the attempt is not a failure after all.
    pub fn succeeded(&mut self, a: Attempt) {
        if let Some(w) = self.by_address.get_mut(&a.addr) {
            w.take_back(a.at);
        }
        self.overall.take_back(a.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + s)
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 168, 1, last])
    }

    #[test]
    fn five_failures_in_a_minute_lock_that_address_for_a_minute() {
        let mut a = Attempts::default();
        // Failures spread over more than the window never lock.
        for i in 0..10 {
            assert!(a.begin(ip(9), t(20 * i)).is_ok());
        }
        for i in 0..5 {
            assert!(a.begin(ip(9), t(1000 + i)).is_ok(), "attempt {i}");
        }
        assert_eq!(a.begin(ip(9), t(1005)), Err(Duration::from_secs(59)));
        assert!(a.begin(ip(9), t(1063)).is_err());
        assert!(a.begin(ip(9), t(1064)).is_ok());
    }

    /// Issue 25, item 5: one address used to lock pairing for everyone.
    #[test]
    fn one_address_cannot_lock_out_the_others() {
        let mut a = Attempts::default();
        for i in 0..50 {
            let _ = a.begin(ip(66), t(i));
        }
        assert!(a.begin(ip(66), t(50)).is_err(), "the guesser is locked out");
        assert!(a.begin(ip(20), t(50)).is_ok(), "the user's laptop still pairs");
    }

    /// Issue 25, item 5: attempts were counted only after their bodies were read, so
    /// parallel connections each got a guess. Now each is counted when it starts.
    #[test]
    fn parallel_attempts_are_counted_before_any_finishes() {
        let mut a = Attempts::default();
        let started: Vec<_> = (0..10).map(|_| a.begin(ip(66), t(0))).collect();
        assert_eq!(started.iter().filter(|r| r.is_ok()).count(), Attempts::PER_ADDRESS, "only five in flight at once");
    }

    #[test]
    fn a_right_code_is_not_counted_and_many_addresses_hit_the_overall_bound() {
        let mut a = Attempts::default();
        for _ in 0..20 {
            let ok = a.begin(ip(20), t(0)).unwrap();
            a.succeeded(ok);
        }
        assert!(a.begin(ip(20), t(0)).is_ok(), "right codes never lock");
        let mut a = Attempts::default();
        for i in 0..Attempts::OVERALL as u8 {
            let _ = a.begin(ip(i), t(1));
        }
        assert!(a.begin(ip(250), t(2)).is_err(), "a guesser with many addresses is bounded too");
        assert!(a.begin(ip(250), t(62)).is_ok());
    }
}
