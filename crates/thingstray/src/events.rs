//! One poller for everyone who wants to know what changed (issue 29): `thingstray watch`
//! (over the agent socket), the token server's `GET /v1/events` and the alerts subscribe
//! to one [`Feed`]. The feed reads the device list only while someone listens, at one
//! interval, so a second listener never adds a request to SmartThings, and a machine with
//! no listener sends nothing.
//!
//! SmartThings has no push for OAuth-In apps (the `sse` scope is for select apps, and
//! webhooks need a public server), so a change is seen at the next read: the delay is at
//! most one interval. The first read after the poller starts is the baseline: a listener
//! hears of changes from the second read on, never of the state it joined in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{broadcast, Notify};

use crate::alerts::{changes, Change};
use crate::api::Api;
use crate::api::Device;
use crate::clock::Clock;
use crate::error::{Error, Result};

/// Changes a listener may fall behind by before it is told it missed some.
const BACKLOG: usize = 1024;

type Read = Arc<dyn Fn() -> BoxFuture<'static, Result<Vec<Device>>> + Send + Sync>;

/// Finds the feed to listen to, with its connection's name, when a listener arrives (the
/// desktop app's served connection may change, or open later, while it runs).
pub type FeedOf = Arc<dyn Fn() -> Result<(String, Feed)> + Send + Sync>;

