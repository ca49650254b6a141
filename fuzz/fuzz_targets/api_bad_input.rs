//! The public API on arbitrary dimensions, strides, offsets and slice lengths: every call
//! returns `Ok` or a typed `Err`; nothing panics, nothing reads or writes out of bounds
//! (the fuzzer runs with AddressSanitizer).
#![no_main]

use lanes_kernels::{Activation, Epilogue, Gemm, MatMut, MatRef};
use libfuzzer_sys::fuzz_target;

fn word(d: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    for (j, x) in w.iter_mut().enumerate() {
        *x = *d.get(i * 8 + j).unwrap_or(&0);
    }
    u64::from_le_bytes(w)
}

/// A dimension: mostly small, sometimes huge.
fn dim(w: u64) -> usize {
    if w & 0xF0 == 0xF0 { w as usize } else { (w % 24) as usize }
}
/// A stride: mostly small and signed, sometimes extreme.
fn stride(w: u64) -> isize {
    if w & 0xF0 == 0xF0 { w as i64 as isize } else { (w % 64) as isize - 20 }
}

fuzz_target!(|d: &[u8]| {
    let (m, n, k) = (dim(word(d, 0)), dim(word(d, 1)), dim(word(d, 2)));
    let lens = [(word(d, 3) % 2048) as usize, (word(d, 4) % 2048) as usize, (word(d, 5) % 2048) as usize];
    let offs = [(word(d, 6) % 2048) as usize, (word(d, 7) % 2048) as usize, (word(d, 8) % 2048) as usize];
    let s: Vec<isize> = (9..15).map(|i| stride(word(d, i))).collect();
    let k2 = if word(d, 15) % 4 == 0 { dim(word(d, 16)) } else { k };
    let bias_len = if word(d, 17) % 4 == 0 || n > 4096 { (word(d, 18) % 64) as usize } else { n };
    let act = if word(d, 19) % 8 == 0 {
        Activation::Clamp { min: f32::from_bits(word(d, 20) as u32), max: f32::from_bits(word(d, 21) as u32) }
    } else {
        Activation::Gelu
    };
    let a = vec![1.0f32; lens[0]];
    let b = vec![1.0f32; lens[1]];
    let mut c = vec![0.0f32; lens[2]];
    let bias = vec![0.5f32; bias_len];
    let (Ok(av), Ok(bv)) =
        (MatRef::with_offset(&a, offs[0], m, k, s[0], s[1]), MatRef::with_offset(&b, offs[1], k2, n, s[2], s[3]))
    else {
        return;
    };
    let Ok(cv) = MatMut::with_offset(&mut c, offs[2], m, n, s[4], s[5]) else {
        return;
    };
    // Packing a huge view made of zero strides must fail cleanly when the size overflows;
    // a merely large one (it fits in the address space) is a big allocation, not a bug: skip.
    match k2.checked_mul(n) {
        None => assert!(Gemm::new().pack_b(bv).is_err()),
        Some(len) if len <= 1 << 22 => drop(Gemm::new().pack_b(bv)),
        Some(_) => {}
    }
    // Keep the work bounded: huge but valid views (zero strides) would just be slow.
    if m.saturating_mul(n).saturating_mul(k) > 1 << 20 {
        return;
    }
    let _ = Gemm::new().run_fused(0.5, av, bv, 1.0, cv, &Epilogue::new(Some(&bias), act));
});
