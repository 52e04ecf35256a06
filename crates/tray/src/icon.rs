//! The tray images: one PNG per [`TrayState`], decoded once into the ARGB32 pixmaps the
//! StatusNotifierItem spec carries (hosts draw them; no icon theme needs installing).

use ksni::Icon;

use crate::state::TrayState;

/// The decoded image of every state.
pub(crate) struct Icons {
    idle: Icon,
    open: Icon,
    connecting: Icon,
    failed: Icon,
}

impl Icons {
    /// Decodes the PNGs compiled into the binary (`crates/tray/icons`, made by
    /// `src-tauri/icons/make-icons.sh` with the app's icons, so the mark stays one design).
    pub fn load() -> Self {
        // The bytes are part of the binary and every one is decoded by a unit test, so a
        // failure here is a build mistake, not something a user's machine can cause.
        let decode = |png: &[u8]| argb_icon(png).expect("a compiled-in tray icon decodes");
        Self {
            idle: decode(include_bytes!("../icons/tray-idle.png")),
            open: decode(include_bytes!("../icons/tray-open.png")),
            connecting: decode(include_bytes!("../icons/tray-connecting.png")),
            failed: decode(include_bytes!("../icons/tray-failed.png")),
        }
    }

    /// The image for `state`.
    pub fn get(&self, state: TrayState) -> &Icon {
        match state {
            TrayState::Idle => &self.idle,
            TrayState::AllOpen => &self.open,
            TrayState::SomeConnecting => &self.connecting,
            TrayState::SomeFailed => &self.failed,
        }
    }
}

/// Decodes a PNG into an ARGB32 pixmap in network byte order (A, R, G, B per pixel), the
/// layout of the spec's `IconPixmap`. Grey, palette and 16-bit PNGs are normalised to
/// 8-bit RGBA first.
fn argb_icon(png_bytes: &[u8]) -> Result<Icon, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(
        png::Transformations::EXPAND | png::Transformations::STRIP_16 | png::Transformations::ALPHA,
    );
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let size = reader
        .output_buffer_size()
        .ok_or("the image is too large")?;
    let mut data = vec![0; size];
    let frame = reader.next_frame(&mut data).map_err(|e| e.to_string())?;
    data.truncate(frame.buffer_size());
    let rgba = match frame.color_type {
        png::ColorType::Rgba => data,
        png::ColorType::GrayscaleAlpha => data
            .chunks_exact(2)
            .flat_map(|ga| [ga[0], ga[0], ga[0], ga[1]])
            .collect(),
        other => return Err(format!("unexpected colour type {other:?} after expansion")),
    };
    let mut argb = rgba;
    for pixel in argb.chunks_exact_mut(4) {
        pixel.rotate_right(1);
    }
    Ok(Icon {
        width: i32::try_from(frame.width).map_err(|e| e.to_string())?,
        height: i32::try_from(frame.height).map_err(|e| e.to_string())?,
        data: argb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pixel at (x, y) as A, R, G, B.
    fn pixel(icon: &Icon, x: usize, y: usize) -> [u8; 4] {
        let at = (y * icon.width as usize + x) * 4;
        icon.data[at..at + 4].try_into().unwrap()
    }

    #[test]
    fn every_state_decodes_to_argb_with_its_badge_colour() {
        let icons = Icons::load();
        // The badge in the lower right corner carries the state's colour (make-icons.sh).
        for (state, badge) in [
            (TrayState::Idle, [0xff, 0x9c, 0xa3, 0xaf]),
            (TrayState::AllOpen, [0xff, 0x22, 0xc5, 0x5e]),
            (TrayState::SomeConnecting, [0xff, 0xf5, 0x9e, 0x0b]),
            (TrayState::SomeFailed, [0xff, 0xef, 0x44, 0x44]),
        ] {
            let icon = icons.get(state);
            assert_eq!((icon.width, icon.height), (64, 64));
            assert_eq!(icon.data.len(), 64 * 64 * 4);
            assert_eq!(pixel(icon, 49, 49), badge, "{state:?}");
            // Transparent corner, white dot in the middle: alpha really is the first byte.
            assert_eq!(pixel(icon, 0, 0), [0, 0, 0, 0]);
            assert_eq!(pixel(icon, 32, 32), [0xff; 4]);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(argb_icon(b"not a png").is_err());
    }
}
