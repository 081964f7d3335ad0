//! `thingstray exec -- CMD [ARGS...]`: a program run with a valid token in
//! SMARTTHINGS_TOKEN and the API base in SMARTTHINGS_API, its exit code passed back.

use crate::common::Home;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_gives_the_program_a_token_the_api_base_and_its_exit_code() {
    let h = Home::new().await;
    h.signed_in().await;
    let token_file = h.dir.path().join("child-token");
    let argv_file = h.dir.path().join("parent-argv");
    // The token goes to a file, not stdout; the parent's argv (thingstray's) too, to
    // check the token is not on it.
    let script = r#"test -n "$SMARTTHINGS_TOKEN" && echo "$SMARTTHINGS_API"; printf %s "$SMARTTHINGS_TOKEN" > "$1"; tr '\0' ' ' < /proc/$PPID/cmdline > "$2"; exit 7"#;
    let tf = token_file.to_str().unwrap();
    let af = argv_file.to_str().unwrap();
    let r = h.run(&["exec", "--", "sh", "-c", script, "sh", tf, af]).await;
    assert_eq!(r.code, 7, "{r:?}");
    assert_eq!(r.stdout.trim(), h.sim.api_url());
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(!token.is_empty());
    assert!(h.sim.accepts(&token).await, "the child's token works");
    assert!(!r.stdout.contains(&token) && !r.stderr.contains(&token));
    if cfg!(target_os = "linux") {
        let argv = std::fs::read_to_string(&argv_file).expect("the parent's command line");
        assert!(argv.contains("exec") && argv.contains("--"), "{argv}");
        assert!(!argv.contains(&token), "the token is on the command line: {argv}");
    }

    // Success is 0; the program's stdin is ours.
    let mut c = h.cmd(&["exec", "--", "sh", "-c", "read line; test \"$line\" = hello"]);
    c.stdin(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello\n").await.unwrap();
    }
    let r = crate::common::finish(child).await;
    assert_eq!(r.code, 0, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_refreshes_a_token_that_would_not_last_min_valid() {
    let h = Home::new().await;
    h.setup().await;
    h.sim.set_expires_in(120);
    h.login().await.ok();
    h.sim.set_expires_in(86_400);
    assert_eq!(h.refreshes(), 0);
    let token_file = h.dir.path().join("child-token");
    let r = h
        .run(&[
            "exec",
            "--",
            "sh",
            "-c",
            r#"printf %s "$SMARTTHINGS_TOKEN" > "$1""#,
            "sh",
            token_file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(h.refreshes(), 1, "a 2-minute token is refreshed for a 5-minute promise");
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(h.sim.accepts(&token).await);
    let left = h.sim.access_token_expiry_ms(&token).unwrap().saturating_sub(h.sim.now_ms());
    assert!(left > 3_600_000, "{left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_without_a_program_is_a_usage_error_and_without_sign_in_exits_4() {
    let h = Home::new().await;
    for args in [&["exec"][..], &["exec", "--"][..]] {
        let r = h.run(args).await;
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
    }
    // Nothing set up, then set up but not signed in: 4, and the program never runs.
    let marker = h.dir.path().join("ran");
    let touch = ["exec", "--", "touch", marker.to_str().unwrap()];
    assert_eq!(h.run(&touch).await.code, 4);
    h.setup().await;
    let r = h.run(&touch).await;
    assert_eq!(r.code, 4, "{r:?}");
    assert!(!marker.exists());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_killed_by_a_signal_gives_128_plus_it_and_a_missing_one_127() {
    let h = Home::new().await;
    h.signed_in().await;
    let r = h.run(&["exec", "--", "sh", "-c", "kill -TERM $$"]).await;
    assert_eq!(r.code, 128 + 15, "{r:?}");
    let r = h.run(&["exec", "--", "/nonexistent/program"]).await;
    assert_eq!(r.code, 127, "{r:?}");
    assert!(r.stderr.contains("/nonexistent/program"), "{}", r.stderr);
}
