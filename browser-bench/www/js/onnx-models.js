// Builds small ONNX models by hand (protobuf wire format) for onnxruntime-web, every weight an
// initializer (a constant, as in a real model, so ORT can prepack it). A plain script (classic
// workers load it with importScripts); defines on self:
//   buildMatMulOnnx(m, k, n, bData)          C[m,n] = MatMul(A[m,k], B)
//   buildConvOnnx(layer, wOihw)              Y = Conv(X[1,Cin,H,W], W) (NCHW, as ONNX has it)
//   buildEltwiseOnnx(op, rows, cols, gamma, beta, eps)
//                                            Y[rows,cols] = Softmax / LayerNormalization / Exp of X
(function () {
  const WIRE_VARINT = 0, WIRE_LEN = 2, WIRE_FIXED32 = 5;

  function varint(v) {
    // Non-negative integers up to 2^53; no bit operations (they truncate to 32 bits).
    const out = [];
    do {
      let byte = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) byte += 128;
      out.push(byte);
    } while (v > 0);
    return out;
  }
  const enc = new TextEncoder();
  function concat(parts) {
    let len = 0;
    for (const p of parts) len += p.length;
    const out = new Uint8Array(len);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }
  const tag = (field, wire) => Uint8Array.from(varint(field * 8 + wire));
  const int = (field, v) => concat([tag(field, WIRE_VARINT), Uint8Array.from(varint(v))]);
  const bytes = (field, b) => concat([tag(field, WIRE_LEN), Uint8Array.from(varint(b.length)), b]);
  const str = (field, s) => bytes(field, enc.encode(s));

  const FLOAT = 1; // TensorProto.DataType.FLOAT

  // ValueInfoProto{name=1, type=2{tensor_type=1{elem_type=1, shape=2{dim=1{dim_value=1}}}}}
  function valueInfo(name, dims) {
    const shape = concat(dims.map((d) => bytes(1, int(1, d))));
    const tensorType = concat([int(1, FLOAT), bytes(2, shape)]);
    return concat([str(1, name), bytes(2, bytes(1, tensorType))]);
  }

  // TensorProto{dims=1, data_type=2, name=8, raw_data=9} (raw_data is little-endian f32)
  function tensor(name, dims, data) {
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return concat([...dims.map((d) => int(1, d)), int(2, FLOAT), str(8, name), bytes(9, raw)]);
  }
  // AttributeProto{name=1, f=2 (fixed32), i=3, ints=8, type=20}: FLOAT 1, INT 2, INTS 7
  const attrInts = (name, vs) => concat([str(1, name), ...vs.map((v) => int(8, v)), int(20, 7)]);
  const attrInt = (name, v) => concat([str(1, name), int(3, v), int(20, 2)]);
  function attrFloat(name, v) {
    const f = new Uint8Array(new Float32Array([v]).buffer);
    return concat([str(1, name), tag(2, WIRE_FIXED32), f, int(20, 1)]);
  }
  // NodeProto{input=1, output=2, name=3, op_type=4, attribute=5}
  const nodeProto = (inputs, outputs, name, op, attrs = []) =>
    concat([...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, name), str(4, op), ...attrs.map((a) => bytes(5, a))]);
  // GraphProto{node=1, name=2, initializer=5, input=11, output=12};
  // ModelProto{ir_version=1, producer_name=2, graph=7, opset_import=8{domain=1, version=2}}
  function model(node, name, inits, inputs, outputs, opset) {
    const graph = concat([
      bytes(1, node), str(2, name), ...inits.map((t) => bytes(5, t)),
      ...inputs.map(([n, d]) => bytes(11, valueInfo(n, d))), ...outputs.map(([n, d]) => bytes(12, valueInfo(n, d))),
    ]);
    return concat([int(1, 8), str(2, 'lanes-browser-bench'), bytes(7, graph), bytes(8, concat([str(1, ''), int(2, opset)]))]);
  }

  self.buildMatMulOnnx = function buildMatMulOnnx(m, k, n, bData) {
    if (!(bData instanceof Float32Array) || bData.length !== k * n) {
      throw new Error(`B must be a Float32Array of ${k}x${n}`);
    }
    const node = nodeProto(['A', 'B'], ['C'], 'matmul', 'MatMul');
    return model(node, 'lanes_matmul', [tensor('B', [k, n], bData)], [['A', [m, k]]], [['C', [m, n]]], 13);
  };

  // `l`: a conv layer of suites.js (pads, stride, groups, oh, ow); wOihw: [Cout][Cin/g][KH][KW].
  self.buildConvOnnx = function buildConvOnnx(l, wOihw) {
    const cinG = l.cin / l.groups;
    if (!(wOihw instanceof Float32Array) || wOihw.length !== l.cout * cinG * l.kh * l.kw) {
      throw new Error(`W must be a Float32Array of ${l.cout}x${cinG}x${l.kh}x${l.kw}`);
    }
    const { top, bottom, left, right } = l.pads;
    const node = nodeProto(['X', 'W'], ['Y'], 'conv', 'Conv', [
      attrInts('kernel_shape', [l.kh, l.kw]), attrInts('strides', [l.stride, l.stride]),
      attrInts('pads', [top, left, bottom, right]), attrInts('dilations', [1, 1]), attrInt('group', l.groups),
    ]);
    return model(node, 'lanes_conv', [tensor('W', [l.cout, cinG, l.kh, l.kw], wOihw)],
      [['X', [1, l.cin, l.h, l.w]]], [['Y', [1, l.cout, l.oh, l.ow]]], 13);
  };

  // op: 'softmax' (last axis), 'layernorm' (last axis, gamma and beta initializers; opset 17),
  // 'exp'. Input X, output Y, both [rows, cols].
  self.buildEltwiseOnnx = function buildEltwiseOnnx(op, rows, cols, gamma, beta, eps) {
    const io = [[['X', [rows, cols]]], [['Y', [rows, cols]]]];
    if (op === 'softmax') return model(nodeProto(['X'], ['Y'], 'softmax', 'Softmax', [attrInt('axis', 1)]), 'lanes_softmax', [], ...io, 13);
    if (op === 'exp') return model(nodeProto(['X'], ['Y'], 'exp', 'Exp'), 'lanes_exp', [], ...io, 13);
    if (op === 'layernorm') {
      const node = nodeProto(['X', 'gamma', 'beta'], ['Y'], 'layernorm', 'LayerNormalization', [attrInt('axis', 1), attrFloat('epsilon', eps)]);
      return model(node, 'lanes_layernorm', [tensor('gamma', [cols], gamma), tensor('beta', [cols], beta)], ...io, 17);
    }
    throw new Error(`buildEltwiseOnnx: unknown op ${op}`);
    };
})();
