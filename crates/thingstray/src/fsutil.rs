//! Durable file writes: a crash leaves either the old file or the new one, never half.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path` and
/// syncs the directory. `private` makes the file readable by its owner only (0600), from
/// its creation on, so a secret is never briefly world-readable.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::config::ensure_dir(dir)?;
    let what = || format!("writing {}", path.display());
    // Unique per write, not only per process: two threads (or two saves in flight) of one
    // process must never share a temporary file, or one renames the other's half-write.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(&tmp).map_err(|e| Error::io(what(), e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| Error::io(what(), e))?;
    drop(f);
    crate::failpoint::hit("write_atomic.before_rename");
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(what(), e)
    })?;
    crate::failpoint::hit("write_atomic.after_rename");
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Holds an exclusive advisory lock on `path` (created owner-only) until dropped: for a
/// read-modify-write of a shared file that other processes also rewrite. Blocking: call it
/// off the async runtime (the vault's calls run on the blocking pool).
pub fn lock_exclusive(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        crate::config::ensure_dir(dir)?;
    }
    let what = || format!("locking {}", path.display());
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(path).map_err(|e| Error::io(what(), e))?;
    file.lock().map_err(|e| Error::io(what(), e))?;
    Ok(file)
}
