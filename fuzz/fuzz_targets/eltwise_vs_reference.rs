//! Element-wise and row ops on fuzzer-chosen data (any f32: NaN, Inf, subnormals, huge) and
//! shapes, on every available ISA, against the test kit's f64 references and each other: every
//! call returns `Ok` or a typed error, finite inputs give results within the documented bounds,
//! and every ISA agrees on which outputs are NaN.
#![no_main]

use lanes_kernels::ops::eltwise::{Eltwise, Unary};
use lanes_kernels::{Isa, MatMut, MatRef};
use lanes_testkit::{rel_error, softmax_reference, unary_reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let x: Vec<f32> = rest.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let ops = [Unary::Relu, Unary::Gelu, Unary::GeluErf, Unary::Silu, Unary::Sigmoid, Unary::Tanh, Unary::Exp];
    let op = ops[sel as usize % ops.len()];
    let cols = 1 + (sel as usize / ops.len()) % 9;
    let rows = x.len() / cols;
    let mut nan_pattern: Option<Vec<bool>> = None;
    for isa in Isa::available() {
        let e = Eltwise::with_isa(isa).unwrap();
        let mut y = vec![0.0f32; x.len()];
        e.unary(op, &x, &mut y).unwrap();
        for (&xi, &yi) in x.iter().zip(&y) {
            let want = unary_reference(op, xi);
            if xi.is_finite() && want.is_finite() && want.abs() < 1e30 {
                assert!(rel_error(yi, want, 1e-30) < 2e-5, "{isa} {op:?}({xi}) = {yi}, want {want}");
            }
        }
        let pattern: Vec<bool> = y.iter().map(|v| v.is_nan()).collect();
        match &nan_pattern {
            Some(p) => assert_eq!(p, &pattern, "{isa} {op:?}: NaN outputs differ between ISAs"),
            None => nan_pattern = Some(pattern),
        }
        if rows > 0 {
            let xv = MatRef::row_major(&x[..rows * cols], rows, cols).unwrap();
            let mut s = vec![0.0f32; rows * cols];
            e.softmax(xv, MatMut::row_major(&mut s, rows, cols).unwrap()).unwrap();
            for (r, row) in x[..rows * cols].chunks_exact(cols).enumerate() {
                if row.iter().all(|v| v.is_finite()) {
                    for (j, want) in softmax_reference(row).into_iter().enumerate() {
                        assert!(rel_error(s[r * cols + j], want, 1e-30) < 1e-5 || (s[r * cols + j] as f64 - want).abs() < 1e-6, "{isa} softmax row {r}: {row:?}");
                    }
                }
            }
        }
    }
});
