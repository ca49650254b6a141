// Builds a one-node ONNX model `C = MatMul(A, B)` by hand (protobuf wire format), with B
// stored as an initializer (a constant weight, as in a real model), A an [m, k] input and C an
// [m, n] output. A plain script: defines self.buildMatMulOnnx(m, k, n, bData) -> Uint8Array.
(function () {
  const WIRE_VARINT = 0, WIRE_LEN = 2;

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

  self.buildMatMulOnnx = function buildMatMulOnnx(m, k, n, bData) {
    if (!(bData instanceof Float32Array) || bData.length !== k * n) {
      throw new Error(`B must be a Float32Array of ${k}x${n}`);
    }
    // NodeProto{input=1, output=2, name=3, op_type=4}
    const node = concat([str(1, 'A'), str(1, 'B'), str(2, 'C'), str(3, 'matmul'), str(4, 'MatMul')]);
    // TensorProto{dims=1, data_type=2, name=8, raw_data=9} (raw_data is little-endian f32)
    const raw = new Uint8Array(bData.buffer, bData.byteOffset, bData.byteLength);
    const init = concat([int(1, k), int(1, n), int(2, FLOAT), str(8, 'B'), bytes(9, raw)]);
    // GraphProto{node=1, name=2, initializer=5, input=11, output=12}
    const graph = concat([
      bytes(1, node), str(2, 'lanes_matmul'), bytes(5, init),
      bytes(11, valueInfo('A', [m, k])), bytes(12, valueInfo('C', [m, n])),
    ]);
    // ModelProto{ir_version=1, producer_name=2, graph=7, opset_import=8{domain=1, version=2}}
    return concat([int(1, 8), str(2, 'lanes-browser-bench'), bytes(7, graph), bytes(8, concat([str(1, ''), int(2, 13)]))]);
  };
})();
