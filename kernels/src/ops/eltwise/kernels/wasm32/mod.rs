//! wasm32 element-wise kernels (simd128; the relaxed-simd build runs the same ones).

pub(crate) mod simd128;
