//! Audio features (WAV parsing, the FFT, log-mel filters), the 1 x k max pool, and a short run
//! of the example keyword_spotting on the espeak-ng clips (scripts/setup.sh synthesises them
//! into data/kws/).

#[allow(dead_code)]
#[path = "../examples/keyword_spotting.rs"]
mod keyword_spotting;

use lanes_nn::audio::{fft, hz_to_mel, mel_to_hz, parse_wav, LogMel, MAX_SAMPLE_RATE};
use lanes_nn::conv::MaxPool2d;
use lanes_nn::data::keyword_clips;
use lanes_nn::layers::Layer;
use lanes_nn::{NnError, Tensor};

#[test]
fn keyword_spotting_short_run() {
    let cfg = keyword_spotting::Config { epochs: 3, copies: 1, subsample: 2, lr: 3e-3, ..Default::default() };
    let r = keyword_spotting::run(cfg)
        .expect("keyword clips in data/kws/ (run scripts/setup.sh, which synthesises them with espeak-ng)");
    assert_eq!(r.clips, (500, 600));
    let acc = *r.test_accuracy.last().unwrap();
    assert!(acc > 0.4, "held-out voices accuracy {acc} after a short run (chance 0.1)");
}

fn wav_bytes(channels: u16, bits: u16, extra_chunk: bool, samples: &[i16], data_size: Option<u32>) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF\0\0\0\0WAVE");
    if extra_chunk {
        // An odd-sized chunk before `fmt `: skipped, with its pad byte.
        b.extend_from_slice(b"LIST\x03\0\0\0abc\0");
    }
    b.extend_from_slice(b"fmt \x10\0\0\0");
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&16_000u32.to_le_bytes());
    b.extend_from_slice(&(16_000u32 * 2 * u32::from(channels)).to_le_bytes());
    b.extend_from_slice(&(2 * channels).to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_size.unwrap_or(2 * samples.len() as u32).to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    b
}

