//! The tray's icons (the core's PNGs) as StatusNotifierItem pixmaps, decoded once.

use std::sync::OnceLock;

use ksni::Icon;
use thingstray::desktop::{PanelTheme, TrayState};

const STATES: [TrayState; 4] = [TrayState::Connected, TrayState::Refreshing, TrayState::Retrying, TrayState::SignIn];
const THEMES: [PanelTheme; 2] = [PanelTheme::Light, PanelTheme::Dark];

/// The icon for a state on a panel; every one is decoded at the first call (8 small PNGs).
pub fn for_state(state: TrayState, theme: PanelTheme) -> Icon {
    static ALL: OnceLock<Vec<(TrayState, PanelTheme, Icon)>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let mut out = vec![];
        for s in STATES {
            for t in THEMES {
                out.push((s, t, pixmap(s.icon_png(t)).expect("the tray icons are PNGs")));
            }
        }
        out
    });
    all.iter().find(|(s, t, _)| *s == state && *t == theme).map(|(_, _, i)| i.clone()).expect("every pair decoded")
}

/// A PNG as SNI's pixmap: ARGB32 in network byte order, so RGBA becomes ARGB.
pub fn pixmap(png_bytes: &[u8]) -> Result<Icon, png::DecodingError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    // 8-bit RGBA whatever the file holds (palette, grey, 16-bit): one conversion below.
    decoder.set_transformations(png::Transformations::normalize_to_color8() | png::Transformations::ALPHA);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let info = reader.next_frame(&mut buf)?;
    let px = &buf[..info.buffer_size()];
    let data = match info.color_type {
        png::ColorType::Rgba => px.chunks_exact(4).flat_map(|p| [p[3], p[0], p[1], p[2]]).collect(),
        png::ColorType::GrayscaleAlpha => px.chunks_exact(2).flat_map(|p| [p[1], p[0], p[0], p[0]]).collect(),
        other => unreachable!("ALPHA and normalize_to_color8 leave no {other:?}"),
    };
    Ok(Icon { width: info.width as i32, height: info.height as i32, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_icon_decodes_to_a_square_argb_pixmap_of_its_own() {
        let mut seen: Vec<Vec<u8>> = vec![];
        for s in STATES {
            for t in THEMES {
                let icon = for_state(s, t);
                assert!(icon.width > 0 && icon.width == icon.height, "{s:?} {t:?}");
                assert_eq!(icon.data.len(), (icon.width * icon.height * 4) as usize);
                // Not fully transparent: the alpha byte comes first.
                assert!(icon.data.chunks_exact(4).any(|p| p[0] > 0), "{s:?} {t:?} is empty");
                assert!(!seen.contains(&icon.data), "{s:?} {t:?} shares its pixels");
                seen.push(icon.data);
            }
        }
    }

    #[test]
    fn a_broken_png_is_an_error_not_a_panic() {
        assert!(pixmap(b"not a png").is_err());
    }
}
