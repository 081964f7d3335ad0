//! `GET /capabilities` and `GET /capabilities/{id}/{version}` (issue 27, item 3): one
//! definition per capability the home's devices declare, SmartThings' 404 for the rest.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn capability_list_and_definitions() {
    let sim = auto_sim().await;
    let token = sim.mint_pat(&["r:devices:*"], Duration::from_secs(3600));
    let get = |path: String| {
        let token = token.clone();
        async move {
            let r = http().get(path).bearer_auth(&token).send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let base = sim.api_url();

    let (status, list) = get(format!("{base}/capabilities")).await;
    assert_eq!(status, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    for want in ["switch", "switchLevel", "lock", "temperatureMeasurement"] {
        assert!(items.iter().any(|i| i["id"] == want && i["version"] == 1 && i["status"] == "live"), "{want}");
    }

    let (status, sw) = get(format!("{base}/capabilities/switch/1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sw["id"], "switch");
    assert_eq!(sw["version"], 1);
    assert_eq!(sw["name"], "Switch");
    assert_eq!(sw["attributes"]["switch"]["schema"]["properties"]["value"]["type"], "string");
    assert_eq!(sw["commands"]["on"]["arguments"], serde_json::json!([]));
    let (_, level) = get(format!("{base}/capabilities/switchLevel/1")).await;
    assert_eq!(level["commands"]["setLevel"]["arguments"][0]["schema"]["maximum"], 100.0);
    assert_eq!(level["attributes"]["level"]["schema"]["properties"]["value"]["type"], "integer");
    // Also at the root, where SmartThings' own links point.
    let (status, _) = get(format!("{}/capabilities/switch/1", sim.base_url())).await;
    assert_eq!(status, StatusCode::OK);

    for (path, what) in [
        ("nonesuch/1", "an unknown capability"),
        ("switch/7", "an unknown version"),
        ("switch/x", "a version that is no number"),
    ] {
        let (status, body) = get(format!("{base}/capabilities/{path}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}");
        assert_eq!(body["error"]["code"], "NotFoundError", "{what}");
        assert!(body["requestId"].is_string());
    }
    // A token is needed, as for any API call.
    let r = http().get(format!("{base}/capabilities")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
