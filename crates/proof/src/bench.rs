//! Puts the output of scripts/bench-token-server (crates/thingstray-cli/benches/token_server.rs)
//! next to its targets. The benchmark itself is unchanged: the report reuses it.

use std::path::Path;

use crate::report::Section;

/// The numbers after a row's label: requests/s, p50 ms, p99 ms, errors.
fn row(text: &str, label: &str) -> Option<Vec<f64>> {
    let line = text.lines().find(|l| l.starts_with(label))?;
    Some(line[label.len()..].split_whitespace().filter_map(|x| x.parse().ok()).collect())
}

/// The open-loop row: its label holds the offered rate. The rate, then `row`'s numbers.
fn paced(text: &str) -> Option<(String, Vec<f64>)> {
    let line = text.lines().find(|l| l.starts_with("thingstray serve, ") && l.contains(" requests/s offered"))?;
    let (label, rest) = line.split_at(line.find(" requests/s offered")? + " requests/s offered".len());
    let rate = label.trim_start_matches("thingstray serve, ").trim_end_matches(" requests/s offered").to_string();
    Some((rate, rest.split_whitespace().filter_map(|x| x.parse().ok()).collect()))
}

fn after(text: &str, prefix: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(prefix)).map(|s| s.trim().to_string())
}

pub fn section(file: Option<&Path>, quick: bool) -> Section {
    let mut s = Section::new("Performance: token server and `thingstray token`");
    let Some(text) = file.and_then(|f| std::fs::read_to_string(f).ok()) else {
        let why =
            if quick { "quick mode: performance is measured in the full run only" } else { "no benchmark output" };
        s.skipped("Token server vs Python http.server", why);
        return s;
    };
    s.intro(
        "`scripts/bench-token-server` (release build): a closed-loop load generator in one thread, 50 keep-alive \
         connections, against `thingstray serve`, against Python's `http.server` serving the same JSON, and against \
         the smallest axum server answering the same bytes (the floor of the stack `serve` is built on). Each server \
         is pinned to core 0 and the load generator to the other cores (`--shared` turns that off). Then the same \
         50 connections open loop at a fixed rate (much as wrk2 does), for the latency at a load below the maximum.",
    );
    if let Some(m) = after(&text, "machine:") {
        s.info("Set-up", m);
    }
    let ours = row(&text, "thingstray serve (/token_info.json)");
    let py = row(&text, "python3 http.server, HTTP/1.0 (its default)");
    let py11 = row(&text, "python3 http.server, HTTP/1.1 keep-alive");
    let single = row(&text, "thingstray serve, 1 connection (no queueing)");
    let floor = row(&text, "axum, same bytes, no checks (the floor)");
    match (ours, py) {
        (Some(o), Some(p)) if o.len() >= 3 && p.len() >= 3 => {
            s.info("`thingstray serve` requests/s, 50 connections", format!("{:.0} (p50 {:.2} ms)", o[0], o[1]));
            s.info(
                "Python `http.server` (HTTP/1.0, its default) requests/s",
                format!("{:.0} (p50 {:.2} ms, p99 {:.2} ms)", p[0], p[1], p[2]),
            );
            if let Some(p11) = py11.filter(|v| v.len() >= 3) {
                s.info("Python `http.server`, HTTP/1.1 keep-alive, requests/s", format!("{:.0}", p11[0]));
            }
            let ratio = o[0] / p[0].max(1.0);
            s.measure("Ratio (thingstray / Python default)", format!("{ratio:.1}x"), ">= 20x", ratio >= 20.0);
            s.measure(
                "p99 at 50 connections, saturated (closed loop)",
                format!("{:.2} ms", o[2]),
                "< 1 ms",
                o[2] < 1.0,
            );
            if let Some((rate, v)) = paced(&text).filter(|(_, v)| v.len() >= 4) {
                s.info(
                    &format!("p50 / p99 at 50 connections, {rate} requests/s offered (open loop)"),
                    format!("{:.2} / {:.2} ms ({:.0} requests/s served, {:.0} errors)", v[1], v[2], v[0], v[3]),
                );
            }
            if let Some(f) = floor.filter(|v| v.len() >= 3) {
                s.info(
                    "The floor: bare axum, same bytes, no checks, 50 connections",
                    format!("{:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms", f[0], f[1], f[2]),
                );
            }
            if let Some(one) = single.filter(|v| v.len() >= 3) {
                s.info(
                    "p50 / p99 at 1 connection (service time, no queueing)",
                    format!("{:.3} / {:.3} ms", one[1], one[2]),
                );
            }
        }
        _ => {
            s.skipped("Token server vs Python http.server", "the benchmark output could not be read");
        }
    }
    // `thingstray token` by each path (issue 16), and the floors it is held to.
    let median = |label: &str| {
        after(&text, &format!("{label}: median "))
            .and_then(|rest| rest.split_whitespace().next().and_then(|x| x.parse::<f64>().ok()))
    };
    let agent = median("thingstray token (valid token, through the agent: serve running)");
    let file = median("thingstray token (valid token, file vault, --no-agent)");
    let curl = median("curl to python3 http.server (HTTP/1.1)");
    let keychain = median("thingstray token (valid token, keychain, --no-agent)");
    let lookup = median("secret-tool lookup of the same item (the floor)");
    let ms = |v: Option<f64>| v.map_or("not measured".to_string(), |m| format!("{m:.1} ms"));
    match file {
        Some(f) => {
            s.measure("`thingstray token`, valid token, file vault, median wall time", ms(Some(f)), "< 20 ms", f < 20.0)
        }
        None => s.skipped("`thingstray token` wall time", "not in the benchmark output"),
    };
    match (agent, curl) {
        (Some(a), Some(c)) => s.measure(
            "`thingstray token` through the agent vs curl to Python's http.server",
            format!("{} vs {}: {:.2}x", ms(agent), ms(curl), a / c),
            "<= 0.5x",
            a / c <= 0.5,
        ),
        _ => s.skipped("`thingstray token` through the agent", "not in the benchmark output"),
    };
    match (keychain, lookup) {
        (Some(k), Some(l)) => s.measure(
            "`thingstray token` from the keychain vs a bare `secret-tool lookup`",
            format!("{} vs {}: {:.2}x", ms(keychain), ms(lookup), k / l),
            "<= 1.2x",
            k / l <= 1.2,
        ),
        _ => s.skipped("`thingstray token` from the keychain", "no Secret Service during the benchmark"),
    };
    s.note(
        "Why the saturated p99 misses 1 ms at 50 connections here: with 50 requests always in flight, the mean \
         latency is 50 / throughput (Little's law), so a p99 under 1 ms needs well over 50,000 requests/s from one \
         core. The floor row is the same axum/hyper stack with no handler work at all: it misses by as much, so the \
         gap is this machine's core, not the server's code (the checks and the session cost the difference between \
         the two rows). Below saturation the queue is gone, but on a shared VM an idle core wakes late: the open-loop \
         row (the latency a caller sees at that load) and the 1-connection row (the service time alone) measure the \
         hypervisor as much as the server, and move by 10x between runs.",
    );
    s
}
