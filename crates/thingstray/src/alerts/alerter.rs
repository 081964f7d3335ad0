//! From changes to notifications: which devices the user wants told about, quiet hours,
//! no repeat within a minute, and no storm when the app wakes up.
//!
//! A restart is not news: the first read after starting only sets the baseline. A long
//! gap between reads (a sleep, a lost network) is news, but not a screenful of it: what
//! changed meanwhile is one summary. The caller passes the read's time, the local minute
//! of the day and the location's mode, so nothing here reads a clock.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Value;

use crate::api::Device;

use super::changes::Change;
use super::rules::{default_on, rule_for, Rule};

/// The same alert (device, capability, attribute, value) is not shown again this soon:
/// a door bouncing open, closed and open again in a minute is one event.
pub const DEBOUNCE: Duration = Duration::from_secs(60);
/// A gap between reads at least this long (or three poll intervals, if longer) ends in
/// one summary: shorter ones are a slow poll, not an absence.
pub const MIN_SUMMARY_GAP: Duration = Duration::from_secs(5 * 60);
/// Polls a read may be late by before it counts as a gap.
const LATE_POLLS: u32 = 3;
/// A summary names this many alerts, then counts the rest: a notification is a glance.
const SUMMARY_NAMES: usize = 5;
const MINUTES_PER_DAY: u16 = 24 * 60;

/// A desktop notification to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub title: String,
    pub body: String,
    /// The device a click opens the window at; `None` for a summary.
    pub device_id: Option<String>,
    /// Several changes seen on the first read after a gap.
    pub summary: bool,
}

/// The gap after which a read's alerts are summarised: three polls, at least 5 min.
pub fn summary_gap(poll_interval: Duration) -> Duration {
    poll_interval.saturating_mul(LATE_POLLS).max(MIN_SUMMARY_GAP)
}

/// The debounce key: one alert is one device's attribute taking one value.
type AlertKey = (String, String, String, String);

/// The alert policy and what it remembers between reads.
#[derive(Debug, Clone, Default)]
pub struct Alerter {
    /// The user's choice per device id; absent: each kind's default (see [`Rule`]).
    enabled: HashMap<String, bool>,
    /// Minutes after local midnight, start inclusive, end exclusive; may wrap midnight.
    quiet_hours: Option<(u16, u16)>,
    /// When each alert was last shown, for the debounce; entries older than it go.
    last_alert: HashMap<AlertKey, SystemTime>,
    /// The previous read; `None` until the first.
    last_read: Option<SystemTime>,
}

impl Alerter {
    pub fn new() -> Alerter {
        Alerter::default()
    }

    /// The user's choice for a device: `true` tells every kind of alert it has (motion
    /// still only in Away), `false` none.
    pub fn set_enabled(&mut self, device_id: &str, on: bool) {
        self.enabled.insert(device_id.to_string(), on);
    }

    /// The user's choices, all of them (device id -> on), replacing what was set: a
    /// device with none gets each kind's default.
    pub fn set_choices(&mut self, choices: &std::collections::BTreeMap<String, bool>) {
        self.enabled = choices.iter().map(|(id, on)| (id.clone(), *on)).collect();
    }

    /// Whether the device's bell shows as on: the user's choice, else [`default_on`].
    pub fn enabled(&self, device: &Device) -> bool {
        self.enabled.get(&device.id).copied().unwrap_or_else(|| default_on(device))
    }

    /// Quiet hours as minutes after local midnight, `(start, end)`; `(22 * 60, 7 * 60)`
    /// wraps midnight. Equal ends are no quiet hours; minutes past a day wrap.
    pub fn set_quiet_hours(&mut self, hours: Option<(u16, u16)>) {
        self.quiet_hours = hours.map(|(start, end)| (start % MINUTES_PER_DAY, end % MINUTES_PER_DAY));
    }

    pub fn quiet_hours(&self) -> Option<(u16, u16)> {
        self.quiet_hours
    }

    /// Whether `minute_of_day` (local) is in the quiet hours.
    pub fn is_quiet(&self, minute_of_day: u16) -> bool {
        let Some((start, end)) = self.quiet_hours else { return false };
        let m = minute_of_day % MINUTES_PER_DAY;
        if start <= end {
            start <= m && m < end
        } else {
            m >= start || m < end
        }
    }

