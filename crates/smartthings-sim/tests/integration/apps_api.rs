//! The app-management API over HTTP: each call, its answer's shape, and every refusal
//! (scopes, validation, names, the account's limit, unknown apps).

use std::time::Duration;

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use smartthings_sim::SimConfig;

const CB: &str = "https://app.invalid/callback";

fn is_uuid(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.len() == 36 && s.matches('-').count() == 4)
}

#[tokio::test]
async fn create_answers_the_app_and_its_client_once_and_every_read_shows_it() {
    let sim = start(SimConfig::default()).await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    let body = app_body(
        "my-tray.1",
        &[CB, "http://127.0.0.1:53682/cb", "http://localhost/cb"],
        &["r:devices:*", "x:devices:*"],
    );
    let (status, created) = api_send(&sim, &http, Method::POST, &pat, "/apps", Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let app = &created["app"];
    assert!(is_uuid(&app["appId"]), "{created}");
    assert!(is_uuid(&created["oauthClientId"]) && is_uuid(&created["oauthClientSecret"]), "{created}");
    assert_eq!(app["appName"], "my-tray.1");
    assert_eq!(app["appType"], "API_ONLY");
    assert_eq!(app["classifications"], json!(["CONNECTED_SERVICE"]));
    assert_eq!(app["displayName"], "Display my-tray.1");
    assert_eq!(app["description"], "made by a test");
    assert_eq!(app["singleInstance"], true);
    assert_eq!(app["installMetadata"], json!({}));
    assert_eq!(app["owner"]["ownerType"], "USER");
    assert!(is_uuid(&app["owner"]["ownerId"]));
    assert!(app["createdDate"].as_str().is_some_and(|d| d.ends_with('Z')), "{app}");
    assert_eq!(app["createdDate"], app["lastUpdatedDate"]);
    assert!(app.get("oauthClientSecret").is_none() && app.get("apiOnly").is_none(), "{app}");
    let id = app["appId"].as_str().unwrap().to_string();
    let secret = created["oauthClientSecret"].as_str().unwrap().to_string();

    // By id and by name, under /v1 and at the root; never the secret again.
    let (status, by_id) = api_get(&sim, &http, &pat, &format!("/apps/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&by_id, app);
    let root = format!("{}/apps/my-tray.1", sim.base_url());
    let (status, by_name) = api_get(&sim, &http, &pat, &root).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_name["appId"], id.as_str());
    let (status, list) = api_get(&sim, &http, &pat, "/apps").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["_links"], json!({}));
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "the configured app and the new one: {list}");
    assert_eq!(items[0]["appName"], "thingstray-demo");
    let mut keys: Vec<&String> = items[1].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "appId",
            "appName",
            "appType",
            "classifications",
            "createdDate",
            "description",
            "displayName",
            "iconImage",
            "lastUpdatedDate"
        ]
    );
    let (status, oauth) = api_get(&sim, &http, &pat, &format!("/apps/{id}/oauth")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        oauth,
        json!({"clientName": "client my-tray.1", "scope": ["r:devices:*", "x:devices:*"],
               "redirectUris": [CB, "http://127.0.0.1:53682/cb", "http://localhost/cb"]})
    );
    for v in [&by_id, &list, &oauth] {
        assert!(!v.to_string().contains(&secret), "the secret is shown once only");
    }

    let apps = sim.apps();
    assert_eq!(apps.len(), 2);
    assert_eq!(apps[0].app_id, sim.client_app_id());
    let mine = sim.app("my-tray.1").expect("the new app");
    assert_eq!(mine.app_id, id);
    assert_eq!(mine.client_id, created["oauthClientId"].as_str().unwrap());
    assert_eq!(mine.display_name, "Display my-tray.1");
    assert_eq!(mine.redirect_uris.len(), 3);
    assert_eq!(sim.app(&id), Some(mine));
    assert_eq!(sim.stats().apps_created, 1);
    assert_eq!(sim.stats().routes.get("POST /v1/apps"), Some(&1));
}

