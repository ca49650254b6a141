//! Malformed safetensors files (the cases the `model_load` fuzz target exercises, as plain
//! tests): each is refused with `NnError::ModelFile` naming the problem, and the model keeps
//! its parameters bit for bit. Also: a Conv2d model round-trips; NaN and Inf weights load (a
//! file's values are data, see docs/safety.md).

use lanes_kernels::ops::conv::{Conv2dParams, Padding};
use lanes_nn::conv::{Conv2d, Reshape};
use lanes_nn::layers::{Act, Linear};
use lanes_nn::{io, NnError, Sequential, Tensor};
use serde_json::{json, Value};

/// Conv2d 2->3 3x3 "same" (0.weight [3,2,3,3], 0.bias [3]), ReLU, flatten, Linear 48->2
/// (3.weight [2,48], 3.bias [2]).
fn model(seed: u64) -> Sequential {
    Sequential::new()
        .push(Conv2d::new(Conv2dParams::new(2, 3, (3, 3)).padding(Padding::Same), seed).unwrap())
        .push(Act::relu())
        .push(Reshape::new(&[48]))
        .push(Linear::new(48, 2, seed + 1).unwrap())
}

const TENSORS: [(&str, &[usize]); 4] =
    [("0.weight", &[3, 2, 3, 3]), ("0.bias", &[3]), ("3.weight", &[2, 48]), ("3.bias", &[2])];

fn bits(m: &mut Sequential) -> Vec<(String, Vec<u32>)> {
    m.tensors().into_iter().map(|p| (p.name, p.param.value.iter().map(|v| v.to_bits()).collect())).collect()
}

/// A valid header for `TENSORS` (data in that order, all values 0.25) and its data.
fn valid() -> (serde_json::Map<String, Value>, Vec<u8>) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, shape) in TENSORS {
        let n: usize = shape.iter().product();
        let start = data.len();
        data.extend((0..n).flat_map(|_| 0.25f32.to_le_bytes()));
        header.insert(name.into(), json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}));
    }
    (header, data)
}

/// A safetensors file: 8-byte little-endian header length, header JSON, data.
fn file(header: &serde_json::Map<String, Value>, data: &[u8]) -> Vec<u8> {
    let json = serde_json::to_vec(header).unwrap();
    let mut f = (json.len() as u64).to_le_bytes().to_vec();
    f.extend(json);
    f.extend(data);
    f
}

/// Loads `bytes` into a fresh model: the error message, after checking that the error is
/// `ModelFile` and that the model was not touched.
fn refused(what: &str, bytes: &[u8]) -> String {
    let mut m = model(7);
    let before = bits(&mut m);
    match io::from_safetensors(&mut m, bytes) {
        Err(NnError::ModelFile(msg)) => {
            assert!(bits(&mut m) == before, "{what}: refused ({msg}) but the model changed");
            msg
        }
        other => panic!("{what}: expected NnError::ModelFile, got {other:?}"),
    }
}

#[test]
fn the_reference_file_loads() {
    let (h, d) = valid();
    let mut m = model(7);
    io::from_safetensors(&mut m, &file(&h, &d)).unwrap();
    assert!(m.params().iter().all(|p| p.param.value.iter().all(|&v| v == 0.25)));
    // And a saved Conv2d model round-trips bit for bit, and runs the same.
    let mut a = model(1);
    let mut b = model(2);
    io::from_safetensors(&mut b, &io::to_safetensors(&mut a).unwrap()).unwrap();
    assert!(bits(&mut a) == bits(&mut b));
    let x = Tensor::new(&[1, 4, 4, 2], (0..32).map(|i| i as f32 / 8.0).collect()).unwrap();
    assert_eq!(a.forward(&x, false).unwrap(), b.forward(&x, false).unwrap());
}

#[test]
fn a_bad_tensor_after_good_ones_changes_nothing() {
    // The first three tensors are fine: the loader used to write them before refusing the
    // fourth (found by the model_load fuzz target). Now nothing is written.
    let (mut h, d) = valid();
    h.insert("3.bias".into(), json!({"dtype": "F32", "shape": [1, 2], "data_offsets": [612, 620]}));
    assert!(refused("last tensor's shape", &file(&h, &d)).contains("tensor 3.bias has shape [1, 2], expected [2]"));
    // Every parameter present and right, plus one the architecture lacks.
    let (mut h, mut d) = valid();
    let end = d.len();
    h.insert("9.weight".into(), json!({"dtype": "F32", "shape": [1], "data_offsets": [end, end + 4]}));
    d.extend(1.0f32.to_le_bytes());
    assert!(refused("extra tensor", &file(&h, &d)).contains("tensor 9.weight is not part of this architecture"));
}

