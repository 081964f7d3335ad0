//! `thingstray mode [NAME]`: the location's modes, the current one, and setting it
//! (against the simulator's modes, issue 29).

use serde_json::Value;

use crate::common::Home;

const WITH_WRITE: &str = "r:devices:* x:devices:* r:locations:* w:locations:* r:scenes:* x:scenes:*";

/// Set up with `w:locations:*` and signed in (the first location, `Home`).
async fn signed_in_with_write() -> (Home, String) {
    let h = Home::new().await;
    h.setup_with("https://thingstray.invalid/callback", &["--scopes", WITH_WRITE]).await.ok();
    h.login().await.ok();
    let location = h.sim.user_location_id(0).expect("the first location");
    (h, location)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_lists_the_modes_and_sets_one_by_label_name_or_id() {
    let (h, location) = signed_in_with_write().await;

    let r = h.run(&["mode"]).await;
    let lines: Vec<&str> = r.ok().stdout.lines().collect();
    assert_eq!(lines, ["Home (current)", "Away", "Night"], "{}", r.stdout);

    let r = h.run(&["mode", "--json"]).await;
    let v: Value = serde_json::from_str(r.ok().stdout.trim()).unwrap();
    assert_eq!(v["current"]["name"], "Home");
    assert_eq!(v["current"]["label"], "Home");
    let modes = v["modes"].as_array().unwrap();
    let names: Vec<&str> = modes.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Home", "Away", "Night"]);
    let ids: Vec<String> = h.sim.modes(&location).unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(modes.iter().map(|m| m["id"].as_str().unwrap()).collect::<Vec<_>>(), ids);

    let r = h.run(&["mode", "AWAY"]).await;
    assert_eq!(r.ok().stdout.trim(), "Away");
    assert_eq!(h.sim.current_mode(&location).unwrap().name, "Away");
    let r = h.run(&["mode"]).await;
    assert_eq!(r.ok().stdout.lines().next(), Some("Away (current)"));

    let r = h.run(&["mode", "--json", "night"]).await;
    let v: Value = serde_json::from_str(r.ok().stdout.trim()).unwrap();
    assert_eq!((v["name"].as_str(), v["id"].as_str()), (Some("Night"), Some(ids[2].as_str())));
    assert_eq!(h.sim.current_mode(&location).unwrap().name, "Night");

    let r = h.run(&["mode", &ids[0]]).await;
    assert_eq!(r.ok().stdout.trim(), "Home");
    assert_eq!(h.sim.current_mode(&location).unwrap().name, "Home");

    // Changed in the SmartThings app: the CLI reads what SmartThings says.
    assert!(h.sim.set_current_mode(&location, "Night"));
    let r = h.run(&["mode"]).await;
    assert_eq!(r.ok().stdout.lines().next(), Some("Night (current)"));

    let r = h.run(&["mode", "Vacation"]).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("Vacation") && r.stderr.contains("Home, Away, Night"), "{}", r.stderr);
    assert_eq!(h.sim.current_mode(&location).unwrap().name, "Night");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_without_w_locations_reads_the_mode_and_says_how_to_set_it() {
    let h = Home::new().await;
    h.signed_in().await;
    let location = h.sim.user_location_id(0).unwrap();
    h.run(&["mode"]).await.ok();
    let r = h.run(&["mode", "away"]).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("w:locations:*") && r.stderr.contains("thingstray login"), "{}", r.stderr);
    assert_eq!(h.sim.current_mode(&location).unwrap().name, "Home");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_location_is_the_connections_else_the_only_one_else_location_is_asked() {
    let (h, location) = signed_in_with_write().await;
    // Another location than this sign-in's: SmartThings' 403, exit 1.
    let other = "5c03e518-118a-44cb-85ad-7877d0b302e4";
    let r = h.run(&["mode", "--location", other]).await;
    assert_eq!(r.code, 1, "{r:?}");
    let r = h.run(&["mode", "--location", &location, "away"]).await;
    assert_eq!(r.ok().stdout.trim(), "Away");

    // Settings without the location recorded: the only location the token sees.
    let config = h.dir.path().join("config.toml");
    let text = std::fs::read_to_string(&config).expect("the settings file");
    assert!(text.contains(&location), "{text}");
    let without: String =
        text.lines().filter(|l| !l.trim_start().starts_with("location_id")).map(|l| format!("{l}\n")).collect();
    assert_ne!(without, text);
    std::fs::write(&config, without).unwrap();
    let r = h.run(&["mode", "night"]).await;
    assert_eq!(r.ok().stdout.trim(), "Night");
    assert_eq!(h.sim.current_mode(&location).unwrap().name, "Night");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_before_setup_needs_sign_in() {
    let h = Home::new().await;
    let r = h.run(&["mode"]).await;
    assert_eq!(r.code, 4, "{r:?}");
}
