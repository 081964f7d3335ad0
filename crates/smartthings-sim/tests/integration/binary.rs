//! The command-line binary: prints its endpoints (and a PAT with --pat-scopes) on stdout
//! and refuses remote binds.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn prints_endpoints_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartthings-sim"))
        .args(["--port", "0", "--auto-approve", "--pat-scopes", "r:apps:*,w:apps:*"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout).lines().take(10).map(|l| l.expect("line")).collect();
    let get = |k: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no {k} in {lines:?}"))
    };
    let base = get("base_url");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert_eq!(get("api_url"), format!("{base}/v1"));
    assert_eq!(get("auth_url"), format!("{base}/oauth"));
    assert_eq!(get("client_id"), "8f3b7a52-1c4e-4d2a-9b7e-3e5f0a9c6d14");
    assert_eq!(get("client_secret"), "demo-secret-5a1f0c3e-7b2d-4e6a-8c9f-1d2e3f4a5b6c");
    assert_eq!(get("redirect_uri"), "https://thingstray.invalid/callback");
    // The ST Schema partner connector's credentials.
    assert_eq!(get("schema_client_id"), "c2c-7d1e5b90-4f3a-4c62-9e8b-2a6f0d4c8e11");
    assert_eq!(get("schema_client_secret"), "c2c-secret-3b9f2e7a-6d14-4a8c-b5e0-9f1c7d2a4e63");

    // How to mint a personal access token, and one minted with --pat-scopes.
    assert_eq!(get("pat_url"), format!("{base}/__sim/pat"));
    let pat = get("pat");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = rt.block_on(async { reqwest::get(format!("{base}/__sim/stats")).await.map(|r| r.status().as_u16()) });
    let apps = rt.block_on(async {
        let r = reqwest::Client::new().get(format!("{base}/v1/apps")).bearer_auth(&pat).send().await?;
        Ok::<_, reqwest::Error>((r.status().as_u16(), r.text().await?))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status.ok(), Some(200));
    let (status, body) = apps.expect("GET /v1/apps answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"appName\":\"thingstray-demo\""), "{body}");
}

#[test]
fn refuses_a_non_loopback_host_without_allow_remote() {
    let out = Command::new(env!("CARGO_BIN_EXE_smartthings-sim"))
        .args(["--port", "0", "--host", "0.0.0.0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
}

#[test]
fn users_flag_signs_in_user_k_to_their_location() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartthings-sim"))
        .args(["--port", "0", "--auto-approve", "--users", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map(|l| l.expect("line"))
        .take_while(|l| !l.starts_with("users="))
        .chain(std::iter::once("users=5".to_string()))
        .collect();
    let get = |k: &str| lines.iter().find_map(|l| l.strip_prefix(&format!("{k}="))).map(str::to_string);
    let (auth, api) = (get("auth_url").expect("auth_url"), get("api_url").expect("api_url"));
    let (id, secret, redirect) =
        (get("client_id").unwrap(), get("client_secret").unwrap(), get("redirect_uri").unwrap());

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let result = rt.block_on(async {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let q = [
            ("client_id", id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", redirect.as_str()),
            ("scope", "r:locations:*"),
            ("sim_user", "4"),
        ];
        let resp = http.get(format!("{auth}/authorize")).query(&q).send().await?;
        let loc = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let code = url::Url::parse(&loc)
            .ok()
            .and_then(|u| u.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()));
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_deref().unwrap_or("")),
            ("redirect_uri", redirect.as_str()),
        ];
        let tokens: serde_json::Value =
            http.post(format!("{auth}/token")).basic_auth(&id, Some(&secret)).form(&form).send().await?.json().await?;
        let at = tokens["access_token"].as_str().unwrap_or_default().to_string();
        let locations: serde_json::Value =
            http.get(format!("{api}/locations")).bearer_auth(at).send().await?.json().await?;
        let out_of_range = http
            .get(format!("{auth}/authorize"))
            .query(&[q[0], q[1], q[2], q[3], ("sim_user", "5")])
            .send()
            .await?
            .status();
        Ok::<_, reqwest::Error>((locations, out_of_range.as_u16()))
    });
    let _ = child.kill();
    let _ = child.wait();
    let (locations, out_of_range) = result.expect("the simulator answers");
    assert_eq!(locations["items"][0]["locationId"], smartthings_sim::user_location_id(4), "{locations}");
    assert_eq!(locations["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(out_of_range, 400);
}