/// The change feed of one connection's devices. Cheap to clone: clones share the poller.
#[derive(Clone)]
pub struct Feed {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None`: the feed is fed (the desktop app's reads, which also fill the tray and the
    /// window, are published to it), and `arrived` tells its owner a listener came.
    read: Option<Read>,
    /// Milliseconds; a fed feed's owner may change it (the app's poll interval setting).
    interval_ms: AtomicU64,
    arrived: Arc<Notify>,
    /// A fed feed's first listener arrived after nobody listened: the owner's last read
    /// may be hours old, so the next read is the new baseline, not a change.
    rebase: std::sync::atomic::AtomicBool,
    clock: Arc<dyn Clock>,
    tx: broadcast::Sender<Arc<Change>>,
    /// Whether a poller runs; held while subscribing and while a poller decides to stop,
    /// so a listener arriving as the last one leaves never finds no poller.
    running: Mutex<bool>,
    reads: AtomicU64,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").field("interval", &self.interval()).finish_non_exhaustive()
    }
}

impl Feed {
    /// A feed that reads the device list (with status) through `api` every `interval`.
    pub fn for_api(api: Api, interval: Duration, clock: Arc<dyn Clock>) -> Feed {
        let api = Arc::new(api);
        Feed::new(
            move || {
                let api = api.clone();
                Box::pin(async move { api.devices().await })
            },
            interval,
            clock,
        )
    }

    /// A feed over any reader of the device list (tests read a script of payloads).
    pub fn new(
        read: impl Fn() -> BoxFuture<'static, Result<Vec<Device>>> + Send + Sync + 'static,
        interval: Duration,
        clock: Arc<dyn Clock>,
    ) -> Feed {
        Feed::with(Some(Arc::new(read)), interval, clock, Arc::new(Notify::new()))
    }

    /// A feed with no poller of its own: its owner reads the devices anyway (the desktop
    /// app, for the tray and the window) and hands each read's changes to [`Feed::publish`].
    /// `arrived` is notified when a listener subscribes, so the owner reads while someone
    /// listens ([`Feed::listening`]) and not only when it would have.
    pub fn fed(interval: Duration, clock: Arc<dyn Clock>, arrived: Arc<Notify>) -> Feed {
        Feed::with(None, interval, clock, arrived)
    }

    fn with(read: Option<Read>, interval: Duration, clock: Arc<dyn Clock>, arrived: Arc<Notify>) -> Feed {
        let (tx, _) = broadcast::channel(BACKLOG);
        Feed {
            inner: Arc::new(Inner {
                read,
                interval_ms: AtomicU64::new(millis(interval)),
                arrived,
                rebase: std::sync::atomic::AtomicBool::new(false),
                clock,
                tx,
                running: Mutex::new(false),
                reads: AtomicU64::new(0),
            }),
        }
    }

    /// A fed feed's read: its changes go to every listener (none listening: dropped).
    /// `stale`: the read before it is old (nobody was reading); if a listener arrived
    /// since the last publish and nobody listened before, these changes are against a
    /// state it never saw, and the read is only its baseline.
    pub fn publish(&self, changes: impl IntoIterator<Item = Change>, stale: bool) {
        self.inner.reads.fetch_add(1, Ordering::Relaxed);
        if self.inner.rebase.swap(false, Ordering::SeqCst) && stale {
            return;
        }
        for change in changes {
            let _ = self.inner.tx.send(Arc::new(change));
        }
    }

    /// Whether anyone listens now.
    pub fn listening(&self) -> bool {
        self.inner.tx.receiver_count() > 0
    }

    pub fn set_interval(&self, interval: Duration) {
        self.inner.interval_ms.store(millis(interval), Ordering::Relaxed);
    }

    /// Starts listening (and the poller, if none runs). Dropping the receiver stops
    /// listening; the poller stops after its current wait once nobody listens.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        let mut running = self.inner.running.lock().unwrap_or_else(|p| p.into_inner());
        let first = self.inner.tx.receiver_count() == 0;
        let rx = self.inner.tx.subscribe();
        if self.inner.read.is_none() {
            if first {
                self.inner.rebase.store(true, Ordering::SeqCst);
            }
            // A stored permit: the owner wakes even if it was not waiting at this moment.
            self.inner.arrived.notify_one();
        } else if !*running {
            *running = true;
            tokio::spawn(poll(self.inner.clone()));
        }
        rx
    }

    /// Device-list reads made so far (what a listener costs SmartThings).
    pub fn reads(&self) -> u64 {
        self.inner.reads.load(Ordering::Relaxed)
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.inner.interval_ms.load(Ordering::Relaxed))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn poll(inner: Arc<Inner>) {
    let Some(read) = inner.read.clone() else { return };
    let mut before: Option<Vec<Device>> = None;
    loop {
        {
            let mut running = inner.running.lock().unwrap_or_else(|p| p.into_inner());
            if inner.tx.receiver_count() == 0 {
                *running = false;
                return;
            }
        }
        inner.reads.fetch_add(1, Ordering::Relaxed);
        let interval = Duration::from_millis(inner.interval_ms.load(Ordering::Relaxed));
        let wait = match read().await {
            Ok(after) => {
                if let Some(before) = &before {
                    for change in changes(before, &after, inner.clock.now()) {
                        // No receiver: everyone left since the check; the next one stops.
                        let _ = inner.tx.send(Arc::new(change));
                    }
                }
                before = Some(after);
                interval
            }
            // SmartThings' limit is the app's: no read before it ends, whoever listens.
            Err(Error::RateLimited { retry_after }) => retry_after.max(interval),
            Err(e) => {
                // The baseline is kept: a change across a failed read is still seen.
                tracing::warn!(code = e.code(), "could not read the devices for the change feed: {e}");
                interval
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// A change as one line of `thingstray watch`: time, device, what changed, old -> new.
pub fn describe(c: &Change) -> String {
    describe_json(&serde_json::to_value(c).unwrap_or_default())
}

/// The same, from a change's JSON (as the agent streams it).
pub fn describe_json(c: &serde_json::Value) -> String {
    let text = |k: &str| c.get(k).and_then(serde_json::Value::as_str).unwrap_or("?").to_string();
    let value = |k: &str| match c.get(k) {
        None | Some(serde_json::Value::Null) => "-".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let unit = c.get("unit").and_then(serde_json::Value::as_str).map(|u| format!(" {u}")).unwrap_or_default();
    let at = crate::clock::utc(c.get("at").and_then(serde_json::Value::as_u64).unwrap_or(0));
    let component = match text("component").as_str() {
        "main" => String::new(),
        other => format!("{other}/"),
    };
    format!(
        "{at}  {}  {component}{}.{}  {} -> {}{unit}",
        text("device_label"),
        text("capability"),
        text("attribute"),
        value("old"),
        value("new")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use serde_json::json;

    fn lamp(switch: &str) -> Device {
        let v = json!({
            "deviceId": "lamp-1", "label": "Lamp",
            "components": [{"id": "main", "capabilities": [{"id": "switch"}],
                            "status": {"switch": {"switch": {"value": switch}}}}]
        });
        Device::from_json(&v).expect("a device")
    }

    /// A feed over a script of reads, one per call; the script's last read repeats.
    fn scripted(reads: Vec<Vec<Device>>) -> Feed {
        let reads = Arc::new(Mutex::new(reads));
        Feed::new(
            move || {
                let reads = reads.clone();
                Box::pin(async move {
                    let mut r = reads.lock().unwrap();
                    Ok(if r.len() > 1 { r.remove(0) } else { r[0].clone() })
                })
            },
            Duration::from_millis(5),
            Arc::new(ManualClock::new()),
        )
    }

    #[tokio::test]
    async fn two_listeners_share_one_poller_and_the_first_read_is_no_change() {
        let feed = scripted(vec![vec![lamp("off")], vec![lamp("on")]]);
        let (mut a, mut b) = (feed.subscribe(), feed.subscribe());
        let (ca, cb) = (a.recv().await.unwrap(), b.recv().await.unwrap());
        assert_eq!((ca.attribute.as_str(), ca.new.clone()), ("switch", Some(json!("on"))));
        assert!(Arc::ptr_eq(&ca, &cb), "one change, one read, both listeners");
        assert_eq!(ca.old, Some(json!("off")), "the baseline read was not a change itself");
    }

    #[tokio::test]
    async fn the_poller_stops_when_the_last_listener_leaves_and_starts_again() {
        let feed = scripted(vec![vec![lamp("off")], vec![lamp("on")]]);
        let mut rx = feed.subscribe();
        rx.recv().await.unwrap();
        drop(rx);
        // The poller notices at its next turn and stops.
        let stopped = async {
            loop {
                if !*feed.inner.running.lock().unwrap() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), stopped).await.expect("the poller stops");
        let _rx = feed.subscribe();
        assert!(*feed.inner.running.lock().unwrap(), "a new listener starts it again");
    }

    #[tokio::test]
    async fn a_fed_feed_wakes_its_owner_and_passes_on_what_it_is_given() {
        let arrived = Arc::new(Notify::new());
        let feed = Feed::fed(Duration::from_secs(30), Arc::new(ManualClock::new()), arrived.clone());
        assert!(!feed.listening());
        feed.publish(changes(&[lamp("off")], &[lamp("on")], std::time::UNIX_EPOCH), false);
        let mut rx = feed.subscribe();
        // The permit was stored: the owner, not yet waiting, still hears of the listener.
        tokio::time::timeout(Duration::from_secs(10), arrived.notified()).await.expect("the owner is told");
        assert!(feed.listening() && !*feed.inner.running.lock().unwrap(), "no poller of its own");
        // The first read after nobody listened, against a cache hours old: a baseline.
        feed.publish(changes(&[lamp("off")], &[lamp("on")], std::time::UNIX_EPOCH), true);
        assert!(rx.try_recv().is_err(), "no stale change for a new listener");
        feed.publish(changes(&[lamp("on")], &[lamp("off")], std::time::UNIX_EPOCH), true);
        let got = rx.recv().await.unwrap();
        assert_eq!(got.new, Some(json!("off")), "only what came after it subscribed");
        drop(rx);
        assert!(!feed.listening());
    }

    #[test]
    fn a_line_says_device_attribute_old_and_new() {
        let c = Change {
            device_id: "d".into(),
            device_label: "Front door".into(),
            component: "main".into(),
            capability: "contactSensor".into(),
            attribute: "contact".into(),
            old: Some(json!("closed")),
            new: Some(json!("open")),
            unit: None,
            at: crate::clock::from_unix_ms(1_796_000_000_000),
        };
        let line = describe(&c);
        assert!(line.ends_with("Front door  contactSensor.contact  closed -> open"), "{line}");
        assert!(line.starts_with("2026-"), "{line}");
    }
}
