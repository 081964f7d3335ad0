//! Walking the model: every state one event away, recovery with no further fault, the
//! checks, and the depth-first walk over all of it.

use std::collections::HashSet;

use super::{AJob, BJob, BRecord, Budget, Flaw, State};

impl State {
    /// Every state one event away.
    fn next(&self) -> Vec<State> {
        let mut out = vec![];
        let mut push = |s: State| out.push(s);
        // Refreshes, by any process of either computer.
        if self.budget.refreshes > 0 {
            for b_side in [false, true] {
                let (may, held) =
                    if b_side { (self.b_may_refresh(), self.b_vault) } else { (self.a_may_refresh(), self.a_vault) };
                if let (true, Some(g)) = (may, held) {
                    let mut s = self.clone();
                    s.budget.refreshes -= 1;
                    if g == s.live {
                        s.live += 1;
                    } else {
                        s.dead_spent = true;
                    }
                    *(if b_side { &mut s.b_vault } else { &mut s.a_vault }) = Some(g + 1);
                    push(s);
                }
            }
        }
        // The offer runs out before it is used.
        if self.offered && self.budget.expiries > 0 {
            let mut s = self.clone();
            s.offered = false;
            s.budget.expiries -= 1;
            push(s);
        }
        // Messages: delivered (any one of them, in any order) or lost.
        for (i, m) in self.net.iter().enumerate() {
            let mut s = self.clone();
            s.net.remove(i);
            if s.budget.losses > 0 {
                let mut lost = s.clone();
                lost.budget.losses -= 1;
                push(lost);
            }
            if let Some(s) = s.deliver(*m) {
                push(s);
            }
        }
        // A: a step, a crash, a restart.
        match self.a {
            AJob::Down => {
                let mut s = self.clone();
                s.a = AJob::Settle(0);
                push(s);
            }
            AJob::Idle => {}
            job => {
                let mut s = self.clone();
                s.a_step(job);
                push(s);
            }
        }
        if self.a != AJob::Down && self.budget.a_crashes > 0 {
            let mut s = self.clone();
            s.budget.a_crashes -= 1;
            s.a = AJob::Down;
            s.a_lock = false;
            push(s);
        }
        // B: a step, a crash, waiting given up, the take-over run again.
        match self.b {
            BJob::Off => {
                let open = matches!(
                    self.b_record,
                    BRecord::None | BRecord::Requested { .. } | BRecord::Received | BRecord::Owner
                );
                if open && self.budget.runs > 0 && self.b_record != BRecord::None {
                    let mut s = self.clone();
                    s.budget.runs -= 1;
                    s.b = BJob::Start;
                    push(s);
                }
            }
            BJob::WaitBundle(n) | BJob::WaitConfirmed(n) | BJob::WaitKept(n) => {
                // Waiting for an answer that cannot come any more is given up for free; giving
                // up while one still may (a stall) is a fault.
                if self.silent() {
                    let mut s = self.clone();
                    s.b_timeout(n);
                    push(s);
                } else if self.budget.timeouts > 0 {
                    let mut s = self.clone();
                    s.budget.timeouts -= 1;
                    s.b_timeout(n);
                    push(s);
                }
            }
            job => {
                let mut s = self.clone();
                s.b_step(job);
                push(s);
            }
        }
        if self.b != BJob::Off && self.budget.b_crashes > 0 {
            let mut s = self.clone();
            s.budget.b_crashes -= 1;
            s.b = BJob::Off;
            push(s);
        }
        out
    }

    /// Everything settles with no fault left: A back, every message delivered in turn, B's
    /// take-over run again until it stops changing anything (as a user runs `take-over
    /// --resume`), each computer as its code goes on.
    fn recovered(&self) -> State {
        let mut s = self.clone();
        s.budget = Budget { a_crashes: 0, b_crashes: 0, losses: 0, timeouts: 0, refreshes: 0, runs: 0, expiries: 0 };
        let mut runs = 0;
        for _ in 0..200 {
            if s.a == AJob::Down {
                s.a = AJob::Settle(0);
            } else if !matches!(s.a, AJob::Idle) {
                let job = s.a;
                s.a_step(job);
            } else if !s.net.is_empty() {
                let m = s.net.remove(0);
                if let Some(next) = s.clone().deliver(m) {
                    s = next;
                } else {
                    s.net.insert(0, m);
                }
            } else if let BJob::WaitBundle(n) | BJob::WaitConfirmed(n) | BJob::WaitKept(n) = s.b {
                s.b_timeout(n);
            } else if s.b != BJob::Off {
                let job = s.b;
                s.b_step(job);
            } else if runs < 3 && matches!(s.b_record, BRecord::Requested { .. } | BRecord::Received | BRecord::Owner) {
                runs += 1;
                s.b = BJob::Start;
            } else {
                return s;
            }
        }
        s
    }

