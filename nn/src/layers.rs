//! Layers with a forward pass for inference and training and a reverse-mode backward pass.
//! All arithmetic that matters goes through lanes-kernels (GEMM with fused bias).

use crate::error::{NnError, Result};
use crate::tensor::{filled, rows, uniform, Tensor};
use lanes_kernels::ops::eltwise::Unary;
use lanes_kernels::{Activation, Eltwise, Epilogue, Gemm, MatMut, MatRef, PackedB, Parallelism};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A trainable parameter: its name inside the layer, its values and the gradient of the last
/// backward pass.
pub struct Param<'a> {
    /// Name inside the layer (`weight`, `bias`).
    pub name: &'static str,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, updated by the optimiser.
    pub value: &'a mut [f32],
    /// Gradient of the loss with respect to `value`.
    pub grad: &'a [f32],
}

/// One layer of a model. `Send`: a model's forward pass may run on a worker thread of the
/// rayon pool ([`lanes_kernels::with_awake_workers`]).
pub trait Layer: Send {
    /// What kind of layer this is (for messages).
    fn kind(&self) -> &'static str;
    /// The output for `x`; with `train`, keeps what the backward pass needs.
    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor>;
    /// Given dLoss/dOutput of the last training forward pass, stores the parameter gradients
    /// and returns dLoss/dInput.
    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor>;
    /// Inference with `act` applied to the output in the same pass (fused into the store), for
    /// layers that can (`Linear`, `Conv2d`); `None` for the others. [`crate::Sequential`] uses it
    /// for a layer followed by an activation.
    fn infer_fused(&mut self, x: &Tensor, act: Activation) -> Option<Result<Tensor>> {
        let _ = (x, act);
        None
    }
    /// Inference with `act` and then a `window` max pool (stride = window) applied in the same
    /// pass, for layers that can (`Conv2d`); `None` for the others, and where the pooling
    /// layer's own checks should speak (a window larger than the output).
    /// [`crate::Sequential`] uses it for a layer followed by an optional activation and a
    /// [`crate::conv::MaxPool2d`].
    fn infer_fused_max_pool(&mut self, x: &Tensor, act: Activation, window: (usize, usize)) -> Option<Result<Tensor>> {
        let _ = (x, act, window);
        None
    }
    /// The activation this layer applies, for element-wise activation layers (`Act`).
    fn activation(&self) -> Option<Activation> {
        None
    }
    /// The window of a max-pooling layer whose stride is its window (`MaxPool2d`).
    fn max_pool_window(&self) -> Option<(usize, usize)> {
        None
    }
    /// The trainable parameters with their gradients (empty for parameter-free layers).
    fn params(&mut self) -> Vec<Param<'_>> {
        Vec::new()
    }
    /// What a model file holds for this layer: the parameters, and state that is saved but not
    /// trained (BatchNorm's running statistics, with an empty `grad`).
    fn tensors(&mut self) -> Vec<Param<'_>> {
        self.params()
    }
}

/// The GEMM every layer runs on: the detected ISA, automatic threads.
fn gemm() -> Gemm {
    Gemm::new().parallelism(Parallelism::Auto)
}

/// A fully connected layer `y = x W^T + b`, `W` stored `[out, in]` (PyTorch's layout, so
/// trained weights load as they are).
///
/// ```
/// use lanes_nn::{layers::{Layer, Linear}, Tensor};
/// use lanes_kernels::Activation;
/// // W = [[1, 2], [3, 4]] ([out, in]), b = [0.5, -0.5].
/// let mut fc = Linear::from_weights(2, 2, vec![1.0, 2.0, 3.0, 4.0], vec![0.5, -0.5])?;
/// let x = Tensor::new(&[1, 2], vec![1.0, 1.0])?;
/// assert_eq!(fc.forward(&x, false)?.data(), [3.5, 6.5]); // training-capable path
/// assert_eq!(fc.infer(&x, Activation::Relu, None)?.data(), [3.5, 6.5]); // prepacked, fused
/// # Ok::<(), lanes_nn::NnError>(())
/// ```
pub struct Linear {
    inputs: usize,
    outputs: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
    grad_weight: Vec<f32>,
    grad_bias: Vec<f32>,
    /// The input of the last training forward pass.
    input: Option<Tensor>,
    /// W^T packed for inference, rebuilt after the weights change.
    packed: Option<PackedB>,
}

