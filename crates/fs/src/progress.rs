//! The one progress bar of every long job (training steps, word2vec's words, BPE merges):
//! position, rate and time left on stderr, or nothing when not wanted.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` units named `unit` (`"steps"`, `"words"`, `"merges"`), starting at `done`;
/// hidden unless `visible`.
///
/// ```
/// let bar = malmoi_fs::progress::bar(100, 0, "steps", false);
/// bar.inc(10);
/// assert_eq!(bar.position(), 10);
/// ```
pub fn bar(len: u64, done: u64, unit: &str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden().with_position(done);
    }
    let template =
        format!("{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}} ({{per_sec}}, eta {{eta}})");
    let style = ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(len).with_position(done).with_style(style.progress_chars("=> "))
}

/// A counter of `unit`s for work of unknown length (reading a corpus), in the bar's style;
/// hidden unless `visible`.
///
/// ```
/// let counter = malmoi_fs::progress::counter("lines", false);
/// counter.inc(3);
/// assert_eq!(counter.position(), 3);
/// ```
pub fn counter(unit: &str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let template = format!("{{elapsed_precise}} {{spinner}} {{pos}} {unit} {{msg}} ({{per_sec}})");
    let style = ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_spinner());
    ProgressBar::new_spinner().with_style(style)
}
