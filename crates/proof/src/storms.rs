//! Refresh storms: the ways a client can end up calling the token endpoint over and over,
//! counted per simulated hour against the bound the session promises.
//!
//! - (a) tokens that live 0 or 2 seconds (a misbehaving proxy, a test server): the
//!   background refresher of a long-running process (tray app, `thingstray serve`) would
//!   rotate as fast as the network allows, and every ask for a token would rotate;
//!   `session::MIN_REFRESH_GAP` (5 s) bounds both to 720 an hour.
//! - (b) a script asking for more validity than a token has (`thingstray token
//!   --min-valid 1h` in a loop, tokens of 10 minutes): once a refresh has shown the
//!   lifetime, asks fail at once until the token has expired, so at most one refresh per
//!   token lifetime, and at most one per `MIN_REFRESH_GAP` however short the tokens: the
//!   same gap bounds a loop of asks against tokens of 0 s, checked beside (a).
//! - (c) an API address that answers 401 to everything (a wrong `api_url`, a proxy),
//!   polled every 10 s as the device window does: a 401 replaces the token at most once
//!   per `session::REJECTED_REFRESH_GAP` (5 min), so at most 12 an hour.
//!
//! (b) and (c) step the shared clock from this one task, so they are exact and take well
//! under a second per simulated hour. (a) needs the refresher running on its own: the clock
//! runs accelerated instead (as in the soak), and the refresher looks at it every 5 ms.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use smartthings_sim::SimConfig;
use thingstray::config::Config;
use thingstray::session::{SessionOptions, MIN_REFRESH_GAP, REJECTED_REFRESH_GAP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::report::Section;
use crate::world::{World, CONNECTION};

const HOUR: Duration = Duration::from_secs(3_600);
const TIMEOUT: Duration = Duration::from_secs(10);

/// Token-endpoint requests the simulator has seen, whatever their outcome.
fn token_calls(w: &World) -> u64 {
    w.sim.stats().token_requests
}

/// Per simulated hour, from `calls` over `span`.
fn per_hour(calls: u64, span: Duration) -> f64 {
    calls as f64 * HOUR.as_secs_f64() / span.as_secs_f64()
}

/// How many refreshes a gap of `gap` allows in `span`, counting one at the very start.
fn allowed(span: Duration, gap: Duration) -> u64 {
    span.as_millis().div_ceil(gap.as_millis().max(1)) as u64
}

/// (a) A long-running process, idle but for its background refresher, for `span` of
/// simulated time at `accel` times real time.
async fn refresher(expires_in: u64, span: Duration, accel: u64) -> u64 {
    let w = World::start(SimConfig { expires_in, ..SimConfig::default() }).await;
    // The refresher sleeps at most `wall_clock_check` (real time) before it looks at the
    // clock again; 5 ms is 0.6 simulated s at 120x, well inside the 5 s gap being tested.
    let opts = SessionOptions { wall_clock_check: Duration::from_millis(5), ..SessionOptions::default() };
    let conn = w.shared().connection(opts, TIMEOUT).await.expect("the connection opens");
    let before = token_calls(&w);
    let refresher = conn.session.spawn_refresher();
    let started = Instant::now();
    let span_ms = span.as_millis() as u64;
    loop {
        let target = ((started.elapsed().as_secs_f64() * accel as f64) * 1000.0) as u64;
        let target = target.min(span_ms);
        let now = w.clock.offset_ms();
        if target > now {
            w.jump(Duration::from_millis(target - now));
        }
        if target >= span_ms {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    refresher.abort();
    token_calls(&w) - before
}

/// What a loop of one-shot asks saw: token calls, and the answers by code.
struct Asks {
    calls: u64,
    answers: BTreeMap<&'static str, u64>,
}

/// (b) `thingstray token --min-valid MIN` every `every`, a fresh process each time (config,
/// vault and session opened anew, `probe_vault` on as the CLI has it), for `span`. With
/// `long_lived`, one session answers every ask instead, as `thingstray serve` does.
async fn loop_asks(expires_in: u64, min_valid: Duration, every: Duration, span: Duration, long_lived: bool) -> Asks {
    let w = World::start(SimConfig { expires_in, ..SimConfig::default() }).await;
    let shared = w.shared();
    let server = match long_lived {
        true => Some(shared.connection(SessionOptions::default(), TIMEOUT).await.expect("the connection opens")),
        false => None,
    };
    let before = token_calls(&w);
    let mut answers = BTreeMap::new();
    let steps = span.as_millis() / every.as_millis();
    for _ in 0..steps {
        let opts = SessionOptions { probe_vault: true, ..SessionOptions::default() };
        let conn = match &server {
            Some(c) => Ok(c.clone()),
            None => shared.connection(opts, TIMEOUT).await,
        };
        let got = match conn {
            Ok(conn) => conn.session.token_valid_for(min_valid).await.map(|_| ()),
            Err(e) => Err(e),
        };
        *answers.entry(got.err().map_or("ok", |e| e.code())).or_default() += 1;
        w.jump(every);
    }
    Asks { calls: token_calls(&w) - before, answers }
}

/// An API that answers 401 to every request, closing each connection.
async fn refusing_api() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        const ANSWER: &[u8] = b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Read the request head, then answer: a client may wait for its write to finish.
                let mut buf = [0u8; 4096];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = sock.write_all(ANSWER).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}/v1")
}

/// (c) The device window's poll (`GET /v1/devices` through the core's API client) every
/// `every` for `span`, against an API that refuses every token.
async fn polled_401(every: Duration, span: Duration) -> Asks {
    let w = World::start(SimConfig::default()).await;
    let api = refusing_api().await;
    Config::update(&w.paths, |c| {
        c.connections.get_mut(CONNECTION).expect("home").api_url = api;
        Ok(())
    })
    .expect("settings saved");
    let conn = w.shared().connection(SessionOptions::default(), TIMEOUT).await.expect("the connection opens");
    let before = token_calls(&w);
    let mut answers = BTreeMap::new();
    for _ in 0..span.as_millis() / every.as_millis() {
        let got = conn.api.devices().await.map(|_| ());
        *answers.entry(got.err().map_or("ok", |e| e.code())).or_default() += 1;
        w.jump(every);
    }
    Asks { calls: token_calls(&w) - before, answers }
}

fn answers(a: &Asks) -> String {
    a.answers.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

pub async fn run(quick: bool) -> Section {
    let mut s = Section::new("Storms: token-endpoint calls per simulated hour");
    s.intro(
        "Each case counts every request that reaches the simulator's token endpoint (answered or refused) over a \
         stretch of simulated time, and states the bound the session keeps whatever the inputs. The loops of \
         `thingstray token` (each run a fresh connection: config, file vault and session opened anew, `probe_vault` on \
         as the CLI has it) and the polls step the shared clock by their interval between calls (exact, no timing \
         involved); with the background refresher nothing else acts, so the clock runs at 120x real time instead and \
         the refresher looks at it every 5 ms (0.6 simulated s). Without the bounds each case rotates on every look or every call: \
         (a) as fast as the network allows or once per ask (3,600 an hour here), (b) 360 an hour, (c) 360 an hour.",
    );
    let gap = MIN_REFRESH_GAP;
    // (a) Tokens of 0 and 2 s, a long-running process idle in the tray.
    let span_a = if quick { Duration::from_secs(10 * 60) } else { HOUR };
    for expires_in in [0, 2] {
        let started = Instant::now();
        let calls = refresher(expires_in, span_a, 120).await;
        let bound = allowed(span_a, gap);
        s.check(
            &format!(
                "(a) tokens of {}, the background refresher alone (tray app, `thingstray serve`)",
                human(expires_in)
            ),
            format!(
                "{calls} calls in {} simulated min = {:.0}/h ({:.1} s wall)",
                span_a.as_secs() / 60,
                per_hour(calls, span_a),
                started.elapsed().as_secs_f64()
            ),
            &format!("≥ 1 and ≤ {bound} (one per {} s: ≤ {}/h)", gap.as_secs(), allowed(HOUR, gap)),
            calls >= 1 && calls <= bound,
        );
    }
    // (a, asks) The same tokens asked for: `thingstray token` in a retry loop (a new process
    // each run, no refresher) and the session `thingstray serve` answers `GET /v1/token`
    // from. A token of 0 s is always expired, so only the gap stops a refresh per ask.
    let span = Duration::from_secs(10 * 60);
    for (long_lived, who) in [
        (false, "`thingstray token` every 1s for 10m (a retry loop)"),
        (true, "`thingstray serve`'s session asked for 5m of validity every 1s for 10m (what `GET /v1/token` does)"),
    ] {
        let a = loop_asks(0, Duration::from_secs(300), Duration::from_secs(1), span, long_lived).await;
        let bound = allowed(span, gap);
        s.check(
            &format!("(a) {who}, tokens of 0s"),
            format!("{} ({}); answers: {}", calls_text(a.calls), rate(a.calls, span), answers(&a)),
            &format!("≥ 1 and ≤ {bound} (one per {} s: ≤ {}/h)", gap.as_secs(), allowed(HOUR, gap)),
            a.calls >= 1 && a.calls <= bound && !a.answers.contains_key("ok"),
        );
    }
    // (b) Asking for more than a token lives, in a loop.
    let mut cases_b =
        vec![(600, HOUR, Duration::from_secs(10), HOUR), (2, Duration::from_secs(300), Duration::from_secs(1), span)];
    if !quick {
        cases_b.push((86_400, 25 * HOUR, Duration::from_secs(60), 24 * HOUR));
    }
    for (expires_in, min_valid, every, span) in cases_b {
        let a = loop_asks(expires_in, min_valid, every, span, false).await;
        // A token shorter than the gap counts as living the gap (asks fail fast that long).
        let life = Duration::from_secs(expires_in).max(gap);
        let bound = allowed(span, life);
        s.check(
            &format!(
                "(b) `thingstray token --min-valid {}` every {} for {}, tokens of {}",
                human(min_valid.as_secs()),
                human(every.as_secs()),
                human(span.as_secs()),
                human(expires_in)
            ),
            format!("{} ({}); answers: {}", calls_text(a.calls), rate(a.calls, span), answers(&a)),
            &format!("≤ {bound}: one per token lifetime (at least {} s)", gap.as_secs()),
            a.calls >= 1 && a.calls <= bound && !a.answers.contains_key("ok"),
        );
    }
    // (c) An API that answers 401 to everything, polled as the device window does.
    let span_c = if quick { HOUR } else { 3 * HOUR };
    let every = Duration::from_secs(10);
    let c = polled_401(every, span_c).await;
    let bound = allowed(span_c, REJECTED_REFRESH_GAP);
    s.check(
        &format!(
            "(c) an API answering 401 to everything, polled every {} for {}",
            human(every.as_secs()),
            human(span_c.as_secs())
        ),
        format!("{} ({}); answers: {}", calls_text(c.calls), rate(c.calls, span_c), answers(&c)),
        &format!(
            "≤ {bound}: one per {} min (≤ {}/h)",
            REJECTED_REFRESH_GAP.as_secs() / 60,
            allowed(HOUR, REJECTED_REFRESH_GAP)
        ),
        c.calls <= bound && c.answers.contains_key("token_refused"),
    );
    s
}

fn rate(calls: u64, span: Duration) -> String {
    match per_hour(calls, span) {
        r if r < 1.0 => format!("{:.2}/h", r),
        r => format!("{r:.1}/h"),
    }
}

fn calls_text(n: u64) -> String {
    if n == 1 {
        "1 call".into()
    } else {
        format!("{n} calls")
    }
}

fn human(secs: u64) -> String {
    match secs {
        s if s >= 3_600 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_count_a_call_at_the_start() {
        assert_eq!(allowed(HOUR, MIN_REFRESH_GAP), 720);
        assert_eq!(allowed(HOUR, REJECTED_REFRESH_GAP), 12);
        assert_eq!(allowed(HOUR, Duration::from_secs(600)), 6);
        assert_eq!(allowed(Duration::from_secs(601), Duration::from_secs(600)), 2);
        assert_eq!(per_hour(6, Duration::from_secs(600)), 36.0);
    }
}
