//! A throwaway desktop session per journey: an X display (Xvfb), a private session bus
//! (dbus-daemon) and an unlocked GNOME Keyring on it (the real Secret Service). Nothing
//! of the machine's own session is touched, and journeys cannot see each other's tokens.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait::poll_blocking;

pub struct SessionEnv {
    pub dir: tempfile::TempDir,
    pub display: String,
    pub bus: String,
    /// HOME is this session's `home` folder too (see [`SessionEnv::own_home`]).
    own_home: bool,
    children: Vec<Child>,
}

fn spawn(cmd: &mut Command, what: &str) -> Child {
    cmd.spawn().unwrap_or_else(|e| panic!("could not start {what} ({e}); install it with scripts/setup"))
}

impl SessionEnv {
    pub fn start() -> SessionEnv {
        let dir = tempfile::Builder::new().prefix("thingstray-e2e-").tempdir().expect("temp dir");
        for sub in ["data", "runtime", "config", "home"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("temp dirs");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir.path().join("runtime"), std::fs::Permissions::from_mode(0o700));
        }
        let mut children = Vec::new();

        // -displayfd: Xvfb picks a free display and tells us which, so journeys never
        // collide with another X server on the machine.
        let mut xvfb = spawn(
            Command::new("Xvfb")
                .args(["-displayfd", "1", "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            "Xvfb",
        );
        let mut line = String::new();
        BufReader::new(xvfb.stdout.take().expect("Xvfb stdout")).read_line(&mut line).expect("Xvfb display number");
        let display = format!(":{}", line.trim());
        children.push(xvfb);

        let mut bus = spawn(
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--print-address=1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            "dbus-daemon",
        );
        let mut line = String::new();
        BufReader::new(bus.stdout.take().expect("dbus stdout")).read_line(&mut line).expect("bus address");
        let bus_address = line.trim().to_string();
        children.push(bus);

        let mut env = SessionEnv { dir, display, bus: bus_address, own_home: false, children };
        env.unlock_keyring();
        env
    }

    /// `--unlock` creates the login keyring with this throwaway password and unlocks it;
    /// the daemon forks and stays on the bus until the bus goes away.
    fn unlock_keyring(&mut self) {
        let mut cmd = Command::new("gnome-keyring-daemon");
        cmd.args(["--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.apply(&mut cmd);
        let mut child = spawn(&mut cmd, "gnome-keyring-daemon");
        child.stdin.take().expect("stdin").write_all(b"thingstray-test").expect("keyring password");
        let status = child.wait().expect("gnome-keyring-daemon");
        assert!(status.success(), "gnome-keyring-daemon --unlock failed: {status}");
        // The daemon answers on the bus once it owns the Secret Service name.
        poll_blocking(Duration::from_secs(10), "the Secret Service on the test bus", || {
            let mut c = Command::new("gdbus");
            c.args(["call", "--session", "--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus"])
                .args(["--method", "org.freedesktop.DBus.NameHasOwner", "org.freedesktop.secrets"])
                .stderr(Stdio::null());
            self.apply(&mut c);
            c.output().map(|o| String::from_utf8_lossy(&o.stdout).contains("true")).unwrap_or(false)
        });
    }

    /// Gives the session's programs their own HOME (the `home` folder, also
    /// XDG_CONFIG_HOME): the login item is written under `$HOME/.config/autostart`
    /// whatever XDG_CONFIG_HOME says (auto-launch 0.6), and must not land in the real one.
    pub fn own_home(&mut self) {
        self.own_home = true;
    }

    pub fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// The settings folder the app and the CLI share (THINGSTRAY_CONFIG_DIR).
    pub fn config_dir(&self) -> PathBuf {
        self.path("config")
    }

    /// Everything a program of this desktop session needs in its environment.
    pub fn vars(&self) -> Vec<(String, String)> {
        let p = |s: &str| self.path(s).display().to_string();
        let mut vars = vec![
            ("DISPLAY".into(), self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.bus.clone()),
            ("XDG_DATA_HOME".into(), p("data")),
            ("XDG_RUNTIME_DIR".into(), p("runtime")),
            ("XDG_CONFIG_HOME".into(), p("home")),
            ("GDK_BACKEND".into(), "x11".into()),
            ("NO_AT_BRIDGE".into(), "1".into()),
            ("THINGSTRAY_CONFIG_DIR".into(), p("config")),
            ("BROWSER".into(), p("browser.sh")),
            ("RUST_LOG".into(), "info,tao=warn,wry=warn".into()),
        ];
        if self.own_home {
            vars.push(("HOME".into(), p("home")));
        }
        vars
    }

    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.envs(self.vars())
    }

    /// Every file under the settings folder, for the "no secret on disk" check.
    pub fn config_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out)
                } else if p.is_file() {
                    // Regular files only: the agent's socket lives here too, and has no
                    // content to read (reading it fails with ENXIO).
                    out.push(p)
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.config_dir(), &mut out);
        out
    }
}

impl Drop for SessionEnv {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
