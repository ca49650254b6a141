//! ONNX Runtime as a peer, in the same process and run as lanes: the `ort` crate loading the
//! `libonnxruntime.so` that the pinned `onnxruntime` wheel ships (installed into `.venv/` by
//! scripts/setup.sh; nothing is downloaded at build or run time). Each case becomes an ONNX
//! model with the case's B (or filter) as a constant initializer, so ORT prepacks it like
//! lanes' `PackedB`.

use ort::session::Session;
use ort::value::TensorRef;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The ONNX Runtime version scripts/setup.sh installs (and this `ort` build speaks).
pub const VERSION: &str = "1.24.4";

/// Where the shared library is: `LANES_ORT_DYLIB`, else the workspace's `.venv`.
pub fn dylib_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LANES_ORT_DYLIB") {
        return Some(PathBuf::from(p));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(".venv").join("lib");
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let p = entry.path().join("site-packages/onnxruntime/capi").join(format!("libonnxruntime.so.{VERSION}"));
        if p.exists() {
            return Some(p);
        }
    }
    None
}

/// Loads ONNX Runtime once per process: `Ok(())`, or why it is not available.
pub fn init() -> Result<(), String> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        let path = dylib_path().ok_or_else(|| {
            format!("libonnxruntime.so.{VERSION} not found (run scripts/setup.sh native, or set LANES_ORT_DYLIB)")
        })?;
        ort::init_from(&path)
            .map_err(|e| format!("loading {}: {e}", path.display()))?
            .with_name("lanes-bench")
            .commit();
        Ok(())
    })
    .clone()
}

/// A session for one model at a thread count.
pub struct OrtModel {
    session: Session,
    input: String,
}

impl OrtModel {
    /// Builds a session from ONNX bytes; `threads` intra-op threads (ORT's own pool).
    pub fn new(model: &[u8], threads: usize) -> Result<Self, String> {
        init()?;
        let err = |e: &dyn std::fmt::Display| format!("onnxruntime: {e}");
        let session = Session::builder()
            .map_err(|e| err(&e))?
            .with_intra_threads(threads)
            .map_err(|e| err(&e))?
            .with_inter_threads(1)
            .map_err(|e| err(&e))?
            .commit_from_memory(model)
            .map_err(|e| err(&e))?;
        let input = session.inputs().first().map(|i| i.name().to_string()).ok_or("model without input")?;
        Ok(OrtModel { session, input })
    }

    /// Runs on `x` (shaped `dims`) and copies the single output into `y`.
    pub fn run(&mut self, dims: &[usize], x: &[f32], y: &mut [f32]) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| format!("onnxruntime: {e}");
        let input = TensorRef::from_array_view((dims.to_vec(), x)).map_err(|e| err(&e))?;
        let out = self.session.run(ort::inputs![self.input.as_str() => input]).map_err(|e| err(&e))?;
        let (_, data) = out[0].try_extract_tensor::<f32>().map_err(|e| err(&e))?;
        if data.len() != y.len() {
            return Err(format!("onnxruntime: output of {} values, expected {}", data.len(), y.len()));
        }
        y.copy_from_slice(data);
        Ok(())
    }
}
