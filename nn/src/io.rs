//! Model files: safetensors (the `safetensors` crate), with every tensor's name, dtype and shape
//! checked against the architecture. A truncated or malformed file, a wrong dtype, a missing
//! or extra tensor: an [`NnError::ModelFile`] naming it, never a panic, and the model is left
//! as it was (fuzzed by `fuzz/fuzz_targets/model_load.rs`).

use crate::error::{NnError, Result};
use crate::model::Sequential;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

/// The model's parameters as safetensors bytes (names `<layer>.<param>`, f32, little-endian).
pub fn to_safetensors(model: &mut Sequential) -> Result<Vec<u8>> {
    let params = model.tensors();
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = params
        .iter()
        .map(|p| (p.name.clone(), p.param.shape.clone(), p.param.value.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| NnError::ModelFile(format!("{name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| NnError::ModelFile(e.to_string()))
}

/// Saves the model's parameters to `path`.
pub fn save(model: &mut Sequential, path: &std::path::Path) -> Result<()> {
    let bytes = to_safetensors(model)?;
    std::fs::write(path, bytes).map_err(|e| NnError::ModelFile(format!("{}: {e}", path.display())))
}

/// Loads parameters from safetensors `bytes` into `model`: every parameter must be present
/// with dtype F32 and its exact shape, and the file must hold nothing else. The whole file is
/// checked before anything is written: on an error, the model keeps its parameters.
pub fn from_safetensors(model: &mut Sequential, bytes: &[u8]) -> Result<()> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| NnError::ModelFile(format!("not a valid safetensors file: {e}")))?;
    let mut tensors = model.tensors();
    let values = tensors.iter().map(|p| read_f32(&file, &p.name, &p.param.shape)).collect::<Result<Vec<Vec<f32>>>>()?;
    if let Some(extra) = file.names().into_iter().find(|n| !tensors.iter().any(|p| p.name == **n)) {
        return Err(NnError::ModelFile(format!("tensor {extra} is not part of this architecture")));
    }
    // Every tensor checked: now write.
    for (p, values) in tensors.iter_mut().zip(values) {
        p.param.value.iter_mut().zip(values).for_each(|(w, v)| *w = v);
    }
    Ok(())
}

/// The values of tensor `name` of `file`, which must be F32 of exactly `shape`.
pub(crate) fn read_f32(file: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let view = file.tensor(name).map_err(|_| NnError::ModelFile(format!("tensor {name} is missing")))?;
    if view.dtype() != Dtype::F32 {
        return Err(NnError::ModelFile(format!("tensor {name} is {:?}, expected F32", view.dtype())));
    }
    if view.shape() != shape {
        return Err(NnError::ModelFile(format!("tensor {name} has shape {:?}, expected {shape:?}", view.shape())));
    }
    Ok(view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// Loads parameters from the safetensors file at `path` into `model`.
pub fn load(model: &mut Sequential, path: &std::path::Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| NnError::ModelFile(format!("{}: {e}", path.display())))?;
    from_safetensors(model, &bytes)
}
