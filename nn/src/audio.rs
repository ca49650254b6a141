//! Audio features in safe Rust: a WAV reader (16-bit PCM), a radix-2 FFT and log-mel
//! spectrograms (Hann window, power spectrum, triangular mel filters applied as one GEMM).

use crate::error::{NnError, Result};
use crate::tensor::filled;
use lanes_kernels::{Gemm, MatMut, MatRef, Parallelism};
use std::path::Path;

/// Samples of a WAV file, in [-1, 1), channels averaged, and its sample rate.
#[derive(Clone, Debug, PartialEq)]
pub struct Wav {
    /// Samples per second.
    pub sample_rate: u32,
    /// Mono samples.
    pub samples: Vec<f32>,
}

/// The highest sample rate [`parse_wav`] accepts, in Hz: 1 MHz, past every audio interface and
/// ultrasound recorder. A header's rate sizes what is computed from the clip ([`LogMel::speech`]
/// frames 25 ms of it), so 4 GHz in a hostile header would ask for gigabytes of filters.
pub const MAX_SAMPLE_RATE: u32 = 1_000_000;

/// Parses a RIFF/WAVE file of 16-bit PCM (any channel count; channels are averaged) at 1 Hz to
/// [`MAX_SAMPLE_RATE`]. Chunks other than `fmt ` and `data` are skipped; a `data` size past the
/// end of the file (as streaming writers leave it) is cut to the file. Anything else is an
/// [`NnError::Data`] naming `source`.
pub fn parse_wav(bytes: &[u8], source: &str) -> Result<Wav> {
    let bad = |what: &str| NnError::Data(format!("{source}: {what}"));
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut pos = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    // `pos` saturates at usize::MAX after a huge chunk size on 32-bit targets (wasm32), where
    // `pos + 8` would overflow.
    while bytes.len().saturating_sub(pos) >= 8 {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(pos + 4) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            if size < 16 || body + 16 > bytes.len() {
                return Err(bad("`fmt ` chunk shorter than 16 bytes"));
            }
            format = Some((u16_at(body), u16_at(body + 2), u32_at(body + 4), u16_at(body + 14)));
        } else if id == b"data" {
            let (tag, channels, rate, bits) = format.ok_or_else(|| bad("`data` before `fmt `"))?;
            if tag != 1 || bits != 16 {
                return Err(bad(&format!("format {tag} with {bits} bits per sample (only 16-bit PCM, format 1)")));
            }
            if channels == 0 || rate == 0 || rate > MAX_SAMPLE_RATE {
                return Err(bad(&format!(
                    "{channels} channels at {rate} Hz (1 or more channels at 1 to {MAX_SAMPLE_RATE} Hz)"
                )));
            }
            let end = body.saturating_add(size).min(bytes.len());
            let ch = channels as usize;
            let samples = bytes[body..end]
                .chunks_exact(2 * ch)
                .map(|frame| {
                    let sum: f32 = frame.chunks_exact(2).map(|s| f32::from(i16::from_le_bytes([s[0], s[1]]))).sum();
                    sum / (32768.0 * ch as f32)
                })
                .collect();
            return Ok(Wav { sample_rate: rate, samples });
        }
        // Chunks are padded to an even size.
        pos = body.saturating_add(size).saturating_add(size & 1);
    }
    Err(bad("no `data` chunk"))
}

/// Reads and parses a WAV file (see [`parse_wav`]).
pub fn read_wav(path: &Path) -> Result<Wav> {
    let bytes = std::fs::read(path).map_err(|e| NnError::Data(format!("{}: {e}", path.display())))?;
    parse_wav(&bytes, &path.display().to_string())
}

/// In-place iterative radix-2 FFT of `re + i im` (length a power of two): `X_k = sum_n x_n
/// e^{-2 pi i k n / N}`. Twiddles are computed in f64 (see [`LogMel`], which keeps them).
pub fn fft(re: &mut [f32], im: &mut [f32]) -> Result<()> {
    fft_with(&twiddles(re.len())?, re, im)
}

/// `e^{-2 pi i k / n}` for `k < n / 2` (`AllocationFailed` when the allocator refuses them).
fn twiddles(n: usize) -> Result<Vec<(f32, f32)>> {
    let mut tw = filled("FFT twiddles", n / 2, (0.0f32, 0.0f32))?;
    for (k, t) in tw.iter_mut().enumerate() {
        let (s, c) = (-2.0 * std::f64::consts::PI * k as f64 / n as f64).sin_cos();
        *t = (c as f32, s as f32);
    }
    Ok(tw)
}

