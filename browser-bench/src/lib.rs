//! wasm bindings (in progress)
