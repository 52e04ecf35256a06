//! Icons and images given as http(s) URLs (a rule's `icon`/`image`, the `icon` of ntfy's
//! messages, an image attachment): fetched with a size limit and a timeout, cached, decoded
//! and handed to the notification server as pixels (the freedesktop `image-data` hint),
//! since a server cannot fetch a URL itself.
//!
//! The data is untrusted: nothing but http(s) is fetched, no credentials are sent, the body
//! is cut off past [`MAX_BYTES`], the decoder is held to [`MAX_SIDE`] pixels a side and a
//! memory limit, and whatever fails just leaves the notification without its image.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ssenotify_router::vet_click_url;

/// The most bytes fetched for one image (README, Limits).
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// How long fetching one image may take, in all.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched image is used before it is fetched again.
pub const CACHE_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// The largest width or height decoded; a larger image is refused.
const MAX_SIDE: u32 = 4096;
/// The largest side sent to the server (scaled down to fit: servers show icons small).
const SHOWN_SIDE: u32 = 256;

/// Fetches, caches and decodes images for notifications.
pub(crate) struct Images {
    /// Made for the first image: building a client reads the system's certificates, which
    /// a daemon that never shows an image should not pay for at start.
    client: std::sync::OnceLock<reqwest::Client>,
    /// `$XDG_CACHE_HOME/ssenotify/images`; `None`: no cache.
    dir: Option<PathBuf>,
}

impl Images {
    /// Images cached under `cache_dir` (created 0700 when first needed).
    pub(crate) fn new(cache_dir: Option<PathBuf>) -> Self {
        Self {
            client: std::sync::OnceLock::new(),
            dir: cache_dir.map(|d| d.join("images")),
        }
    }

    fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("ssenotify/", env!("CARGO_PKG_VERSION")))
                .timeout(FETCH_TIMEOUT)
                // Redirects stay on http(s) (reqwest follows no other scheme) and few.
                .redirect(reqwest::redirect::Policy::limited(5))
                .build()
                .unwrap_or_default()
        })
    }

    /// The image at `url` as the server's pixels, or `None` (logged) when it cannot be had.
    pub(crate) async fn load(&self, url: &str) -> Option<notify_rust::Image> {
        let url = vet_click_url(url).ok()?;
        let cached = self.dir.as_ref().map(|dir| dir.join(cache_name(&url)));
        let bytes = match cached.as_deref().and_then(fresh) {
            Some(bytes) => bytes,
            None => {
                let bytes = match self.fetch(&url).await {
                    Ok(bytes) => bytes,
                    Err(reason) => {
                        tracing::info!(%reason, "notification image not fetched");
                        return None;
                    }
                };
                if let Some(path) = &cached {
                    store(path, &bytes);
                }
                bytes
            }
        };
        match tokio::task::spawn_blocking(move || decode(&bytes)).await {
            Ok(Ok(image)) => Some(image),
            Ok(Err(reason)) => {
                tracing::info!(%reason, "notification image not shown");
                None
            }
            Err(_) => None,
        }
    }

    /// The body at `url`, at most [`MAX_BYTES`].
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut response = self
            .client()
            .get(url)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BYTES as u64)
        {
            return Err(format!("larger than {MAX_BYTES} bytes"));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| e.without_url().to_string())?
        {
            if bytes.len() + chunk.len() > MAX_BYTES {
                return Err(format!("larger than {MAX_BYTES} bytes"));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// A file name for `url` in the cache (a hash: URLs hold characters file names cannot).
fn cache_name(url: &str) -> String {
    // FNV-1a, not DefaultHasher: the name must stay the same across builds.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in url.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}-{}", url.len())
}

/// The cached bytes at `path` while they are younger than [`CACHE_FOR`].
fn fresh(path: &Path) -> Option<Vec<u8>> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    (age < CACHE_FOR)
        .then(|| std::fs::read(path).ok())
        .flatten()
}

/// Writes `bytes` to `path` whole (a temporary name, then a rename), and removes entries
/// older than [`CACHE_FOR`] so the cache holds a day of images at most.
fn store(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let Some(dir) = path.parent() else { return };
    if std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .is_err()
    {
        return;
    }
    let temp = path.with_extension("part");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| std::io::Write::write_all(&mut file, bytes));
    if written.and_then(|()| std::fs::rename(&temp, path)).is_err() {
        let _ = std::fs::remove_file(&temp);
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| SystemTime::now().duration_since(t).unwrap_or_default() > CACHE_FOR);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// PNG, JPEG, GIF or WebP bytes as RGBA pixels at most [`SHOWN_SIDE`] a side.
fn decode(bytes: &[u8]) -> Result<notify_rust::Image, String> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(128 * 1024 * 1024);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| e.to_string())?;
    let image = if image.width() > SHOWN_SIDE || image.height() > SHOWN_SIDE {
        image.thumbnail(SHOWN_SIDE, SHOWN_SIDE)
    } else {
        image
    };
    let rgba = image.to_rgba8();
    let (width, height) = rgba.dimensions();
    notify_rust::Image::from_rgba(width as i32, height as i32, rgba.into_raw())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbaImage::from_pixel(width, height, image::Rgba([200, 10, 10, 255]));
        let mut out = Cursor::new(Vec::new());
        image
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("encode");
        out.into_inner()
    }

    #[test]
    fn a_png_decodes_and_a_large_one_is_scaled_down() {
        assert!(decode(&png(16, 16)).is_ok());
        assert!(decode(&png(1000, 500)).is_ok());
        assert!(decode(&png(MAX_SIDE + 1, 1)).is_err(), "too wide to decode");
        assert!(decode(b"<html>not an image</html>").is_err());
    }

    #[test]
    fn the_cache_keeps_what_it_stored_and_names_are_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir
            .path()
            .join("images")
            .join(cache_name("https://x.example/a.png"));
        assert_eq!(fresh(&path), None);
        store(&path, b"bytes");
        assert_eq!(fresh(&path).as_deref(), Some(&b"bytes"[..]));
        assert_eq!(
            cache_name("https://x.example/a.png"),
            cache_name("https://x.example/a.png")
        );
        assert_ne!(
            cache_name("https://x.example/a.png"),
            cache_name("https://x.example/b.png")
        );
    }
}
