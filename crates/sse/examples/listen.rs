//! Subscribe to one URL and print its readyState changes and events until Ctrl-C:
//! `cargo run -p ssenotify-sse --example listen -- http://127.0.0.1:8080/sse`.

use ssenotify_sse::{Engine, Settings, Update};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: listen URL (an http:// or https:// event stream)")?;
    let engine = Engine::new();
    let (_subscription, mut updates) = engine.subscribe(Settings::new(url)).await?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            update = updates.recv() => match update {
                Some(Update::State(change)) => println!("[{}] {}", change.ready_state, change.reason),
                // One line per event: the data's own line breaks are escaped.
                Some(Update::Event(event)) => println!(
                    "{} (id {:?}): {}",
                    event.event_type,
                    event.last_event_id,
                    event.data.escape_debug()
                ),
                None => return Ok(()),
            },
        }
    }
}
