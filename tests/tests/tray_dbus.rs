//! `ssenotify run --tray` seen from the tray host's side of a real session bus: the real
//! binary exports its StatusNotifierItem and dbusmenu; this test reads them over D-Bus
//! exactly as a desktop's tray would, and clicks the menu with the same calls.
//!
//! The one piece provided here is the host's StatusNotifierWatcher (a few lines of zbus,
//! below): this machine has no desktop shell, and a real tray host is precisely that
//! watcher plus drawing. ksni does not register an item without one, so without it there
//! would be nothing to find. Everything on the daemon's side is real: loopback SSE
//! servers, the subscriptions file, the control socket, the app launched by "Show window"
//! (a script standing in for `ssenotify-app`, which is tested with the real webview
//! elsewhere).
//!
//! Needs Xvfb and dbus-daemon (the [`Desktop`] fixture): `scripts/setup.sh test`.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use ssenotify_e2e::desktop::{Desktop, DesktopOptions};
use ssenotify_e2e::{Response, Step, TestServer, poll};
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

/// Generous: CI runs several desktops at once on two cores.
const WAIT: Duration = Duration::from_secs(10);

/// ARGB of the status badge (pixel 49,49 of the 64 px icon) for each tray state; the
/// colours of `src-tauri/icons/make-icons.sh`.
const IDLE: [u8; 4] = [0xff, 0x9c, 0xa3, 0xaf];
const OPEN: [u8; 4] = [0xff, 0x22, 0xc5, 0x5e];
const CONNECTING: [u8; 4] = [0xff, 0xf5, 0x9e, 0x0b];
const FAILED: [u8; 4] = [0xff, 0xef, 0x44, 0x44];

// ---------------------------------------------------------------------------------------
// The host's side of the bus
// ---------------------------------------------------------------------------------------

mod host {
    // The interface macro generates public items of its own, without docs.
    #![allow(missing_docs)]

    use std::sync::{Arc, Mutex};

    use zbus::object_server::SignalEmitter;

    /// The minimal `org.kde.StatusNotifierWatcher` a tray host serves: it records who
    /// registered and says a host is there.
    pub struct Watcher {
        pub items: Arc<Mutex<Vec<String>>>,
    }

    #[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
    impl Watcher {
        async fn register_status_notifier_item(
            &self,
            service: String,
            #[zbus(header)] header: zbus::message::Header<'_>,
            #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
        ) -> zbus::fdo::Result<()> {
            // The spec allows a bus name or an object path (of the sender) here.
            let service = if service.starts_with('/') {
                let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
                format!("{sender}{service}")
            } else {
                service
            };
            self.items.lock().unwrap().push(service.clone());
            Self::status_notifier_item_registered(&emitter, &service).await?;
            Ok(())
        }

        fn register_status_notifier_host(&self, _service: String) {}

        #[zbus(property)]
        fn registered_status_notifier_items(&self) -> Vec<String> {
            self.items.lock().unwrap().clone()
        }

        #[zbus(property)]
        fn is_status_notifier_host_registered(&self) -> bool {
            true
        }

        #[zbus(property)]
        fn protocol_version(&self) -> i32 {
            0
        }

        #[zbus(signal)]
        async fn status_notifier_item_registered(
            emitter: &SignalEmitter<'_>,
            service: &str,
        ) -> zbus::Result<()>;
    }
}

use host::Watcher;

/// What a host reads from an item.
/// An SNI pixmap: width, height, ARGB32 bytes in network order.
type Pixmap = (i32, i32, Vec<u8>);

