//! lanes-nn's safetensors loader (`io::from_safetensors`) on hostile files, into a fixed small
//! architecture (Conv2d 2->3 3x3 "same", ReLU, Reshape, Linear 48->5, GELU, Linear 5->2).
//!
//! The first byte picks the mode:
//! - even: the rest is the file, as it is;
//! - odd: structured. The rest drives edits of a valid saved model of that architecture:
//!   its header JSON (dtype, shape, data offsets, names: renamed, duplicated, removed, extra
//!   tensors, `__metadata__`, values of the wrong JSON type), its header-length prefix and its
//!   data (truncated, extended, bytes changed).
//!
//! Every call must return `Ok` or `Err(NnError::ModelFile)`, never panic; an `Err` leaves the
//! model's parameters untouched (bit for bit); an `Ok` model runs a forward pass and saves
//! back to a file that loads to the same parameters.
#![no_main]

use lanes_kernels::ops::conv::{Conv2dParams, Padding};
use lanes_kernels::Activation;
use lanes_nn::conv::{Conv2d, Reshape};
use lanes_nn::layers::{Act, Linear};
use lanes_nn::{io, NnError, Sequential, Tensor};
use libfuzzer_sys::fuzz_target;

#[path = "common/bytes.rs"]
mod bytes;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

fn arch(seed: u64) -> Sequential {
    Sequential::new()
        .push(Conv2d::new(Conv2dParams::new(2, 3, (3, 3)).padding(Padding::Same), seed).unwrap())
        .push(Act::relu())
        .push(Reshape::new(&[48]))
        .push(Linear::new(48, 5, seed + 1).unwrap())
        .push(Act::new(Activation::Gelu))
        .push(Linear::new(5, 2, seed + 2).unwrap())
}

/// Every parameter's bits, in order, with its name.
fn snapshot(m: &mut Sequential) -> Vec<(String, Vec<u32>)> {
    m.tensors().into_iter().map(|p| (p.name, p.param.value.iter().map(|v| v.to_bits()).collect())).collect()
}

/// A valid file of the architecture (other weights than the target model's).
fn valid_file() -> &'static [u8] {
    static FILE: OnceLock<Vec<u8>> = OnceLock::new();
    FILE.get_or_init(|| io::to_safetensors(&mut arch(100)).unwrap())
}

impl Bytes<'_> {
    /// A number for a shape or an offset: near a given one, small, or huge.
    fn number(&mut self, near: u64) -> Value {
        match self.u8() % 8 {
            0 => json!(near.wrapping_add(1)),
            1 => json!(near.wrapping_sub(1)),
            2 => json!(self.u8() as u64),
            3 => json!(u64::MAX - self.u8() as u64),
            4 => json!(self.u64()),
            5 => json!(-(self.u8() as i64) - 1),
            6 => json!(near as f64 + 0.5),
            _ => json!(near.wrapping_mul(4)),
        }
    }
}

const DTYPES: [&str; 16] =
    ["F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "BOOL", "F8_E4M3", "F4", "f32"];

/// Splits a safetensors file into its header JSON and its data.
fn split(file: &[u8]) -> (Map<String, Value>, Vec<u8>) {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&file[8..8 + n]).unwrap();
    (header, file[8 + n..].to_vec())
}

