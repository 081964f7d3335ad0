//! "Copy access token" from the tray. On X11 a copied text lives as long as the process
//! that copied it serves it: the resident keeps one clipboard for its whole life.

use std::sync::Mutex;

static CLIPBOARD: Mutex<Option<arboard::Clipboard>> = Mutex::new(None);

/// Puts `text` on the clipboard; the error says why not (no display, no clipboard).
pub fn copy(text: &str) -> Result<(), String> {
    let mut slot = CLIPBOARD.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        *slot = Some(arboard::Clipboard::new().map_err(|e| e.to_string())?);
    }
    let clipboard = slot.as_mut().expect("set above");
    clipboard.set_text(text).map_err(|e| e.to_string())
}