    /// The notifications for one read's changes (from [`super::changes`]), made at
    /// `read_at`, with the local `minute_of_day`, the location's mode name and the poll
    /// interval the reads are meant to come at.
    pub fn observe(
        &mut self,
        changes: &[Change],
        read_at: SystemTime,
        minute_of_day: u16,
        location_mode: Option<&str>,
        poll_interval: Duration,
    ) -> Vec<Notification> {
        // A restart is not news: the first read after starting only sets the baseline,
        // whatever changes come with it (a caller that kept an old list must not replay it).
        let Some(previous) = self.last_read.replace(read_at) else { return vec![] };
        // A clock set back is no gap; the next reads measure from the new time.
        let after_gap = read_at.duration_since(previous).is_ok_and(|gap| gap > summary_gap(poll_interval));
        // Forget alerts older than the debounce; one from the future (a clock set back)
        // stays until its minute has passed.
        self.last_alert.retain(|_, shown| read_at.duration_since(*shown).map_or(true, |age| age < DEBOUNCE));
        let quiet = self.is_quiet(minute_of_day);
        let away = location_mode.is_some_and(|mode| mode.trim().eq_ignore_ascii_case("away"));
        let mut shown = Vec::new();
        for change in changes {
            let Some(rule) = rule_for(change) else { continue };
            if !self.wanted(change, rule, quiet, away) {
                continue;
            }
            let key =
                (change.device_id.clone(), change.capability.clone(), change.attribute.clone(), text(&change.new));
            if self.last_alert.contains_key(&key) {
                continue;
            }
            self.last_alert.insert(key, read_at);
            shown.push(Notification {
                title: rule.title(&change.device_label),
                body: body(change),
                device_id: Some(change.device_id.clone()),
                summary: false,
            });
        }
        if after_gap && !shown.is_empty() {
            return vec![summary(&shown)];
        }
        shown
    }

    /// Whether this kind of alert, for this device, may be shown now.
    fn wanted(&self, change: &Change, rule: &Rule, quiet: bool, away: bool) -> bool {
        // Absent a choice, each kind's own default: a leak sensor's leaks are told, its
        // going offline is not, until the user turns its bell on.
        let chosen = self.enabled.get(&change.device_id).copied().unwrap_or(rule.default_on);
        // Quiet hours hold back everything but leak, smoke and CO: those are safety
        // alerts, and the night is when nobody is watching the house.
        chosen && (!rule.away_only || away) && (!quiet || rule.safety)
    }
}

/// One notification for every alert of a read after a gap, named in order.
fn summary(shown: &[Notification]) -> Notification {
    let mut names: Vec<&str> = shown.iter().take(SUMMARY_NAMES).map(|n| n.title.as_str()).collect();
    let more = shown.len().saturating_sub(SUMMARY_NAMES);
    let more_text = format!("and {more} more");
    if more > 0 {
        names.push(&more_text);
    }
    Notification { title: "While away".into(), body: names.join(", "), device_id: None, summary: true }
}

/// "Front Door Sensor · contact: closed → open".
fn body(change: &Change) -> String {
    format!("{} · {}: {} → {}", change.device_label, change.attribute, text(&change.old), text(&change.new))
}

