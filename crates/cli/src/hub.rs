//! `ssenotify hub url|token`: where the local event hub serves, and the bearer token a
//! script sends it; both exit 1 with what to set when the hub is off.

use std::process::ExitCode;

use ssenotify_config::{HubAddress, Paths, Store};

use crate::common::fail;

/// Arguments of `ssenotify hub`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Print the URL of every subscription's events (`http://127.0.0.1:47412/events`;
    /// add `/ID` for one), or `unix:PATH` for a Unix socket.
    Url,
    /// Print the bearer token the hub asks for (made on first use, kept 0600).
    Token,
}

/// Run the hub action.
pub fn main(args: Args, paths: &Paths) -> ExitCode {
    let address = match address(paths) {
        Ok(address) => address,
        Err(message) => return fail(message),
    };
    match args.action {
        Action::Url => println!("{}", address.events_url()),
        Action::Token => match ssenotify_config::hub_token(paths) {
            Ok(token) => println!("{token}"),
            Err(error) => {
                return fail(format!(
                    "cannot read or make the hub token {}: {error}",
                    paths.hub_token().display()
                ));
            }
        },
    }
    ExitCode::SUCCESS
}

/// The hub's address from the subscriptions file; the error says how to turn it on.
pub fn address(paths: &Paths) -> Result<HubAddress, String> {
    let set = Store::new(paths.clone())
        .load()
        .map_err(|error| error.to_string())?;
    set.hub.require(paths)
}
