// bench/onnx-builder.mjs — a tiny hand-written ONNX (protobuf) encoder, no protobuf library.
//
// Enough of onnx.proto to build a ModelProto (ir_version 8, opset 17 by default) with:
//   - graph inputs/outputs: tensors with static (number) or symbolic (string) dims
//   - initializers: float32 / int8 / uint8 (also int32 / int64) tensors stored as raw_data
//   - nodes with int / float / ints / floats / string attributes
// plus two ready-made graphs used by the onnxruntime benchmarks:
//   buildLinearModel      Y = MatMul(X[M,K], Wt[K,N]) + b                      (f32)
//   buildLinearInt8Model  the MatMul pattern onnxruntime's quantize_dynamic emits (int8 weights)
//
// Field numbers follow onnx/onnx.proto (proto2). Repeated scalars are written unpacked (the proto2
// default); all parsers accept that. raw_data is little-endian as ONNX requires; we copy the typed
// array's bytes, which is correct on every little-endian host (all platforms Node/ORT run on).

// ---------------------------------------------------------------------------------------------
// Protobuf wire encoding
// ---------------------------------------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const textEncoder = new TextEncoder();

/** Growable byte buffer with the few protobuf primitives we need. */
class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.len = 0;
  }
  #reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b) {
    this.#reserve(1);
    this.buf[this.len++] = b;
  }
  bytes(u8) {
    this.#reserve(u8.length);
    this.buf.set(u8, this.len);
    this.len += u8.length;
  }
  /** Unsigned/two's-complement varint of an integer (number or bigint); negatives take 10 bytes. */
  varint(value) {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }
  tag(field, wire) {
    this.varint((field << 3) | wire);
  }
  // --- fields ---
  int(field, value) {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }
  float(field, value) {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.bytes(b);
  }
  lenDelimited(field, u8) {
    this.tag(field, WIRE_LEN);
    this.varint(u8.length);
    this.bytes(u8);
  }
  string(field, s) {
    this.lenDelimited(field, textEncoder.encode(s));
  }
  /** Embedded message: `build` writes the sub-message into a fresh Writer. */
  message(field, build) {
    const w = new Writer();
    build(w);
    this.lenDelimited(field, w.finish());
  }
  finish() {
    return this.buf.slice(0, this.len);
  }
}

// ---------------------------------------------------------------------------------------------
// ONNX enums
// ---------------------------------------------------------------------------------------------

/** TensorProto.DataType */
export const DataType = Object.freeze({
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
});

/** AttributeProto.AttributeType */
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 };

function dataTypeOf(data) {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Uint8Array) return DataType.UINT8;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof BigInt64Array) return DataType.INT64;
  throw new TypeError(`unsupported initializer array type ${data?.constructor?.name}`);
}

// ---------------------------------------------------------------------------------------------
// Plain-object descriptions of graph pieces (encoded by buildModel)
// ---------------------------------------------------------------------------------------------

/** Attribute helpers: pass the results in a node's `attrs` array. */
export const attr = {
  int: (name, value) => ({ name, type: AttrType.INT, value }),
  float: (name, value) => ({ name, type: AttrType.FLOAT, value }),
  ints: (name, values) => ({ name, type: AttrType.INTS, value: [...values] }),
  floats: (name, values) => ({ name, type: AttrType.FLOATS, value: [...values] }),
  string: (name, value) => ({ name, type: AttrType.STRING, value }),
};

/**
 * Graph input/output: a tensor of `elemType` (DataType) with dims that are numbers (static) or
 * strings (symbolic, e.g. "M"); `dims: null` leaves the shape unknown.
 */
export function tensorValue(name, elemType, dims) {
  return { name, elemType, dims };
}

/** Initializer from a typed array (Float32Array / Int8Array / Uint8Array / Int32Array / BigInt64Array). */
export function initializer(name, data, dims) {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new RangeError(`initializer ${name}: dims ${dims} hold ${count}, data has ${data.length}`);
  return { name, dims, dataType: dataTypeOf(data), data };
}

/** Node: `node("MatMul", ["X", "W"], ["Y"], [attr.int("axis", 1)], "mm0")`. Empty input name = omitted optional input. */
export function node(opType, inputs, outputs, attrs = [], name = "", domain = "") {
  return { opType, inputs, outputs, attrs, name, domain };
}

