//! Minimal ONNX model writer (protobuf wire format by hand: a handful of messages), so the
//! comparison tool can hand ONNX Runtime the same weights lanes gets, as constant initializers
//! (ORT prepacks those), without a Python step or a protobuf compiler.
//! Field numbers: onnx/onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto,
//! ValueInfoProto, TypeProto, TensorShapeProto, AttributeProto, OperatorSetIdProto).

/// A protobuf message being written.
#[derive(Clone, Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint(((field as u64) << 3) | wire as u64);
    }
    fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }
    fn bytes(&mut self, field: u32, b: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn str(&mut self, field: u32, s: &str) -> &mut Self {
        self.bytes(field, s.as_bytes())
    }
    fn msg(&mut self, field: u32, m: &Msg) -> &mut Self {
        self.bytes(field, &m.0)
    }
}

const FLOAT: i64 = 1; // TensorProto.DataType.FLOAT
/// TensorProto.DataType.INT64 (also the `to` of a `Cast` to int64).
pub const INT64: i64 = 7;
const ATTR_FLOAT: i64 = 1; // AttributeProto.AttributeType.FLOAT
const ATTR_INTS: i64 = 7; // AttributeProto.AttributeType.INTS
const ATTR_INT: i64 = 2;

/// A float tensor initializer (constant weights).
fn tensor(name: &str, dims: &[usize], data: &[f32]) -> Msg {
    let mut t = Msg::default();
    for &d in dims {
        t.int(1, d as i64);
    }
    t.int(2, FLOAT).str(8, name);
    let raw: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    t.bytes(9, &raw);
    t
}

/// An int64 tensor initializer (shapes for `Reshape`, indices).
fn tensor_i64(name: &str, dims: &[usize], data: &[i64]) -> Msg {
    let mut t = Msg::default();
    for &d in dims {
        t.int(1, d as i64);
    }
    t.int(2, INT64).str(8, name);
    let raw: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    t.bytes(9, &raw);
    t
}

/// A float input/output of fixed shape.
fn value_info(name: &str, dims: &[usize]) -> Msg {
    let mut shape = Msg::default();
    for &d in dims {
        let mut dim = Msg::default();
        dim.int(1, d as i64);
        shape.msg(1, &dim);
    }
    let mut tensor_type = Msg::default();
    tensor_type.int(1, FLOAT).msg(2, &shape);
    let mut ty = Msg::default();
    ty.msg(1, &tensor_type);
    let mut vi = Msg::default();
    vi.str(1, name).msg(2, &ty);
    vi
}

fn attr_ints(name: &str, v: &[usize]) -> Msg {
    let mut a = Msg::default();
    a.str(1, name);
    for &x in v {
        a.int(8, x as i64);
    }
    a.int(20, ATTR_INTS);
    a
}

fn attr_int(name: &str, v: usize) -> Msg {
    attr_i64(name, v as i64)
}

fn attr_i64(name: &str, v: i64) -> Msg {
    let mut a = Msg::default();
    a.str(1, name).int(3, v).int(20, ATTR_INT);
    a
}

fn attr_f32(name: &str, v: f32) -> Msg {
    let mut a = Msg::default();
    a.str(1, name);
    a.key(2, 5);
    a.0.extend_from_slice(&v.to_le_bytes());
    a.int(20, ATTR_FLOAT);
    a
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: &[Msg]) -> Msg {
    node_n(op, inputs, &[output], output, attrs)
}

/// A node with several outputs (`Split`) and its own name.
fn node_n(op: &str, inputs: &[&str], outputs: &[&str], name: &str, attrs: &[Msg]) -> Msg {
    let mut n = Msg::default();
    for i in inputs {
        n.str(1, i);
    }
    for o in outputs {
        n.str(2, o);
    }
    n.str(3, name).str(4, op);
    for a in attrs {
        n.msg(5, a);
    }
    n
}

/// An attribute of a [`Graph`] node.
pub struct Attr(Msg);

