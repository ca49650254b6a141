//! Spoken keywords: the WAV files that scripts/setup.sh synthesises with espeak-ng into
//! `data/kws/<accent>+<variant>/<word>_s<speed>_p<pitch>.wav`.

use crate::audio::{read_wav, Wav};
use crate::error::{NnError, Result};
use std::path::{Path, PathBuf};

/// The ten keywords, in label order.
pub const KEYWORDS: [&str; 10] = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"];

/// One recording.
#[derive(Clone, Debug)]
pub struct Clip {
    /// The espeak-ng voice: `<accent>+<variant>` (the folder name).
    pub voice: String,
    /// The accent part of the voice (`en-gb-scotland`).
    pub accent: String,
    /// Index of the word in [`KEYWORDS`].
    pub label: usize,
    /// The file name (`left_s130_p35.wav`).
    pub file: String,
    /// The audio.
    pub wav: Wav,
}

/// Where the clips are: `LANES_KWS_DIR`, else `data/kws/` of this workspace.
pub fn kws_dir() -> PathBuf {
    match std::env::var_os("LANES_KWS_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/kws"),
    }
}

/// Every `<voice>/<word>_*.wav` under `dir` whose word is one of [`KEYWORDS`], sorted by voice
/// then file name (so the order does not depend on the file system). A missing or empty
/// folder is an [`NnError::Data`] that says to run scripts/setup.sh; an unreadable WAV is an
/// [`NnError::Data`] naming it.
pub fn keyword_clips(dir: &Path) -> Result<Vec<Clip>> {
    let missing = |what: String| {
        NnError::Data(format!("{what} (run scripts/setup.sh, which synthesises the keywords with espeak-ng)"))
    };
    let list = |d: &Path| -> Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| missing(format!("{}: {e}", d.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        Ok(v)
    };
    let mut clips = Vec::new();
    for voice_dir in list(dir)?.into_iter().filter(|p| p.is_dir()) {
        let voice = voice_dir.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        let accent = voice.split('+').next().unwrap_or("").to_string();
        for path in list(&voice_dir)? {
            let Some(file) = path.file_name().and_then(|n| n.to_str()) else { continue };
            let Some(stem) = file.strip_suffix(".wav") else { continue };
            let word = stem.split('_').next().unwrap_or("");
            let Some(label) = KEYWORDS.iter().position(|&k| k == word) else { continue };
            clips.push(Clip {
                voice: voice.clone(),
                accent: accent.clone(),
                label,
                file: file.to_string(),
                wav: read_wav(&path)?,
            });
        }
    }
    if clips.is_empty() {
        return Err(missing(format!("{}: no keyword recordings", dir.display())));
    }
    Ok(clips)
}
