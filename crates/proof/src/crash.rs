//! kill -9 of the process that owns a refresh, at random moments in five phases, then a
//! fresh process asks for a token. The phases are reached with the core's failpoints
//! (thingstray/src/failpoint.rs: the child announces each point on stderr and, where
//! asked, pauses there) and, for "in flight", with the simulator answering slowly.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::Rng;
use smartthings_sim::{Faults, SimConfig};
use thingstray::session::SessionOptions;

use crate::report::Section;
use crate::world::{Shared, World, CONNECTION, CONNECTOR};

/// Which connection the kills hit: one signed in with OAuth-In, or an ST Schema
/// connector's callback tokens (the same session, another token endpoint).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Target {
    SignIn,
    Connector,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::SignIn => CONNECTION,
            Target::Connector => CONNECTOR,
        }
    }

    fn token_route(self) -> &'static str {
        match self {
            Target::SignIn => "/oauth/token",
            Target::Connector => "/schema/oauth/token",
        }
    }

    fn token_requests(self, w: &World) -> u64 {
        let s = w.sim.stats();
        match self {
            Target::SignIn => s.token_requests,
            Target::Connector => s.schema_token_requests,
        }
    }

    /// Refreshes the token endpoint has carried out (each one rotated the pair).
    fn refreshes(self, w: &World) -> u64 {
        let s = w.sim.stats();
        let (map, key) = match self {
            Target::SignIn => (&s.token_grants, "refresh_token"),
            Target::Connector => (&s.schema_token_grants, "refreshAccessTokens"),
        };
        map.get(key).copied().unwrap_or(0)
    }

    /// What the user does after an ended session: sign in again, or pass a new grant.
    async fn again(self, w: &World) {
        match self {
            Target::SignIn => w.sign_in().await,
            Target::Connector => w.add_connector().await,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Phase {
    BeforeRequest,
    InFlight,
    AfterAnswer,
    VaultWrite,
    AfterSave,
    /// No pause: a uniformly random moment of the whole process, classified afterwards by
    /// the last failpoint it had passed.
    Anywhere,
}

impl Phase {
    const ALL: [Phase; 6] = [
        Phase::BeforeRequest,
        Phase::InFlight,
        Phase::AfterAnswer,
        Phase::VaultWrite,
        Phase::AfterSave,
        Phase::Anywhere,
    ];

    fn label(self) -> &'static str {
        match self {
            Phase::BeforeRequest => "before the request (locks held, nothing sent)",
            Phase::InFlight => "in flight (the simulator holds the request 400 ms before acting on it)",
            Phase::AfterAnswer => "after the answer, before the vault write (new pair in memory only)",
            Phase::VaultWrite => "during the vault write (temp file written and synced, not yet renamed)",
            Phase::AfterSave => "after the save (new pair durable, not yet handed out)",
            Phase::Anywhere => "at a uniformly random moment of the process's life, no pause",
        }
    }

    /// Inside the window no client can close: SmartThings has rotated, the new pair is not durable.
    fn in_window(self) -> bool {
        matches!(self, Phase::AfterAnswer | Phase::VaultWrite)
    }

    /// The failpoint the kill waits for, and the `THINGSTRAY_FAILPOINTS` value.
    fn point(self) -> (&'static str, String) {
        let p = match self {
            Phase::BeforeRequest | Phase::InFlight => "refresh.before_request",
            Phase::AfterAnswer => "refresh.response",
            Phase::VaultWrite => "write_atomic.before_rename",
            Phase::AfterSave => "refresh.saved",
            Phase::Anywhere => "",
        };
        let env = if matches!(self, Phase::InFlight | Phase::Anywhere) {
            "trace".to_string()
        } else {
            format!("{p}=pause:300")
        };
        (p, env)
    }
}

/// The child: what `thingstray token` does, then checks the token with the simulator.
/// Exit 0 valid, 3 a token the simulator rejects, 4 sign-in needed, 1 other errors.
pub async fn child(dir: &std::path::Path, sim: &str, connection: &str) -> i32 {
    let shared = match Shared::open(dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("crash-child: {}", e.code());
            return 1;
        }
    };
    let conn = match shared.connection_to(connection, SessionOptions::default(), Duration::from_secs(10)).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("crash-child: {}", e.code());
            return if e.needs_sign_in() { 4 } else { 1 };
        }
    };
    match conn.session.token_valid_for(Duration::from_secs(60)).await {
        Ok(g) => {
            let at = shared.clock.now_ms();
            let exp = crate::soak_procs::expiry(&reqwest::Client::new(), sim, g.secret()).await;
            if exp.is_some_and(|e| at < e) {
                0
            } else {
                3
            }
        }
        Err(e) => {
            eprintln!("crash-child: {}", e.code());
            if e.needs_sign_in() {
                4
            } else {
                1
            }
        }
    }
}

