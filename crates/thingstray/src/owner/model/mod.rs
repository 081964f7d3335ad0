//! The hand-over as a small state machine, every interleaving explored (issue 25, item 1).
//!
//! The two computers' durable state (records, vault items, settings), their running
//! processes one step at a time (the steps of hand_over.rs, take_over.rs and
//! connection/hand_over.rs, in their order), the messages between them (delivered late,
//! out of order, or lost), SmartThings' one live refresh token, and faults: either
//! computer dies after any step and starts again from its disk, a request goes unanswered
//! (a stall: the new owner stops waiting while the old one is still at work), the offer
//! runs out, the session turns out unusable (declined). Both computers may refresh
//! whenever their code would let them.
//!
//! [`explore`] walks every reachable state (depth first, each state once) and checks:
//! - in every state: the live pair is on some computer's disk; never both computers in a
//!   state where a refresh of theirs would spend a refresh token; no refresh ever spends
//!   a dead one (the mark of two holders);
//! - from every state, once the faults stop (both computers back, every message delivered,
//!   the take-over run again until it changes nothing): exactly one computer holds the live
//!   pair and may refresh it.

mod explore;

pub use explore::{explore, explore_with, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ARecord {
    None,
    Sent,
    Acked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum BRecord {
    None,
    Requested {
        uncertain: bool,
    },
    Received,
    Owner,
    Acked,
    /// Refused for good, the record removed: nothing was decided.
    Dropped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Msg {
    Request,
    Bundle(u8),
    Refused,
    Confirm,
    Confirmed,
    Decline,
    Kept,
}

/// A protocol with one rule broken, to show the exploration catches what it must.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flaw {
    None,
    /// The new owner throws the session away when its confirmation goes unanswered (the
    /// code before issue 25).
    DropUnconfirmed,
    /// The old owner answers before its decision is on disk.
    AnswerBeforeDeciding,
}

/// What A's running process is doing: one request at a time (its `deciding` lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AJob {
    Down,
    Idle,
    /// Restarted: finishing an acknowledged hand-over (connection/hand_over.rs `settle`).
    Settle(u8),
    Decide(u8),
    Confirm(u8),
}

/// Where B's take-over is (`Off`: not running).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum BJob {
    Off,
    Start,
    WaitBundle(u8),
    Keep(u8, u8),
    TakeIn(u8),
    WaitConfirmed(u8),
    WaitKept(u8),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct State {
    live: u8,
    /// Some refresh spent a dead refresh token.
    dead_spent: bool,
    a_vault: Option<u8>,
    a_record: ARecord,
    a_paired: bool,
    a_lock: bool,
    offered: bool,
    a: AJob,
    b_aside: Option<u8>,
    b_vault: Option<u8>,
    b_record: BRecord,
    b_owner: bool,
    b: BJob,
    net: Vec<Msg>,
    /// Whether B can use the session it gets (else it declines).
    usable: bool,
    budget: Budget,
    flaw: Flaw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Budget {
    a_crashes: u8,
    b_crashes: u8,
    losses: u8,
    timeouts: u8,
    refreshes: u8,
    runs: u8,
    expiries: u8,
}

/// B gives up after this many unanswered attempts in one run (its patience).
const ATTEMPTS: u8 = 2;

impl State {
    fn start(usable: bool, budget: Budget, flaw: Flaw) -> State {
        State {
            live: 0,
            dead_spent: false,
            a_vault: Some(0),
            a_record: ARecord::None,
            a_paired: false,
            a_lock: false,
            offered: true,
            a: AJob::Idle,
            b_aside: None,
            b_vault: None,
            b_record: BRecord::None,
            b_owner: false,
            b: BJob::Start,
            net: vec![],
            usable,
            budget,
            flaw,
        }
    }

    /// A's processes may spend the refresh token: owner settings, no decision on disk, a
    /// full pair, and no decision in progress (it holds the refresh lock).
    fn a_may_refresh(&self) -> bool {
        !self.a_paired && self.a_record == ARecord::None && self.a_vault.is_some() && !self.a_lock
    }

    fn b_may_refresh(&self) -> bool {
        self.b_owner && self.b_vault.is_some()
    }

    /// No answer can reach B any more: nothing in flight, A not at work.
    fn silent(&self) -> bool {
        self.net.is_empty() && matches!(self.a, AJob::Idle | AJob::Down)
    }

    fn send(&mut self, m: Msg) {
        self.net.push(m);
        self.net.sort();
    }

    /// A message arrives; `None` when nobody takes it (its receiver is busy or down: then
    /// it is lost, which the loss branch covers, or waits, which staying in `net` covers).
    fn deliver(mut self, m: Msg) -> Option<State> {
        match m {
            Msg::Request | Msg::Confirm | Msg::Decline => {
                match self.a {
                    AJob::Idle => {}
                    AJob::Down => return Some(self),
                    _ => return None,
                }
                match m {
                    Msg::Request => self.a = AJob::Decide(0),
                    Msg::Confirm => self.a = AJob::Confirm(0),
                    _ => match self.a_record {
                        ARecord::Sent => {
                            self.a_record = ARecord::None;
                            self.send(Msg::Kept);
                        }
                        ARecord::Acked => self.send(Msg::Refused),
                        ARecord::None => self.send(Msg::Kept),
                    },
                }
            }
            Msg::Bundle(g) => {
                if let BJob::WaitBundle(_) = self.b {
                    self.b = if self.usable {
                        BJob::Keep(0, g)
                    } else {
                        self.send(Msg::Decline);
                        BJob::WaitKept(0)
                    };
                }
            }
            Msg::Refused => match self.b {
                BJob::WaitBundle(_) => {
                    if self.b_record == (BRecord::Requested { uncertain: false }) {
                        self.b_record = BRecord::Dropped;
                    }
                    self.b = BJob::Off;
                }
                BJob::WaitConfirmed(_) => {
                    self.b_record = BRecord::Acked;
                    self.b = BJob::Off;
                }
                BJob::WaitKept(_) => self.b = BJob::Off,
                _ => {}
            },
            Msg::Confirmed => {
                if let BJob::WaitConfirmed(_) = self.b {
                    self.b_record = BRecord::Acked;
                    self.b = BJob::Off;
                }
            }
            Msg::Kept => {
                if let BJob::WaitKept(_) = self.b {
                    self.b_record = BRecord::Dropped;
                    self.b = BJob::Off;
                }
            }
        }
        Some(self)
    }

    fn a_step(&mut self, job: AJob) {
        match job {
            // Restarted: an acknowledged hand-over is finished before anything else.
            AJob::Settle(0) if self.a_record == ARecord::Acked => {
                self.a_paired = true;
                self.a = AJob::Settle(1);
            }
            AJob::Settle(1) => {
                self.a_vault = None;
                self.a = AJob::Idle;
            }
            AJob::Settle(_) => self.a = AJob::Idle,
            AJob::Decide(0) => match self.a_record {
                // The same request again: the same pair, untouched since the decision.
                ARecord::Sent => {
                    if let Some(g) = self.a_vault {
                        self.send(Msg::Bundle(g));
                    }
                    self.a = AJob::Idle;
                }
                ARecord::Acked => {
                    self.send(Msg::Refused);
                    self.a = AJob::Idle;
                }
                ARecord::None if !self.offered || self.a_paired => {
                    self.send(Msg::Refused);
                    self.a = AJob::Idle;
                }
                ARecord::None => {
                    self.a_lock = true;
                    self.a = AJob::Decide(1);
                }
            },
            // The decision, on disk, before the answer.
            AJob::Decide(1) => {
                if self.flaw == Flaw::AnswerBeforeDeciding {
                    if let Some(g) = self.a_vault {
                        self.send(Msg::Bundle(g));
                    }
                } else {
                    self.a_record = ARecord::Sent;
                    self.offered = false;
                }
                self.a = AJob::Decide(2);
            }
            AJob::Decide(_) => {
                self.a_lock = false;
                if self.flaw == Flaw::AnswerBeforeDeciding {
                    self.a_record = ARecord::Sent;
                    self.offered = false;
                } else if let Some(g) = self.a_vault {
                    self.send(Msg::Bundle(g));
                }
                self.a = AJob::Idle;
            }
            AJob::Confirm(0) => match self.a_record {
                ARecord::Sent => {
                    self.a_record = ARecord::Acked;
                    self.a = AJob::Confirm(1);
                }
                ARecord::Acked => self.a = AJob::Confirm(1),
                ARecord::None => {
                    self.send(Msg::Refused);
                    self.a = AJob::Idle;
                }
            },
            AJob::Confirm(1) => {
                self.a_paired = true;
                self.a = AJob::Confirm(2);
            }
            AJob::Confirm(_) => {
                self.a_vault = None;
                self.send(Msg::Confirmed);
                self.a = AJob::Idle;
            }
            AJob::Down | AJob::Idle => {}
        }
    }

    fn b_step(&mut self, job: BJob) {
        match job {
            BJob::Start => match self.b_record {
                BRecord::None => {
                    self.b_record = BRecord::Requested { uncertain: false };
                    self.send(Msg::Request);
                    self.b = BJob::WaitBundle(1);
                }
                BRecord::Requested { .. } => {
                    self.send(Msg::Request);
                    self.b = BJob::WaitBundle(1);
                }
                BRecord::Received => self.b = BJob::TakeIn(0),
                BRecord::Owner => {
                    self.send(Msg::Confirm);
                    self.b = BJob::WaitConfirmed(1);
                }
                BRecord::Acked | BRecord::Dropped => self.b = BJob::Off,
            },
            // Aside in the vault, then the record: from here B is the session's home.
            BJob::Keep(0, g) => {
                self.b_aside = Some(g);
                self.b = BJob::Keep(1, g);
            }
            BJob::Keep(_, _) => {
                self.b_record = BRecord::Received;
                self.b = BJob::TakeIn(0);
            }
            // Settings already flipped (a run that died before its record said so): a process
            // here may have refreshed since, so the pair in place stays.
            BJob::TakeIn(0) if self.b_owner => self.b = BJob::TakeIn(2),
            BJob::TakeIn(0) => {
                self.b_vault = self.b_aside;
                self.b = BJob::TakeIn(1);
            }
            BJob::TakeIn(1) => {
                self.b_owner = true;
                self.b = BJob::TakeIn(2);
            }
            BJob::TakeIn(_) => {
                self.b_record = BRecord::Owner;
                self.send(Msg::Confirm);
                self.b = BJob::WaitConfirmed(1);
            }
            BJob::Off | BJob::WaitBundle(_) | BJob::WaitConfirmed(_) | BJob::WaitKept(_) => {}
        }
    }

    /// B stopped waiting for an answer: it asks again, or gives up for this run.
    fn b_timeout(&mut self, attempt: u8) {
        match self.b {
            BJob::WaitBundle(_) => {
                self.b_record = BRecord::Requested { uncertain: true };
                if attempt < ATTEMPTS {
                    self.send(Msg::Request);
                    self.b = BJob::WaitBundle(attempt + 1);
                } else {
                    self.b = BJob::Off;
                }
            }
            BJob::WaitConfirmed(_) if attempt < ATTEMPTS => {
                self.send(Msg::Confirm);
                self.b = BJob::WaitConfirmed(attempt + 1);
            }
            BJob::WaitConfirmed(_) if self.flaw == Flaw::DropUnconfirmed => {
                self.b_aside = None;
                self.b_vault = None;
                self.b_owner = false;
                self.b_record = BRecord::Dropped;
                self.b = BJob::Off;
            }
            BJob::WaitKept(_) if attempt < ATTEMPTS => {
                self.send(Msg::Decline);
                self.b = BJob::WaitKept(attempt + 1);
            }
            _ => self.b = BJob::Off,
        }
    }
}
