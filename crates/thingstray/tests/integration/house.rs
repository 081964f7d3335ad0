//! The core's house rule, checked on its source: each top-level module uses only the
//! modules before it in [`thingstray::MODULE_ORDER`] (lowest first), so no two of them
//! are in a circle. Every `crate::x` path in a file of the module counts, its tests
//! included; comment lines do not (a doc link may name a caller: "only `session` calls
//! this").
//!
//! Where a module needs something from a later one, the thing is in the wrong room, or
//! the caller is: move it rather than reorder the list.

use std::path::{Path, PathBuf};

use thingstray::MODULE_ORDER;
use thingstray_testkit::house::uses;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every .rs file under `dir`, as paths relative to src/.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(src()).unwrap().to_path_buf());
        }
    }
}

/// The top-level module a file of src/ belongs to: `session/source.rs` and `session.rs`
/// are `session`'s; lib.rs is nobody's.
fn module_of(file: &Path) -> Option<String> {
    let first = file.components().next()?.as_os_str().to_string_lossy().into_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib").then_some(name)
}

/// lib.rs's re-exports (`pub use error::{Error, Result};`): `crate::Error` is a use of
/// `error`.
fn reexported(lib: &str, name: &str) -> Option<String> {
    lib.lines().filter_map(|l| l.strip_prefix("pub use ")?.strip_suffix(';')).find_map(|u| {
        let (module, items) = u.split_once("::")?;
        let items = items.trim_start_matches('{').trim_end_matches('}');
        items.split(',').any(|i| i.trim() == name).then(|| module.to_string())
    })
}

#[test]
fn each_module_uses_only_those_before_it() {
    let lib = read(&src().join("lib.rs"));
    let mut files = vec![];
    rust_files(&src(), &mut files);
    files.sort();
    let mut problems = vec![];
    for file in &files {
        let Some(module) = module_of(file) else { continue };
        let Some(at) = MODULE_ORDER.iter().position(|m| *m == module) else {
            problems.push(format!("src/{}: `{module}` is not in MODULE_ORDER", file.display()));
            continue;
        };
        let code = read(&src().join(file));
        for (line, used) in uses(&code) {
            let used = reexported(&lib, &used).unwrap_or(used);
            if used == module {
                continue;
            }
            let text = code.lines().nth(line - 1).unwrap_or("").trim();
            match MODULE_ORDER.iter().position(|m| *m == used) {
                Some(before) if before < at => {}
                Some(_) => problems.push(format!(
                    "src/{}:{line}: `{module}` uses `{used}`, which comes after it in MODULE_ORDER: {text}",
                    file.display()
                )),
                None => problems.push(format!(
                    "src/{}:{line}: `crate::{used}` is not a module in MODULE_ORDER: {text}",
                    file.display()
                )),
            }
        }
    }
    assert!(problems.is_empty(), "the core's modules, lowest first: {MODULE_ORDER:?}\n{}", problems.join("\n"));
}

/// lib.rs declares exactly the modules of the list, once each, and its documentation
/// lists them in the same order.
#[test]
fn the_order_names_every_module_once() {
    let lib = read(&src().join("lib.rs"));
    let mut declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("mod ").or_else(|| l.strip_prefix("pub mod "))?.strip_suffix(';'))
        .collect();
    declared.sort();
    let mut listed = MODULE_ORDER.to_vec();
    listed.sort();
    listed.dedup();
    assert_eq!(listed.len(), MODULE_ORDER.len(), "a module twice in MODULE_ORDER: {MODULE_ORDER:?}");
    assert_eq!(declared, listed, "lib.rs declares exactly the modules of MODULE_ORDER");
    let documented: Vec<&str> =
        lib.lines().filter_map(|l| l.strip_prefix("//! - `")?.split_once('`').map(|(name, _)| name)).collect();
    assert_eq!(documented, MODULE_ORDER, "lib.rs's documentation lists the modules in MODULE_ORDER's order");
}

#[test]
fn the_path_finder_sees_every_form() {
    let code = "use crate::token::TokenSet;\nuse crate::{config, error::{Error, Result}, vault::Vault};\n\
                /// [`crate::desktop`] in a comment\nlet _ = crate::http::client(t); // crate::serve\nx::$crate::agent";
    let found: Vec<String> = uses(code).into_iter().map(|(_, m)| m).collect();
    assert_eq!(found, ["token", "config", "error", "vault", "http", "serve"]);
    let lib = "pub use connection::Connection;\npub use error::{Error, Result};";
    assert_eq!(reexported(lib, "Result").as_deref(), Some("error"));
    assert_eq!(reexported(lib, "Connection").as_deref(), Some("connection"));
    assert_eq!(reexported(lib, "session"), None);
}