struct Run {
    code: i32,
    /// (failpoint, µs since the child's first failpoint) in order.
    points: Vec<(String, u64)>,
}

fn child_cmd(w: &World, target: Target, failpoints: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["crash-child", "--connection", target.name(), "--sim", &w.sim.base_url(), "--dir"])
        .arg(w.dir())
        .env("THINGSTRAY_FAILPOINTS", failpoints)
        .env("THINGSTRAY_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn parse_point(line: &str) -> Option<(String, u64)> {
    let rest = line.strip_prefix("thingstray-failpoint ")?;
    let (name, us) = rest.split_once(' ')?;
    Some((name.to_string(), us.trim().parse().ok()?))
}

/// Runs a child to the end (the fresh process after a kill, or a clean refresh).
fn run_to_end(w: &World, target: Target) -> Run {
    let out = child_cmd(w, target, "trace").output().expect("the child runs");
    let points = String::from_utf8_lossy(&out.stderr).lines().filter_map(parse_point).collect();
    Run { code: out.status.code().unwrap_or(-1), points }
}

/// The time from SmartThings' answer to the new pair being durable, µs.
fn window_us(r: &Run) -> Option<u64> {
    let at = |n: &str| r.points.iter().find(|(p, _)| p == n).map(|(_, t)| *t);
    Some(at("refresh.saved")?.saturating_sub(at("refresh.response")?))
}

enum Outcome {
    Survived,
    EndedCleanly,
    Broken(String),
    Missed(String),
}

/// Did a kill after these failpoints land inside the window?
fn landed_in_window(points: &[String]) -> bool {
    matches!(points.last().map(String::as_str), Some("refresh.response" | "write_atomic.before_rename"))
}

