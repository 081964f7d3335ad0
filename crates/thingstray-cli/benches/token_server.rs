//! The token server's throughput and latency next to the seed's approach (a Python
//! `http.server` answering the same JSON), and the wall time of `thingstray token`.
//!
//! `cargo bench -p thingstray-cli --bench token_server` (or `scripts/bench-token-server`).
//! One run prints everything; it is a measurement, not a test: nothing here fails on a
//! slow machine. Options (after `--`): `--seconds N` (default 5), `--connections N` (50),
//! `--token-runs N` (30), `--rate N` (20000), `--shared` (no core pinning).
//!
//! Core pinning (the default with 2 or more cores and util-linux's `taskset`): each server
//! under test runs on core 0 and this process, the load generator, on the others. Without
//! it the generator and the server fight for the same cores and the p99 measures the
//! scheduler's queue, not the server. `--shared` measures that contended case.
//!
//! Set-up: the SmartThings simulator in this process, a fresh config dir with the file
//! vault, sign-in via `login --no-wait` / `login --paste`, then `thingstray serve`
//! (release build) on 127.0.0.1. The load generator is a closed loop: N connections,
//! each sending its next request when the previous answer is complete, with keep-alive
//! where the server allows it (Python's default HTTP/1.0 closes every connection, so
//! there each request includes a connect, as it does for the seed's users).
//!
//! A closed loop at 50 connections measures the most the server can do, and its p99 then
//! measures the queue: with 50 requests always in flight the mean latency is 50 divided
//! by the throughput (Little's law). So the latency the server's users see is measured
//! too, open loop, much as wrk2 does: the same 50 connections send `--rate` requests/s in
//! all on a fixed schedule, and each latency counts from when the request was due (a
//! request the server made late counts its wait; one this generator's 1 ms timer woke
//! late for does not).

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use smartthings_sim::{Sim, SimConfig};

#[path = "token_server/load.rs"]
mod load;

use load::{load, one};

const BIN: &str = env!("CARGO_BIN_EXE_thingstray");

const PYTHON_SERVER: &str = r#"
import http.server, sys
BODY = sys.stdin.buffer.read()
class TokenInfo(http.server.BaseHTTPRequestHandler):
    protocol_version = sys.argv[1]
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenInfo)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// Child processes, killed however `main` ends (a panic included), so a failed run
/// leaves no server behind.
struct Children(Vec<std::process::Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }
}

struct Opts {
    seconds: u64,
    connections: usize,
    token_runs: usize,
    rate: u64,
    shared: bool,
}

