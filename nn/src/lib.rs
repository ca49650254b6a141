//! `lanes-nn`: tensors, layers, training and model files on top of `lanes-kernels`. No unsafe
//! code: all speed comes from the kernels (GEMM with fused bias for `Linear`).
//!
//! ```
//! use lanes_nn::{layers::{Act, Linear}, loss, optim::Adam, Sequential, Tensor};
//! let mut model = Sequential::new().push(Linear::new(2, 8, 1)?).push(Act::relu()).push(Linear::new(8, 2, 2)?);
//! let mut adam = Adam::new(0.05);
//! let x = Tensor::new(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?;
//! let labels = [0, 1, 1, 0]; // XOR
//! for _ in 0..300 {
//!     let (_, grad) = loss::softmax_cross_entropy(&model.forward(&x, true)?, &labels)?;
//!     model.backward(&grad)?;
//!     adam.step(&mut model);
//! }
//! assert_eq!(model.forward(&x, false)?.argmax_rows()?, labels);
//! # Ok::<(), lanes_nn::NnError>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod audio;
pub mod bert;
pub mod conv;
pub mod data;
pub mod depthwise;
mod error;
pub mod io;
pub mod layers;
pub mod linalg;
pub mod loss;
pub mod metrics;
mod model;
pub mod norm;
pub mod optim;
pub mod progress;
pub mod recsys;
pub mod sentence;
mod tensor;
pub mod tokenizer;
pub mod train;
pub mod transformer;
pub mod zoo;

pub use error::{NnError, Result};
pub use model::{NamedParam, Sequential, AWAKE_MIN_INPUT};
pub use tensor::Tensor;

// The crate README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;
