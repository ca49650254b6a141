use lanes_kernels::*;
#[test]
fn quick() {
    for isa in Isa::available() {
        for &(m, n, k) in &[(1, 1, 1), (5, 7, 3), (33, 70, 300), (100, 1, 513), (1, 100, 10), (64, 64, 64)] {
            let a: Vec<f32> = (0..m * k).map(|x| ((x * 7 % 13) as f32) - 6.0).collect();
            let b: Vec<f32> = (0..k * n).map(|x| ((x * 5 % 11) as f32) - 5.0).collect();
            let mut c = vec![1.0f32; m * n];
            let mut r = c.clone();
            Gemm::with_isa(isa).unwrap().run(2.0, MatRef::row_major(&a, m, k).unwrap(), MatRef::row_major(&b, k, n).unwrap(), 0.5, MatMut::row_major(&mut c, m, n).unwrap()).unwrap();
            gemm::reference::gemm_reference(2.0, MatRef::row_major(&a, m, k).unwrap(), MatRef::row_major(&b, k, n).unwrap(), 0.5, MatMut::row_major(&mut r, m, n).unwrap(), &Epilogue::NONE);
            assert_eq!(c, r, "{isa} {m}x{n}x{k}");
        }
    }
}