fn opts() -> Opts {
    let mut o = Opts { seconds: 5, connections: 50, token_runs: 30, rate: 20_000, shared: false };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let next = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), next) {
            ("--seconds", Some(n)) => o.seconds = n,
            ("--connections", Some(n)) => o.connections = n as usize,
            ("--token-runs", Some(n)) => o.token_runs = n as usize,
            ("--rate", Some(n)) => o.rate = n.max(1),
            ("--shared", _) => {
                o.shared = true;
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// `taskset -c 0` in front of a server's command when pinning, else the command itself.
fn on_server_core(pin: bool, program: &str) -> Command {
    if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", program]);
        c
    } else {
        Command::new(program)
    }
}

/// Moves this process (every thread; threads made later inherit it) off core 0. False
/// when that cannot be done: one core, or no `taskset`.
fn pin_self_off_core_0(n: usize) -> bool {
    if n < 2 {
        return false;
    }
    let others = format!("1-{}", n - 1);
    Command::new("taskset")
        .args(["-a", "-p", "-c", &others, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `token_server --floor-server`: this binary re-run as the smallest axum server that
/// answers the same bytes (no checks, no session), on the same runtime `serve` uses. It
/// is the floor of the stack on this machine: what no handler code can beat.
fn floor_server() {
    let body: &'static [u8] =
        Box::leak(std::io::read_to_string(std::io::stdin()).unwrap().into_bytes().into_boxed_slice());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let app = axum::Router::new().route(
            "/token_info.json",
            axum::routing::get(move || async move { ([("content-type", "application/json")], body) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await.unwrap();
    });
}

fn main() {
    if std::env::args().any(|a| a == "--floor-server") {
        return floor_server();
    }
    let o = opts();
    let all_cores = cores(); // before pinning: afterwards this process sees fewer
                             // Before any thread starts, so the simulator's and the load generator's inherit it.
    let pin = !o.shared && pin_self_off_core_0(all_cores);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let sim = rt.block_on(Sim::start(SimConfig { auto_approve: true, ..SimConfig::default() })).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let thingstray_on = |pinned: bool, args: &[&str]| {
        let mut c = on_server_core(pinned, BIN);
        c.args(args)
            .env("THINGSTRAY_CONFIG_DIR", dir.path())
            .env_remove("THINGSTRAY_LOG")
            .env_remove("THINGSTRAY_CONNECTION");
        c
    };
    let thingstray = |args: &[&str]| thingstray_on(false, args);
    let run = |c: &mut Command| {
        let out = c.stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };

    // Set up and sign in, the way a headless user would.
    let mut setup: Vec<String> = ["setup", "--vault", "file"].map(String::from).to_vec();
    setup.extend(sim.setup_args());
    run(thingstray(&setup.iter().map(String::as_str).collect::<Vec<_>>())
        .env("THINGSTRAY_CLIENT_SECRET", &sim.client().client_secret)
        .stderr(Stdio::null()));
    let url = run(&mut thingstray(&["login", "--no-wait"]));
    let url = url.lines().find(|l| l.starts_with("http")).unwrap().to_string();
    let back = rt.block_on(smartthings_sim::browser::approve(&url));
    run(&mut thingstray(&["login", "--paste", &back]));
    let secret = run(&mut thingstray(&["serve", "--print-secret"])).trim().to_string();

    // The token server.
    let mut server = thingstray_on(pin, &["serve", "--port", "0", "--bind", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line).unwrap();
    let mut children = Children(vec![server]);
    let ours: SocketAddr = line.trim().strip_prefix("listening on http://").unwrap().parse().unwrap();
    let request = format!("GET /token_info.json HTTP/1.1\r\nHost: {ours}\r\nAuthorization: Bearer {secret}\r\n\r\n");
    let body = rt.block_on(async { one(ours, &request).await });

    // The seed's approach: Python's http.server with the same body.
    // A server that is handed the body on stdin and prints its port (Python, the floor).
    let answering = |cmd: &mut Command, what: &str| {
        let mut p = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} starts: {e}"));
        p.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(p.stdout.take().unwrap()), &mut line).unwrap();
        let port: u16 = line.trim().parse().unwrap();
        (p, SocketAddr::from(([127, 0, 0, 1], port)))
    };
    let python =
        |protocol: &str| answering(on_server_core(pin, "python3").args(["-c", PYTHON_SERVER, protocol]), "python3");
    let (floor, floor_addr) = answering(
        on_server_core(pin, &std::env::current_exe().unwrap().to_string_lossy()).arg("--floor-server"),
        "the floor server",
    );
    children.0.push(floor);
    let (py10, py10_addr) = python("HTTP/1.0");
    let (py11, py11_addr) = python("HTTP/1.1");
    children.0.extend([py10, py11]);
    let py_request = |a: SocketAddr, v: &str| {
        format!("GET /token_info.json HTTP/{v}\r\nHost: {a}\r\nAuthorization: Bearer x\r\n\r\n")
    };

    let secs = Duration::from_secs(o.seconds);
    let placement = if pin {
        format!("each server pinned to core 0, the load generator to cores 1-{}", all_cores - 1)
    } else {
        "servers and load generator share every core".to_string()
    };
    println!(
        "machine: {} cores ({}); {} connections, {} s per server, closed loop; {placement}",
        all_cores,
        cpu(),
        o.connections,
        o.seconds
    );
    let us = load(ours, &request, o.connections, None, secs);
    // Service time without queueing: one connection, one request at a time.
    let single = load(ours, &request, 1, None, Duration::from_secs(2));
    let paced = load(ours, &request, o.connections, Some(o.rate), secs);
    let bare = load(floor_addr, &py_request(floor_addr, "1.1"), o.connections, None, secs);
    let p10 = load(py10_addr, &py_request(py10_addr, "1.0"), o.connections, None, secs);
    let p11 = load(py11_addr, &py_request(py11_addr, "1.1"), o.connections, None, secs);
    println!();
    println!("{:<46} {:>12} {:>10} {:>10} {:>8}", "server", "requests/s", "p50 ms", "p99 ms", "errors");
    for (name, r) in [
        ("thingstray serve (/token_info.json)", &us),
        ("axum, same bytes, no checks (the floor)", &bare),
        ("python3 http.server, HTTP/1.0 (its default)", &p10),
        ("python3 http.server, HTTP/1.1 keep-alive", &p11),
    ] {
        println!("{name:<46} {:>12.0} {:>10.3} {:>10.3} {:>8}", r.rps, r.p50_ms, r.p99_ms, r.errors);
    }
    println!(
        "{:<46} {:>12.0} {:>10.3} {:>10.3} {:>8}",
        "thingstray serve, 1 connection (no queueing)", single.rps, single.p50_ms, single.p99_ms, single.errors
    );
    println!(
        "{:<46} {:>12.0} {:>10.3} {:>10.3} {:>8}",
        format!("thingstray serve, {} requests/s offered", o.rate),
        paced.rps,
        paced.p50_ms,
        paced.p99_ms,
        paced.errors
    );
    println!("ratio thingstray / python default: {:.1}x", us.rps / p10.rps);
    println!("ratio thingstray / python keep-alive: {:.1}x", us.rps / p11.rps);

    // `thingstray token` with a valid token, process start to exit, by every path it can
    // take, beside the floors: curl to Python's http.server, and a bare `secret-tool
    // lookup` of one keychain item (issue 16's targets: agent <= 0.5x curl; keychain
    // <= 1.2x the bare lookup).
    let wall = |what: &str, make: &dyn Fn() -> Command| -> Option<f64> {
        let mut times = Vec::new();
        for i in 0..o.token_runs + 3 {
            let t = Instant::now();
            let out = make().stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
            if !out.is_ok_and(|s| s.success()) {
                println!("{what}: skipped (it failed)");
                return None;
            }
            if i >= 3 {
                times.push(t.elapsed().as_secs_f64() * 1000.0); // the first 3 warm the page cache
            }
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let median = times[times.len() / 2];
        println!(
            "{what}: median {median:.1} ms, min {:.1} ms, max {:.1} ms over {} runs",
            times[0],
            times[times.len() - 1],
            times.len()
        );
        Some(median)
    };
    let agent = wall("thingstray token (valid token, through the agent: serve running)", &|| thingstray(&["token"]));
    wall("thingstray token (valid token, file vault, --no-agent)", &|| thingstray(&["--no-agent", "token"]));
    let curl = wall("curl to python3 http.server (HTTP/1.1)", &|| {
        let mut c = Command::new("curl");
        c.args(["-sf", &format!("http://{py11_addr}/token_info.json")]);
        c
    });
    if let (Some(a), Some(c)) = (agent, curl) {
        println!("ratio agent / curl: {:.2}x (target <= 0.5x)", a / c);
    }
    keychain_paths(&sim, &rt, &wall);
    drop(children);
    rt.block_on(sim.shutdown());
}

/// The keychain paths, when a Secret Service answers (`scripts/with-keyring` gives one):
/// `thingstray token` reading the keychain (no agent), and a bare `secret-tool lookup` of
/// the same item.
/// Times a command: its median wall time in ms, or None when it failed.
type Wall<'a> = dyn Fn(&str, &dyn Fn() -> Command) -> Option<f64> + 'a;

fn keychain_paths(sim: &Sim, rt: &tokio::runtime::Runtime, wall: &Wall) {
    let service = format!("thingstray-bench-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), format!("vault = \"keychain\"\nkeychain_service = \"{service}\"\n"))
        .unwrap();
    let thingstray = |args: &[&str]| {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("THINGSTRAY_CONFIG_DIR", dir.path())
            .env_remove("THINGSTRAY_LOG")
            .env_remove("THINGSTRAY_CONNECTION");
        c
    };
    let ok = |c: &mut Command| {
        c.stdin(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let mut setup: Vec<String> = vec!["setup".into()];
    setup.extend(sim.setup_args());
    let signed_in = ok(thingstray(&setup.iter().map(String::as_str).collect::<Vec<_>>())
        .env("THINGSTRAY_CLIENT_SECRET", &sim.client().client_secret))
    .and_then(|_| ok(&mut thingstray(&["login", "--no-wait"])))
    .and_then(|out| out.lines().find(|l| l.starts_with("http")).map(str::to_string))
    .and_then(|url| {
        let back = rt.block_on(smartthings_sim::browser::approve(&url));
        ok(&mut thingstray(&["login", "--paste", &back]))
    });
    if signed_in.is_none() {
        println!("thingstray token (keychain): skipped (no Secret Service; run under scripts/with-keyring)");
        return;
    }
    let keychain =
        wall("thingstray token (valid token, keychain, --no-agent)", &|| thingstray(&["--no-agent", "token"]));
    let lookup = wall("secret-tool lookup of the same item (the floor)", &|| {
        let mut c = Command::new("secret-tool");
        c.args(["lookup", "service", &service, "username", "home/tokens"]);
        c
    });
    if let (Some(k), Some(l)) = (keychain, lookup) {
        println!("ratio keychain / secret-tool: {:.2}x (target <= 1.2x)", k / l);
    }
    let _ = ok(&mut thingstray(&["logout"]));
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}
