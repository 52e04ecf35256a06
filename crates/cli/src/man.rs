//! `ssenotify man`: manual pages generated from the clap definitions (clap_mangen).
//!
//! One page per command, as git does: `ssenotify(1)` lists the subcommands and
//! `ssenotify-add(1)` and its siblings hold each one's options and example. Printing one
//! page on stdout (`man -l <(ssenotify man)`) needs nothing written; `--dir` writes them all
//! for a package.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Command;

/// Arguments of `ssenotify man`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The subcommand whose page to print (default: the main page, `ssenotify(1)`).
    #[arg(conflicts_with = "dir")]
    command: Option<String>,
    /// Write every page (`ssenotify.1`, `ssenotify-add.1`, ...) into this directory instead.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Print one page of `cli` (the whole command tree), or write them all with `--dir`.
pub fn main(args: Args, cli: Command) -> ExitCode {
    let cmd = pages_root(cli);
    if let Some(dir) = args.dir {
        return match write_all(&cmd, &dir) {
            Ok(count) => {
                eprintln!("ssenotify: wrote {count} pages to {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                crate::common::fail(format!("cannot write to {}: {error}", dir.display()))
            }
        };
    }
    let page = match args.command.as_deref() {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => page_of(&cmd, sub),
            None => {
                return crate::common::usage_error(format!(
                    "no command {name:?} (see `ssenotify --help`)"
                ));
            }
        },
    };
    let mut out = std::io::stdout().lock();
    match clap_mangen::Man::new(page).render(&mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => crate::common::fail(format!("cannot write the page: {error}")),
    }
}

/// The command tree as the pages show it (built, so every subcommand has its full name).
fn pages_root(mut cmd: Command) -> Command {
    cmd.build();
    cmd
}

/// A subcommand's own page: named `ssenotify-NAME` (its synopsis keeps `ssenotify NAME`,
/// the built command's bin name), with the version of the whole.
fn page_of(root: &Command, sub: &Command) -> Command {
    let name = format!("{}-{}", root.get_name(), sub.get_name());
    let mut page = sub.clone().name(name);
    if let Some(version) = root.get_version() {
        page = page.version(version.to_owned());
    }
    page
}

/// Write `ssenotify.1` and one page per visible subcommand into `dir`; the page count.
fn write_all(root: &Command, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut count = 0;
    let pages = std::iter::once(root.clone()).chain(
        root.get_subcommands()
            .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
            .map(|sub| page_of(root, sub)),
    );
    for page in pages {
        let path = dir.join(format!("{}.1", page.get_name()));
        let mut file = std::fs::File::create(&path)?;
        clap_mangen::Man::new(page).render(&mut file)?;
        count += 1;
    }
    Ok(count)
}
