//! A BERT encoder (Hugging Face `BertModel` layout and tensor names) for inference: token,
//! position and segment embeddings, a stack of [`EncoderBlock`]s. all-MiniLM-L6-v2 is one.

use crate::error::{NnError, Result};
use crate::io::read_f32;
use crate::layers::Linear;
use crate::norm::LayerNorm;
use crate::tensor::Tensor;
use crate::transformer::{check_lens, Embedding, EncoderBlock, MultiHeadSelfAttention};
use safetensors::SafeTensors;

/// The architecture: what `config.json` of a Hugging Face BERT says.
#[derive(Clone, Debug, PartialEq)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of every token's vector.
    pub hidden_size: usize,
    /// Encoder blocks.
    pub num_hidden_layers: usize,
    /// Attention heads per block.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Longest sequence (position embeddings).
    pub max_position_embeddings: usize,
    /// Segment types.
    pub type_vocab_size: usize,
    /// Epsilon of every layer norm.
    pub layer_norm_eps: f32,
}

impl BertConfig {
    /// Reads the fields of a Hugging Face `config.json`; refuses a model that is not a BERT
    /// with absolute positions and the exact GELU.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| NnError::ModelFile(format!("config.json: {e}")))?;
        let field = |name: &str| v.get(name).ok_or_else(|| NnError::ModelFile(format!("config.json lacks {name}")));
        let size = |name: &str| -> Result<usize> {
            let n = field(name)?
                .as_u64()
                .ok_or_else(|| NnError::ModelFile(format!("config.json: {name} is not a count")))?;
            usize::try_from(n)
                .ok()
                .filter(|&n| n > 0 && n <= 1 << 20)
                .ok_or_else(|| NnError::ModelFile(format!("config.json: {name} = {n} is out of range")))
        };
        let text_of = |name: &str, default: &str| v.get(name).and_then(|x| x.as_str()).unwrap_or(default).to_string();
        for (name, want, default) in [
            ("model_type", "bert", ""),
            ("hidden_act", "gelu", "gelu"),
            ("position_embedding_type", "absolute", "absolute"),
        ] {
            let got = text_of(name, default);
            if got != want {
                return Err(NnError::ModelFile(format!("config.json: {name} is {got:?}; only {want:?} is supported")));
            }
        }
        let eps = field("layer_norm_eps")?.as_f64().filter(|e| e.is_finite() && *e >= 0.0);
        let config = BertConfig {
            vocab_size: size("vocab_size")?,
            hidden_size: size("hidden_size")?,
            num_hidden_layers: size("num_hidden_layers")?,
            num_attention_heads: size("num_attention_heads")?,
            intermediate_size: size("intermediate_size")?,
            max_position_embeddings: size("max_position_embeddings")?,
            type_vocab_size: size("type_vocab_size")?,
            layer_norm_eps: eps
                .ok_or_else(|| NnError::ModelFile("config.json: layer_norm_eps is not a number >= 0".into()))?
                as f32,
        };
        if !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            return Err(NnError::ModelFile(format!(
                "config.json: {} heads do not divide hidden_size {}",
                config.num_attention_heads, config.hidden_size
            )));
        }
        Ok(config)
    }

    /// Every tensor a Hugging Face `BertModel` checkpoint of this configuration holds for the
    /// encoder, with its shape (`[out, in]` for a linear layer's weight): what
    /// [`Bert::from_safetensors`] reads (it also accepts, and ignores, the pooler and the
    /// position-id buffer). Test fixtures and tools build checkpoints from it.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (h, ff) = (self.hidden_size, self.intermediate_size);
        let mut shapes: Vec<(String, Vec<usize>)> = vec![
            ("embeddings.word_embeddings.weight".into(), vec![self.vocab_size, h]),
            ("embeddings.position_embeddings.weight".into(), vec![self.max_position_embeddings, h]),
            ("embeddings.token_type_embeddings.weight".into(), vec![self.type_vocab_size, h]),
            ("embeddings.LayerNorm.weight".into(), vec![h]),
            ("embeddings.LayerNorm.bias".into(), vec![h]),
        ];
        for i in 0..self.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            for (part, out, inp) in [
                ("attention.self.query", h, h),
                ("attention.self.key", h, h),
                ("attention.self.value", h, h),
                ("attention.output.dense", h, h),
                ("intermediate.dense", ff, h),
                ("output.dense", h, ff),
            ] {
                shapes.push((format!("{p}.{part}.weight"), vec![out, inp]));
                shapes.push((format!("{p}.{part}.bias"), vec![out]));
            }
            for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
                shapes.push((format!("{p}.{norm}.weight"), vec![h]));
                shapes.push((format!("{p}.{norm}.bias"), vec![h]));
            }
        }
        shapes
    }
}

/// A BERT encoder with its weights, ready for inference.
pub struct Bert {
    config: BertConfig,
    words: Embedding,
    positions: Embedding,
    /// Segment 0's embedding (single-sentence inputs only).
    segment: Vec<f32>,
    embedding_norm: LayerNorm,
    blocks: Vec<EncoderBlock>,
}

/// Tensors of a `BertModel` file that inference does not use (the pooler, the position-id
/// buffer); any other name that is not a weight of the architecture is an error.
const UNUSED: [&str; 3] = ["pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids"];

