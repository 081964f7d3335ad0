//! The desktop app's logic, with no window: the tray menu as data, devices grouped by
//! room with favorites first, the status line, the polling policy, notifications, the
//! setup wizard's checks, and [`Desktop`], the state the Tauri shell (`src-tauri`) wraps.
//! Nothing here knows Tauri; all of it is tested here.

mod app;
pub mod devices;
pub mod menu;
pub mod notices;
pub mod poll;
pub mod settings;
pub mod setup;
pub mod indicator;

pub use app::{ConnectionSummary, CopiedToken, CreateAppForm, Desktop, DeviceList, PairedView, PatHelp, ShareStatus, SignInStart, SignedIn};
pub use devices::{DeviceRow, RoomGroup, SceneRow};
pub use menu::{ConnectionView, MenuAction, MenuEntry, TrayModel};
pub use notices::Notice;
pub use poll::{PollDecision, Showing};
pub use settings::{ConnectionPrefs, DesktopSettings};
pub use setup::{FieldProblem, SetupForm};
pub use indicator::{status_line, PanelTheme, TrayState};