impl Linear {
    /// A layer with weights drawn uniformly from `[-1/sqrt(in), 1/sqrt(in)]` (PyTorch's
    /// default) by a generator seeded with `seed`, zero bias.
    pub fn new(inputs: usize, outputs: usize, seed: u64) -> Result<Self> {
        let bound = 1.0 / (inputs.max(1) as f32).sqrt();
        let weight = uniform("Linear weights", outputs, inputs, bound, seed)?;
        Self::from_weights(inputs, outputs, weight, filled("Linear bias", outputs, 0.0)?)
    }

    /// A layer with the given `[out, in]` weights and bias.
    pub fn from_weights(inputs: usize, outputs: usize, weight: Vec<f32>, bias: Vec<f32>) -> Result<Self> {
        if inputs.checked_mul(outputs) != Some(weight.len()) {
            return Err(NnError::Shape {
                what: "Linear weight".into(),
                expected: vec![outputs, inputs],
                found: vec![weight.len()],
            });
        }
        if bias.len() != outputs {
            return Err(NnError::Shape {
                what: "Linear bias".into(),
                expected: vec![outputs],
                found: vec![bias.len()],
            });
        }
        Ok(Linear {
            inputs,
            outputs,
            grad_weight: filled("Linear gradients", weight.len(), 0.0)?,
            grad_bias: filled("Linear gradients", outputs, 0.0)?,
            weight,
            bias,
            input: None,
            packed: None,
        })
    }

    /// Input and output features.
    pub fn dims(&self) -> (usize, usize) {
        (self.inputs, self.outputs)
    }

    /// Inference with the prepacked weights and a fused store: `act(x W^T + b)`, plus
    /// `residual` (same shape as the output, consumed: the product is accumulated onto it by the
    /// GEMM, `beta = 1`) when given, added before `act`.
    pub fn infer(&mut self, x: &Tensor, act: Activation, residual: Option<Tensor>) -> Result<Tensor> {
        let batch = self.check_input(x)?;
        if self.packed.is_none() {
            self.packed = Some(gemm().pack_b(self.weight_t()?)?);
        }
        let packed = self.packed.as_ref().expect("packed above");
        let a = MatRef::row_major(x.data(), batch, self.inputs)?;
        let epi = Epilogue::new(Some(&self.bias), act);
        match residual {
            Some(mut y) if y.shape() == [batch, self.outputs] => {
                let c = MatMut::row_major(y.data_mut(), batch, self.outputs)?;
                gemm().run_packed(1.0, a, packed, 1.0, c, &epi)?;
                Ok(y)
            }
            Some(r) => Err(NnError::Shape {
                what: "Linear residual".into(),
                expected: vec![batch, self.outputs],
                found: r.shape().to_vec(),
            }),
            None => Tensor::new(&[batch, self.outputs], gemm().run_packed_to_vec(1.0, a, packed, &epi)?),
        }
    }

    /// The batch size of `x`, which must be `[batch, inputs]`.
    fn check_input(&self, x: &Tensor) -> Result<usize> {
        let (batch, inputs) = x.dims2("Linear input")?;
        if inputs != self.inputs {
            return Err(NnError::Shape {
                what: "Linear input".into(),
                expected: vec![batch, self.inputs],
                found: x.shape().to_vec(),
            });
        }
        Ok(batch)
    }

    /// W^T as a strided `in x out` view of the `[out, in]` weights.
    fn weight_t(&self) -> Result<MatRef<'_>> {
        Ok(MatRef::row_major(&self.weight, self.outputs, self.inputs)?.t())
    }
}

