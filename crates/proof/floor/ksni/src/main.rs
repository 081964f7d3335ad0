//! The floor for the resident tray issue 30 plans: a StatusNotifierItem over D-Bus (the
//! `ksni` crate, zbus underneath) with no GTK and no WebKit. An icon (ThingsTray's own
//! PNG, as the ARGB32 pixmap the protocol carries) and a one-item menu (Quit); the proof
//! (`thingstray-proof floor`) reads this process's PSS beside the real app's.

use ksni::menu::StandardItem;
use ksni::{Icon, MenuItem, TrayMethods};

/// The real tray's "connected" icon, so the floor holds the same pixels.
const ICON: &[u8] = include_bytes!("../../../../../icons/tray/connected-dark.png");

struct Floor {
    icon: Icon,
}

impl ksni::Tray for Floor {
    fn id(&self) -> String {
        "floor-ksni".into()
    }

    fn title(&self) -> String {
        "floor-ksni".into()
    }

    fn icon_pixmap(&self) -> Vec<Icon> {
        vec![self.icon.clone()]
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        vec![StandardItem { label: "Quit".into(), activate: Box::new(|_| std::process::exit(0)), ..Default::default() }
            .into()]
    }
}

/// The PNG as SNI's pixmap: ARGB32 in network byte order, so RGBA becomes ARGB.
fn pixmap(png_bytes: &[u8]) -> Result<Icon, png::DecodingError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    // 8-bit RGBA whatever the file holds (palette, grey, 16-bit): one conversion below.
    decoder.set_transformations(png::Transformations::normalize_to_color8() | png::Transformations::ALPHA);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let info = reader.next_frame(&mut buf)?;
    let rgba = &buf[..info.buffer_size()];
    let data = match info.color_type {
        png::ColorType::Rgba => rgba.chunks_exact(4).flat_map(|p| [p[3], p[0], p[1], p[2]]).collect(),
        png::ColorType::GrayscaleAlpha => rgba.chunks_exact(2).flat_map(|p| [p[1], p[0], p[0], p[0]]).collect(),
        other => unreachable!("ALPHA and normalize_to_color8 leave no {other:?}"),
    };
    Ok(Icon { width: info.width as i32, height: info.height as i32, data })
}

// One thread: a tray answers a handful of D-Bus calls, and each worker thread costs memory,
// which is what this program is here to show.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let icon = pixmap(ICON).expect("the tray icon is a PNG");
    // No StatusNotifierWatcher runs under the proof's private bus (nor at a session's very
    // start): stay up and keep the item exported rather than exit.
    let _handle = Floor { icon }.assume_sni_available(true).spawn().await.expect("the tray on the session bus");
    std::future::pending::<()>().await;
}
