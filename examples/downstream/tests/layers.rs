//! The example layers against naive loops, on several input layouts, and their errors.

use lanes_downstream_example::{Conv2dNhwc, Error, Linear};
use lanes_kernels::{Activation, Gemm, Isa, KernelError, Parallelism};
use ndarray::{s, Array1, Array2, Array4, ShapeBuilder};

fn value(i: usize, seed: usize) -> f32 {
    let h = (i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(97_531)) % 2001;
    h as f32 / 1000.0 - 1.0
}

fn close(got: f32, want: f32, k: usize) -> bool {
    (got - want).abs() <= 1e-5 * k as f32 * (1.0 + want.abs())
}

#[test]
fn linear_matches_naive_loops_on_every_input_layout() {
    let (batch, inputs, outputs) = (13, 70, 33);
    let w = Array2::from_shape_fn((outputs, inputs), |(o, i)| value(o * inputs + i, 1));
    let b = Array1::from_shape_fn(outputs, |o| value(o, 2));
    let x = Array2::from_shape_fn((batch, inputs), |(r, i)| value(r * inputs + i, 3));
    let naive = Array2::from_shape_fn((batch, outputs), |(r, o)| {
        let dot: f64 = (0..inputs).map(|i| x[(r, i)] as f64 * w[(o, i)] as f64).sum();
        (dot + b[o] as f64).max(0.0) as f32
    });
    // The same x in Fortran order, as the transpose of its transpose, and as a stepped,
    // reversed slice of a larger array.
    let mut x_f = Array2::zeros((batch, inputs).f());
    x_f.assign(&x);
    let x_tt = x.t().to_owned();
    let mut big = Array2::zeros((2 * batch, inputs + 5));
    big.slice_mut(s![..;-2, 5..]).assign(&x);
    // Weights given in Fortran order pack the same.
    let mut w_f = Array2::zeros((outputs, inputs).f());
    w_f.assign(&w);
    for isa in Isa::available() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        for weights in [w.view(), w_f.view()] {
            let fc = Linear::with_gemm(g, weights, Some(b.view()), Activation::Relu).unwrap();
            assert_eq!(fc.dims(), (inputs, outputs));
            for (name, xv) in [
                ("standard", x.view()),
                ("fortran", x_f.view()),
                ("t of t", x_tt.t()),
                ("stepped", big.slice(s![..;-2, 5..])),
            ] {
                let y = fc.forward(xv).unwrap();
                for ((r, o), want) in naive.indexed_iter() {
                    assert!(close(y[(r, o)], *want, inputs), "{isa} {name} ({r}, {o}): {} vs {want}", y[(r, o)]);
                }
            }
        }
    }
}

#[test]
fn linear_errors() {
    let w = Array2::<f32>::zeros((4, 3));
    let bad_bias = Array1::<f32>::zeros(5);
    assert!(matches!(Linear::new(w.view(), Some(bad_bias.view()), Activation::Identity), Err(Error::Shape { .. })));
    let fc = Linear::new(w.view(), None, Activation::Identity).unwrap();
    let x = Array2::<f32>::zeros((2, 5));
    let e = fc.forward(x.view()).unwrap_err();
    assert!(matches!(e, Error::Shape { what: "Linear input", .. }), "{e}");
    assert_eq!(fc.forward(Array2::<f32>::zeros((0, 3)).view()).unwrap().dim(), (0, 4));
}

/// Direct NHWC convolution in f64, filter OIHW, uniform zero padding.
fn naive_conv(x: &Array4<f32>, f: &Array4<f32>, b: &Array1<f32>, stride: usize, pad: usize) -> Array4<f32> {
    let (n, h, w, cin) = x.dim();
    let (cout, _, kh, kw) = f.dim();
    let oh = (h + 2 * pad - kh) / stride + 1;
    let ow = (w + 2 * pad - kw) / stride + 1;
    Array4::from_shape_fn((n, oh, ow, cout), |(img, oy, ox, co)| {
        let mut acc = b[co] as f64;
        for ky in 0..kh {
            for kx in 0..kw {
                let (iy, ix) = ((oy * stride + ky) as isize - pad as isize, (ox * stride + kx) as isize - pad as isize);
                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                    continue;
                }
                for ci in 0..cin {
                    acc += x[(img, iy as usize, ix as usize, ci)] as f64 * f[(co, ci, ky, kx)] as f64;
                }
            }
        }
        acc.max(0.0) as f32
    })
}

#[test]
fn conv_matches_naive_loops() {
    for &(n, h, w, cin, cout, k, stride, pad) in
        &[(2, 9, 11, 3, 8, 3, 1, 1), (1, 12, 10, 5, 7, 3, 2, 1), (1, 6, 6, 16, 4, 1, 1, 0), (3, 7, 5, 2, 3, 5, 1, 2)]
    {
        let x = Array4::from_shape_fn((n, h, w, cin), |(a, b, c, d)| value(((a * h + b) * w + c) * cin + d, 4));
        let f = Array4::from_shape_fn((cout, cin, k, k), |(a, b, c, d)| value(((a * cin + b) * k + c) * k + d, 5));
        let bias = Array1::from_shape_fn(cout, |o| value(o, 6));
        let conv = Conv2dNhwc::new(f.view(), Some(bias.view()), stride, pad, Activation::Relu).unwrap();
        let want = naive_conv(&x, &f, &bias, stride, pad);
        let got = conv.forward(x.view()).unwrap();
        assert_eq!(got.dim(), want.dim());
        for (idx, wv) in want.indexed_iter() {
            assert!(close(got[idx], *wv, k * k * cin), "{idx:?}: {} vs {wv}", got[idx]);
        }
        // A non-standard input layout (channels-first memory, NHWC logical shape) gives the
        // same result: the layer copies it to standard order once.
        let mut x_f = Array4::zeros((n, h, w, cin).f());
        x_f.assign(&x);
        assert_eq!(conv.forward(x_f.view()).unwrap(), got);
    }
}

#[test]
fn conv_errors_are_typed() {
    let f = Array4::<f32>::zeros((4, 3, 3, 3));
    let conv = Conv2dNhwc::new(f.view(), None, 1, 0, Activation::Identity).unwrap();
    // Wrong channel count: this crate's shape error.
    assert!(matches!(conv.forward(Array4::<f32>::zeros((1, 5, 5, 2)).view()), Err(Error::Shape { .. })));
    // An input smaller than the kernel: lanes' typed geometry error, passed through.
    let e = conv.forward(Array4::<f32>::zeros((1, 2, 2, 3)).view()).unwrap_err();
    assert!(matches!(e, Error::Kernel(KernelError::InvalidGeometry { .. })), "{e}");
    // Zero stride: refused by lanes at construction.
    let e = Conv2dNhwc::new(f.view(), None, 0, 0, Activation::Identity).err().unwrap();
    assert!(matches!(e, Error::Kernel(KernelError::InvalidGeometry { .. })), "{e}");
}

/// What a downstream crate relies on when it shares lanes' objects between threads (a change
/// here would be a breaking change: docs/using-lanes.md, semver policy).
#[test]
fn shared_objects_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<lanes_kernels::PackedB>();
    send_sync::<lanes_kernels::Gemm>();
    send_sync::<lanes_kernels::Eltwise>();
    send_sync::<lanes_kernels::MatRef<'static>>();
    send_sync::<lanes_kernels::MatMut<'static>>();
    send_sync::<lanes_kernels::KernelError>();
    send_sync::<lanes_kernels::ops::conv::Conv2d>();
    send_sync::<Linear>();
    send_sync::<Conv2dNhwc>();
}