/// `life`: how long an undisturbed child takes, for the uniformly random kills.
async fn one_kill(w: &World, target: Target, phase: Phase, life: Duration, windows: &mut Vec<u64>) -> (Outcome, bool) {
    // The stored token has expired: the child must refresh.
    w.jump(Duration::from_secs(3_601));
    let config_before = std::fs::read(w.paths.config_file()).unwrap();
    if phase == Phase::InFlight {
        w.sim.set_faults(Faults {
            route_prefix: target.token_route().into(),
            delay_ms: 400,
            delay_share: 1.0,
            ..Faults::default()
        });
    }
    let (point, env) = phase.point();
    let mut child = child_cmd(w, target, &env).spawn().expect("the child starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let requests_before = target.token_requests(w);
    let refreshes_before = target.refreshes(w);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut passed = Vec::new();
    let reached = phase == Phase::Anywhere
        || loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => match parse_point(&line) {
                    Some((p, _)) if p == point => break true,
                    Some((p, _)) => passed.push(p),
                    None => continue,
                },
                Err(_) => break false,
            }
        };
    if !reached {
        let _ = child.kill();
        let _ = child.wait();
        w.sim.set_faults(Faults::default());
        return (Outcome::Missed(format!("never reached {point}")), false);
    }
    passed.push(point.to_string());
    let delay = if phase == Phase::Anywhere {
        rand::rng().random_range(0..life.as_millis().max(1) as u64)
    } else if phase == Phase::InFlight {
        // Wait until the request is at the simulator, then kill inside its 400 ms hold.
        while target.token_requests(w) == requests_before && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        rand::rng().random_range(0..350)
    } else {
        rand::rng().random_range(0..280)
    };
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    w.sim.set_faults(Faults::default());
    if phase == Phase::Anywhere {
        passed.clear();
        passed.extend(rx.try_iter().filter_map(|l| parse_point(&l)).map(|(p, _)| p));
    }
    // The window, by its definition: the server rotated the pair during this process and
    // the new pair did not become durable. A kill after the request left and before the
    // answer was read passed no failpoint of the window, yet the server had rotated.
    let rotated = target.refreshes(w) > refreshes_before;
    let durable = passed.iter().any(|p| p == "write_atomic.after_rename" || p == "refresh.saved");
    let in_window = landed_in_window(&passed) || (rotated && !durable);

    let after = run_to_end(w, target);
    windows.extend(window_us(&after));
    let outcome = match after.code {
        0 => Outcome::Survived,
        4 => {
            let kept = std::fs::read(w.paths.config_file()).unwrap() == config_before;
            target.again(w).await; // the user signs in again; the next kill needs a live session
            if kept {
                Outcome::EndedCleanly
            } else {
                Outcome::Broken("config.toml changed".into())
            }
        }
        c => Outcome::Broken(format!("the fresh process exited {c}")),
    };
    (outcome, in_window)
}

