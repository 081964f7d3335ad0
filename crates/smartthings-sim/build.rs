//! Embeds the default home (`home/`) into the crate so the binary and the library work
//! from any directory: every JSON file becomes an `include_str!` entry.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let home = Path::new(&manifest).join("home");
    println!("cargo:rerun-if-changed=home");
    let mut entries = Vec::new();
    for rel in ["locations.json", "rooms.json", "scenes.json", "health.json"] {
        if home.join(rel).is_file() {
            entries.push(rel.to_string());
        }
    }
    for sub in ["devices", "device_status"] {
        if let Ok(dir) = std::fs::read_dir(home.join(sub)) {
            for e in dir.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".json") {
                    entries.push(format!("{sub}/{name}"));
                }
            }
        }
    }
    entries.sort();
    let mut code = String::from("pub(crate) static DEFAULT_HOME_FILES: &[(&str, &str)] = &[\n");
    // Paths relative to CARGO_MANIFEST_DIR, resolved when the crate compiles: an absolute
    // path baked in here would outlive a moved checkout in a shared target directory.
    for rel in entries {
        let _ = writeln!(code, "    ({rel:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/home/{rel}\"))),");
    }
    code.push_str("];\n");
    std::fs::write(Path::new(&out_dir).join("default_home.rs"), code).expect("write default_home.rs");
}