#[test]
fn wav_files_parse_and_bad_ones_are_refused() {
    let w = parse_wav(&wav_bytes(1, 16, true, &[0, 16384, -32768, 32767], None), "a.wav").unwrap();
    assert_eq!(w.sample_rate, 16_000);
    assert_eq!(w.samples, vec![0.0, 0.5, -1.0, 32767.0 / 32768.0]);
    // Stereo is averaged; a data size past the end (a streaming writer's) is cut to the file.
    let w = parse_wav(&wav_bytes(2, 16, false, &[16384, 0, -16384, -16384], Some(u32::MAX)), "b.wav").unwrap();
    assert_eq!(w.samples, vec![0.25, -0.5]);
    let err = |bytes: &[u8]| match parse_wav(bytes, "x.wav") {
        Err(NnError::Data(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(err(b"RIFX").contains("x.wav: not a RIFF/WAVE"));
    assert!(err(&wav_bytes(1, 8, false, &[1, 2], None)).contains("8 bits"));
    let mut no_data = wav_bytes(1, 16, false, &[], None);
    no_data.truncate(36);
    assert!(err(&no_data).contains("no `data` chunk"));
    let mut short_fmt = wav_bytes(1, 16, false, &[], None);
    short_fmt.truncate(24);
    assert!(err(&short_fmt).contains("`fmt ` chunk"));
    assert!(
        matches!(keyword_clips(std::path::Path::new("/nonexistent")), Err(NnError::Data(m)) if m.contains("scripts/setup.sh"))
    );
}

/// Found by the `data_readers_no_panic` fuzz target (fuzz/seeds/data_readers_no_panic/
/// crash-wav-huge-sample-rate): a WAV header claiming 4,294,967,295 Hz parsed, and
/// `LogMel::speech` at that rate (25 ms windows of 107 million samples) asked for 10 GiB of mel
/// filters: an abort. Rates past `MAX_SAMPLE_RATE` are a `Data` error now, and `LogMel::new`
/// checks its sizes and allocates fallibly.
#[test]
fn a_huge_sample_rate_or_filter_bank_is_an_error_not_an_abort() {
    let with_rate = |rate: u32| {
        let mut b = wav_bytes(1, 16, false, &[0, 100, -100, 0], None);
        b[24..28].copy_from_slice(&rate.to_le_bytes());
        b
    };
    for rate in [u32::MAX, MAX_SAMPLE_RATE + 1] {
        match parse_wav(&with_rate(rate), "fast.wav") {
            Err(NnError::Data(m)) => assert!(m.contains(&format!("at {rate} Hz")), "{m}"),
            other => panic!("{rate} Hz: {other:?}"),
        }
    }
    let w = parse_wav(&with_rate(MAX_SAMPLE_RATE), "fast.wav").unwrap();
    let mel = LogMel::speech(w.sample_rate, 40).unwrap();
    assert_eq!(mel.compute(&w.samples).unwrap(), Vec::<f32>::new(), "shorter than a window: no frames");
    // Sizes a caller passes: an overflowing filter bank or FFT, a filter bank of 1 PiB.
    for (window, bands) in [(400, usize::MAX), (usize::MAX / 2 + 2, 1)] {
        let r = LogMel::new(16_000, window, 160, bands, 20.0, 8000.0);
        assert!(matches!(r, Err(NnError::InvalidArgument(_))), "{window} {bands}");
    }
    let r = LogMel::new(16_000, 400, 160, 1 << 40, 20.0, 8000.0);
    assert!(matches!(r, Err(NnError::AllocationFailed { .. })));
}

#[test]
fn fft_matches_a_direct_dft() {
    let n = 64;
    let x: Vec<f32> = (0..n).map(|i| ((i * 37 % 11) as f32 - 5.0) / 5.0).collect();
    let (mut re, mut im) = (x.clone(), vec![0.0f32; n]);
    fft(&mut re, &mut im).unwrap();
    for k in 0..n {
        let (mut r, mut i) = (0.0f64, 0.0f64);
        for (t, &v) in x.iter().enumerate() {
            let a = -2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
            r += f64::from(v) * a.cos();
            i += f64::from(v) * a.sin();
        }
        assert!((f64::from(re[k]) - r).abs() < 1e-4 && (f64::from(im[k]) - i).abs() < 1e-4, "bin {k}");
    }
    assert!(fft(&mut [0.0; 6], &mut [0.0; 6]).is_err(), "not a power of two");
    assert!(fft(&mut [0.0; 8], &mut [0.0; 4]).is_err());
}

#[test]
fn log_mel_of_a_tone_peaks_in_its_band() {
    assert!((mel_to_hz(hz_to_mel(1234.0)) - 1234.0).abs() < 1e-9);
    let mel = LogMel::speech(16_000, 40).unwrap();
    assert_eq!((mel.frames(16_000), mel.frames(399), mel.frames(400)), (98, 0, 1));
    let tone: Vec<f32> =
        (0..16_000).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin()).collect();
    let feats = mel.compute(&tone).unwrap();
    assert_eq!(feats.len(), 98 * 40);
    // The band whose centre is nearest to 1 kHz (centres evenly spaced in mel, 20 Hz-8 kHz).
    let (lo, hi) = (hz_to_mel(20.0), hz_to_mel(8000.0));
    let want = (0..40)
        .min_by(|&a, &b| {
            let c = |i: usize| (mel_to_hz(lo + (hi - lo) * (i + 1) as f64 / 41.0) - 1000.0).abs();
            c(a).total_cmp(&c(b))
        })
        .unwrap();
    for row in feats.chunks_exact(40) {
        let best = (0..40).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
        assert_eq!(best, want);
    }
    // Silence: ln(1e-6) everywhere.
    let quiet = mel.compute(&[0.0; 1000]).unwrap();
    assert!(quiet.iter().all(|&v| (v - 1e-6f32.ln()).abs() < 1e-4));
    assert!(LogMel::new(16_000, 400, 160, 40, 20.0, 9000.0).is_err(), "above Nyquist");
    assert!(LogMel::new(16_000, 400, 0, 40, 20.0, 8000.0).is_err());
}

#[test]
fn max_pool_over_width_only() {
    let mut pool = MaxPool2d::rect(1, 2).unwrap();
    // [N=1, H=1, W=5, C=2]: pairs of columns, the fifth dropped.
    let x = Tensor::new(&[1, 1, 5, 2], vec![1., 8., 3., 2., 5., 6., 4., 9., 7., 0.]).unwrap();
    let y = pool.forward(&x, true).unwrap();
    assert_eq!(y.shape(), [1, 1, 2, 2]);
    assert_eq!(y.data(), [3., 8., 5., 9.]);
    let dx = pool.backward(&Tensor::new(&[1, 1, 2, 2], vec![1., 2., 3., 4.]).unwrap()).unwrap();
    assert_eq!(dx.data(), [0., 2., 1., 0., 3., 0., 0., 4., 0., 0.]);
    assert!(MaxPool2d::rect(1, 0).is_err());
    assert!(MaxPool2d::rect(2, 2).unwrap().forward(&x, false).is_err(), "H = 1 is below a 2-row window");
}