impl Attr {
    /// An INT attribute (`axis`, Cast's `to`, `keepdims`).
    pub fn int(name: &str, v: i64) -> Attr {
        Attr(attr_i64(name, v))
    }
    /// An INTS attribute (`perm`, `axes`, `kernel_shape`, `pads`, `strides`).
    pub fn ints(name: &str, v: &[i64]) -> Attr {
        let mut a = Msg::default();
        a.str(1, name);
        for &x in v {
            a.int(8, x);
        }
        a.int(20, ATTR_INTS);
        Attr(a)
    }
    /// A FLOAT attribute (`epsilon`).
    pub fn float(name: &str, v: f32) -> Attr {
        Attr(attr_f32(name, v))
    }
}

/// A graph under construction for the bigger models (BERT, the MNIST networks): nodes in
/// topological order, constant initializers, fresh tensor names; one float input `X` and one
/// float output. Opset 17, as every model here.
#[derive(Default)]
pub struct Graph {
    nodes: Vec<Msg>,
    inits: Vec<Msg>,
    next: usize,
}

impl Graph {
    /// An empty graph; its input is called `X`.
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh(&mut self, what: &str) -> String {
        self.next += 1;
        format!("{what}_{}", self.next)
    }

    /// A float constant (`dims` empty: a scalar); returns its name.
    pub fn constant(&mut self, dims: &[usize], data: &[f32]) -> String {
        assert_eq!(dims.iter().product::<usize>(), data.len(), "constant of the wrong size");
        let name = self.fresh("c");
        self.inits.push(tensor(&name, dims, data));
        name
    }

    /// An int64 constant of shape `[data.len()]` (a `Reshape` shape); returns its name.
    pub fn constant_i64(&mut self, data: &[i64]) -> String {
        let name = self.fresh("i");
        self.inits.push(tensor_i64(&name, &[data.len()], data));
        name
    }

    /// Appends a node with one output; returns the output's name.
    pub fn op(&mut self, op: &str, inputs: &[&str], attrs: &[Attr]) -> String {
        self.op_n(op, inputs, 1, attrs).remove(0)
    }

    /// Appends a node with `outputs` outputs; returns their names.
    pub fn op_n(&mut self, op: &str, inputs: &[&str], outputs: usize, attrs: &[Attr]) -> Vec<String> {
        let names: Vec<String> = (0..outputs).map(|_| self.fresh(op)).collect();
        let outs: Vec<&str> = names.iter().map(String::as_str).collect();
        let attrs: Vec<Msg> = attrs.iter().map(|a| a.0.clone()).collect();
        self.nodes.push(node_n(op, inputs, &outs, &names[0], &attrs));
        names
    }

    /// The model bytes: input `X` of `input_dims`, output `output` (a tensor name returned by
    /// [`Graph::op`]) of `output_dims`.
    pub fn finish(self, input_dims: &[usize], output: &str, output_dims: &[usize]) -> Vec<u8> {
        model(&self.nodes, &self.inits, value_info("X", input_dims), value_info(output, output_dims))
    }
}

fn model(nodes: &[Msg], inits: &[Msg], input: Msg, output: Msg) -> Vec<u8> {
    let mut g = Msg::default();
    for node in nodes {
        g.msg(1, node);
    }
    g.str(2, "lanes_bench");
    for t in inits {
        g.msg(5, t);
    }
    g.msg(11, &input).msg(12, &output);
    let mut opset = Msg::default();
    opset.str(1, "").int(2, 17);
    let mut m = Msg::default();
    m.int(1, 8).str(2, "lanes-bench").msg(8, &opset).msg(7, &g);
    m.0
}

/// `Y = A * B`, A an `m x k` input, B a constant `k x n` (row-major).
pub fn matmul(m: usize, n: usize, k: usize, b: &[f32]) -> Vec<u8> {
    assert_eq!(b.len(), k * n);
    model(
        &[node("MatMul", &["A", "B"], "Y", &[])],
        &[tensor("B", &[k, n], b)],
        value_info("A", &[m, k]),
        value_info("Y", &[m, n]),
    )
}