    fn check(&self) -> Result<(), String> {
        if self.dead_spent {
            return Err("a refresh spent a dead refresh token: two computers held it".into());
        }
        if self.a_may_refresh() && self.b_may_refresh() {
            return Err("both computers may refresh".into());
        }
        let on_disk = [self.a_vault, self.b_aside, self.b_vault].contains(&Some(self.live));
        if !on_disk {
            return Err("the live pair is on neither computer's disk".into());
        }
        Ok(())
    }

    fn check_final(&self) -> Result<(), String> {
        let a = self.a_may_refresh() && self.a_vault == Some(self.live);
        let b = self.b_may_refresh() && self.b_vault == Some(self.live);
        match (a, b) {
            (true, false) | (false, true) => Ok(()),
            (false, false) => Err("once everything settled, no computer can refresh".into()),
            (true, true) => Err("once everything settled, both computers refresh".into()),
        }
    }
}

/// What [`explore`] found.
#[derive(Debug, Default)]
pub struct Summary {
    /// The faults each walk may use, in words.
    pub faults: String,
    pub states: usize,
    /// States recovering to the new owner holding the session, and to the old one keeping it.
    pub moved: usize,
    pub kept: usize,
    /// The first violation found, with the events that led there.
    pub violation: Option<String>,
}

/// Explores every interleaving within the fault budget, for a usable session and for one
/// the new owner declines.
pub fn explore() -> Summary {
    explore_with(Flaw::None)
}

pub fn explore_with(flaw: Flaw) -> Summary {
    let budget = Budget { a_crashes: 2, b_crashes: 2, losses: 1, timeouts: 2, refreshes: 1, runs: 2, expiries: 1 };
    let mut sum = Summary {
        faults: format!(
            "each computer killed up to {} times after any step, {} message lost, {} requests given up on while still \
             in progress (stalls), {} refresh by either computer, {} more runs of the take-over, the offer running out \
             once; a usable session and a declined one",
            budget.a_crashes, budget.losses, budget.timeouts, budget.refreshes, budget.runs
        ),
        ..Summary::default()
    };
    let mut seen = HashSet::new();
    for usable in [true, false] {
        let mut stack = vec![(State::start(usable, budget, flaw), 0usize)];
        while let Some((s, depth)) = stack.pop() {
            if !seen.insert(s.clone()) {
                continue;
            }
            sum.states += 1;
            if let Err(why) = s.check() {
                sum.violation = Some(format!("{why} at depth {depth}: {s:?}"));
                return sum;
            }
            // From here, with no further fault: one owner.
            let end = s.recovered();
            match end.check().and_then(|()| end.check_final()) {
                Ok(()) if end.b_may_refresh() => sum.moved += 1,
                Ok(()) => sum.kept += 1,
                Err(why) => {
                    sum.violation = Some(format!("{why}, recovering from depth {depth}: {s:?} -> {end:?}"));
                    return sum;
                }
            }
            stack.extend(s.next().into_iter().map(|n| (n, depth + 1)));
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_interleaving_of_crashes_stalls_and_lost_messages_ends_with_zero_or_two_owners() {
        let sum = explore();
        println!("hand-over model: {sum:?}");
        assert_eq!(sum.violation, None);
        assert!(sum.states > 10_000, "the model explored too little: {sum:?}");
        assert!(sum.moved > 0 && sum.kept > 0, "both endings are reached: {sum:?}");
    }

    /// The exploration has teeth: each rule broken is caught.
    #[test]
    fn a_protocol_with_a_rule_broken_is_caught() {
        for flaw in [Flaw::DropUnconfirmed, Flaw::AnswerBeforeDeciding] {
            let sum = explore_with(flaw);
            assert!(sum.violation.is_some(), "{flaw:?} not caught: {sum:?}");
            println!("{flaw:?}: {}", sum.violation.unwrap_or_default().chars().take(120).collect::<String>());
        }
    }
}