fn fft_with(tw: &[(f32, f32)], re: &mut [f32], im: &mut [f32]) -> Result<()> {
    let n = re.len();
    if im.len() != n || !n.is_power_of_two() || tw.len() != n / 2 {
        return Err(NnError::InvalidArgument(format!(
            "FFT of {n} real and {} imaginary parts (a power of two of each)",
            im.len()
        )));
    }
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let half = len / 2;
        let stride = n / len;
        for start in (0..n).step_by(len) {
            for k in 0..half {
                let (wr, wi) = tw[k * stride];
                let (a, b) = (start + k, start + k + half);
                let tr = re[b] * wr - im[b] * wi;
                let ti = re[b] * wi + im[b] * wr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len *= 2;
    }
    Ok(())
}

/// Hz to mel (HTK: `2595 log10(1 + f / 700)`).
pub fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

/// Mel to Hz (the inverse of [`hz_to_mel`]).
pub fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// Log-mel spectrograms: frames of `window` samples every `hop` samples, each multiplied by a
/// (periodic) Hann window, zero-padded to `n_fft` (the next power of two), its power spectrum
/// `|X_k|^2` for `k = 0..=n_fft/2`, triangular mel filters (HTK mel scale, `bands` filters with
/// centres evenly spaced in mel from `low_hz` to `high_hz`, peak 1), then `ln(energy + 1e-6)`.
pub struct LogMel {
    sample_rate: u32,
    window: usize,
    hop: usize,
    n_fft: usize,
    bands: usize,
    hann: Vec<f32>,
    twiddles: Vec<(f32, f32)>,
    /// `(n_fft / 2 + 1) x bands`, row-major.
    filters: Vec<f32>,
}

impl LogMel {
    /// A 25 ms window every 10 ms, `bands` mel bands from 20 Hz to `min(8 kHz, rate / 2)`.
    pub fn speech(sample_rate: u32, bands: usize) -> Result<Self> {
        let sr = f64::from(sample_rate);
        let window = (0.025 * sr).round() as usize;
        let hop = (0.010 * sr).round() as usize;
        Self::new(sample_rate, window, hop, bands, 20.0, (sr / 2.0).min(8000.0))
    }

    /// Any framing and band range (see the type's documentation). Sizes whose FFT length or
    /// filter bank (`(n_fft / 2 + 1) x bands`) overflows are an [`NnError::InvalidArgument`], a
    /// filter bank or window the allocator refuses an [`NnError::AllocationFailed`].
    pub fn new(sample_rate: u32, window: usize, hop: usize, bands: usize, low_hz: f64, high_hz: f64) -> Result<Self> {
        let nyquist = f64::from(sample_rate) / 2.0;
        if window < 2 || hop == 0 || bands == 0 || !(0.0 <= low_hz && low_hz < high_hz && high_hz <= nyquist) {
            return Err(NnError::InvalidArgument(format!(
                "log-mel: window {window}, hop {hop}, {bands} bands over {low_hz}-{high_hz} Hz at {sample_rate} Hz"
            )));
        }
        let sizes =
            window.checked_next_power_of_two().and_then(|n_fft| Some((n_fft, (n_fft / 2 + 1).checked_mul(bands)?)));
        let Some((n_fft, filter_len)) = sizes else {
            return Err(NnError::InvalidArgument(format!(
                "log-mel: a window of {window} samples with {bands} bands overflows its FFT or filter bank"
            )));
        };
        let bins = n_fft / 2 + 1;
        let mut filters = filled("log-mel filter bank", filter_len, 0.0f32)?;
        let mut hann = filled("log-mel window", window, 0.0f32)?;
        for (i, h) in hann.iter_mut().enumerate() {
            *h = (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / window as f64).cos()) as f32;
        }
        let (lo, hi) = (hz_to_mel(low_hz), hz_to_mel(high_hz));
        // Band b spans edges b, b + 1 and b + 2 (of bands + 2, evenly spaced in mel).
        let edge = |i: usize| mel_to_hz(lo + (hi - lo) * i as f64 / (bands as f64 + 1.0));
        for b in 0..bands {
            let (left, centre, right) = (edge(b), edge(b + 1), edge(b + 2));
            for k in 0..bins {
                let f = k as f64 * f64::from(sample_rate) / n_fft as f64;
                let w = if f > left && f <= centre {
                    (f - left) / (centre - left)
                } else if f > centre && f < right {
                    (right - f) / (right - centre)
                } else {
                    0.0
                };
                filters[k * bands + b] = w as f32;
            }
        }
        Ok(LogMel { sample_rate, window, hop, n_fft, bands, hann, twiddles: twiddles(n_fft)?, filters })
    }

    /// The sample rate these filters are for.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Mel bands per frame.
    pub fn bands(&self) -> usize {
        self.bands
    }

    /// Frames of a signal of `len` samples: `1 + (len - window) / hop`, 0 when shorter.
    pub fn frames(&self, len: usize) -> usize {
        if len < self.window {
            0
        } else {
            1 + (len - self.window) / self.hop
        }
    }

    /// The `frames x bands` log-mel spectrogram of `signal`, row-major.
    pub fn compute(&self, signal: &[f32]) -> Result<Vec<f32>> {
        let frames = self.frames(signal.len());
        let bins = self.n_fft / 2 + 1;
        let mut power = vec![0.0f32; frames * bins];
        let (mut re, mut im) = (vec![0.0f32; self.n_fft], vec![0.0f32; self.n_fft]);
        for (f, row) in power.chunks_exact_mut(bins).enumerate() {
            let frame = &signal[f * self.hop..][..self.window];
            re.fill(0.0);
            im.fill(0.0);
            for ((r, &x), &w) in re.iter_mut().zip(frame).zip(&self.hann) {
                *r = x * w;
            }
            fft_with(&self.twiddles, &mut re, &mut im)?;
            for (p, (r, i)) in row.iter_mut().zip(re.iter().zip(&im)) {
                *p = r * r + i * i;
            }
        }
        let mut mel = vec![0.0f32; frames * self.bands];
        if frames > 0 {
            Gemm::new().parallelism(Parallelism::Sequential).run(
                1.0,
                MatRef::row_major(&power, frames, bins)?,
                MatRef::row_major(&self.filters, bins, self.bands)?,
                0.0,
                MatMut::row_major(&mut mel, frames, self.bands)?,
            )?;
        }
        for v in &mut mel {
            *v = (*v + 1e-6).ln();
        }
        Ok(mel)
    }
}
