//! Composition: a [`Sequential`] stack of layers.

use crate::error::Result;
use crate::layers::{Layer, Param};
use crate::tensor::Tensor;
use lanes_kernels::Activation;

/// Fewest input values for which [`Sequential::forward`], called from a thread outside the
/// rayon pool, keeps the pool's workers awake: below it (an MNIST image at batch 1) the trip
/// into the pool (20-80 us on the VMs measured) would cost more than the whole pass
/// (docs/nn.md).
pub const AWAKE_MIN_INPUT: usize = 8192;

/// Layers applied one after another.
///
/// ```
/// use lanes_nn::{layers::{Act, Linear}, Sequential, Tensor};
/// let mut model = Sequential::new()
///     .push(Linear::from_weights(2, 2, vec![1.0, 0.0, 0.0, -1.0], vec![0.0, 0.0])?)
///     .push(Act::relu());
/// let y = model.forward(&Tensor::new(&[1, 2], vec![3.0, 4.0])?, false)?;
/// assert_eq!(y.data(), [3.0, 0.0]);
/// assert_eq!(model.len(), 2);
/// # Ok::<(), lanes_nn::NnError>(())
/// ```
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Layer>>,
}

/// A parameter of a model with its full name (`<layer index>.<name>`, e.g. `0.weight`).
pub struct NamedParam<'a> {
    /// `<layer index>.<name>`.
    pub name: String,
    /// The parameter.
    pub param: Param<'a>,
}

impl Sequential {
    /// An empty stack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a layer.
    pub fn push(mut self, layer: impl Layer + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// The layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The output for `x`; with `train`, every layer keeps what its backward pass needs.
    /// In inference, a `Linear` or `Conv2d` followed by an activation runs as one fused pass,
    /// and so does a `Conv2d` (with or without an activation) followed by a `MaxPool2d`.
    ///
    /// On a rayon pool's thread, or with an input of [`AWAKE_MIN_INPUT`] values or more, the
    /// pass runs inside [`lanes_kernels::with_awake_workers`]: the layers' parallel sections
    /// start on every thread at once instead of waiting for sleeping workers.
    pub fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        if lanes_kernels::on_pool_thread() || x.data().len() >= AWAKE_MIN_INPUT {
            return lanes_kernels::with_awake_workers(|| self.forward_layers(x, train));
        }
        self.forward_layers(x, train)
    }

    fn forward_layers(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            if !train {
                // Layer, optional activation, max pool: one pass where the layer can.
                let act = self.layers.get(i + 1).and_then(|l| l.activation());
                let pool_at = i + 1 + usize::from(act.is_some());
                if let Some(window) = self.layers.get(pool_at).and_then(|l| l.max_pool_window()) {
                    let act = act.unwrap_or(Activation::Identity);
                    if let Some(y) = self.layers[i].infer_fused_max_pool(&h, act, window) {
                        h = y?;
                        i = pool_at + 1;
                        continue;
                    }
                }
                if let Some(act) = act {
                    if let Some(y) = self.layers[i].infer_fused(&h, act) {
                        h = y?;
                        i += 2;
                        continue;
                    }
                }
            }
            h = self.layers[i].forward(&h, train)?;
            i += 1;
        }
        Ok(h)
    }

    /// Back-propagates dLoss/dOutput through every layer (after a training forward pass).
    pub fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let mut g = grad_out.clone();
        for layer in self.layers.iter_mut().rev() {
            g = layer.backward(&g)?;
        }
        Ok(g)
    }

    /// Every trainable parameter, in a fixed order, named `<layer index>.<name>`.
    pub fn params(&mut self) -> Vec<NamedParam<'_>> {
        self.layers
            .iter_mut()
            .enumerate()
            .flat_map(|(i, layer)| {
                layer.params().into_iter().map(move |param| NamedParam { name: format!("{i}.{}", param.name), param })
            })
            .collect()
    }

    /// Everything a model file holds (the parameters and the saved state of each layer: see
    /// [`Layer::tensors`]), named `<layer index>.<name>`.
    pub fn tensors(&mut self) -> Vec<NamedParam<'_>> {
        self.layers
            .iter_mut()
            .enumerate()
            .flat_map(|(i, layer)| {
                layer.tensors().into_iter().map(move |param| NamedParam { name: format!("{i}.{}", param.name), param })
            })
            .collect()
    }
}
