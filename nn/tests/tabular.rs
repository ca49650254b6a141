//! The tabular data loaders, the least-squares solve and short runs of the examples
//! linear_regression and logistic_regression (real data: scripts/setup.sh extracts it from the
//! pinned scikit-learn wheel into data/sklearn/).

#[allow(dead_code)]
#[path = "../examples/linear_regression.rs"]
mod linear_regression;
#[allow(dead_code)]
#[path = "../examples/logistic_regression.rs"]
mod logistic_regression;

use lanes_nn::data::{breast_cancer, diabetes, parse_table, Standardizer, Tabular};
use lanes_nn::{linalg, NnError, Tensor};
use std::path::PathBuf;

#[test]
fn linear_regression_short_run() {
    let r = linear_regression::run(300, false).expect("diabetes data (run scripts/setup.sh)");
    let (cf, gd, base) = (r.closed_form, r.gradient_descent, r.baseline);
    assert!(cf.1 > 0.5, "closed-form test R^2 {:.3}", cf.1);
    assert!(gd.0 < cf.0 * 1.02, "GD test RMSE {:.2} vs closed form {:.2}", gd.0, cf.0);
    assert!((gd.1 - cf.1).abs() < 0.02, "R^2 {:.3} vs {:.3}", gd.1, cf.1);
    assert!(cf.0 < 0.8 * base.0, "closed form {:.2} vs baseline {:.2}", cf.0, base.0);
    assert!(base.1.abs() < 0.05, "the training-mean baseline's R^2 is about 0: {:.3}", base.1);
}

#[test]
fn logistic_regression_short_run() {
    let r = logistic_regression::run(20, false).expect("breast-cancer data (run scripts/setup.sh)");
    assert!(r.model.0 > 0.95, "test accuracy {:.4}", r.model.0);
    assert!(r.model.1 < 0.15, "test log-loss {:.4}", r.model.1);
    assert!(r.baseline.0 < 0.8 && r.model.1 < r.baseline.1 / 3.0, "{r:?}");
}

#[test]
fn least_squares_recovers_an_exact_fit() {
    // y = 2 x0 - 3 x1 + 0.5 x2 + 4, no noise.
    let n = 50;
    let x: Vec<f32> = (0..n * 3).map(|i| ((i * 7919 % 101) as f32 - 50.0) / 25.0).collect();
    let y: Vec<f32> = x.chunks(3).map(|r| 2.0 * r[0] - 3.0 * r[1] + 0.5 * r[2] + 4.0).collect();
    let (w, b) = linalg::least_squares(&Tensor::new(&[n, 3], x).unwrap(), &y, 0.0).unwrap();
    for (got, want) in w.iter().zip([2.0, -3.0, 0.5]) {
        assert!((got - want).abs() < 1e-3, "{w:?}");
    }
    assert!((b - 4.0).abs() < 1e-3, "{b}");
    // A repeated column makes the Gram matrix singular: refused without a ridge term.
    let x2: Vec<f32> = (0..n).flat_map(|i| [i as f32, i as f32]).collect();
    let y2: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let t = Tensor::new(&[n, 2], x2).unwrap();
    assert!(matches!(linalg::least_squares(&t, &y2, 0.0), Err(NnError::InvalidArgument(_))));
    let (w2, _) = linalg::least_squares(&t, &y2, 1e-3).unwrap();
    assert!((w2[0] + w2[1] - 1.0).abs() < 1e-2, "{w2:?}");
}

#[test]
fn standardizer_uses_training_statistics() {
    let train = Tabular { features: 2, inputs: vec![1., 10., 3., 10.], targets: vec![0., 1.] };
    let s = Standardizer::fit(&train);
    assert_eq!((s.mean.clone(), s.std.clone()), (vec![2., 10.], vec![1., 1.])); // constant column: std 1
    let mut test = Tabular { features: 2, inputs: vec![4., 12.], targets: vec![1.] };
    s.apply(&mut test).unwrap();
    assert_eq!(test.inputs, vec![2., 2.]);
}