#[test]
fn missing_renamed_and_mistyped_tensors() {
    let (mut h, d) = valid();
    let info = h.remove("0.bias").unwrap();
    h.insert("0.Bias".into(), info);
    assert!(refused("renamed", &file(&h, &d)).contains("tensor 0.bias is missing"));
    let (mut h, d) = valid();
    h["0.bias"]["dtype"] = json!("I32");
    assert!(refused("I32", &file(&h, &d)).contains("tensor 0.bias is I32, expected F32"));
    // F16 with the same byte count as the F32 tensor would need twice the elements: the shape
    // [6] fits the 12 bytes, the dtype is wrong.
    let (mut h, d) = valid();
    h["0.bias"]["dtype"] = json!("F16");
    h["0.bias"]["shape"] = json!([6]);
    assert!(refused("F16", &file(&h, &d)).contains("expected F32"));
    let (mut h, d) = valid();
    h["0.bias"]["dtype"] = json!("f32");
    assert!(refused("unknown dtype", &file(&h, &d)).contains("not a valid safetensors file"));
    // An empty header: the first parameter is missing.
    assert!(refused("empty header", &file(&serde_json::Map::new(), &[])).contains("tensor 0.weight is missing"));
}

#[test]
fn offsets_shapes_and_lengths_that_do_not_add_up() {
    let invalid = |what: &str, h: &serde_json::Map<String, Value>, d: &[u8]| {
        assert!(refused(what, &file(h, d)).contains("not a valid safetensors file"), "{what}");
    };
    // Overlapping tensors: 0.bias's offsets are 0.weight's.
    let (mut h, d) = valid();
    h["0.bias"]["data_offsets"] = h["0.weight"]["data_offsets"].clone();
    invalid("overlapping offsets", &h, &d);
    // An offset past the data, a huge one, an end before the start.
    for offsets in [json!([216, 229]), json!([216, u64::MAX]), json!([228, 216]), json!([216, 18446744073709551615u64])]
    {
        let (mut h, d) = valid();
        h["0.bias"]["data_offsets"] = offsets.clone();
        invalid(&format!("offsets {offsets}"), &h, &d);
    }
    // A shape whose element count overflows, a negative or fractional dimension.
    for shape in [json!([u64::MAX, u64::MAX]), json!([-3]), json!([1.5, 2])] {
        let (mut h, d) = valid();
        h["0.bias"]["shape"] = shape.clone();
        invalid(&format!("shape {shape}"), &h, &d);
    }
    // Fields missing or of the wrong JSON type.
    for (field, value) in [("dtype", Value::Null), ("shape", json!("3")), ("data_offsets", json!([0]))] {
        let (mut h, d) = valid();
        h["0.bias"][field] = value;
        invalid(&format!("{field} of the wrong type"), &h, &d);
    }
    let (mut h, d) = valid();
    h["0.bias"].as_object_mut().unwrap().remove("shape");
    invalid("no shape", &h, &d);
    // Truncated data, trailing bytes.
    let (h, d) = valid();
    invalid("truncated data", &h, &d[..d.len() - 1]);
    let mut longer = d.clone();
    longer.push(0);
    invalid("trailing byte", &h, &longer);
}

#[test]
fn broken_header_length_and_framing() {
    let (h, d) = valid();
    let good = file(&h, &d);
    for cut in [0, 1, 7, 8, 9, 100, good.len() - 1] {
        assert!(refused(&format!("cut at {cut}"), &good[..cut]).contains("not a valid safetensors file"));
    }
    // The header length: too large, huge, off by one either way.
    let n = u64::from_le_bytes(good[..8].try_into().unwrap());
    for len in [n + 1, n - 1, u64::MAX, 1 << 40, 0] {
        let mut f = good.clone();
        f[..8].copy_from_slice(&len.to_le_bytes());
        assert!(refused(&format!("header length {len}"), &f).contains("not a valid safetensors file"));
    }
    // Not JSON, not an object, not UTF-8.
    for header in [&b"{\"0.bias\":"[..], b"[1, 2]", b"\xff\xfe{}"] {
        let mut f = (header.len() as u64).to_le_bytes().to_vec();
        f.extend(header);
        assert!(refused("bad header", &f).contains("not a valid safetensors file"));
    }
}

#[test]
fn non_finite_weights_load_and_propagate() {
    // A file's values are data: NaN and Inf load (the loader checks structure, not values),
    // and propagate through the forward pass as IEEE arithmetic says.
    let (h, mut d) = valid();
    d[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    let mut m = model(7);
    io::from_safetensors(&mut m, &file(&h, &d)).unwrap();
    assert!(m.params()[0].param.value[0].is_nan());
    let x = Tensor::new(&[1, 4, 4, 2], vec![1.0; 32]).unwrap();
    let y = m.forward(&x, false).unwrap();
    assert!(y.data().iter().all(|v| v.is_nan()), "{:?}", y.data());
}
