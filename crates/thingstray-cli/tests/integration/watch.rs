//! `thingstray watch` and `GET /v1/events` (issue 29): one line per change, as the running
//! `thingstray serve` sees them (one poller for every listener), else from watch's own
//! reads when no server runs.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::common::{Home, PATIENCE};

const FRONT_DOOR: &str = "7d246592-93db-4d72-a10d-5a51793ece8c";

fn device_reads(h: &Home) -> u64 {
    h.sim.stats().routes.get("GET /v1/devices").copied().unwrap_or(0)
}

/// Until the sim has answered `n` device-list reads (the feed's baseline, say).
async fn reads_reach(h: &Home, n: u64) {
    tokio::time::timeout(PATIENCE, async {
        while device_reads(h) < n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{n} device reads; saw {}", device_reads(h)));
}

fn open_front_door(h: &Home) {
    h.sim.set_device_status(FRONT_DOOR, "main", "contactSensor", "contact", json!("open"), None).unwrap();
}

/// A stdout line of a child, within PATIENCE.
async fn line(out: &mut BufReader<tokio::process::ChildStdout>) -> String {
    let mut l = String::new();
    tokio::time::timeout(PATIENCE, out.read_line(&mut l)).await.expect("a line in time").unwrap();
    l
}

fn assert_door_opened(v: &Value) {
    assert_eq!(v["device_id"], FRONT_DOOR, "{v}");
    assert_eq!(v["device_label"], "Front Door Sensor");
    assert_eq!((v["capability"].as_str(), v["attribute"].as_str()), (Some("contactSensor"), Some("contact")));
    assert_eq!((v["old"].clone(), v["new"].clone()), (json!("closed"), json!("open")));
    assert!(v["at"].as_u64().is_some_and(|t| t > 1_700_000_000), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_and_the_event_stream_share_the_servers_one_poller() {
    let h = Home::new().await;
    h.signed_in().await;
    let secret = h.run(&["serve", "--print-secret"]).await.ok().stdout.trim().to_string();
    let mut server = h.cmd(&["serve", "--port", "0", "--events-interval", "3"]).spawn().unwrap();
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let listening = line(&mut out).await;
    let url = listening.trim().strip_prefix("listening on ").expect("an address").to_string();
    let mut err = BufReader::new(server.stderr.take().unwrap());
    tokio::spawn(async move { while err.read_line(&mut String::new()).await.is_ok_and(|n| n > 0) {} });
    tokio::spawn(async move { while out.read_line(&mut String::new()).await.is_ok_and(|n| n > 0) {} });
    assert_eq!(device_reads(&h), 0, "nobody listens: nothing is read");

    // Both listeners before the baseline read, so both hear of the same change.
    let http = reqwest::Client::new();
    let refused = http.get(format!("{url}/v1/events")).send().await.unwrap();
    assert_eq!(refused.status(), 401, "the stream needs the server secret like every path");
    let mut sse = http.get(format!("{url}/v1/events")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(sse.status(), 200);
    assert_eq!(sse.headers()["content-type"], "text/event-stream");
    let mut watch = h.cmd(&["watch", "--json"]).stderr(Stdio::piped()).spawn().unwrap();
    let mut said = String::new();
    let mut werr = BufReader::new(watch.stderr.take().unwrap());
    tokio::time::timeout(PATIENCE, werr.read_line(&mut said)).await.unwrap().unwrap();
    assert!(said.contains("through the running app or server") && said.contains("every 3 s"), "{said}");
    let mut wout = BufReader::new(watch.stdout.take().unwrap());
    reads_reach(&h, 1).await;
    let started = std::time::Instant::now();
    open_front_door(&h);

    let from_watch: Value = serde_json::from_str(&line(&mut wout).await).unwrap();
    assert_door_opened(&from_watch);
    let mut text = String::new();
    let from_sse: Value = tokio::time::timeout(PATIENCE, async {
        loop {
            let chunk = sse.chunk().await.unwrap().expect("the stream stays open");
            text.push_str(&String::from_utf8_lossy(&chunk));
            if let Some(data) = text.split("event: change\ndata: ").nth(1).and_then(|d| d.split('\n').next()) {
                return serde_json::from_str(data).unwrap();
            }
        }
    })
    .await
    .expect("the change on the event stream");
    assert_eq!(from_sse, from_watch, "the same change from the same read, time included");
    // Two pollers would read twice per interval; one reads once (plus the baseline).
    let intervals = started.elapsed().as_secs() / 3 + 1;
    assert!(device_reads(&h) <= 1 + intervals, "{} reads in {intervals} intervals", device_reads(&h));

    watch.kill().await.unwrap();
    server.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_without_a_server_reads_by_itself_and_prints_words() {
    let h = Home::new().await;
    h.signed_in().await;
    let mut watch = h.cmd(&["watch", "--interval", "2"]).stderr(Stdio::piped()).spawn().unwrap();
    let mut werr = BufReader::new(watch.stderr.take().unwrap());
    let mut said = String::new();
    tokio::time::timeout(PATIENCE, werr.read_line(&mut said)).await.unwrap().unwrap();
    assert!(said.contains("reading the devices every 2 s"), "{said}");
    let mut wout = BufReader::new(watch.stdout.take().unwrap());
    reads_reach(&h, 1).await;
    open_front_door(&h);
    let l = line(&mut wout).await;
    assert!(l.trim_end().ends_with("Front Door Sensor  contactSensor.contact  closed -> open"), "{l:?}");
    watch.kill().await.unwrap();
    let mut rest = String::new();
    let _ = werr.read_to_string(&mut rest).await;
    assert!(!rest.contains("panicked"), "{rest}");
}
