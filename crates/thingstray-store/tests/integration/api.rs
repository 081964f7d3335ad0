//! The service's HTTP API over real HTTP on 127.0.0.1: who may call it, what it answers.

use std::time::Duration;

use serde_json::Value;
use smartthings_sim::SimConfig;
use thingstray_store::Service;

use crate::world::World;

async fn serve(svc: &Service) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = thingstray_store::api::router(svc.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_api_serves_each_session_behind_the_service_secret() {
    let w = World::new(SimConfig::default()).await;
    let (a, b) = (w.replica().await, w.replica().await);
    assert_eq!(a.secret().expose(), b.secret().expose(), "every replica serves the same secret");
    let (base_a, base_b) = (serve(&a).await, serve(&b).await);
    let secret = a.secret().expose().to_string();
    let http = http();

    // A sign-in started on A, the user's browser returning to B's callback.
    let started: Value = http
        .get(format!("{base_a}/v1/sign-in?connection=bob"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let authorize = started["authorize_url"].as_str().unwrap();
    let redirect = smartthings_sim::browser::decide(authorize, "authorize").await;
    let query = redirect.split_once('?').unwrap().1;
    let page = http.get(format!("{base_b}/v1/oauth/callback?{query}")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Signed in"), "{html}");

    let list: Value =
        http.get(format!("{base_b}/v1/connections")).bearer_auth(&secret).send().await.unwrap().json().await.unwrap();
    let conns = list["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0]["kind"], "oauth");
    assert_eq!(conns[0]["name"], "bob");
    assert!(conns[0]["location_id"].is_string());
    assert!(!list.to_string().contains("token\":\""), "no token in the listing: {list}");
    let id = conns[0]["id"].as_str().unwrap().to_string();

    let tok = http
        .get(format!("{base_a}/v1/connections/{id}/token?min_valid=600"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(tok.status(), 200);
    assert_eq!(tok.headers()["cache-control"], "no-store");
    let tok: Value = tok.json().await.unwrap();
    assert_eq!(tok["token_type"], "Bearer");
    assert!(tok["expires_in"].as_u64().unwrap() > 600);
    assert!(w.sim.accepts(tok["access_token"].as_str().unwrap()).await);

    // Who may not call, and what is refused.
    let no_secret = http.get(format!("{base_a}/v1/connections")).send().await.unwrap();
    assert_eq!(no_secret.status(), 401);
    let wrong = http.get(format!("{base_a}/v1/connections")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let browser = http
        .get(format!("{base_a}/v1/connections"))
        .bearer_auth(&secret)
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status(), 403);
    let greedy = http
        .get(format!("{base_a}/v1/connections/{id}/token?min_valid=999999"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(greedy.status(), 400);
    let unknown = http.get(format!("{base_a}/v1/connections/nobody/token")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_connection");
    let forged = http.get(format!("{base_a}/v1/oauth/callback?code=x&state=forged")).send().await.unwrap();
    assert_eq!(forged.status(), 400);

    // An uninstall: at SmartThings first (the token dies with the installed app), then
    // gone for every replica.
    let del: Value = http
        .delete(format!("{base_b}/v1/connections/{id}?uninstall=true"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((del["deleted"].as_bool(), del["uninstalled"].as_bool()), (Some(true), Some(true)), "{del}");
    assert!(!w.sim.accepts(tok["access_token"].as_str().unwrap()).await, "SmartThings uninstalled it");
    let again = http.delete(format!("{base_b}/v1/connections/{id}")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(again.status(), 404);
    let gone = http.get(format!("{base_a}/v1/connections/{id}/token")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_forwards_grants_to_the_service() {
    let w = World::new(SimConfig::default()).await;
    let a = w.replica().await;
    let base = serve(&a).await;
    let secret = a.secret().expose().to_string();
    let http = http();
    let kept = http
        .post(format!("{base}/v1/schema/grant?connection=user-9"))
        .bearer_auth(&secret)
        .body(w.sim.schema_grant().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 200);
    let tok: Value = http
        .get(format!("{base}/v1/connections/user-9/token"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(w.sim.schema_accepts(tok["access_token"].as_str().unwrap()));
    let bad_id = http
        .post(format!("{base}/v1/schema/grant?connection=../x"))
        .bearer_auth(&secret)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), 400);
    let huge = http
        .post(format!("{base}/v1/schema/grant?connection=user-10"))
        .bearer_auth(&secret)
        .body("x".repeat(1 << 20))
        .send()
        .await
        .unwrap();
    assert!(huge.status().is_client_error(), "{}", huge.status());
}