#[tokio::test]
async fn the_configured_client_is_the_first_app() {
    let sim = start(SimConfig::default()).await;
    let http = http();
    let pat = pat(&sim, &["r:apps:*"]);
    let (status, app) = api_get(&sim, &http, &pat, "/apps/thingstray-demo").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app["appId"], sim.client_app_id().as_str());
    assert_eq!(app["displayName"], "ThingsTray demo");
    let (_, oauth) = api_get(&sim, &http, &pat, &format!("/apps/{}/oauth", sim.client_app_id())).await;
    assert_eq!(oauth["redirectUris"], json!(sim.client().redirect_uris));
    assert_eq!(oauth["scope"], json!(sim.client().scopes));
    assert_eq!(sim.apps()[0].client_id, sim.client().client_id);
}

async fn refused(sim: &smartthings_sim::Sim, body: &Value) -> Value {
    let http = http();
    let pat = pat(sim, APP_SCOPES);
    let (status, answer) = api_send(sim, &http, Method::POST, &pat, "/apps", Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {answer}");
    assert_st_error(&answer, "ConstraintViolationError");
    assert_eq!(answer["error"]["message"], "The request is malformed.");
    answer
}

fn detail_code<'a>(answer: &'a Value, target: &str) -> &'a str {
    answer["error"]["details"]
        .as_array()
        .and_then(|d| d.iter().find(|x| x["target"] == target))
        .and_then(|d| d["code"].as_str())
        .unwrap_or_else(|| panic!("no detail for {target}: {answer}"))
}

#[tokio::test]
async fn create_refuses_each_bad_field_with_its_422_detail() {
    let sim = start(SimConfig::default()).await;
    let good = || app_body("ok-name", &[CB], &["r:devices:*"]);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = good();
        f(&mut b);
        b
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(&|b| drop(b.as_object_mut().unwrap().remove("appName"))), "appName", "NotNullError"),
        (with(&|b| b["appName"] = json!("Upper-Case")), "appName", "PatternError"),
        (with(&|b| b["appName"] = json!("-dash-first")), "appName", "PatternError"),
        (with(&|b| b["appName"] = json!("a".repeat(250))), "appName", "SizeError"),
        (with(&|b| b["appName"] = json!("")), "appName", "NotEmptyError"),
        (with(&|b| b["displayName"] = json!("x".repeat(76))), "displayName", "SizeError"),
        (with(&|b| b["displayName"] = json!("")), "displayName", "SizeError"),
        (with(&|b| drop(b.as_object_mut().unwrap().remove("displayName"))), "displayName", "NotNullError"),
        (with(&|b| drop(b.as_object_mut().unwrap().remove("description"))), "description", "NotNullError"),
        (with(&|b| b["description"] = json!("d".repeat(251))), "description", "SizeError"),
        (with(&|b| b["appType"] = json!("WEBHOOK_SMART_APP")), "appType", "UnsupportedOperationError"),
        (with(&|b| b["appType"] = json!("NOPE")), "appType", "PatternError"),
        (with(&|b| drop(b.as_object_mut().unwrap().remove("appType"))), "appType", "NotNullError"),
        (with(&|b| b["lambdaSmartApp"] = json!({"functions": ["arn:x"]})), "lambdaSmartApp", "NullError"),
        (with(&|b| drop(b.as_object_mut().unwrap().remove("classifications"))), "classifications", "NotNullError"),
        (with(&|b| b["classifications"] = json!([])), "classifications", "NotEmptyError"),
        (with(&|b| b["classifications"] = json!(["NOPE"])), "classifications[0]", "PatternError"),
        (with(&|b| b["oauth"]["scope"] = json!(["r:devices:*", "r:everything"])), "oauth.scope[1]", "PatternError"),
        (
            with(&|b| b["oauth"]["redirectUris"] = json!(["thingstray://oauth/callback"])),
            "oauth.redirectUris[0]",
            "PatternError",
        ),
        (
            with(&|b| b["oauth"]["redirectUris"] = json!([CB, "http://example.com/cb"])),
            "oauth.redirectUris[1]",
            "PatternError",
        ),
        (
            with(&|b| b["oauth"]["redirectUris"] = json!(["http://127.0.0.1:0/cb"])),
            "oauth.redirectUris[0]",
            "PatternError",
        ),
        (with(&|b| b["oauth"]["redirectUris"] = json!(["https:/one-slash"])), "oauth.redirectUris[0]", "PatternError"),
        (
            with(&|b| {
                b["oauth"]["redirectUris"] =
                    json!((0..11).map(|i| format!("https://x.invalid/{i}")).collect::<Vec<_>>())
            }),
            "oauth.redirectUris",
            "SizeError",
        ),
        (
            with(&|b| b["apiOnly"] = json!({"targetUrl": "http://example.com/hook"})),
            "apiOnly.targetUrl",
            "PatternError",
        ),
        (with(&|b| b["singleInstance"] = json!("yes")), "singleInstance", "UnprocessableEntityError"),
        (with(&|b| b["oauth"] = json!("oauth")), "oauth", "UnprocessableEntityError"),
    ];
    for (body, target, code) in &cases {
        let answer = refused(&sim, body).await;
        assert_eq!(detail_code(&answer, target), *code, "{body} -> {answer}");
        assert_eq!(targets(&answer), [*target], "one detail each: {answer}");
    }
    // Every problem of one body at once.
    let all = refused(&sim, &json!({"appName": "Bad", "displayName": "", "appType": "API_ONLY"})).await;
    assert_eq!(targets(&all), ["appName", "displayName", "description", "classifications"]);
    assert!(sim.apps().len() == 1 && sim.stats().apps_created == 0, "nothing was created");
}

