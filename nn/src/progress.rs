//! Progress output on long work: a bar with rate and ETA natively (indicatif, feature
//! `progress`), or a callback (for the browser).

/// `f(done, total, message)`, called after each step.
pub type ProgressCallback = Box<dyn FnMut(u64, u64, &str)>;

/// Reports progress of `total` steps of some `what`.
pub struct Progress {
    #[cfg(feature = "progress")]
    bar: Option<indicatif::ProgressBar>,
    callback: Option<ProgressCallback>,
    done: u64,
    total: u64,
}

impl Progress {
    /// A terminal progress bar (when the feature is on and stderr is a terminal; otherwise
    /// silent).
    pub fn bar(total: u64, what: &str) -> Self {
        #[cfg(feature = "progress")]
        {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message(what.to_string());
            Progress { bar: Some(bar), callback: None, done: 0, total }
        }
        #[cfg(not(feature = "progress"))]
        {
            let _ = what;
            Progress { callback: None, done: 0, total }
        }
    }

    /// Reports nothing.
    pub fn silent() -> Self {
        Progress {
            #[cfg(feature = "progress")]
            bar: None,
            callback: None,
            done: 0,
            total: 0,
        }
    }

    /// Calls `f(done, total, message)` after each step (e.g. to update a web page).
    pub fn callback(total: u64, f: impl FnMut(u64, u64, &str) + 'static) -> Self {
        Progress {
            #[cfg(feature = "progress")]
            bar: None,
            callback: Some(Box::new(f)),
            done: 0,
            total,
        }
    }

    /// One more step done, with a short status message.
    pub fn step(&mut self, message: &str) {
        self.done += 1;
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
            if !message.is_empty() {
                bar.set_message(message.to_string());
            }
        }
        if let Some(f) = &mut self.callback {
            f(self.done, self.total, message);
        }
    }

    /// Ends the bar.
    pub fn finish(&mut self) {
        #[cfg(feature = "progress")]
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}