// ---------------------------------------------------------------------------------------------
// Encoders for each message
// ---------------------------------------------------------------------------------------------

function writeAttribute(w, a) {
  w.string(1, a.name); // name
  switch (a.type) {
    case AttrType.FLOAT:
      w.float(2, a.value); // f
      break;
    case AttrType.INT:
      w.int(3, a.value); // i
      break;
    case AttrType.STRING:
      w.string(4, a.value); // s
      break;
    case AttrType.FLOATS:
      for (const v of a.value) w.float(7, v); // floats
      break;
    case AttrType.INTS:
      for (const v of a.value) w.int(8, v); // ints
      break;
    default:
      throw new Error(`attribute ${a.name}: unknown type ${a.type}`);
  }
  w.int(20, a.type); // type
}

function writeNode(w, n) {
  for (const i of n.inputs) w.string(1, i); // input
  for (const o of n.outputs) w.string(2, o); // output
  if (n.name) w.string(3, n.name); // name
  w.string(4, n.opType); // op_type
  for (const a of n.attrs) w.message(5, (aw) => writeAttribute(aw, a)); // attribute
  if (n.domain) w.string(7, n.domain); // domain
}

function writeTensor(w, t) {
  for (const d of t.dims) w.int(1, d); // dims
  w.int(2, t.dataType); // data_type
  w.string(8, t.name); // name
  const d = t.data;
  w.lenDelimited(9, new Uint8Array(d.buffer, d.byteOffset, d.byteLength)); // raw_data (LE host)
}

function writeValueInfo(w, v) {
  w.string(1, v.name); // name
  w.message(2, (tw) => {
    // TypeProto.tensor_type = 1
    tw.message(1, (tt) => {
      tt.int(1, v.elemType); // elem_type
      if (v.dims) {
        tt.message(2, (sw) => {
          // TensorShapeProto
          for (const d of v.dims) {
            sw.message(1, (dw) => {
              // Dimension: dim_value = 1 | dim_param = 2
              if (typeof d === "string") dw.string(2, d);
              else dw.int(1, d);
            });
          }
        });
      }
    });
  });
}

/**
 * Encode a ModelProto.
 * @param {{ inputs: object[], outputs: object[], nodes: object[], initializers?: object[],
 *   graphName?: string, irVersion?: number, opset?: number, extraOpsets?: {domain: string, version: number}[],
 *   producerName?: string }} m
 * @returns {Uint8Array} serialized .onnx bytes
 */
export function buildModel({
  inputs,
  outputs,
  nodes,
  initializers = [],
  graphName = "graph",
  irVersion = 8,
  opset = 17,
  extraOpsets = [],
  producerName = "edgeformer-bench",
}) {
  const w = new Writer();
  w.int(1, irVersion); // ir_version
  w.string(2, producerName); // producer_name
  w.message(7, (g) => {
    // graph
    for (const n of nodes) g.message(1, (nw) => writeNode(nw, n)); // node
    g.string(2, graphName); // name
    for (const t of initializers) g.message(5, (tw) => writeTensor(tw, t)); // initializer
    for (const v of inputs) g.message(11, (vw) => writeValueInfo(vw, v)); // input
    for (const v of outputs) g.message(12, (vw) => writeValueInfo(vw, v)); // output
  });
  for (const { domain, version } of [{ domain: "", version: opset }, ...extraOpsets]) {
    w.message(8, (ow) => {
      // opset_import
      if (domain) ow.string(1, domain);
      ow.int(2, version);
    });
  }
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Linear layers
// ---------------------------------------------------------------------------------------------

function checkLinearArgs(K, N, weightT, bias) {
  if (!(weightT instanceof Float32Array) || weightT.length !== K * N)
    throw new RangeError(`weightT must be a Float32Array of K*N = ${K * N}`);
  if (!(bias instanceof Float32Array) || bias.length !== N)
    throw new RangeError(`bias must be a Float32Array of N = ${N}`);
}

/**
 * f32 linear layer: Y[M,N] = MatMul(X[M,K], Wt[K,N]) + b[N], with M symbolic ("M").
 * @param {{K: number, N: number, weightT: Float32Array, bias: Float32Array}} p
 *   weightT is row-major [K*N], i.e. the transpose of a Hugging Face Linear weight W[N][K].
 * @returns {Uint8Array} .onnx bytes; input "X", output "Y"
 */
export function buildLinearModel({ K, N, weightT, bias }) {
  checkLinearArgs(K, N, weightT, bias);
  return buildModel({
    graphName: "linear_f32",
    inputs: [tensorValue("X", DataType.FLOAT, ["M", K])],
    outputs: [tensorValue("Y", DataType.FLOAT, ["M", N])],
    initializers: [initializer("Wt", weightT, [K, N]), initializer("b", bias, [N])],
    nodes: [
      node("MatMul", ["X", "Wt"], ["XW"], [], "matmul"),
      node("Add", ["XW", "b"], ["Y"], [], "add_bias"),
    ],
  });
}

/**
 * Per-tensor symmetric int8 quantization, as quantize_dynamic does for weights by default
 * (QInt8, symmetric): scale = max|w| / 127, q = clamp(round(w / scale), -127, 127), zero point 0.
 * @returns {{q: Int8Array, scale: number}}
 */
export function quantizeSymmetricInt8(w) {
  let maxAbs = 0;
  for (let i = 0; i < w.length; i++) maxAbs = Math.max(maxAbs, Math.abs(w[i]));
  const scale = maxAbs > 0 ? maxAbs / 127 : 1;
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i] / scale)));
  return { q, scale };
}