/// A valid file with fuzzer-driven edits.
fn mutated(b: &mut Bytes) -> Vec<u8> {
    let (mut header, mut data) = split(valid_file());
    let mut len_delta: i64 = 0;
    let mut pad_header = 0usize;
    for _ in 0..1 + b.u8() % 4 {
        if b.is_empty() {
            break;
        }
        let names: Vec<String> = header.keys().cloned().collect();
        let name = names.get(b.u8() as usize % names.len().max(1)).cloned().unwrap_or_default();
        let op = b.u8() % 14;
        let Some(info) = header.get_mut(&name).and_then(Value::as_object_mut) else {
            // `__metadata__` or an emptied header: add a tensor.
            header.insert(
                format!("{}.weight", b.u8() % 8),
                json!({"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}),
            );
            continue;
        };
        match op {
            0 => drop(info.insert("dtype".into(), json!(DTYPES[b.u8() as usize % DTYPES.len()]))),
            1 => {
                let Some(shape) = info.get_mut("shape").and_then(Value::as_array_mut) else { continue };
                if !shape.is_empty() {
                    let i = b.u8() as usize % shape.len();
                    let near = shape[i].as_u64().unwrap_or(0);
                    shape[i] = b.number(near);
                }
            }
            2 => {
                let Some(shape) = info.get_mut("shape").and_then(Value::as_array_mut) else { continue };
                match b.u8() % 3 {
                    0 => drop(shape.pop()),
                    1 => shape.push(json!(1)),
                    _ => shape.push(json!(b.u8())),
                }
            }
            3 | 4 => {
                let Some(offsets) = info.get_mut("data_offsets").and_then(Value::as_array_mut) else { continue };
                let i = (op - 3) as usize;
                let near = offsets.get(i).and_then(Value::as_u64).unwrap_or(0);
                if let Some(o) = offsets.get_mut(i) {
                    *o = b.number(near);
                }
            }
            5 => {
                // Overlap: this tensor's offsets become another's.
                let other = names[b.u8() as usize % names.len()].clone();
                let offsets = header.get(&other).and_then(|v| v.get("data_offsets")).cloned();
                if let (Some(o), Some(info)) = (offsets, header.get_mut(&name).and_then(Value::as_object_mut)) {
                    info.insert("data_offsets".into(), o);
                }
            }
            6 => {
                // Rename: to another existing name (one tensor gone), a near miss or garbage.
                let info = header.remove(&name).unwrap();
                let new = match b.u8() % 5 {
                    0 => names[b.u8() as usize % names.len()].clone(),
                    1 => name.to_uppercase().replace("WEIGHT", "weight_"),
                    2 => format!("{}.weight", b.u8() % 8),
                    3 => "__metadata__".to_string(),
                    _ => String::from_utf8_lossy(&[b.u8(), b.u8(), b.u8()]).into_owned(),
                };
                header.insert(new, info);
            }
            7 => drop(header.remove(&name)),
            8 => {
                // An extra tensor after the data (valid by itself).
                let end = data.len() as u64;
                let n = b.u8() as u64 % 4;
                header.insert(
                    format!("extra.{}", b.u8()),
                    json!({"dtype": "F32", "shape": [n], "data_offsets": [end, end + 4 * n]}),
                );
                data.extend(std::iter::repeat_n(0u8, 4 * n as usize));
            }
            9 => {
                // A field of the wrong JSON type, or missing.
                let field = ["dtype", "shape", "data_offsets"][b.u8() as usize % 3];
                match b.u8() % 4 {
                    0 => drop(info.remove(field)),
                    1 => drop(info.insert(field.into(), json!(null))),
                    2 => drop(info.insert(field.into(), json!("1"))),
                    _ => drop(info.insert(field.into(), json!([[1], {"a": 1}]))),
                }
            }
            10 => {
                let meta = match b.u8() % 3 {
                    0 => json!({"format": "pt"}),
                    1 => json!({"format": 1}),
                    _ => json!("x"),
                };
                header.insert("__metadata__".into(), meta);
            }
            11 => {
                // The data: truncated, extended, or a byte changed (NaN and Inf weights).
                match b.u8() % 3 {
                    0 => data.truncate(data.len().saturating_sub(1 + b.u8() as usize)),
                    1 => data.extend(std::iter::repeat_n(b.u8(), 1 + b.u8() as usize % 8)),
                    _ => {
                        let i = (b.u8() as usize * 251 + b.u8() as usize) % data.len().max(1);
                        if let Some(x) = data.get_mut(i) {
                            *x = b.u8();
                        }
                    }
                }
            }
            12 => len_delta = b.u8() as i64 - 128,
            _ => pad_header = b.u8() as usize % 16,
        }
    }
    let mut json = serde_json::to_vec(&Value::Object(header)).unwrap();
    json.extend(std::iter::repeat_n(b' ', pad_header));
    let n = (json.len() as i64 + len_delta) as u64;
    let mut file = n.to_le_bytes().to_vec();
    file.extend(json);
    file.extend(data);
    file
}

fuzz_target!(|d: &[u8]| {
    let mut b = Bytes(d);
    let structured = b.u8() % 2 == 1;
    let owned;
    let file: &[u8] = if structured {
        owned = mutated(&mut b);
        &owned
    } else {
        b.0
    };
    let mut model = arch(1);
    let before = snapshot(&mut model);
    match io::from_safetensors(&mut model, file) {
        Ok(()) => {
            // Whatever the weights (NaN, Inf), the model runs and saves back to the same values.
            let x = Tensor::new(&[1, 4, 4, 2], (0..32).map(|i| i as f32 / 8.0).collect()).unwrap();
            let y = model.forward(&x, false).unwrap();
            assert_eq!(y.shape(), [1, 2]);
            let saved = io::to_safetensors(&mut model).unwrap();
            let mut again = arch(2);
            io::from_safetensors(&mut again, &saved).unwrap();
            assert!(snapshot(&mut again) == snapshot(&mut model), "a loaded model saves to other values");
        }
        Err(NnError::ModelFile(msg)) => {
            assert!(!msg.is_empty());
            assert!(snapshot(&mut model) == before, "an invalid file ({msg}) changed the model");
        }
        Err(other) => panic!("expected Ok or NnError::ModelFile, got {other:?}"),
    }
});
