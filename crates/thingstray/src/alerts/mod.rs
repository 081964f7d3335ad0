//! Issue 29: what changed between two reads of the device list, and which of those
//! changes are worth a desktop notification.
//!
//! One poller feeds the tray, the alerts and `thingstray watch`: it keeps its last read,
//! hands both reads to [`changes`] and gives the result to the watch stream as it is and
//! to an [`Alerter`], which decides what to tell. Nothing here reads a clock, a file or
//! the network: the read's time, the local minute of the day and the location's mode
//! are passed in, so the tests can live through a night, a sleep and a restart.
//!
//! - `changes`: the [`Change`] type (a `watch` line) and the detector.
//! - `rules`: the table of changes worth telling, and each kind's default.
//! - `alerter`: per-device choices, quiet hours, debounce and the after-a-gap summary.

mod alerter;
mod changes;
#[cfg(test)]
mod fixtures;
mod rules;

pub use alerter::{summary_gap, Alerter, Notification, DEBOUNCE, MIN_SUMMARY_GAP};
pub use changes::{changes, Change, HEALTH_ATTRIBUTE, HEALTH_CAPABILITY};
pub use rules::{default_on, needs_mode, rule_for, Rule, RULES};
