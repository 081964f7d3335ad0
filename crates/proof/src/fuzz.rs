//! Property-based fuzzing with proptest on stable Rust: every parser that reads what
//! the outside world sends (callback URLs, `thingstray://` deep links, token answers,
//! device, status and place JSON), fed real pysmartthings payloads
//! (crates/thingstray/tests/fixtures, Apache-2.0, see its NOTICE.md) mutated at random,
//! and plain random input. Each case runs under `catch_unwind`, so a panic is counted
//! instead of ending the run.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;
use thingstray::api::{Device, DeviceStatus, Location, Room, Scene};
use thingstray::oauth::{parse_token_answer, Callback};

use crate::report::{thousands, Section};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../thingstray/tests/fixtures")
}

/// Every JSON fixture, with its name.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![fixtures_dir()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("the fixtures").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push((p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Any JSON value, a few levels deep, with SmartThings' own keys often.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        prop::sample::select(vec![
            "deviceId",
            "label",
            "name",
            "components",
            "capabilities",
            "status",
            "id",
            "main",
            "switch",
            "level",
            "value",
            "state",
            "healthState",
            "items",
            "_links",
            "next",
            "href",
            "access_token",
            "refresh_token",
            "expires_in",
            "token_type",
            "scope",
            "installed_app_id",
            "locationId",
            "roomId",
            "sceneId",
            "sceneName",
        ])
        .prop_map(String::from),
        ".{0,8}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value at one path with random JSON.
    Replace(prop::sample::Index, Value),
    /// Remove one key or array element.
    Remove(prop::sample::Index),
    /// Cut the raw bytes short.
    Truncate(prop::sample::Index),
    /// Overwrite one raw byte.
    Byte(prop::sample::Index, u8),
    /// Untouched: the real payload itself.
    None,
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), arb_json()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => any::<prop::sample::Index>().prop_map(Mutation::Remove),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        2 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        1 => Just(Mutation::None),
    ]
}

fn paths(v: &Value, here: String, out: &mut Vec<String>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            m.iter().for_each(|(k, v)| paths(v, format!("{here}/{}", k.replace('~', "~0").replace('/', "~1")), out))
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| paths(v, format!("{here}/{i}"), out)),
        _ => {}
    }
}

/// A fixture with one mutation applied, as bytes.
fn mutate(raw: &[u8], m: &Mutation) -> Vec<u8> {
    let parsed = || serde_json::from_slice::<Value>(raw).unwrap_or(Value::Null);
    let pick = |v: &Value, i: &prop::sample::Index| {
        let mut ps = Vec::new();
        paths(v, String::new(), &mut ps);
        ps[i.index(ps.len())].clone()
    };
    match m {
        Mutation::Replace(i, new) => {
            let mut v = parsed();
            let at = pick(&v, i);
            if let Some(slot) = v.pointer_mut(&at) {
                *slot = new.clone();
            }
            serde_json::to_vec(&v).unwrap()
        }
        Mutation::Remove(i) => {
            let mut v = parsed();
            let at = pick(&v, i);
            if let Some((parent, last)) = at.rsplit_once('/') {
                match v.pointer_mut(parent) {
                    Some(Value::Object(o)) => {
                        o.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(n) = last.parse::<usize>() {
                            a.remove(n);
                        }
                    }
                    _ => {}
                }
            }
            serde_json::to_vec(&v).unwrap()
        }
        Mutation::Truncate(i) => raw[..i.index(raw.len().max(1)).min(raw.len())].to_vec(),
        Mutation::Byte(i, b) => {
            let mut r = raw.to_vec();
            if !r.is_empty() {
                let n = i.index(r.len());
                r[n] = *b;
            }
            r
        }
        Mutation::None => raw.to_vec(),
    }
}

/// Everything the app reads from a JSON answer of the REST API.
fn read_api_json(bytes: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else { return };
    let mut items: Vec<&Value> = vec![&v];
    if let Some(a) = v.get("items").and_then(Value::as_array) {
        items.extend(a);
    }
    for it in items {
        if let Some(d) = Device::from_json(it) {
            let _ = d.status.as_ref().map(|s| (s.switch(), s.level(), s.color_temperature()));
            let _ = (d.has_capability("switch"), d.has_capability("switchLevel"));
        }
        let _ = DeviceStatus::from_status_body(it).map(|s| (s.switch(), s.level(), s.color_temperature()));
        let _ = (Location::from_json(it), Room::from_json(it), Scene::from_json(it));
    }
}