/// A value as the notification shows it: a text as it is, a number as written, none as
/// "none".
fn text(value: &Option<Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::changes::{changes, HEALTH_ATTRIBUTE, HEALTH_CAPABILITY};
    use crate::alerts::fixtures::{self, at};

    const POLL: Duration = Duration::from_secs(10);
    const NOON: u16 = 12 * 60;

    /// Feeds an alerter one read after another: each read's changes against the last,
    /// like the poller. The first read is the baseline.
    struct Poller {
        alerter: Alerter,
        last: Vec<Device>,
    }

    impl Poller {
        fn start(alerter: Alerter, devices: Vec<Device>) -> Poller {
            let mut p = Poller { alerter, last: devices.clone() };
            let first = p.alerter.observe(&[], at(0), NOON, Some("Home"), POLL);
            assert_eq!(first, vec![], "nothing to tell on the first read");
            p
        }

        fn read(&mut self, devices: Vec<Device>, secs: u64, minute: u16, mode: Option<&str>) -> Vec<Notification> {
            let found = changes(&self.last, &devices, at(secs));
            self.last = devices;
            self.alerter.observe(&found, at(secs), minute, mode, POLL)
        }
    }

    fn titles(shown: &[Notification]) -> Vec<&str> {
        shown.iter().map(|n| n.title.as_str()).collect()
    }

    fn door_alerter() -> (Alerter, Device, Device) {
        let closed = fixtures::front_door();
        let open = fixtures::with_value(&closed, "contactSensor", "contact", "open");
        let mut alerter = Alerter::new();
        alerter.set_enabled(&closed.id, true);
        (alerter, closed, open)
    }

    #[test]
    fn the_first_read_never_alerts() {
        let leak = fixtures::basement_leak_sensor();
        let wet = fixtures::with_value(&leak, "waterSensor", "water", "wet");
        let found = changes(&[leak], &[wet], at(0));
        assert_eq!(found.len(), 1, "the changes are there");
        let mut alerter = Alerter::new();
        assert_eq!(alerter.observe(&found, at(0), NOON, None, POLL), vec![], "a restart is not news");
        assert_eq!(alerter.observe(&found, at(10), NOON, None, POLL).len(), 1, "the second read is");
    }

    #[test]
    fn a_contact_opening_alerts_once_then_not_within_a_minute_then_again() {
        let (alerter, closed, open) = door_alerter();
        let mut poller = Poller::start(alerter, vec![closed.clone()]);
        let shown = poller.read(vec![open.clone()], 10, NOON, None);
        assert_eq!(
            shown,
            vec![Notification {
                title: "Front Door Sensor opened".into(),
                body: "Front Door Sensor · contact: closed → open".into(),
                device_id: Some(closed.id.clone()),
                summary: false,
            }]
        );
        assert_eq!(poller.read(vec![closed.clone()], 20, NOON, None), vec![], "closing is not news");
        assert_eq!(poller.read(vec![open.clone()], 40, NOON, None), vec![], "30 s later: the same alert");
        assert_eq!(poller.read(vec![closed.clone()], 50, NOON, None), vec![]);
        assert_eq!(poller.read(vec![open.clone()], 69, NOON, None), vec![], "59 s later: still held back");
        assert_eq!(poller.read(vec![closed], 70, NOON, None), vec![]);
        assert_eq!(titles(&poller.read(vec![open], 71, NOON, None)), ["Front Door Sensor opened"], "61 s later");
    }

    #[test]
    fn one_summary_after_a_gap() {
        let (door, leak, lock) = (fixtures::front_door(), fixtures::basement_leak_sensor(), fixtures::front_lock());
        let mut alerter = Alerter::new();
        alerter.set_enabled(&door.id, true);
        alerter.set_enabled(&lock.id, true);
        let mut poller = Poller::start(alerter, vec![door.clone(), leak.clone(), lock.clone()]);
        let after_sleep = vec![
            fixtures::with_value(&door, "contactSensor", "contact", "open"),
            fixtures::with_value(&leak, "waterSensor", "water", "wet"),
            fixtures::with_value(&lock, "lock", "lock", "unlocked"),
        ];
        let shown = poller.read(after_sleep, 2 * 3600, NOON, None);
        assert_eq!(
            shown,
            vec![Notification {
                title: "While away".into(),
                body: "Front Door Sensor opened, Leak detected at Basement, Front Door Lock unlocked".into(),
                device_id: None,
                summary: true,
            }]
        );
    }

    #[test]
    fn the_gap_is_three_polls_but_at_least_five_minutes() {
        assert_eq!(summary_gap(POLL), MIN_SUMMARY_GAP);
        assert_eq!(summary_gap(Duration::from_secs(600)), Duration::from_secs(1800));
        let (alerter, closed, open) = door_alerter();
        let mut poller = Poller::start(alerter, vec![closed]);
        let shown = poller.read(vec![open], 300, NOON, None);
        assert_eq!((shown.len(), shown[0].summary), (1, false), "exactly 5 min is not yet a gap");
    }

    #[test]
    fn a_summary_names_five_and_counts_the_rest() {
        let n =
            |i: usize| Notification { title: format!("T{i}"), body: String::new(), device_id: None, summary: false };
        let shown: Vec<_> = (1..=7).map(n).collect();
        assert_eq!(summary(&shown).body, "T1, T2, T3, T4, T5, and 2 more");
        assert_eq!(summary(&shown[..2]).body, "T1, T2");
    }

    #[test]
    fn a_gap_with_nothing_worth_telling_is_silent() {
        let closed = fixtures::front_door();
        let open = fixtures::with_value(&closed, "contactSensor", "contact", "open");
        let mut poller = Poller::start(Alerter::new(), vec![closed]);
        assert_eq!(poller.read(vec![open], 3600, NOON, None), vec![], "a door's bell is off by default");
    }

    #[test]
    fn quiet_hours_hold_back_a_contact_but_not_a_leak() {
        let (mut alerter, closed, open) = door_alerter();
        alerter.set_quiet_hours(Some((22 * 60, 7 * 60)));
        let dry = fixtures::basement_leak_sensor();
        let wet = fixtures::with_value(&dry, "waterSensor", "water", "wet");
        let mut poller = Poller::start(alerter, vec![closed.clone(), dry.clone()]);
        let three_am = 3 * 60;
        let shown = poller.read(vec![open.clone(), wet], 10, three_am, None);
        assert_eq!(titles(&shown), ["Leak detected at Basement"], "safety alerts always show");
        poller.read(vec![closed, dry], 20, three_am, None);
        let morning = 7 * 60;
        assert_eq!(titles(&poller.read(vec![open], 30, morning, None)), ["Front Door Sensor opened"]);
    }

    #[test]
    fn quiet_hours_may_wrap_midnight() {
        let mut alerter = Alerter::new();
        assert!(!alerter.is_quiet(3 * 60), "none set");
        alerter.set_quiet_hours(Some((22 * 60, 7 * 60)));
        for (minute, quiet) in [
            (21 * 60 + 59, false),
            (22 * 60, true),
            (23 * 60 + 30, true),
            (0, true),
            (6 * 60 + 59, true),
            (7 * 60, false),
            (NOON, false),
        ] {
            assert_eq!(alerter.is_quiet(minute), quiet, "minute {minute}");
        }
        alerter.set_quiet_hours(Some((13 * 60, 14 * 60)));
        assert!(alerter.is_quiet(13 * 60 + 30) && !alerter.is_quiet(23 * 60) && !alerter.is_quiet(12 * 60 + 59));
        alerter.set_quiet_hours(Some((60, 60)));
        assert!(!alerter.is_quiet(60), "equal ends are no quiet hours");
    }

    #[test]
    fn motion_alerts_only_in_away() {
        let still = fixtures::garage_motion();
        let moving = fixtures::with_value(&still, "motionSensor", "motion", "active");
        let mut alerter = Alerter::new();
        alerter.set_enabled(&still.id, true);
        let mut poller = Poller::start(alerter, vec![still.clone()]);
        for (i, mode) in [Some("Home"), None, Some("Night")].into_iter().enumerate() {
            let secs = 100 * i as u64;
            assert_eq!(poller.read(vec![moving.clone()], secs + 10, NOON, mode), vec![], "{mode:?}");
            poller.read(vec![still.clone()], secs + 20, NOON, mode);
        }
        assert_eq!(titles(&poller.read(vec![moving], 310, NOON, Some("away"))), ["Motion at Garage Motion Sensor"]);
    }

    #[test]
    fn defaults_follow_the_kind_and_a_disabled_device_never_alerts() {
        let (dry, still) = (fixtures::basement_leak_sensor(), fixtures::garage_motion());
        let wet = fixtures::with_value(&dry, "waterSensor", "water", "wet");
        let moving = fixtures::with_value(&still, "motionSensor", "motion", "active");
        let mut alerter = Alerter::new();
        assert!(alerter.enabled(&dry) && !alerter.enabled(&still));
        let mut poller = Poller::start(alerter.clone(), vec![dry.clone(), still.clone()]);
        let shown = poller.read(vec![wet.clone(), moving.clone()], 10, NOON, Some("Away"));
        assert_eq!(titles(&shown), ["Leak detected at Basement"], "leak on by default, motion off even in Away");

        alerter.set_enabled(&dry.id, false);
        assert!(!alerter.enabled(&dry));
        let mut poller = Poller::start(alerter, vec![dry.clone()]);
        assert_eq!(poller.read(vec![wet.clone()], 10, NOON, Some("Away")), vec![], "disabled: not even a leak");
        poller.read(vec![dry], 20, NOON, None);
        assert_eq!(poller.read(vec![wet], 3600, NOON, None), vec![], "nor in a summary");
    }

    #[test]
    fn offline_and_back_online_alert_for_a_chosen_device() {
        let up = fixtures::with_health(&fixtures::front_lock(), "ONLINE");
        let down = fixtures::with_health(&up, "OFFLINE");
        let mut poller = Poller::start(Alerter::new(), vec![up.clone()]);
        assert_eq!(poller.read(vec![down.clone()], 10, NOON, None), vec![], "a lock's bell is off by default");

        let mut alerter = Alerter::new();
        alerter.set_enabled(&up.id, true);
        let mut poller = Poller::start(alerter, vec![up.clone()]);
        let shown = poller.read(vec![down], 10, NOON, None);
        assert_eq!(titles(&shown), ["Front Door Lock went offline"]);
        assert_eq!(shown[0].body, format!("Front Door Lock · {HEALTH_ATTRIBUTE}: online → offline"));
        assert_eq!(titles(&poller.read(vec![up], 20, NOON, None)), ["Front Door Lock is back online"]);
        assert_eq!(HEALTH_CAPABILITY, "healthCheck");
    }

    #[test]
    fn the_real_washer_finishing_alerts_once() {
        let (running, stopped) = (fixtures::washer_running(), fixtures::washer_stopped());
        let mut alerter = Alerter::new();
        alerter.set_enabled(&running.id, true);
        let mut poller = Poller::start(alerter, vec![running]);
        let shown = poller.read(vec![stopped], 10, NOON, None);
        assert_eq!(titles(&shown), ["Washer finished"], "one alert among the cycle's many changes");
        assert_eq!(shown[0].device_id.as_deref(), Some("f984b91d-f250-9d42-3436-33f09a422a47"));
    }
}