/// Found by the `data_readers_no_panic` fuzz target's checks (fuzz/seeds/data_readers_no_panic/
/// crash-table-subnormal-deviation): a feature whose deviation is positive in f64 but rounds to 0
/// as an f32 (values 0 and 1e-45, the smallest f32) got `std = 0`, and standardising divided by
/// zero (NaN and Inf features).
#[test]
fn a_deviation_that_rounds_to_zero_in_f32_is_one() {
    let table = parse_table("0,0\n0,0\n0,0\n1e-45,0\n", "t.csv", 0).unwrap();
    let inputs: Vec<f32> = table.values.chunks_exact(2).map(|r| r[0] as f32).collect();
    assert!(inputs[3] > 0.0, "1e-45 is a subnormal f32, not 0");
    let mut data = Tabular { features: 1, inputs, targets: vec![0.0; 4] };
    let s = Standardizer::fit(&data);
    assert_eq!(s.std, vec![1.0]);
    s.apply(&mut data).unwrap();
    assert!(data.inputs.iter().all(|v| v.is_finite()), "{:?}", data.inputs);
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lanes-nn-tabular-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn data_message(r: Result<impl std::fmt::Debug, NnError>) -> String {
    match r {
        Err(NnError::Data(m)) => m,
        other => panic!("expected NnError::Data, got {other:?}"),
    }
}

#[test]
fn malformed_csv_is_a_data_error_naming_file_and_line() {
    let m = data_message(parse_table("1,2,3\n4,x,6\n", "t.csv", 0));
    assert!(m.contains("t.csv:2: column 2") && m.contains("\"x\""), "{m}");
    let m = data_message(parse_table("h\n1 2 3\n\n4 5\n", "t.csv", 1));
    assert!(m.contains("t.csv:4: 2 values, expected 3 (as on line 2)"), "{m}");
    let m = data_message(parse_table("1,NaN\n", "t.csv", 0));
    assert!(m.contains("t.csv:1: column 2"), "{m}");

    let dir = scratch_dir("bad");
    let row = vec!["1.5"; 30].join(",");
    // Line 3 of the file has a value that is not a number.
    std::fs::write(dir.join("breast_cancer.csv"), format!("2,30,malignant,benign\n{row},0\n{row},1x\n")).unwrap();
    let m = data_message(breast_cancer(&dir));
    assert!(m.contains("breast_cancer.csv:3: column 31"), "{m}");
    // A label other than 0/1, and a row count other than the header's.
    std::fs::write(dir.join("breast_cancer.csv"), format!("2,30,malignant,benign\n{row},0\n{row},2\n")).unwrap();
    assert!(data_message(breast_cancer(&dir)).contains("label 2 is not 0 or 1"));
    std::fs::write(dir.join("breast_cancer.csv"), format!("3,30,malignant,benign\n{row},0\n{row},1\n")).unwrap();
    assert!(data_message(breast_cancer(&dir)).contains("header says 3 rows"));
    // A header of usize::MAX features (`features + 1` overflowed: a panic in debug builds).
    std::fs::write(dir.join("breast_cancer.csv"), format!("2,{},a,b\n{row},0\n{row},1\n", usize::MAX)).unwrap();
    assert!(data_message(breast_cancer(&dir)).contains("the header says 2 rows of 18446744073709551615 features"));
    // Diabetes: more targets than rows.
    std::fs::write(dir.join("diabetes_data_raw.csv"), "1 2 3 4 5 6 7 8 9 10\n").unwrap();
    std::fs::write(dir.join("diabetes_target.csv"), "1\n2\n").unwrap();
    assert!(data_message(diabetes(&dir)).contains("diabetes_target.csv: 2 rows"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_files_say_to_run_setup() {
    let dir = scratch_dir("missing");
    for m in [data_message(diabetes(&dir)), data_message(breast_cancer(&dir))] {
        assert!(m.contains("scripts/setup.sh"), "{m}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