#[zbus::proxy(
    interface = "org.kde.StatusNotifierItem",
    default_path = "/StatusNotifierItem"
)]
trait Item {
    fn activate(&self, x: i32, y: i32) -> zbus::Result<()>;
    #[zbus(property)]
    fn id(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn title(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn category(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn status(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn icon_pixmap(&self) -> zbus::Result<Vec<Pixmap>>;
    #[zbus(property)]
    fn tool_tip(&self) -> zbus::Result<(String, Vec<Pixmap>, String, String)>;
    #[zbus(property)]
    fn menu(&self) -> zbus::Result<OwnedObjectPath>;
    #[zbus(signal)]
    fn new_icon(&self) -> zbus::Result<()>;
}

/// A menu node as `GetLayout` returns it: id, properties, children.
type Node = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

/// What a host uses of the item's menu.
#[zbus::proxy(interface = "com.canonical.dbusmenu")]
trait Menu {
    fn get_layout(
        &self,
        parent_id: i32,
        recursion_depth: i32,
        property_names: &[&str],
    ) -> zbus::Result<(u32, Node)>;
    fn event(
        &self,
        id: i32,
        event_id: &str,
        data: &zbus::zvariant::Value<'_>,
        timestamp: u32,
    ) -> zbus::Result<()>;
}

/// The test's connection to the desktop's session bus, on a runtime of its own so the
/// test itself stays plain blocking code.
///
/// zbus proxies and connections spawn a task when dropped, which needs the runtime's
/// context: a test holds `bus.rt.enter()` while it has proxies, and `Bus` drops its
/// connection inside it.
struct Bus {
    rt: tokio::runtime::Runtime,
    conn: Option<zbus::Connection>,
    address: String,
    /// The tray host's own connection, once `serve_watcher` made one.
    host: Mutex<Option<zbus::Connection>>,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _rt = self.rt.enter();
        self.conn.take();
        self.host.lock().unwrap().take();
    }
}

impl Bus {
    fn connect(desk: &Desktop) -> Bus {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let conn = rt
            .block_on(
                zbus::connection::Builder::address(desk.bus_address())
                    .expect("the bus address parses")
                    .build(),
            )
            .expect("connect to the desktop's bus");
        Bus {
            rt,
            conn: Some(conn),
            address: desk.bus_address().to_owned(),
            host: Mutex::new(None),
        }
    }

    fn conn(&self) -> &zbus::Connection {
        self.conn.as_ref().expect("connected until dropped")
    }

    /// Become the tray host: serve the watcher under its well-known name.
    ///
    /// On a connection of its own, built with the object and the name: zbus's builder
    /// owns the name only once the object server listens. `object_server().at()` on a
    /// running connection starts that listener as a task, and a call that lands before
    /// the task subscribes is dropped: the likely cause of a CI run where the item
    /// called `RegisterStatusNotifierItem` and the watcher never saw it.
    fn serve_watcher(&self) -> Arc<Mutex<Vec<String>>> {
        let items = Arc::new(Mutex::new(Vec::new()));
        let watcher = Watcher {
            items: items.clone(),
        };
        let host = self.rt.block_on(async {
            zbus::connection::Builder::address(self.address.as_str())
                .expect("the bus address parses")
                .serve_at("/StatusNotifierWatcher", watcher)
                .expect("serve the watcher")
                .name("org.kde.StatusNotifierWatcher")
                .expect("the watcher's name")
                .build()
                .await
                .expect("own the watcher's name")
        });
        *self.host.lock().unwrap() = Some(host);
        items
    }

    fn has_owner(&self, name: &str) -> bool {
        self.rt.block_on(async {
            let dbus = zbus::fdo::DBusProxy::new(self.conn()).await.unwrap();
            dbus.name_has_owner(name.try_into().unwrap()).await.unwrap()
        })
    }

    /// A proxy of the item at `name` that reads every property afresh (ksni signals icon
    /// and tooltip changes with `NewIcon`/`NewToolTip`, not `PropertiesChanged`).
    fn item(&self, name: &str) -> ItemProxy<'static> {
        self.rt.block_on(async {
            ItemProxy::builder(self.conn())
                .destination(name.to_owned())
                .unwrap()
                .cache_properties(zbus::proxy::CacheProperties::No)
                .build()
                .await
                .expect("an item proxy")
        })
    }

    /// The item's menu, at the path its `Menu` property names.
    fn menu(&self, item: &ItemProxy<'static>) -> MenuProxy<'static> {
        self.rt.block_on(async {
            let path = item.menu().await.expect("the Menu property");
            MenuProxy::builder(self.conn())
                .destination(item.inner().destination().to_owned())
                .unwrap()
                .path(path)
                .unwrap()
                .build()
                .await
                .expect("a menu proxy")
        })
    }

    /// Counts the item's `NewIcon` signals (what makes a host redraw).
    fn count_new_icons(&self, item: &ItemProxy<'static>) -> Arc<AtomicUsize> {
        let count = Arc::new(AtomicUsize::new(0));
        let mut signals = self
            .rt
            .block_on(item.receive_new_icon())
            .expect("subscribe to NewIcon");
        let counter = count.clone();
        self.rt.spawn(async move {
            while signals.next().await.is_some() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        count
    }
}

/// The first item registered with `watcher`.
fn wait_for_item(watcher: &Mutex<Vec<String>>) -> Option<String> {
    poll(WAIT, || watcher.lock().unwrap().first().cloned())
}

/// What the tray shows, as a host reads it.
#[derive(Debug, Clone, PartialEq)]
struct Shown {
    status: String,
    title: String,
    description: String,
    /// ARGB of the status badge.
    badge: [u8; 4],
}

fn shown(bus: &Bus, item: &ItemProxy<'static>) -> Shown {
    bus.rt.block_on(async {
        let pixmaps = item.icon_pixmap().await.expect("IconPixmap");
        let (width, height, argb) = pixmaps.first().cloned().expect("one pixmap");
        assert_eq!((width, height, argb.len()), (64, 64, 64 * 64 * 4));
        let at = (49 * 64 + 49) * 4;
        let (_, _, title, description) = item.tool_tip().await.expect("ToolTip");
        Shown {
            status: item.status().await.expect("Status"),
            title,
            description,
            badge: argb[at..at + 4].try_into().unwrap(),
        }
    })
}

/// Waits until the tray's badge is `badge`; what it shows then.
fn wait_for_badge(bus: &Bus, item: &ItemProxy<'static>, badge: [u8; 4], context: &str) -> Shown {
    let mut last = None;
    poll(WAIT, || {
        let now = shown(bus, item);
        last = Some(now.clone());
        (now.badge == badge).then_some(now)
    })
    .unwrap_or_else(|| panic!("{context}: the badge never became {badge:x?}; showing {last:?}"))
}

/// The menu's top-level entries as (id, label); separators are labelled `-`.
fn menu_entries(bus: &Bus, menu: &MenuProxy<'static>) -> Vec<(i32, String)> {
    let (_, (_, _, children)) = bus
        .rt
        .block_on(menu.get_layout(0, -1, &[]))
        .expect("GetLayout");
    children
        .into_iter()
        .map(|child| {
            let (id, props, _): Node = child.try_into().expect("a menu node");
            let text = |key: &str| {
                props
                    .get(key)
                    .and_then(|v| String::try_from(v.try_clone().unwrap()).ok())
            };
            let label = match text("type").as_deref() {
                Some("separator") => "-".to_owned(),
                _ => text("label").unwrap_or_default(),
            };
            (id, label)
        })
        .collect()
}

/// Clicks the menu entry labelled `label`, as a host does.
fn click(bus: &Bus, menu: &MenuProxy<'static>, label: &str) {
    let entries = menu_entries(bus, menu);
    let id = entries
        .iter()
        .find(|(_, l)| l == label)
        .unwrap_or_else(|| panic!("no {label:?} in {entries:?}"))
        .0;
    bus.rt
        .block_on(menu.event(id, "clicked", &zbus::zvariant::Value::I32(0), 0))
        .unwrap_or_else(|e| panic!("clicking {label:?}: {e}"));
}

// ---------------------------------------------------------------------------------------
// The daemon's side
// ---------------------------------------------------------------------------------------

/// `ssenotify list --json`.
fn list(desk: &Desktop) -> Vec<Value> {
    let output = desk.ssenotify_output(&["list", "--json"]);
    assert!(output.status.success(), "list --json: {output:?}");
    serde_json::from_slice(&output.stdout).expect("list --json is a JSON array")
}

/// Waits until every subscription is `paused` both in the file and in the daemon.
fn wait_all_paused(desk: &Desktop, paused: bool) {
    let mut last = Vec::new();
    poll(WAIT, || {
        last = list(desk);
        last.iter()
            .all(|s| {
                s["paused"].as_bool().unwrap_or(false) == paused
                    && s["live"]["paused"].as_bool() == Some(paused)
            })
            .then_some(())
    })
    .unwrap_or_else(|| panic!("not every subscription became paused={paused}: {last:#?}"));
}

/// The daemon's part of the control socket's `status` reply.
fn daemon_status(desk: &Desktop) -> Value {
    let socket = desk.path().join("run/ssenotify/ssenotify.sock");
    let mut stream = UnixStream::connect(&socket).expect("connect to the control socket");
    stream.write_all(b"{\"cmd\":\"status\"}\n").unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    let reply: Value = serde_json::from_str(&line).expect("a JSON reply");
    reply["daemon"].clone()
}

/// A stand-in for `ssenotify-app`: appends `pid pgid stdin` to `marker` per start.
fn fake_app(dir: &Path, marker: &Path) -> std::path::PathBuf {
    let script = dir.join("fake-app");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nread -r _pid _comm _state _ppid pgid _rest < /proc/$$/stat\n\
             echo \"$$ $pgid $(readlink /proc/$$/fd/0)\" >> '{}'\n",
            marker.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// The fake app's starts so far: (pid, process group, stdin).
fn app_starts(marker: &Path) -> Vec<(String, String, String)> {
    fs::read_to_string(marker)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let mut parts = line.split(' ').map(str::to_owned);
            let mut next = || parts.next().unwrap_or_default();
            (next(), next(), next())
        })
        .collect()
}

fn desktop() -> Desktop {
    // No notification server: `--no-notify` keeps the notifier's health out of the state.
    Desktop::with(DesktopOptions {
        notification_server: false,
        ..DesktopOptions::default()
    })
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn the_tray_follows_the_daemon_and_its_menu_drives_it() {
    let desk = desktop();
    let bus = Bus::connect(&desk);
    let _rt = bus.rt.enter();
    let watcher = bus.serve_watcher();
    let server =
        TestServer::start(|_, _| Response::sse_steps(vec![Step::send(": hello\n\n"), Step::Hold]));
    desk.write_subscriptions(&format!(
        "[[subscription]]\nid = \"feed\"\nname = \"Feed\"\nurl = \"{}\"\n",
        server.url("/events")
    ));
    let marker = desk.path().join("app-starts");
    let app = fake_app(desk.path(), &marker);
    let mut daemon = desk.run_daemon_with(|command| {
        command
            .args(["--tray", "--no-notify"])
            .env("SSENOTIFY_APP", &app);
    });

    // The item registers under the spec's name and says what it is.
    let name =
        wait_for_item(&watcher).unwrap_or_else(|| panic!("no item registered:\n{}", daemon.log()));
    assert!(
        name.starts_with(&format!("org.kde.StatusNotifierItem-{}-", daemon.pid())),
        "{name}"
    );
    let item = bus.item(&name);
    bus.rt.block_on(async {
        assert_eq!(item.id().await.unwrap(), "ssenotify");
        assert_eq!(item.title().await.unwrap(), "ssenotify");
        assert_eq!(item.category().await.unwrap(), "ApplicationStatus");
    });
    assert_eq!(daemon_status(&desk)["tray"], true);
    assert_eq!(
        daemon_status(&desk)["tray_host"],
        true,
        "a host took the icon"
    );
    let new_icons = bus.count_new_icons(&item);

    // OPEN: green, active, "all open".
    let open = wait_for_badge(&bus, &item, OPEN, "subscription OPEN");
    assert_eq!(open.status, "Active");
    assert_eq!(open.title, "ssenotify: all subscriptions open");
    assert_eq!(open.description, "");

    // The menu, as a host lists it.
    let menu = bus.menu(&item);
    let labels: Vec<String> = menu_entries(&bus, &menu)
        .into_iter()
        .map(|(_, label)| label)
        .collect();
    assert_eq!(
        labels,
        [
            "Show window",
            "-",
            "Pause all",
            "Resume all",
            "-",
            "Do not disturb",
            "-",
            "Quit"
        ]
    );

    // Pause all: the file and the daemon agree, the server sees the socket close, grey.
    let icons_before = new_icons.load(Ordering::SeqCst);
    click(&bus, &menu, "Pause all");
    wait_all_paused(&desk, true);
    let subs = fs::read_to_string(desk.config_dir().join("subscriptions.toml")).unwrap();
    assert!(subs.contains("paused = true"), "{subs}");
    assert!(
        bus.rt
            .block_on(server.wait_for_client_close(0, WAIT))
            .is_some(),
        "the server never saw the paused connection close"
    );
    let idle = wait_for_badge(&bus, &item, IDLE, "all paused");
    assert_eq!(idle.title, "ssenotify: no active subscriptions");
    assert!(
        poll(WAIT, || (new_icons.load(Ordering::SeqCst) > icons_before)
            .then_some(()))
        .is_some(),
        "the icon changed without a NewIcon signal (a host would not redraw)"
    );

    // Resume all: reconnects (a second request), green again.
    click(&bus, &menu, "Resume all");
    wait_all_paused(&desk, false);
    assert!(
        bus.rt.block_on(server.wait_for_requests(2, WAIT)).is_some(),
        "no reconnect after Resume all"
    );
    wait_for_badge(&bus, &item, OPEN, "resumed");

    // Do not disturb: on in the file and in the daemon's report, said in the tooltip; the
    // same entry turns it off.
    click(&bus, &menu, "Do not disturb");
    let held = poll(WAIT, || {
        let shown = shown(&bus, &item);
        shown
            .description
            .contains("Do not disturb")
            .then_some(shown)
    })
    .unwrap_or_else(|| panic!("no do not disturb in the tooltip:\n{}", daemon.log()));
    assert_eq!(held.description, "Do not disturb: notifications are held");
    assert_eq!(daemon_status(&desk)["quiet"]["kind"], "do_not_disturb");
    let subs = fs::read_to_string(desk.config_dir().join("subscriptions.toml")).unwrap();
    assert!(subs.contains("do_not_disturb = true"), "{subs}");
    click(&bus, &menu, "Do not disturb");
    poll(WAIT, || {
        daemon_status(&desk)["quiet"].is_null().then_some(())
    })
    .expect("do not disturb off again");
    poll(WAIT, || {
        shown(&bus, &item).description.is_empty().then_some(())
    })
    .expect("the tooltip says nothing is held");

    // The server stops: CONNECTING, amber.
    drop(server);
    let connecting = wait_for_badge(&bus, &item, CONNECTING, "server stopped");
    assert_eq!(connecting.status, "Active");
    assert_eq!(connecting.title, "ssenotify: some subscriptions connecting");

    // A subscription that fails for good: red, NeedsAttention, named in the tooltip.
    let gone = TestServer::start(|_, _| Response::status(404));
    let added =
        desk.ssenotify_output(&["add", &gone.url("/gone"), "--id", "gone", "--name", "Gone"]);
    assert!(added.status.success(), "add: {added:?}");
    let failed = wait_for_badge(&bus, &item, FAILED, "a 404 subscription");
    assert_eq!(failed.status, "NeedsAttention");
    assert_eq!(failed.title, "ssenotify: some subscriptions failed");
    assert!(
        failed.description.contains("Gone: HTTP 404 Not Found"),
        "{failed:?}"
    );

    // Show window, then a left click: the app starts each time, detached.
    click(&bus, &menu, "Show window");
    let starts = poll(WAIT, || Some(app_starts(&marker)).filter(|s| s.len() == 1))
        .unwrap_or_else(|| panic!("Show window started no app:\n{}", daemon.log()));
    bus.rt
        .block_on(item.activate(0, 0))
        .expect("Activate (left click)");
    let starts = poll(WAIT, || Some(app_starts(&marker)).filter(|s| s.len() == 2))
        .unwrap_or_else(|| panic!("a left click started no app; before: {starts:?}"));
    for (pid, pgid, stdin) in &starts {
        assert_eq!(pid, pgid, "the app leads its own process group: {starts:?}");
        assert_eq!(stdin, "/dev/null", "{starts:?}");
    }
    assert!(daemon.is_running(), "{}", daemon.log());

    // Quit: `run` exits 0 as on SIGTERM; the socket and the item are gone.
    click(&bus, &menu, "Quit");
    let status = daemon
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("Quit did not end the daemon:\n{}", daemon.log()));
    assert!(status.success(), "{status}:\n{}", daemon.log());
    assert!(!desk.path().join("run/ssenotify/ssenotify.sock").exists());
    assert!(!bus.has_owner(&name), "the item outlived the daemon");
    let log = daemon.log();
    assert!(log.contains("quit chosen from the tray"), "{log}");
    assert!(log.contains("daemon stopped"), "{log}");
    let complaints: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("WARN") || line.contains("ERROR"))
        .collect();
    assert!(complaints.is_empty(), "{complaints:#?}");
}

#[test]
fn without_a_tray_host_the_daemon_runs_on_and_the_icon_appears_when_one_starts() {
    let desk = desktop();
    let mut daemon = desk.run_daemon_with(|command| {
        command.args(["--tray", "--no-notify"]);
    });
    // `run_daemon_with` returned: `list` answers. The missing host is logged once.
    let warning = "tray icon not shown: no StatusNotifierWatcher";
    poll(WAIT, || daemon.log().contains(warning).then_some(()))
        .unwrap_or_else(|| panic!("no warning about the missing tray host:\n{}", daemon.log()));
    let list = desk.ssenotify_output(&["list"]);
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    let expected = format!("daemon: running (pid {}, tray icon)", daemon.pid());
    assert!(text.starts_with(&expected), "{text}");
    assert!(daemon.is_running(), "{}", daemon.log());
    // A daemon run with --tray says so (the app reads it), even while no host shows it yet,
    // and says that no host shows it (the app tells the user closing it leaves no icon).
    assert_eq!(daemon_status(&desk)["tray"], true);
    assert_eq!(daemon_status(&desk)["tray_host"], false);

    // The item waits on the bus; a host that starts later gets it.
    let bus = Bus::connect(&desk);
    let _rt = bus.rt.enter();
    let expected = format!("org.kde.StatusNotifierItem-{}-1", daemon.pid());
    assert!(bus.has_owner(&expected), "the item is not on the bus");
    let watcher = bus.serve_watcher();
    let name = wait_for_item(&watcher)
        .unwrap_or_else(|| panic!("the item never registered:\n{}", daemon.log()));
    assert_eq!(name, expected);
    let item = bus.item(&name);
    let idle = wait_for_badge(&bus, &item, IDLE, "no subscriptions");
    assert_eq!(idle.title, "ssenotify: no active subscriptions");
    poll(WAIT, || {
        (daemon_status(&desk)["tray_host"] == true).then_some(())
    })
    .expect("the daemon knows a host shows its icon now");

    // SIGTERM still ends `run --tray` cleanly.
    let status = daemon.stop();
    assert!(status.success(), "{status}:\n{}", daemon.log());
    let log = daemon.log();
    let warnings = log.lines().filter(|line| line.contains("WARN")).count();
    assert_eq!(warnings, 1, "{log}");
}

#[test]
fn without_a_session_bus_the_daemon_runs_without_a_tray() {
    let desk = desktop();
    let mut daemon = desk.run_daemon_with(|command| {
        command
            .args(["--tray", "--no-notify"])
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    });
    poll(WAIT, || {
        daemon
            .log()
            .contains("no tray icon; the daemon runs on without one")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no warning about the missing bus:\n{}", daemon.log()));
    assert!(desk.ssenotify_output(&["list"]).status.success());
    poll(WAIT, || {
        (daemon_status(&desk)["tray"] == false).then_some(())
    })
    .expect("a daemon that cannot show its icon says so");
    let status = daemon.stop();
    assert!(status.success(), "{status}:\n{}", daemon.log());
}
