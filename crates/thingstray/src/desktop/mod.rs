//! The desktop app's logic, with no window: the tray menu as data, devices grouped by
//! room with favorites first, the status line, the polling policy, notifications, the
//! setup wizard's checks, and [`Desktop`], the state the Tauri shell (`src-tauri`) wraps.
//! Nothing here knows Tauri; all of it is tested here.

mod app;
pub mod device_rows;
pub mod indicator;
pub mod menu;
pub mod modes;
pub mod notices;
pub mod poll;
pub mod prefs;
pub mod setup;

pub use app::calls;
pub use app::{
    Alert, AppInfo, ConnectionSummary, CopiedToken, CreateAppForm, Desktop, DeviceList, PairedView, PatHelp,
    ShareStatus, SignInStart, SignedIn,
};
pub use device_rows::{DeviceRow, RoomGroup, SceneRow};
pub use indicator::{status_line, PanelTheme, TrayState};
pub use menu::{ConnectionView, MenuAction, MenuEntry, TrayModel};
pub use modes::ModeView;
pub use notices::Notice;
pub use poll::{PollDecision, Showing};
pub use prefs::{ConnectionPrefs, DesktopSettings};
pub use setup::{FieldProblem, SetupForm};
