//! The packages (issue 14): what a user downloads and what it puts on disk, read from the
//! .deb and .rpm that `scripts/package` wrote (`dpkg-deb` and `rpm` on the files; nothing
//! is installed here: `scripts/test-package` does that).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::report::{thousands, Section};

const TITLE: &str = "Packages: download and installed size";

pub fn skipped(reason: &str) -> Section {
    let mut s = Section::new(TITLE);
    s.skipped("Package sizes", reason);
    s
}

/// The one file in `dir` whose name starts with `prefix` and ends with `suffix`.
fn find(dir: &Path, prefix: &str, suffix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix)))
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn mib(bytes: u64) -> String {
    format!("{} bytes ({:.1} MiB)", thousands(bytes), bytes as f64 / (1024.0 * 1024.0))
}

pub fn run(dir: &Path) -> Section {
    let Some(deb) = find(dir, "thingstray_", ".deb") else {
        return skipped(&format!("no thingstray_*.deb in {} (run scripts/package)", dir.display()));
    };
    let mut s = Section::new(TITLE);
    s.intro(format!(
        "Read from `{}` as `scripts/package` built it (the app with the `desktop-release` profile: LTO, one codegen unit, `opt-level = \"s\"`, stripped). `scripts/test-package` installs the .deb with apt, drives the installed app under Xvfb and removes it again.",
        dir.display()
    ));
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    s.measure(".deb download", mib(size(&deb)), "< 15 MiB", size(&deb) < 15 << 20);
    if let Some(rpm) = find(dir, "thingstray-", ".rpm") {
        s.measure(".rpm download", mib(size(&rpm)), "< 15 MiB", size(&rpm) < 15 << 20);
    }
    let deb_s = deb.to_string_lossy().into_owned();
    if let Some(kib) = output("dpkg-deb", &["-f", &deb_s, "Installed-Size"]).and_then(|v| v.trim().parse::<u64>().ok())
    {
        s.measure("Installed (dpkg Installed-Size)", format!("{} KiB", thousands(kib)), "< 40 MiB", kib < 40 * 1024);
    }
    // `dpkg-deb -c`: mode owner size date time path.
    if let Some(list) = output("dpkg-deb", &["-c", &deb_s]) {
        for line in list.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if let (Some(bytes), Some(path)) = (cols.get(2).and_then(|b| b.parse::<u64>().ok()), cols.get(5)) {
                let path = path.trim_start_matches('.').trim_start_matches('/');
                if path.starts_with("usr/bin/") {
                    s.info(&format!("/{path}"), mib(bytes));
                }
            }
        }
    }
    if let Some(deps) = output("dpkg-deb", &["-f", &deb_s, "Depends"]) {
        s.info(".deb depends on", deps.trim().to_string());
    }
    s
}