pub async fn run(kills: usize, clean_runs: usize) -> Section {
    let w = World::start(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    run_on(&w, Target::SignIn, kills, clean_runs).await
}

/// The same kills on an ST Schema connector's callback connection (issue 13).
pub async fn run_connector(kills: usize, clean_runs: usize) -> Section {
    let w = World::start(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    w.add_connector().await;
    run_on(&w, Target::Connector, kills, clean_runs).await
}

async fn run_on(w: &World, target: Target, kills: usize, clean_runs: usize) -> Section {
    // How long an undisturbed refresh process lives, for the uniformly random kills.
    w.jump(Duration::from_secs(3_601));
    let t0 = Instant::now();
    let mut windows: Vec<u64> = window_us(&run_to_end(w, target)).into_iter().collect();
    let life = t0.elapsed();
    // [survived, ended cleanly, broken, missed, landed in the window] per phase
    let mut counts = [[0u32; 5]; 6];
    let mut problems = Vec::new();
    for i in 0..kills {
        let phase = Phase::ALL[i % Phase::ALL.len()];
        let (outcome, in_window) = one_kill(w, target, phase, life, &mut windows).await;
        if in_window {
            counts[i % Phase::ALL.len()][4] += 1;
        }
        if phase == Phase::Anywhere && !in_window && !matches!(outcome, Outcome::Survived) {
            problems.push(format!("{}: a kill outside the window lost the session", phase.label()));
            counts[i % Phase::ALL.len()][2] += 1;
            continue;
        }
        let slot = match outcome {
            Outcome::Survived => 0,
            Outcome::EndedCleanly => 1,
            Outcome::Broken(why) => {
                problems.push(format!("{}: {why}", phase.label()));
                2
            }
            Outcome::Missed(why) => {
                problems.push(format!("{}: {why}", phase.label()));
                3
            }
        };
        counts[i % Phase::ALL.len()][slot] += 1;
        if (i + 1) % 10 == 0 {
            eprintln!("crash: {}/{kills} kills", i + 1);
        }
    }
    for _ in 0..clean_runs {
        w.jump(Duration::from_secs(3_601));
        windows.extend(window_us(&run_to_end(w, target)));
    }
    windows.sort_unstable();
    summarize(target, kills, life, &counts, &windows, &problems)
}

fn summarize(
    target: Target,
    kills: usize,
    life: Duration,
    counts: &[[u32; 5]; 6],
    windows: &[u64],
    problems: &[String],
) -> Section {
    let survived: u32 = counts.iter().map(|c| c[0]).sum();
    if target == Target::Connector {
        let mut s = Section::new(&format!(
            "Crash: kill -9 during a callback-token refresh (ST Schema connector), {kills} times"
        ));
        s.intro(
            "The rounds above, on a connection of kind \"schema\" (issue 13): an ST Schema connector's callback tokens, \
             refreshed with st-schema JSON at the simulator's callback token endpoint, which rotates them as SmartThings \
             does. Same session, same phases, same failpoints; \"in flight\" holds the callback token request. After a \
             kill inside the window the user passes a new grantCallbackAccess (`thingstray schema grant`).",
        );
        return rows(s, kills, life, counts, windows, problems, survived);
    }
    let mut s = Section::new(&format!("Crash: kill -9 during a refresh, {kills} times"));
    s.intro(
        "Each round: the simulated clock jumps past the stored token's expiry, a fresh process (the core session with \
         the file vault, as `thingstray token` runs it) starts the refresh, and is killed with SIGKILL at a random \
         moment (0-280 ms into a 300 ms failpoint pause, 0-350 ms into the simulator's 400 ms hold for \"in \
         flight\", or anywhere in the process's life without any pause). Then a fresh process asks for a token valid for 60 s and checks it with the simulator. Phases are \
         taken in turn. \"In flight\" survives because the simulator holds the request before acting on it and drops \
         the work with the connection; a server that finishes the rotation for a client that has died puts that \
         kill inside the window below.",
    );
    s.intro(
        "**The one window no client can close**: from the moment SmartThings rotates the pair (the old refresh token \
         is dead) to the moment the new pair is durable in the vault, the new refresh token exists only in the \
         process's memory. A kill there ends the session; the next process gets `invalid_grant`, records \"sign in \
         again\" in the vault for every process, and `thingstray token` exits 4 with the settings untouched. The code \
         keeps the window to one vault write: no work runs between receiving the answer and the write, and nothing \
         is handed out before the write returns. The kills in the two window phases below pause the process inside \
         the window on purpose, so they are expected to end the session: they show it ends cleanly.",
    );
    rows(s, kills, life, counts, windows, problems, survived)
}

fn rows(
    mut s: Section,
    kills: usize,
    life: Duration,
    counts: &[[u32; 5]; 6],
    windows: &[u64],
    problems: &[String],
    survived: u32,
) -> Section {
    for (i, phase) in Phase::ALL.iter().enumerate() {
        let c = counts[i];
        let n: u32 = c[..4].iter().sum();
        let mut value = format!("{}/{n} survived, {} ended cleanly, {} broken, {} missed", c[0], c[1], c[2], c[3]);
        if *phase == Phase::Anywhere {
            value.push_str(&format!(" ({} landed in the window; process life {} ms)", c[4], life.as_millis()));
            s.check(
                &format!("Kill {}", phase.label()),
                value,
                "survives unless it landed in the window; then ends cleanly",
                c[2] + c[3] == 0,
            );
        } else if phase.in_window() {
            s.check(
                &format!("Kill {}", phase.label()),
                value,
                "ends cleanly (sign in again, settings kept) or survives",
                c[2] + c[3] == 0,
            );
        } else {
            s.check(&format!("Kill {}", phase.label()), value, "all survive", c[0] == n);
        }
    }
    s.info("Survived, all kills", format!("{survived}/{kills}"));
    let pct = |q: f64| windows.get(((windows.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0);
    s.info(
        "The window, measured (answer received to vault write done, file vault)",
        if windows.is_empty() {
            "no samples".into()
        } else {
            format!(
                "median {:.2} ms, max {:.2} ms over {} refreshes",
                pct(0.5) as f64 / 1000.0,
                pct(1.0) as f64 / 1000.0,
                windows.len()
            )
        },
    );
    for p in problems {
        s.note(format!("Problem: {p}"));
    }
    s
}
