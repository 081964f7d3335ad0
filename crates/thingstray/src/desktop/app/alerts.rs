//! What the app's device reads tell beyond the list (issue 29): each read's changes go to
//! the connection's change feed (`thingstray watch` and `GET /v1/events` beside the app)
//! and to its alerter, whose notifications the shell shows. One read serves the tray, the
//! window, the feed and the alerts: nothing here sends a request of its own. What it
//! changes is how often the tray reads: while a device's bell is on or someone listens,
//! at the poll interval (see [`Desktop::keep_tray_fresh`]).

use std::time::{Duration, SystemTime};

use chrono::Timelike;
use serde::Serialize;

use super::{Desktop, Live};
use crate::alerts::{changes, needs_mode, Notification};
use crate::api::Device;
use crate::desktop::prefs::{ConnectionPrefs, DesktopSettings};
use crate::error::{Error, Result};
use crate::events::Feed;

/// Notifications waiting for the shell; more than this while nobody takes them (no
/// notification daemon, a shell stuck) and the oldest go.
const WAITING_MAX: usize = 64;

/// A notification for the shell to show, and where a click on it leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub connection: String,
    #[serde(flatten)]
    pub notification: Notification,
}

/// The local minute of the day at `t`, for quiet hours (the computer's time zone).
fn minute_of_day(t: SystemTime) -> u16 {
    let local = chrono::DateTime::<chrono::Local>::from(t);
    u16::try_from(local.hour() * 60 + local.minute()).unwrap_or(0)
}

impl Live {
    /// Takes a successful read: the devices replace the cached ones, their changes go to
    /// the feed, and the alerts worth telling are returned. The first read after the app
    /// started only sets the baseline (no change, no alert).
    pub(super) fn take_read(
        &mut self,
        devices: Vec<Device>,
        at: SystemTime,
        settings: &DesktopSettings,
        mode: Option<&str>,
    ) -> Vec<Alert> {
        let found = self.baseline.as_deref().map(|before| changes(before, &devices, at)).unwrap_or_default();
        // The user's choices only: a device nobody chose for alerts by each kind's own
        // default (a leak sensor's leaks, not its going offline).
        self.alerter.set_choices(&settings.prefs(&self.conn.name).alerts);
        self.alerter.set_quiet_hours(settings.quiet_hours.as_ref().and_then(|q| q.minutes()));
        let told = self.alerter.observe(&found, at, minute_of_day(at), mode, settings.poll_interval());
        self.baseline = Some(devices.clone());
        self.devices = Some(devices);
        self.feed.set_interval(settings.poll_interval());
        // Nobody read for a while (no bell, no listener): a listener that just came must
        // not hear of what changed before it came, stamped now.
        let stale =
            self.last_read.is_none_or(|t| at.duration_since(t).is_ok_and(|gap| gap > settings.poll_interval() * 2));
        self.feed.publish(found, stale);
        told.into_iter().map(|notification| Alert { connection: self.conn.name.clone(), notification }).collect()
    }

    /// A motion bell is on: motion is told only in Away, so the mode must be current.
    pub(super) fn wants_mode(&self, prefs: &ConnectionPrefs) -> bool {
        let rung = |d: &&Device| prefs.alerts.get(&d.id) == Some(&true);
        self.devices.as_deref().is_some_and(|ds| ds.iter().filter(rung).any(needs_mode))
    }

    /// Someone wants to hear of changes: a device's bell is on, or a listener listens.
    pub(super) fn watched(&self, prefs: &ConnectionPrefs) -> bool {
        self.feed.listening() || self.devices.as_deref().is_some_and(|ds| ds.iter().any(|d| prefs.bell(d)))
    }
}

impl Desktop {
    /// A connection's change feed, fed by this app's reads.
    pub(super) fn new_feed(&self) -> Feed {
        Feed::fed(self.locked_settings().poll_interval(), self.opts.clock.clone(), self.wake.clone())
    }