/**
 * Dynamically quantized linear layer in the pattern onnxruntime's quantize_dynamic emits for MatMul
 * (op-level: DynamicQuantizeLinear + MatMulInteger; onnxruntime then fuses it into its contrib
 * DynamicQuantizeMatMul / MatMulIntegerToFloat kernels at graph-optimization time):
 *
 *   X[M,K] f32 ─DynamicQuantizeLinear→ Xq u8, Xscale f32, Xzp u8
 *   MatMulInteger(Xq, Wq[K,N] i8, Xzp, Wzp i8 = 0) → i32 ─Cast(to=FLOAT)→ f32
 *   Mul(Xscale, Wscale) → s ;  Mul(f32, s) → XW ;  Add(XW, b) → Y[M,N]
 *
 * Weights: per-tensor, symmetric int8 (zero point 0, range ±127) — see quantizeSymmetricInt8.
 * Activations: per-tensor asymmetric uint8, computed at run time by DynamicQuantizeLinear.
 * @param {{K: number, N: number, weightT: Float32Array, bias: Float32Array}} p  as buildLinearModel
 * @returns {Uint8Array} .onnx bytes; input "X", output "Y"
 */
export function buildLinearInt8Model({ K, N, weightT, bias }) {
  checkLinearArgs(K, N, weightT, bias);
  const { q, scale } = quantizeSymmetricInt8(weightT);
  return buildModel({
    graphName: "linear_int8_dynamic",
    inputs: [tensorValue("X", DataType.FLOAT, ["M", K])],
    outputs: [tensorValue("Y", DataType.FLOAT, ["M", N])],
    initializers: [
      initializer("Wt_quantized", q, [K, N]),
      initializer("Wt_scale", new Float32Array([scale]), []),
      initializer("Wt_zero_point", new Int8Array([0]), []),
      initializer("b", bias, [N]),
    ],
    nodes: [
      node(
        "DynamicQuantizeLinear",
        ["X"],
        ["X_quantized", "X_scale", "X_zero_point"],
        [],
        "X_QuantizeLinear",
      ),
      node(
        "MatMulInteger",
        ["X_quantized", "Wt_quantized", "X_zero_point", "Wt_zero_point"],
        ["XW_output_quantized"],
        [],
        "matmul_quant",
      ),
      node(
        "Cast",
        ["XW_output_quantized"],
        ["XW_output_quantized_cast"],
        [attr.int("to", DataType.FLOAT)],
        "matmul_quant_cast",
      ),
      node("Mul", ["X_scale", "Wt_scale"], ["XW_scales_mul"], [], "matmul_scales_mul"),
      node("Mul", ["XW_output_quantized_cast", "XW_scales_mul"], ["XW"], [], "matmul_output_scale_mul"),
      node("Add", ["XW", "b"], ["Y"], [], "add_bias"),
    ],
  });
}