impl Bert {
    /// The encoder of `config` with the weights of a safetensors file (Hugging Face names,
    /// F32): every tensor must be present with its exact shape, and the file may hold nothing
    /// else but the pooler and the position-id buffer.
    pub fn from_safetensors(config: BertConfig, bytes: &[u8]) -> Result<Self> {
        let file = SafeTensors::deserialize(bytes)
            .map_err(|e| NnError::ModelFile(format!("not a valid safetensors file: {e}")))?;
        let mut w =
            Weights { file: &file, used: UNUSED.iter().map(|s| s.to_string()).collect(), eps: config.layer_norm_eps };
        let (h, ff, vocab, max_pos) =
            (config.hidden_size, config.intermediate_size, config.vocab_size, config.max_position_embeddings);
        let words = Embedding::from_weights(vocab, h, w.take("embeddings.word_embeddings.weight", &[vocab, h])?)?;
        let positions =
            Embedding::from_weights(max_pos, h, w.take("embeddings.position_embeddings.weight", &[max_pos, h])?)?;
        let mut segment = w.take("embeddings.token_type_embeddings.weight", &[config.type_vocab_size, h])?;
        segment.truncate(h);
        let embedding_norm = w.norm("embeddings.LayerNorm", h)?;
        // Nothing is reserved from the config's numbers alone (a hostile config.json could ask
        // for terabytes): buffers grow from tensors the file actually holds.
        let mut blocks = Vec::new();
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            // Query, key and value stacked into one [3h, h] projection: one GEMM instead of three.
            let (mut qkv_w, mut qkv_b) = (Vec::new(), Vec::new());
            for part in ["query", "key", "value"] {
                qkv_w.extend(w.take(&format!("{p}.attention.self.{part}.weight"), &[h, h])?);
                qkv_b.extend(w.take(&format!("{p}.attention.self.{part}.bias"), &[h])?);
            }
            let qkv = Linear::from_weights(h, 3 * h, qkv_w, qkv_b)?;
            let out = w.linear(&format!("{p}.attention.output.dense"), h, h)?;
            blocks.push(EncoderBlock {
                attention: MultiHeadSelfAttention::new(config.num_attention_heads, qkv, out)?,
                attention_norm: w.norm(&format!("{p}.attention.output.LayerNorm"), h)?,
                ffn_in: w.linear(&format!("{p}.intermediate.dense"), h, ff)?,
                ffn_out: w.linear(&format!("{p}.output.dense"), ff, h)?,
                output_norm: w.norm(&format!("{p}.output.LayerNorm"), h)?,
            });
        }
        if let Some(extra) = file.names().into_iter().find(|n| !w.used.iter().any(|u| u == *n)) {
            return Err(NnError::ModelFile(format!(
                "tensor {extra} is not part of a BERT encoder of this configuration"
            )));
        }
        Ok(Bert { config, words, positions, segment, embedding_norm, blocks })
    }

    /// The architecture.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// The last hidden states, `[tokens, hidden]`, of the sequences `ids` (one after the other,
    /// lengths `lens`, each at most `max_position_embeddings`; segment 0, no padding).
    pub fn forward(&mut self, ids: &[u32], lens: &[usize]) -> Result<Tensor> {
        check_lens(ids.len(), lens)?;
        let h = self.config.hidden_size;
        if let Some(&long) = lens.iter().find(|&&l| l > self.config.max_position_embeddings) {
            return Err(NnError::InvalidArgument(format!(
                "a sequence of {long} tokens is longer than the model's {} positions",
                self.config.max_position_embeddings
            )));
        }
        let mut x = self.words.forward(ids, false)?;
        let mut rows = x.data_mut().chunks_exact_mut(h);
        for &len in lens {
            for (pos, row) in (0..len).zip(&mut rows) {
                let p = self.positions.row(pos as u32)?;
                for ((v, p), s) in row.iter_mut().zip(p).zip(&self.segment) {
                    *v = (*v + s) + p; // Hugging Face's order of the sums
                }
            }
        }
        self.embedding_norm.apply_inplace(&mut x)?;
        for block in &mut self.blocks {
            x = block.forward(x, lens)?;
        }
        Ok(x)
    }
}

/// The tensors of a file, taken one by one with their expected shapes; remembers the names taken.
struct Weights<'a> {
    file: &'a SafeTensors<'a>,
    used: Vec<String>,
    eps: f32,
}

impl Weights<'_> {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let values = read_f32(self.file, name, shape)?;
        self.used.push(name.to_string());
        Ok(values)
    }

    /// `NAME.weight` `[outputs, inputs]` and `NAME.bias`.
    fn linear(&mut self, name: &str, inputs: usize, outputs: usize) -> Result<Linear> {
        let weight = self.take(&format!("{name}.weight"), &[outputs, inputs])?;
        Linear::from_weights(inputs, outputs, weight, self.take(&format!("{name}.bias"), &[outputs])?)
    }

    /// `NAME.weight` and `NAME.bias`, both `[dim]`.
    fn norm(&mut self, name: &str, dim: usize) -> Result<LayerNorm> {
        let gamma = self.take(&format!("{name}.weight"), &[dim])?;
        LayerNorm::from_weights(gamma, self.take(&format!("{name}.bias"), &[dim])?, self.eps)
    }
}