#[tokio::test]
async fn what_the_cli_sends_is_accepted_and_oauth_is_optional() {
    let sim = start(SimConfig::default()).await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    // The shape of `smartthings apps:create` (apps-user-input-create.ts).
    let cli = json!({
        "displayName": "In search of highland cattle", "description": "", "appName": "ainsearchofhighlandcattle-0d972122",
        "appType": "API_ONLY", "classifications": ["CONNECTED_SERVICE"], "singleInstance": true,
        "iconImage": {"url": "https://x.invalid/icon.png"}, "apiOnly": {"targetUrl": "https://x.invalid/hook"},
        "principalType": "LOCATION",
        "oauth": {"clientName": "In search of highland cattle", "scope": ["r:devices:*", "r:installedapps"], "redirectUris": ["https://httpbin.org/get"]},
    });
    let (status, created) = api_send(&sim, &http, Method::POST, &pat, "/apps", Some(&cli)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(
        created["app"]["apiOnly"],
        json!({"subscription": {"targetUrl": "https://x.invalid/hook", "targetStatus": "PENDING"}})
    );
    assert_eq!(created["app"]["iconImage"]["url"], "https://x.invalid/icon.png");
    // Without `oauth`: a client with no scopes and no redirect URIs, named after the app.
    let mut bare = app_body("bare", &[], &[]);
    bare.as_object_mut().unwrap().remove("oauth");
    let (status, created) = api_send(&sim, &http, Method::POST, &pat, "/apps", Some(&bare)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (_, oauth) = api_get(&sim, &http, &pat, "/apps/bare/oauth").await;
    assert_eq!(oauth, json!({"clientName": "Display bare", "scope": [], "redirectUris": []}));
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400_and_not_an_object_is_422() {
    let sim = start(SimConfig::default()).await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    let resp = http
        .post(format!("{}/apps", sim.api_url()))
        .bearer_auth(&pat)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_st_error(&body, "BadRequestError");
    let (status, body) = api_send(&sim, &http, Method::POST, &pat, "/apps", Some(&json!([1, 2]))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(targets(&body), ["body"]);
    let id = sim.client_app_id();
    for path in [format!("/apps/{id}/oauth/generate")] {
        let resp = http.post(format!("{}{path}", sim.api_url())).bearer_auth(&pat).body("").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    let resp = http.put(format!("{}/apps/{id}/oauth", sim.api_url())).bearer_auth(&pat).body("]").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_taken_name_is_409_conflict_and_the_account_holds_at_most_max_apps() {
    let sim = start(SimConfig { max_apps: 3, ..SimConfig::default() }).await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    create_app(&sim, &http, &pat, "first", &[CB], &["r:devices:*"]).await;
    for name in ["first", "thingstray-demo"] {
        let (status, body) =
            api_send(&sim, &http, Method::POST, &pat, "/apps", Some(&app_body(name, &[CB], &[]))).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_st_error(&body, "ConflictError");
    }
    create_app(&sim, &http, &pat, "second", &[CB], &["r:devices:*"]).await;
    let (status, body) = api_send(&sim, &http, Method::POST, &pat, "/apps", Some(&app_body("third", &[CB], &[]))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_st_error(&body, "LimitError");
    assert!(body["error"]["message"].as_str().unwrap().contains("maximum of 3 apps"), "{body}");
    // A deleted app frees its place and its name.
    let (status, _) = api_send(&sim, &http, Method::DELETE, &pat, "/apps/first", None).await;
    assert_eq!(status, StatusCode::OK);
    create_app(&sim, &http, &pat, "first", &[CB], &[]).await;
    assert_eq!(sim.apps().len(), 3);
}

#[tokio::test]
async fn each_call_needs_its_scope_and_a_live_token() {
    let sim = auto_sim().await;
    let http = http();
    let id = sim.client_app_id();
    let read_only = pat(&sim, &["r:apps:*"]);
    let write_only = pat(&sim, &["w:apps:*"]);
    let oauth_in = access(&login(&sim, &http).await);
    let body = app_body("scoped", &[CB], &["r:devices:*"]);
    let calls: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::POST, "/apps".into(), Some(body.clone()), "w"),
        (Method::GET, "/apps".into(), None, "r"),
        (Method::GET, format!("/apps/{id}"), None, "r"),
        (Method::GET, format!("/apps/{id}/oauth"), None, "r"),
        (
            Method::PUT,
            format!("/apps/{id}/oauth"),
            Some(json!({"clientName": "c", "scope": [], "redirectUris": []})),
            "w",
        ),
        (Method::POST, format!("/apps/{id}/oauth/generate"), Some(json!({})), "w"),
        (Method::DELETE, format!("/apps/{id}"), None, "w"),
    ];
    for (method, path, body, needs) in &calls {
        let wrong = if *needs == "w" { &read_only } else { &write_only };
        for token in [wrong, &oauth_in] {
            let (status, answer) = api_send(&sim, &http, method.clone(), token, path, body.as_ref()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
            assert_st_error(&answer, "ForbiddenError");
        }
        for token in ["", "00000000-0000-4000-8000-000000000000"] {
            let (status, answer) = api_send(&sim, &http, method.clone(), token, path, body.as_ref()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {answer}");
            assert_st_error(&answer, "UnauthorizedError");
        }
    }
    assert_eq!(sim.apps().len(), 1, "nothing changed");
    // The right scope works.
    let (status, _) = api_get(&sim, &http, &read_only, "/apps").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api_send(&sim, &http, Method::POST, &write_only, "/apps", Some(&body)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_personal_access_token_is_401() {
    let sim = start(SimConfig::default()).await;
    let http = http();
    let day = pat(&sim, &["r:apps:*"]);
    let short = sim.mint_pat(&["r:apps:*"], Duration::from_secs(60));
    sim.advance_clock(Duration::from_secs(61));
    let (status, body) = api_get(&sim, &http, &short, "/apps").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_st_error(&body, "UnauthorizedError");
    assert_eq!(api_get(&sim, &http, &day, "/apps").await.0, StatusCode::OK);
    sim.advance_clock(Duration::from_secs(86_400 - 61));
    assert_eq!(api_get(&sim, &http, &day, "/apps").await.0, StatusCode::UNAUTHORIZED, "PATs live 24 hours");
}

#[tokio::test]
async fn an_unknown_app_is_403_forbidden_on_every_route() {
    let sim = start(SimConfig::default()).await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    for id in ["00000000-0000-4000-8000-000000000000", "no-such-app"] {
        let calls: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/apps/{id}"), None),
            (Method::GET, format!("/apps/{id}/oauth"), None),
            (
                Method::PUT,
                format!("/apps/{id}/oauth"),
                Some(json!({"clientName": "c", "scope": [], "redirectUris": []})),
            ),
            (Method::POST, format!("/apps/{id}/oauth/generate"), Some(json!({}))),
            (Method::DELETE, format!("/apps/{id}"), None),
        ];
        for (method, path, body) in calls {
            let (status, answer) = api_send(&sim, &http, method.clone(), &pat, &path, body.as_ref()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
            assert_st_error(&answer, "ForbiddenError");
        }
    }
}

#[tokio::test]
async fn put_oauth_replaces_the_settings_with_the_same_rules() {
    let sim = start(SimConfig::default()).await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    let app = create_app(&sim, &http, &pat, "putme", &[CB], &["r:devices:*"]).await;
    let path = format!("/apps/{}/oauth", app.app_id);
    let new = json!({"clientName": "renamed", "scope": ["r:locations:*", "r:scenes:*"], "redirectUris": ["https://new.invalid/cb"]});
    let (status, answer) = api_send(&sim, &http, Method::PUT, &pat, &path, Some(&new)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, new);
    assert_eq!(api_get(&sim, &http, &pat, &path).await.1, new);
    let s = sim.app(&app.app_id).unwrap();
    assert_eq!((s.client_id.as_str(), s.scopes.len()), (app.client_id.as_str(), 2), "the client stays");
    assert_eq!(sim.stats().app_oauth_updates, 1);

    let (status, answer) = api_send(&sim, &http, Method::PUT, &pat, &path, Some(&json!({"clientName": "c"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(targets(&answer), ["scope", "redirectUris"]);
    assert_eq!(detail_code(&answer, "scope"), "NotNullError");
    let bad = json!({"clientName": "c", "scope": ["w:apps:*"], "redirectUris": ["myapp://cb", "http://10.0.0.1/cb"]});
    let (status, answer) = api_send(&sim, &http, Method::PUT, &pat, &path, Some(&bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(targets(&answer), ["scope[0]", "redirectUris[0]", "redirectUris[1]"]);
    assert_eq!(api_get(&sim, &http, &pat, &path).await.1, new, "a refused PUT changes nothing");
    assert_eq!(sim.stats().app_oauth_updates, 1);
}

#[tokio::test]
async fn list_filters_by_app_type_and_classification() {
    let sim = start(SimConfig::default()).await;
    let http = http();
    let pat = pat(&sim, APP_SCOPES);
    let mut automation = app_body("auto", &[CB], &[]);
    automation["classifications"] = json!(["AUTOMATION"]);
    let (status, _) = api_send(&sim, &http, Method::POST, &pat, "/apps", Some(&automation)).await;
    assert_eq!(status, StatusCode::OK);
    let names = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["appName"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&api_get(&sim, &http, &pat, "/apps?classification=AUTOMATION").await.1), ["auto"]);
    assert_eq!(
        names(&api_get(&sim, &http, &pat, "/apps?classification=AUTOMATION&classification=CONNECTED_SERVICE").await.1),
        ["thingstray-demo", "auto"]
    );
    assert_eq!(names(&api_get(&sim, &http, &pat, "/apps?appType=API_ONLY").await.1).len(), 2);
    assert!(names(&api_get(&sim, &http, &pat, "/apps?appType=WEBHOOK_SMART_APP").await.1).is_empty());
}