impl Layer for Linear {
    fn kind(&self) -> &'static str {
        "Linear"
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train {
            return self.infer(x, Activation::Identity, None);
        }
        let batch = self.check_input(x)?;
        let mut y = Tensor::zeros(&[batch, self.outputs])?;
        let a = MatRef::row_major(x.data(), batch, self.inputs)?;
        let c = MatMut::row_major(y.data_mut(), batch, self.outputs)?;
        let epi = Epilogue::new(Some(&self.bias), Activation::Identity);
        self.packed = None;
        gemm().run_fused(1.0, a, self.weight_t()?, 0.0, c, &epi)?;
        self.input = Some(x.clone());
        Ok(y)
    }

    fn infer_fused(&mut self, x: &Tensor, act: Activation) -> Option<Result<Tensor>> {
        Some(self.infer(x, act, None))
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let x = self
            .input
            .as_ref()
            .ok_or_else(|| NnError::InvalidArgument("Linear backward before a training forward".into()))?;
        let (batch, outputs) = grad_out.dims2("Linear output gradient")?;
        if outputs != self.outputs || batch != x.shape()[0] {
            return Err(NnError::Shape {
                what: "Linear output gradient".into(),
                expected: vec![x.shape()[0], self.outputs],
                found: grad_out.shape().to_vec(),
            });
        }
        let dy = MatRef::row_major(grad_out.data(), batch, outputs)?;
        let xv = MatRef::row_major(x.data(), batch, self.inputs)?;
        // dW [out, in] = dY^T X; db = column sums of dY; dX = dY W.
        let dw = MatMut::row_major(&mut self.grad_weight, self.outputs, self.inputs)?;
        gemm().run(1.0, dy.t(), xv, 0.0, dw)?;
        self.grad_bias.fill(0.0);
        for row in rows(grad_out.data(), outputs) {
            for (g, d) in self.grad_bias.iter_mut().zip(row) {
                *g += d;
            }
        }
        let mut dx = Tensor::zeros(&[batch, self.inputs])?;
        let w = MatRef::row_major(&self.weight, self.outputs, self.inputs)?;
        gemm().run(1.0, dy, w, 0.0, MatMut::row_major(dx.data_mut(), batch, self.inputs)?)?;
        self.packed = None;
        Ok(dx)
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        self.packed = None;
        vec![
            Param {
                name: "weight",
                shape: vec![self.outputs, self.inputs],
                value: &mut self.weight,
                grad: &self.grad_weight,
            },
            Param { name: "bias", shape: vec![self.outputs], value: &mut self.bias, grad: &self.grad_bias },
        ]
    }
}

/// An element-wise activation (`lanes_kernels::Activation`: ReLU, clamp, GELU, SiLU).
pub struct Act {
    act: Activation,
    input: Option<Tensor>,
}

impl Act {
    /// The layer applying `act`.
    pub fn new(act: Activation) -> Self {
        Act { act, input: None }
    }
    /// ReLU.
    pub fn relu() -> Self {
        Self::new(Activation::Relu)
    }
}

impl Layer for Act {
    fn kind(&self) -> &'static str {
        "Activation"
    }

    fn activation(&self) -> Option<Activation> {
        Some(self.act)
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut y = Tensor::zeros(x.shape())?;
        Eltwise::new().unary(Unary::from(self.act), x.data(), y.data_mut())?;
        if train {
            self.input = Some(x.clone());
        }
        Ok(y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let x = self
            .input
            .as_ref()
            .ok_or_else(|| NnError::InvalidArgument("activation backward before a training forward".into()))?;
        if x.shape() != grad_out.shape() {
            return Err(NnError::Shape {
                what: "activation gradient".into(),
                expected: x.shape().to_vec(),
                found: grad_out.shape().to_vec(),
            });
        }
        let data = x.data().iter().zip(grad_out.data()).map(|(&v, &g)| g * self.act.derivative(v)).collect();
        Tensor::new(x.shape(), data)
    }
}

/// Dropout: in training, zeroes each value with probability `p` and scales the rest by
/// `1 / (1 - p)`; in inference, the identity. The mask comes from a generator seeded at
/// construction, so training is deterministic.
pub struct Dropout {
    p: f32,
    rng: Xoshiro256PlusPlus,
    mask: Option<Vec<f32>>,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1)`.
    pub fn new(p: f32, seed: u64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(NnError::InvalidArgument(format!("dropout probability {p} is not in [0, 1)")));
        }
        Ok(Dropout { p, rng: Xoshiro256PlusPlus::seed_from_u64(seed), mask: None })
    }
}

impl Layer for Dropout {
    fn kind(&self) -> &'static str {
        "Dropout"
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train {
            return Ok(x.clone());
        }
        let keep = 1.0 / (1.0 - self.p);
        let mask: Vec<f32> =
            (0..x.data().len()).map(|_| if self.rng.random::<f32>() < self.p { 0.0 } else { keep }).collect();
        let y = x.data().iter().zip(&mask).map(|(v, m)| v * m).collect();
        self.mask = Some(mask);
        Tensor::new(x.shape(), y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let mask = self
            .mask
            .as_ref()
            .ok_or_else(|| NnError::InvalidArgument("dropout backward before a training forward".into()))?;
        if mask.len() != grad_out.data().len() {
            return Err(NnError::Shape {
                what: "dropout gradient".into(),
                expected: vec![mask.len()],
                found: grad_out.shape().to_vec(),
            });
        }
        Tensor::new(grad_out.shape(), grad_out.data().iter().zip(mask).map(|(g, m)| g * m).collect())
    }
}
