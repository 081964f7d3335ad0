//! The token server's attack set, against the real `thingstray serve` binary: each
//! attempt is a raw HTTP/1.1 request (so every header is exactly what an attacker would
//! send) and must be refused with the expected status, without the token in the answer.
//! A correct request must still be served, or the refusals prove nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use smartthings_sim::SimConfig;
use thingstray::serve::ServerSecret;

use crate::report::Section;
use crate::world::World;

struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// A kind of attack: its name, its requests (path, headers) and the status that refuses it.
type Group<'a> = (&'a str, Vec<(String, Vec<String>)>, u16);

fn send(port: u16, raw: &str) -> Option<Answer> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(raw.as_bytes()).ok()?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(Answer { status, head: head.to_string(), body: body.to_string() })
}

fn request(method: &str, path: &str, headers: &[String]) -> String {
    let mut r = format!("{method} {path} HTTP/1.1\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("Connection: close\r\n\r\n");
    r
}

/// The real `thingstray serve` on a free port of `bind`, signed in as `w` (the hostile-peer
/// section starts it the same way).
pub(crate) fn serve(thingstray: &str, w: &World, bind: &str) -> Child {
    Command::new(thingstray)
        .args(["serve", "--port", "0", "--bind", bind])
        .env("THINGSTRAY_CONFIG_DIR", w.dir())
        .env_remove("THINGSTRAY_CONNECTION")
        .env("THINGSTRAY_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("thingstray serve starts")
}

pub async fn run(thingstray: &str) -> Section {
    let w = World::start(SimConfig::default()).await;
    let secret = ServerSecret::load_or_create(&w.shared().vault).await.expect("server secret").expose().to_string();
    let mut server = serve(thingstray, &w, "127.0.0.1");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().rsplit(':').next().and_then(|p| p.parse().ok()).expect("the server's port");
    let host = format!("Host: 127.0.0.1:{port}");
    let auth = format!("Authorization: Bearer {secret}");
    let ok = |extra: &[&str]| {
        let mut h = vec![host.clone(), auth.clone()];
        h.extend(extra.iter().map(|s| s.to_string()));
        h
    };
    let token = {
        let a = send(port, &request("GET", "/v1/token", &ok(&[]))).expect("an answer");
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_default();
        (a.status == 200 && v.get("refresh_token").is_none())
            .then(|| v["access_token"].as_str().unwrap_or("").to_string())
    };

    let sim_host = w.sim.base_url().trim_start_matches("http://").to_string();
    let q = |name: &str| format!("/v1/token?{name}={secret}");
    let wrong = [
        "Authorization: Bearer wrong".to_string(),
        format!("Authorization: Bearer {}", &secret[..secret.len() - 1]),
        format!("Authorization: Bearer {secret}x"),
        format!("Authorization: Basic {secret}"),
        "Authorization: Bearer".to_string(),
        format!("Authorization: {secret}"),
    ];
    let groups: Vec<Group> = vec![
        (
            "No secret",
            ["/v1/token", "/token_info.json", "/api/v1/devices", "/"]
                .iter()
                .map(|p| (p.to_string(), vec![host.clone()]))
                .collect(),
            401,
        ),
        (
            "Wrong secret",
            wrong
                .iter()
                .map(|a| ("/v1/token".to_string(), vec![host.clone(), a.clone()]))
                .collect::<Vec<_>>()
                .into_iter()
                .chain([(
                    "/v1/token".to_string(),
                    vec![host.clone(), auth.clone(), "Authorization: Bearer wrong".to_string()],
                )])
                .collect(),
            401,
        ),
        (
            "Secret in the query string",
            ["secret", "access_token", "token", "auth"]
                .iter()
                .map(|n| (q(n), vec![host.clone()]))
                .chain([(format!("/api/v1/devices?access_token={secret}"), vec![host.clone()])])
                .collect(),
            401,
        ),
        (
            "Foreign Host (with the right secret)",
            [
                "Host: evil.example".to_string(),
                format!("Host: evil.example:{port}"),
                format!("Host: 127.0.0.1:{}", port.wrapping_add(1)),
                format!("Host: localhost.evil.example:{port}"),
                format!("Host: 127.0.0.1.nip.io:{port}"),
            ]
            .into_iter()
            .map(|h| ("/v1/token".to_string(), vec![h, auth.clone()]))
            .chain([("/v1/token".to_string(), vec![host.clone(), "Host: evil.example".into(), auth.clone()])])
            .collect(),
            403,
        ),
        (
            "An Origin header (with the right secret and Host)",
            ["https://evil.example", "null", &format!("http://127.0.0.1:{port}"), "http://localhost"]
                .iter()
                .map(|o| ("/v1/token".to_string(), ok(&[&format!("Origin: {o}")])))
                .collect(),
            403,
        ),
        (
            "Paths that try to leave SmartThings' API with the secret: absolute URLs, `..`, encoded slashes (issue 27)",
            [
                "/api//api.smartthings.com/v1/devices".to_string(),
                "/api/https://api.smartthings.com/v1/devices".to_string(),
                "/api/devices/https://api.smartthings.com/v1/devices".to_string(),
                format!("/api/devices/http://{sim_host}/v1/devices"),
                format!("/api/devices/http://127.0.0.1:{port}/v1/token"),
                "/api/http:%2F%2Fapi.smartthings.com/v1/devices".to_string(),
                "/api/v1/../../oauth/token".to_string(),
                "/api/v1/%2e%2e/%2E%2E/oauth/token".to_string(),
                "/api/%2F%2Fapi.smartthings.com/v1/devices".to_string(),
                "/api/v1%2F..%2F..%2Foauth%2Ftoken".to_string(),
                "/api/v1\\..\\oauth/token".to_string(),
            ]
            .into_iter()
            .map(|p| (p, ok(&[])))
            .collect(),
            400,
        ),
        (
            "A request aimed at SmartThings: absolute-form target or a `Host` naming it (with the right secret)",
            [
                ("https://api.smartthings.com/v1/devices".to_string(), ok(&[])),
                (format!("http://{sim_host}/v1/devices"), ok(&[])),
                (format!("http://{sim_host}/api/v1/devices"), ok(&[])),
                ("/api/v1/devices".to_string(), vec!["Host: api.smartthings.com".to_string(), auth.clone()]),
                ("/api/v1/devices".to_string(), vec![format!("Host: {sim_host}"), auth.clone()]),
                (
                    "/api/v1/devices".to_string(),
                    vec![host.clone(), "Host: api.smartthings.com".to_string(), auth.clone()],
                ),
            ]
            .into_iter()
            .collect(),
            403,
        ),
    ];

    let mut s = Section::new("Bad input: the token server's attack set");
    s.intro(
        "Raw HTTP/1.1 requests against the real `thingstray serve` (release build, signed in on the simulator). A \
         refusal counts only with the expected status and without the access token anywhere in the answer.",
    );
    s.check(
        "Control: the right secret, Host and no Origin",
        if token.is_some() { "served, no refresh token in the answer" } else { "NOT served" },
        "served",
        token.is_some(),
    );
    let token = token.unwrap_or_default();
    let (mut attempts, mut refused) = (0, 0);
    for (name, reqs, want) in &groups {
        let mut n_ok = 0;
        for (path, headers) in reqs {
            let a = send(port, &request("GET", path, headers));
            let good = a.is_some_and(|a| {
                a.status == *want && (token.is_empty() || !a.body.contains(&token) && !a.head.contains(&token))
            });
            n_ok += u32::from(good);
        }
        attempts += reqs.len();
        refused += n_ok as usize;
        s.check(name, format!("{n_ok}/{} refused ({want})", reqs.len()), "all refused", n_ok as usize == reqs.len());
    }
    // Whatever got through to "SmartThings" (the simulator), none of it carried the secret.
    let seen = w.sim.requests();
    let leaked = seen
        .iter()
        .filter(|r| r.authorization.iter().any(|a| a.contains(&secret)) || r.target.contains(&secret))
        .count();
    s.check(
        "The server secret never reached SmartThings (the simulator's request log)",
        format!("{leaked} of {} requests it received carried the secret", seen.len()),
        "none",
        leaked == 0,
    );
    // A CORS preflight: refused, and no CORS header that would let a page read anything.
    let pre = send(
        port,
        &request("OPTIONS", "/v1/token", &ok(&["Origin: https://evil.example", "Access-Control-Request-Method: GET"])),
    );
    let pre_ok =
        pre.is_some_and(|a| a.status == 403 && !a.head.to_ascii_lowercase().contains("access-control-allow-origin"));
    attempts += 1;
    refused += usize::from(pre_ok);
    s.check(
        "CORS preflight from a page",
        if pre_ok { "1/1 refused (403, no CORS headers)" } else { "answered" },
        "refused",
        pre_ok,
    );
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = server.wait();

    // Non-loopback binds: refused before anything listens.
    let binds = ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "127.0.0.2", "example.com"];
    let mut bind_ok = 0;
    for b in binds {
        let mut c = serve(thingstray, &w, b);
        let t0 = Instant::now();
        let code = loop {
            if let Ok(Some(st)) = c.try_wait() {
                break st.code();
            }
            if t0.elapsed() > Duration::from_secs(10) {
                let _ = c.kill();
                let _ = c.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        let _ = c.stdout.take().map(|mut o| o.read_to_string(&mut out));
        bind_ok += u32::from(code == Some(2) && !out.contains("listening"));
    }
    attempts += binds.len();
    refused += bind_ok as usize;
    s.check(
        "Non-loopback bind (0.0.0.0, ::, LAN and other addresses, a host name)",
        format!("{bind_ok}/{} refused (exit 2, nothing listened)", binds.len()),
        "all refused",
        bind_ok as usize == binds.len(),
    );
    s.check("All attacks", format!("{refused}/{attempts} refused"), "all refused", refused == attempts);
    s
}