/// A 2-D convolution on an NCHW input `[batch, cin, h, w]` with a constant OIHW filter and
/// bias, `pads` = [top, left, bottom, right], followed by a ReLU when `relu`.
#[allow(clippy::too_many_arguments)]
pub fn conv(
    input: [usize; 4],
    output: [usize; 4],
    filter: &[f32],
    filter_dims: [usize; 4],
    bias: &[f32],
    strides: [usize; 2],
    dilations: [usize; 2],
    pads: [usize; 4],
    groups: usize,
    relu: bool,
) -> Vec<u8> {
    let attrs = [
        attr_ints("kernel_shape", &filter_dims[2..]),
        attr_ints("strides", &strides),
        attr_ints("dilations", &dilations),
        attr_ints("pads", &pads),
        attr_int("group", groups),
    ];
    let conv_out = if relu { "C" } else { "Y" };
    let mut nodes = vec![node("Conv", &["X", "W", "Bias"], conv_out, &attrs)];
    if relu {
        nodes.push(node("Relu", &["C"], "Y", &[]));
    }
    model(
        &nodes,
        &[tensor("W", &filter_dims, filter), tensor("Bias", &[bias.len()], bias)],
        value_info("X", &input),
        value_info("Y", &output),
    )
}

/// Row-wise softmax of a `rows x cols` input (`Softmax`, axis -1).
pub fn softmax(rows: usize, cols: usize) -> Vec<u8> {
    model(
        &[node("Softmax", &["X"], "Y", &[attr_i64("axis", -1)])],
        &[],
        value_info("X", &[rows, cols]),
        value_info("Y", &[rows, cols]),
    )
}

/// A one-input element-wise op (`Relu`, `Sigmoid`, `Exp`, ...) on a `rows x cols` input.
pub fn unary(op: &str, rows: usize, cols: usize) -> Vec<u8> {
    model(&[node(op, &["X"], "Y", &[])], &[], value_info("X", &[rows, cols]), value_info("Y", &[rows, cols]))
}

/// `X + row`: a constant row of `cols` values added to every row of a `rows x cols` input
/// (`Add` with broadcasting, a bias add).
pub fn add_row(rows: usize, cols: usize, row: &[f32]) -> Vec<u8> {
    model(
        &[node("Add", &["X", "B"], "Y", &[])],
        &[tensor("B", &[cols], row)],
        value_info("X", &[rows, cols]),
        value_info("Y", &[rows, cols]),
    )
}

/// Layer norm of each row of a `rows x cols` input with constant `gamma` and `beta`
/// (`LayerNormalization`, axis -1).
pub fn layer_norm(rows: usize, cols: usize, gamma: &[f32], beta: &[f32], eps: f32) -> Vec<u8> {
    let attrs = [attr_i64("axis", -1), attr_f32("epsilon", eps)];
    model(
        &[node("LayerNormalization", &["X", "Scale", "B"], "Y", &attrs)],
        &[tensor("Scale", &[cols], gamma), tensor("B", &[cols], beta)],
        value_info("X", &[rows, cols]),
        value_info("Y", &[rows, cols]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_keys_follow_the_wire_format() {
        let mut m = Msg::default();
        m.int(1, 300);
        assert_eq!(m.0, [0x08, 0xac, 0x02]);
        let mut s = Msg::default();
        s.str(2, "ab");
        assert_eq!(s.0, [0x12, 2, b'a', b'b']);
    }

    #[test]
    fn a_matmul_model_holds_its_weights() {
        let bytes = matmul(2, 3, 4, &[1.5; 12]);
        let raw: Vec<u8> = 1.5f32.to_le_bytes().repeat(12);
        assert!(bytes.windows(raw.len()).any(|w| w == raw.as_slice()));
        assert!(bytes.windows(6).any(|w| w == b"MatMul"));
    }
}
