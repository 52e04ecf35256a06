//! The notifier: the only code that talks to the desktop notification server (through
//! notify-rust, over the D-Bus session bus).
//!
//! The pipeline must never wait for the desktop, so [`DesktopNotifier::deliver`] only
//! queues (a bounded queue; a full one drops and counts). One task sends in order; a
//! missing bus or server fails within milliseconds, which marks the notifier down, and
//! the next notification simply tries again: delivery resumes by itself when the server is
//! back, with one notice of how many popups were missed meanwhile.
//!
//! Why not tauri-plugin-notification: it has no click events on Linux. Why not a
//! persistent zbus connection of our own: notify-rust is the chosen, maintained client;
//! its per-notification connection costs about a millisecond, far below a popup's pace.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ssenotify_config::Paths;
use ssenotify_protocol::{NotifierHealth, NotifierState, ServerInfo};
use ssenotify_router::{
    Button, HttpRequest, Notification, Press, Timeout, Urgency, escape_markup, unescape_markup,
    vet_click_url,
};
use tokio::sync::{Semaphore, mpsc};

use crate::button::Buttons;
use crate::images::{FETCH_TIMEOUT, Images};
use crate::sink::{Delivery, NotifySink, OnPressed, Tracked};

/// The app name notifications carry unless a rule names another.
const APP_NAME: &str = "ssenotify";
/// Notifications queued for the server before new ones are dropped.
pub const QUEUE: usize = 256;
/// How long one call to the notification server may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Replace keys remembered (each maps to the server's notification id).
const MAX_REPLACE_KEYS: usize = 4096;
/// Notifications with a click URL whose click is awaited at once; more are shown without.
const MAX_CLICK_WAITERS: usize = 64;

enum Job {
    Show {
        subscription: String,
        notification: Box<Notification>,
        /// Told when the server refuses it or never answers, and what its buttons got.
        tracked: Option<Tracked>,
    },
    /// Answered once everything queued before it has been sent.
    Flush(tokio::sync::oneshot::Sender<()>),
}

struct State {
    health: NotifierHealth,
    /// Popups missed since the server was last seen working.
    missed_while_down: u64,
}

/// Desktop notifications through notify-rust.
pub struct DesktopNotifier {
    jobs: mpsc::Sender<Job>,
    state: Arc<Mutex<State>>,
}

impl DesktopNotifier {
    /// Start the sending task on the current tokio runtime.
    pub fn spawn() -> Arc<Self> {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let state = Arc::new(Mutex::new(State {
            health: NotifierHealth::default(),
            missed_while_down: 0,
        }));
        tokio::spawn(Sender::new(state.clone()).run(rx));
        Arc::new(Self { jobs, state })
    }