    /// The change feed of `connection` (else the one the token server serves).
    pub fn feed(&self, connection: Option<&str>) -> Result<(String, Feed)> {
        let name = match connection {
            Some(n) => n.to_string(),
            None => self.served()?.name,
        };
        let feed = self.state().live(&name)?.feed.clone();
        Ok((name, feed))
    }

    /// Queues a read's alerts for the shell.
    pub(super) fn queue_alerts(&self, alerts: Vec<Alert>) {
        if alerts.is_empty() {
            return;
        }
        let mut st = self.state();
        st.alerts.extend(alerts);
        let over = st.alerts.len().saturating_sub(WAITING_MAX);
        st.alerts.drain(..over);
    }

    /// The alerts to show since the last call.
    pub fn take_alerts(&self) -> Vec<Alert> {
        self.state().alerts.drain(..).collect()
    }

    /// Rings or silences a device's bell.
    pub fn set_alerts(&self, connection: &str, device: &str, on: bool) -> Result<DesktopSettings> {
        self.state().live(connection)?;
        let s = self.change_settings(|s| {
            s.set_alerts(connection, device, on);
            Ok(())
        })?;
        // A bell rung on a connection the tray did not read: it reads from now on.
        self.wake.notify_one();
        Ok(s)
    }

    /// Quiet hours, "HH:MM" to "HH:MM" local time; neither end turns them off, one end
    /// alone is refused.
    pub fn set_quiet_hours(&self, start: Option<String>, end: Option<String>) -> Result<DesktopSettings> {
        let hours = match (start, end) {
            (Some(start), Some(end)) => Some((start, end)),
            (None, None) => None,
            _ => {
                return Err(Error::InvalidSetting {
                    field: "quiet_hours".into(),
                    why: "give both the start and the end (or neither, to turn quiet hours off)".into(),
                })
            }
        };
        self.change_settings(|s| s.set_quiet_hours(hours.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))))
    }

    /// Waits `wait`, or until a reason to read sooner comes (a listener arrived, a bell
    /// was rung).
    pub(super) async fn nap(&self, wait: Duration) {
        let wake = self.wake.clone();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::signed_in;

    /// The simulator's home (pysmartthings payloads): a contact sensor and a leak sensor.
    const FRONT_DOOR: &str = "7d246592-93db-4d72-a10d-5a51793ece8c";

    /// The id of the demo home's first online device with `capability`, as last read.
    fn device_with(e: &super::super::tests::Env, capability: &str) -> String {
        let st = e.desktop.state();
        let devices = st.live["demo"].devices.as_deref().unwrap();
        devices.iter().find(|d| d.has_capability(capability) && d.online != Some(false)).unwrap().id.clone()
    }

    fn device_reads(e: &super::super::tests::Env) -> u64 {
        e.sim.stats().routes.get("GET /v1/devices").copied().unwrap_or(0)
    }

    #[tokio::test]
    async fn one_read_gives_the_bell_its_alert_and_the_feed_its_change() {
        let e = signed_in().await;
        let row = |e: &super::super::tests::Env| {
            let list = e.desktop.cached_device_list("demo").unwrap();
            list.rooms.iter().flat_map(|r| r.devices.clone()).find(|d| d.id == FRONT_DOOR).unwrap()
        };
        assert!(!row(&e).alerts, "a door's bell is off until the user rings it");
        e.desktop.set_alerts("demo", FRONT_DOOR, true).unwrap();
        assert!(row(&e).alerts);
        assert_eq!(e.desktop.set_alerts("cabin", FRONT_DOOR, true).unwrap_err().code(), "unknown_connection");
        let (name, feed) = e.desktop.feed(None).unwrap();
        assert_eq!(name, "demo");
        let mut rx = feed.subscribe();

        e.sim.set_device_status(FRONT_DOOR, "main", "contactSensor", "contact", json!("open"), None).unwrap();
        let reads = device_reads(&e);
        e.desktop.refresh_devices("demo").await.unwrap();
        assert_eq!(device_reads(&e) - reads, 1, "one read for the tray, the bell and the feed");

        let alerts = e.desktop.take_alerts();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].connection, "demo");
        assert_eq!(alerts[0].notification.title, "Front Door Sensor opened");
        assert_eq!(alerts[0].notification.device_id.as_deref(), Some(FRONT_DOOR));
        assert!(e.desktop.take_alerts().is_empty(), "taken once");
        let change = rx.try_recv().expect("the change reached the listener");
        assert_eq!((change.attribute.as_str(), change.new.clone()), ("contact", Some(json!("open"))));

        // Closed and opened again within the minute: the door is shown once.
        e.sim.set_device_status(FRONT_DOOR, "main", "contactSensor", "contact", json!("closed"), None).unwrap();
        e.desktop.refresh_devices("demo").await.unwrap();
        e.sim.set_device_status(FRONT_DOOR, "main", "contactSensor", "contact", json!("open"), None).unwrap();
        e.desktop.refresh_devices("demo").await.unwrap();
        assert!(e.desktop.take_alerts().is_empty(), "debounced");
        assert_eq!(rx.try_recv().unwrap().new, Some(json!("closed")), "the feed tells every change");

        // The bell silenced: the feed still tells, no alert.
        e.desktop.set_alerts("demo", FRONT_DOOR, false).unwrap();
        e.sim.set_device_status(FRONT_DOOR, "main", "contactSensor", "contact", json!("closed"), None).unwrap();
        e.desktop.refresh_devices("demo").await.unwrap();
        assert!(e.desktop.take_alerts().is_empty());
    }

    #[tokio::test]
    async fn the_tray_reads_on_its_own_only_while_a_bell_rings_or_someone_listens() {
        let e = signed_in().await;
        let settings = e.desktop.settings();
        let watched = |e: &super::super::tests::Env| {
            let s = e.desktop.settings();
            let st = e.desktop.state();
            st.live["demo"].watched(&s.prefs("demo"))
        };
        // The demo home has a leak sensor: its bell is on by default.
        assert!(watched(&e), "{settings:?}");
        let on: Vec<String> = {
            let list = e.desktop.cached_device_list("demo").unwrap();
            list.rooms.iter().flat_map(|r| r.devices.iter()).filter(|d| d.alerts).map(|d| d.id.clone()).collect()
        };
        assert!(!on.is_empty());
        for id in &on {
            e.desktop.set_alerts("demo", id, false).unwrap();
        }
        assert!(!watched(&e), "every bell off, nobody listening");
        let (_, feed) = e.desktop.feed(Some("demo")).unwrap();
        let rx = feed.subscribe();
        assert!(watched(&e), "a listener");
        drop(rx);
        assert!(!watched(&e));
    }

    #[tokio::test]
    async fn motion_alerts_only_while_the_location_is_in_away() {
        let e = signed_in().await;
        let motion = device_with(&e, "motionSensor");
        let location = e.desktop.state().live["demo"].modes.location().expect("the modes were read").to_string();
        e.desktop.set_alerts("demo", &motion, true).unwrap();
        let moved = |value: &str| {
            e.sim.set_device_status(&motion, "main", "motionSensor", "motion", json!(value), None).unwrap();
        };
        moved("active");
        e.desktop.refresh_devices("demo").await.unwrap();
        assert!(e.desktop.take_alerts().is_empty(), "at Home, motion is the family");
        moved("inactive");
        e.desktop.refresh_devices("demo").await.unwrap();

        // Someone sets Away in the SmartThings app. With a motion bell on, the mode is
        // read with each read, not only with the places (every 10 minutes).
        assert!(e.sim.set_current_mode(&location, "Away"));
        moved("active");
        e.desktop.refresh_devices("demo").await.unwrap();
        assert_eq!(e.desktop.location_mode("demo").as_deref(), Some("Away"));
        let alerts = e.desktop.take_alerts();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert!(alerts[0].notification.title.starts_with("Motion at"), "{alerts:?}");
    }

    #[tokio::test]
    async fn a_leak_sensor_tells_its_leaks_by_default_and_its_health_only_when_rung() {
        let e = signed_in().await;
        let leak = device_with(&e, "waterSensor");
        e.sim.set_device_health(&leak, false);
        e.desktop.refresh_devices("demo").await.unwrap();
        assert!(e.desktop.take_alerts().is_empty(), "its bell shows on for leaks, not for every kind");
        e.sim.set_device_health(&leak, true);
        e.desktop.refresh_devices("demo").await.unwrap();
        e.sim.set_device_status(&leak, "main", "waterSensor", "water", json!("wet"), None).unwrap();
        e.desktop.refresh_devices("demo").await.unwrap();
        let alerts = e.desktop.take_alerts();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert!(alerts[0].notification.title.starts_with("Leak detected"), "{alerts:?}");
        // Rung by the user: every kind.
        e.desktop.set_alerts("demo", &leak, true).unwrap();
        e.sim.set_device_health(&leak, false);
        e.desktop.refresh_devices("demo").await.unwrap();
        let alerts = e.desktop.take_alerts();
        assert!(alerts.iter().any(|a| a.notification.title.ends_with("went offline")), "{alerts:?}");
    }

    #[tokio::test]
    async fn a_change_the_app_made_is_a_change_to_listeners_and_no_alert_backwards() {
        let e = signed_in().await;
        let lock = device_with(&e, "lock");
        e.desktop.set_alerts("demo", &lock, true).unwrap();
        let (_, feed) = e.desktop.feed(None).unwrap();
        let mut rx = feed.subscribe();
        e.desktop.device_command("demo", &lock, "lock", "unlock", vec![], true).await.unwrap();
        // The command's read-back is in the cache at once; the next read tells listeners.
        e.desktop.refresh_devices("demo").await.unwrap();
        let change = rx.try_recv().expect("the app's own change reaches watch");
        assert_eq!((change.attribute.as_str(), change.new.clone()), ("lock", Some(json!("unlocked"))));
        let alerts = e.desktop.take_alerts();
        assert_eq!(alerts.len(), 1, "unlocked is told once: {alerts:?}");
        e.desktop.refresh_devices("demo").await.unwrap();
        assert!(rx.try_recv().is_err() && e.desktop.take_alerts().is_empty(), "and not again");
    }

    #[tokio::test]
    async fn a_listener_after_a_quiet_hour_hears_nothing_from_before_it_came() {
        let e = signed_in().await;
        e.sim.set_device_status(FRONT_DOOR, "main", "contactSensor", "contact", json!("open"), None).unwrap();
        // Nobody read for an hour: the cache is that old when a listener comes.
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        e.desktop.state().live.get_mut("demo").unwrap().last_read = Some(hour_ago);
        let (_, feed) = e.desktop.feed(None).unwrap();
        let mut rx = feed.subscribe();
        e.desktop.refresh_devices("demo").await.unwrap();
        assert!(rx.try_recv().is_err(), "the door opened before the listener came");
        e.sim.set_device_status(FRONT_DOOR, "main", "contactSensor", "contact", json!("closed"), None).unwrap();
        e.desktop.refresh_devices("demo").await.unwrap();
        assert_eq!(rx.try_recv().unwrap().new, Some(json!("closed")), "what happens after, it hears");
    }

    #[tokio::test]
    async fn quiet_hours_are_checked_and_kept() {
        let e = signed_in().await;
        let s = e.desktop.set_quiet_hours(Some("22:00".into()), Some("07:00".into())).unwrap();
        assert_eq!(s.quiet_hours.and_then(|q| q.minutes()), Some((22 * 60, 7 * 60)));
        let e2 = e.desktop.set_quiet_hours(Some("25:00".into()), Some("07:00".into())).unwrap_err();
        assert_eq!(e2.code(), "invalid_setting");
        let half = e.desktop.set_quiet_hours(Some("22:00".into()), None).unwrap_err();
        assert_eq!(half.code(), "invalid_setting", "one end alone is no choice");
        assert!(e.desktop.settings().quiet_hours.is_some(), "a refused change keeps the hours");
        assert_eq!(e.desktop.set_quiet_hours(None, None).unwrap().quiet_hours, None);
    }
}
