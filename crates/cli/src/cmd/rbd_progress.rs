//! Progress output of long `rbd` commands (`import`, `export`, `rm`, a shrinking
//! `resize`), drawn with indicatif on stderr only when stderr is a terminal and
//! `--no-progress` was not given (as `rbd` prints "Importing image: 42% complete...").

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar, or nothing when not drawn.
#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar of `total` units labelled `label` (`Importing image`), if drawn at all.
    pub fn bar(label: &'static str, total: u64, no_progress: bool) -> Progress {
        if no_progress || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template("{msg}: {percent}% complete... {wide_bar} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(label);
        Progress(Some(bar))
    }

    /// A spinner for work of unknown length (`Removing image`).
    pub fn spinner(label: &'static str, no_progress: bool) -> Progress {
        if no_progress || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new_spinner();
        bar.set_message(format!("{label}..."));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress(Some(bar))
    }

    /// `done` units are done.
    pub fn set(&self, done: u64) {
        if let Some(b) = &self.0 {
            b.set_position(done);
        }
    }

    /// `done` of `total` units are done (for work whose size the library tells as it goes).
    pub fn update(&self, done: u64, total: u64) {
        if let Some(b) = &self.0 {
            b.set_length(total);
            b.set_position(done);
        }
    }

    /// The work finished: the bar ends with "done." as `rbd` prints.
    pub fn finish(self) {
        if let Some(b) = self.0 {
            let label = b.message();
            b.finish_and_clear();
            eprintln!("{}: 100% complete...done.", label.trim_end_matches("..."));
        }
    }
}