    /// Wait until every notification queued so far has been sent (or failed).
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.jobs.send(Job::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

impl NotifySink for DesktopNotifier {
    fn deliver(&self, subscription: &str, notification: Notification) -> Delivery {
        self.queue(subscription, notification, None)
    }

    fn deliver_tracked(
        &self,
        subscription: &str,
        notification: Notification,
        tracked: Tracked,
    ) -> Delivery {
        self.queue(subscription, notification, Some(tracked))
    }

    fn health(&self) -> NotifierHealth {
        lock(&self.state).health.clone()
    }
}

impl DesktopNotifier {
    fn queue(
        &self,
        subscription: &str,
        notification: Notification,
        tracked: Option<Tracked>,
    ) -> Delivery {
        let job = Job::Show {
            subscription: subscription.to_owned(),
            notification: Box::new(notification),
            tracked,
        };
        match self.jobs.try_send(job) {
            Ok(()) => Delivery::Queued,
            Err(_) => {
                let mut state = lock(&self.state);
                state.health.missed += 1;
                state.missed_while_down += 1;
                Delivery::Dropped
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the notification server can do, as it says.
#[derive(Debug, Clone, Copy)]
struct Caps {
    body_markup: bool,
    actions: bool,
}

/// The sending task's own state.
struct Sender {
    state: Arc<Mutex<State>>,
    /// (subscription, replace key) → the server's notification id; oldest forgotten first.
    replace_ids: HashMap<(String, String), u32>,
    replace_order: VecDeque<(String, String)>,
    /// Whether the server renders markup (if not, bodies are sent unescaped) and shows
    /// action buttons; `None` until asked.
    caps: Option<Caps>,
    clicks: Arc<Semaphore>,
    images: Images,
    buttons: Arc<Buttons>,
}

impl Sender {
    fn new(state: Arc<Mutex<State>>) -> Self {
        Self {
            state,
            replace_ids: HashMap::new(),
            replace_order: VecDeque::new(),
            caps: None,
            clicks: Arc::new(Semaphore::new(MAX_CLICK_WAITERS)),
            images: Images::new(ssenotify_config::Paths::cache_dir()),
            buttons: Arc::new(Buttons::new()),
        }
    }

    async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Show {
                    subscription,
                    notification,
                    tracked,
                } => {
                    let (failed, pressed) = match tracked {
                        Some(Tracked {
                            failed,
                            pressed,
                            secrets,
                        }) => (Some(failed), (Some(pressed), secrets)),
                        None => (None, (None, None)),
                    };
                    if !self.send(subscription, *notification, pressed).await
                        && let Some(failed) = failed
                    {
                        failed();
                    }
                }
                Job::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Shows one notification; returns whether the server took it.
    async fn send(
        &mut self,
        subscription: String,
        notification: Notification,
        pressed: (Option<OnPressed>, Option<Paths>),
    ) -> bool {
        if self.caps.is_none() {
            self.caps = capabilities().await.ok().map(|caps| Caps {
                body_markup: caps.iter().any(|c| c == "body-markup"),
                actions: caps.iter().any(|c| c == "actions"),
            });
        }
        let caps = self.caps.unwrap_or(Caps {
            body_markup: true,
            actions: true,
        });
        let key = notification
            .replace_key
            .clone()
            .map(|key| (subscription, key));
        let replaces = key.as_ref().and_then(|k| self.replace_ids.get(k).copied());
        let mut popup = build(&notification, caps.body_markup);
        let buttons = if caps.actions {
            notification.buttons.clone()
        } else {
            Vec::new()
        };
        for (i, button) in buttons.iter().enumerate() {
            popup.action(&format!("button-{i}"), &button.label);
        }
        if let Some(id) = replaces {
            popup.id(id);
        }
        // The image, or else an icon given as a URL, goes as pixels. Popups are shown in
        // order, so a slow image holds the next ones back for at most the fetch timeout.
        let picture = notification
            .image
            .as_deref()
            .or(notification.icon.as_deref().filter(|icon| is_url(icon)));
        if let Some(url) = picture
            && let Ok(Some(image)) =
                tokio::time::timeout(FETCH_TIMEOUT, self.images.load(url)).await
        {
            // notify-rust names the image hint after the server's spec version, which it
            // asks for once with a blocking call that must not run on the async runtime.
            let _ = tokio::task::spawn_blocking(|| *notify_rust::SPEC_VERSION).await;
            popup.image_data(image);
        }
        let shown = tokio::time::timeout(CALL_TIMEOUT, popup.show_async()).await;
        match shown {
            Ok(Ok(handle)) => {
                let missed = self.mark_up().await;
                if let Some(key) = key {
                    self.remember(key, handle.id());
                }
                if notification.click_url.is_some() || !buttons.is_empty() {
                    let (record, secrets) = pressed;
                    let pressed = Pressed {
                        title: notification.title.clone(),
                        record,
                        secrets,
                    };
                    self.await_click(handle, notification.click_url.clone(), buttons, pressed);
                }
                if missed > 0 {
                    let notice = format!(
                        "{missed} notification(s) could not be shown while the notification server was unavailable; see `ssenotify history`"
                    );
                    let mut popup = notify_rust::Notification::new();
                    popup.appname(APP_NAME).summary("ssenotify").body(&notice);
                    let _ = tokio::time::timeout(CALL_TIMEOUT, popup.show_async()).await;
                }
                true
            }
            Ok(Err(error)) => {
                self.mark_down(error.to_string());
                false
            }
            Err(_) => {
                self.mark_down("the notification server did not answer in time".into());
                false
            }
        }
    }

    /// Record success; returns how many popups were missed while it was down.
    async fn mark_up(&mut self) -> u64 {
        let known = lock(&self.state).health.server.is_some();
        let server = if known { None } else { server_name().await };
        let mut state = lock(&self.state);
        if state.health.state != NotifierState::Up {
            tracing::info!("notification server available");
        }
        state.health.state = NotifierState::Up;
        state.health.error = None;
        state.health.delivered += 1;
        if server.is_some() {
            state.health.server = server;
        }
        std::mem::take(&mut state.missed_while_down)
    }

    fn mark_down(&mut self, error: String) {
        let mut state = lock(&self.state);
        if state.health.state != NotifierState::Down {
            tracing::warn!(%error, "notification server unavailable; events still go to history");
        }
        state.health.state = NotifierState::Down;
        state.health.error = Some(error);
        state.health.missed += 1;
        state.missed_while_down += 1;
        // The server that comes back may be another one, with other capabilities.
        state.health.server = None;
        self.caps = None;
        self.replace_ids.clear();
        self.replace_order.clear();
    }

    fn remember(&mut self, key: (String, String), id: u32) {
        if self.replace_ids.insert(key.clone(), id).is_none() {
            self.replace_order.push_back(key);
            if self.replace_order.len() > MAX_REPLACE_KEYS
                && let Some(oldest) = self.replace_order.pop_front()
            {
                self.replace_ids.remove(&oldest);
            }
        }
    }

    /// Open `click_url` if the user clicks the notification (its default action), or do
    /// what a button says if they press it: open its URL, or send its request (what that
    /// got goes to history, and a failure is told in a notification of its own).
    fn await_click(
        &self,
        handle: notify_rust::NotificationHandle,
        click_url: Option<String>,
        buttons: Vec<Button>,
        pressed: Pressed,
    ) {
        let Ok(permit) = self.clicks.clone().try_acquire_owned() else {
            tracing::debug!("too many notifications await a click; this one will not open");
            return;
        };
        let requests = self.buttons.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut chosen = None;
            let mut label = String::new();
            handle
                .wait_for_action_async(|response| {
                    chosen = match response {
                        notify_rust::NotificationResponse::Default => {
                            click_url.clone().map(Press::View)
                        }
                        notify_rust::NotificationResponse::Action(action)
                            if action == "default" =>
                        {
                            click_url.clone().map(Press::View)
                        }
                        notify_rust::NotificationResponse::Action(action) => action
                            .strip_prefix("button-")
                            .and_then(|i| buttons.get(i.parse::<usize>().ok()?))
                            .map(|button| {
                                label = button.label.clone();
                                button.press.clone()
                            }),
                        _ => None,
                    };
                })
                .await;
            match chosen {
                Some(Press::View(url)) => open_url(&url).await,
                Some(Press::Http(request)) => pressed.press(&requests, &label, &request).await,
                None => {}
            }
        });
    }
}

/// Where a notification's pressed `http` buttons report: history, and a follow-up
/// notification when the request failed.
struct Pressed {
    /// The notification's title, which the follow-up repeats.
    title: String,
    record: Option<OnPressed>,
    secrets: Option<Paths>,
}

impl Pressed {
    async fn press(self, buttons: &Buttons, label: &str, request: &HttpRequest) {
        let paths = self.secrets.or_else(Paths::from_env);
        let outcome = buttons.press(label, request, paths.as_ref()).await;
        if let Some(record) = &self.record {
            record(outcome.line.clone());
        }
        if outcome.failed {
            let mut popup = notify_rust::Notification::new();
            popup
                .appname(APP_NAME)
                .summary(&self.title)
                .body(&escape_markup(&outcome.line))
                .urgency(notify_rust::Urgency::Normal);
            match tokio::time::timeout(CALL_TIMEOUT, popup.show_async()).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "a failed button's notice could not be shown");
                }
                Err(_) => tracing::warn!("a failed button's notice: the server did not answer"),
            }
        }
    }
}

/// Hand an http(s) URL to the desktop's default handler and wait for it to return (so
/// no `xdg-open` is left a zombie); anything else is refused.
pub async fn open_url(url: &str) {
    // The router already vetted it; checking again here keeps this function safe on its own.
    match vet_click_url(url) {
        Ok(url) => {
            let spawned = tokio::process::Command::new("xdg-open")
                .arg(&url)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
            match spawned {
                Ok(mut child) => {
                    if let Err(error) = child.wait().await {
                        tracing::warn!(%error, "xdg-open could not be waited for");
                    }
                }
                Err(error) => tracing::warn!(%error, "could not run xdg-open"),
            }
        }
        Err(reason) => tracing::warn!(%reason, "click URL refused"),
    }
}

/// The notify-rust notification for one routed notification.
fn build(n: &Notification, body_markup: bool) -> notify_rust::Notification {
    let mut popup = notify_rust::Notification::new();
    popup
        .appname(n.app_name.as_deref().unwrap_or(APP_NAME))
        .summary(&n.title);
    if body_markup {
        popup.body(&n.body);
    } else {
        popup.body(&unescape_markup(&n.body));
    }
    popup.urgency(match n.urgency {
        Urgency::Low => notify_rust::Urgency::Low,
        Urgency::Normal => notify_rust::Urgency::Normal,
        Urgency::Critical => notify_rust::Urgency::Critical,
    });
    popup.timeout(match n.timeout {
        Timeout::Default => notify_rust::Timeout::Default,
        Timeout::Never => notify_rust::Timeout::Never,
        Timeout::After(d) => {
            notify_rust::Timeout::Milliseconds(u32::try_from(d.as_millis()).unwrap_or(u32::MAX))
        }
    });
    if let Some(icon) = n.icon.as_deref().filter(|icon| !is_url(icon)) {
        popup.icon(icon);
    }
    if let Some(category) = &n.category {
        popup.hint(notify_rust::Hint::Category(category.clone()));
    }
    if let Some(sound) = &n.sound {
        popup.sound_name(sound);
    }
    if let Some(progress) = n.progress {
        popup.hint(notify_rust::Hint::CustomInt(
            "value".into(),
            i32::from(progress),
        ));
    }
    if n.click_url.is_some() {
        popup.action("default", "Open");
    }
    popup
}

/// Whether an icon is a URL to fetch rather than a themed name or a path.
fn is_url(icon: &str) -> bool {
    icon.starts_with("http://") || icon.starts_with("https://")
}

async fn capabilities() -> Result<Vec<String>, String> {
    tokio::task::spawn_blocking(notify_rust::get_capabilities)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

async fn server_name() -> Option<String> {
    let info = tokio::task::spawn_blocking(notify_rust::get_server_information)
        .await
        .ok()?
        .ok()?;
    Some(format!("{} {}", info.name, info.version))
}

/// Ask the server who it is and show a sample notification (`ssenotify notify-test`).
pub async fn test(urgency: Urgency) -> Result<ServerInfo, String> {
    let info = tokio::task::spawn_blocking(notify_rust::get_server_information)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("no notification server: {e}"))?;
    let capabilities = capabilities().await?;
    let markup = capabilities.iter().any(|c| c == "body-markup");
    let sample = Notification::summary(
        "ssenotify test".into(),
        "If you can read this, notifications work. <b> stays literal.",
        urgency,
    );
    tokio::time::timeout(CALL_TIMEOUT, build(&sample, markup).show_async())
        .await
        .map_err(|_| "the notification server did not answer in time".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(ServerInfo {
        name: info.name,
        vendor: info.vendor,
        version: info.version,
        spec_version: info.spec_version,
        capabilities,
    })
}