fn callback_url() -> impl Strategy<Value = String> {
    let base = prop::sample::select(vec![
        "https://thingstray.invalid/callback",
        "http://127.0.0.1:8080/cb",
        "https://httpbin.org/get",
        "",
        "?",
        "https://thingstray.invalid/callback#",
    ]);
    let key = prop::sample::select(vec!["code", "state", "error", "error_description", "scope", "", "code[]", "Code"]);
    let value = prop_oneof![".{0,40}", "[A-Za-z0-9_-]{1,40}", "(%[0-9A-Fa-f]{2}){0,10}", "%[0-9A-Fa-f]?"];
    (base, prop::collection::vec((key, value), 0..6), prop::option::of(".{0,20}")).prop_map(|(b, ps, frag)| {
        let q: Vec<String> = ps.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut s = format!("{b}?{}", q.join("&"));
        if let Some(f) = frag {
            s.push('#');
            s.push_str(&f);
        }
        s
    })
}

fn deep_link() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec![
        "thingstray://",
        "THINGSTRAY://",
        "thingstray:",
        "thingstray:///",
        "thingstray://oauth",
    ]);
    let path = prop::sample::select(vec![
        "oauth/callback",
        "/oauth/callback",
        "oauth/callback/",
        "other",
        "",
        "oauth//callback",
    ]);
    (scheme, path, callback_url(), ".{0,60}").prop_map(|(s, p, url, junk)| {
        let query = url.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default();
        if junk.len() % 3 == 0 {
            format!("{s}{p}{junk}")
        } else {
            format!("{s}{p}?{query}")
        }
    })
}

struct Counter {
    cases: AtomicU64,
    panics: AtomicU64,
}

impl Counter {
    fn case(&self, f: impl FnOnce()) {
        self.cases.fetch_add(1, Ordering::Relaxed);
        if catch_unwind(AssertUnwindSafe(f)).is_err() {
            self.panics.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs `cases` cases of `strategy` through `f`; returns (cases, panics).
fn target<S: Strategy>(cases: u32, seed: u8, strategy: S, f: impl Fn(&S::Value)) -> (u64, u64) {
    let counter = Counter { cases: AtomicU64::new(0), panics: AtomicU64::new(0) };
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    // A fixed seed per target: the same run every time, so a panic found is a panic kept.
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let _ = runner.run(&strategy, |v| {
        counter.case(|| f(&v));
        Ok(())
    });
    (counter.cases.into_inner(), counter.panics.into_inner())
}

pub fn run(cases: u32) -> Section {
    let all = fixtures();
    let tokens: Vec<Vec<u8>> = all.iter().filter(|(n, _)| n.starts_with("token")).map(|(_, b)| b.clone()).collect();
    let api: Vec<Vec<u8>> = all.iter().map(|(_, b)| b.clone()).collect();
    // Silence the default panic message; panics are counted instead.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let now = SystemTime::now();
    let results = [
        (
            "Callback URLs (structured and random strings)",
            target(cases, 1, prop_oneof![callback_url(), ".{0,300}"], |s: &String| {
                let _ = Callback::parse(s);
            }),
        ),
        (
            "Deep links `thingstray://oauth/callback?...`",
            target(cases, 2, deep_link(), |s: &String| {
                let _ = Callback::parse(s);
            }),
        ),
        ("Token answers (real answers mutated, random JSON, random bytes)", {
            let seeds = tokens.clone();
            let s = prop_oneof![
                (0..seeds.len(), arb_mutation()).prop_map(move |(i, m)| mutate(&seeds[i], &m)),
                arb_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
                prop::collection::vec(any::<u8>(), 0..300),
            ];
            target(cases, 3, s, |b: &Vec<u8>| {
                let _ = parse_token_answer(b, now);
            })
        }),
        ("Device, status and place JSON (every fixture mutated, random JSON)", {
            let seeds = api.clone();
            let s = prop_oneof![
                4 => (0..seeds.len(), arb_mutation()).prop_map(move |(i, m)| mutate(&seeds[i], &m)),
                1 => arb_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
            ];
            target(cases, 4, s, |b: &Vec<u8>| read_api_json(b))
        }),
    ];
    std::panic::set_hook(hook);

    let mut s = Section::new("Bad input: property-based fuzzing");
    s.intro(format!(
        "proptest (stable Rust) with a fixed seed per target, each case under `catch_unwind`. Seeds: all {} JSON \
         payloads from pysmartthings in `crates/thingstray/tests/fixtures` (Apache-2.0, see NOTICE.md there), \
         mutated by replacing a value with random JSON, removing a key, truncating or overwriting a byte.",
        all.len()
    ));
    let (mut total, mut panics) = (0, 0);
    for (name, (c, p)) in &results {
        total += c;
        panics += p;
        s.check(name, format!("{} cases, {p} panics", thousands(*c)), "0 panics", *p == 0 && *c > 0);
    }
    s.check("All targets", format!("{} cases, {panics} panics", thousands(total)), "0 panics", panics == 0);
    s
}
