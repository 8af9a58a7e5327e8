/**
 * A minimal writer for ONNX models (the protobuf messages of onnx/onnx.proto, IR version 8),
 * enough to generate small operator graphs such as models/ct-lung/ from a script in this
 * repository, so anyone can regenerate the .onnx file and diff it; and a reader of the inputs and
 * outputs a model file declares, so a package is checked against its graph at load. Field numbers are those of
 * onnx.proto: ModelProto{ir_version=1, producer_name=2, producer_version=3, doc_string=6,
 * graph=7, opset_import=8}, GraphProto{node=1, name=2, initializer=5, input=11, output=12},
 * NodeProto{input=1, output=2, name=3, op_type=4, attribute=5}, AttributeProto{name=1, f=2, i=3,
 * ints=8, type=20}, TensorProto{dims=1, data_type=2, float_data=4, int64_data=7, name=8},
 * ValueInfoProto{name=1, type=2}, TypeProto{tensor_type=1}, TypeProto.Tensor{elem_type=1, shape=2},
 * TensorShapeProto{dim=1}, Dimension{dim_value=1, dim_param=2}, OperatorSetIdProto{domain=1, version=2}.
 */

export const DataType = { FLOAT: 1, UINT8: 2, INT64: 7, BOOL: 9 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

class Writer {
  private readonly chunks: number[] = [];
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) byte |= 0x80;
      this.chunks.push(byte);
    } while (x !== 0n);
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, v: number | bigint): this {
    return this.tag(field, 0).varint(v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    for (const x of b) this.chunks.push(x);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  message(field: number, m: Writer): this {
    return this.bytes(field, m.finish());
  }
  float32(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.chunks.push(x);
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

export type Attribute = { name: string } & ({ int: number } | { ints: number[] } | { float: number });

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attributes?: Attribute[];
}

export interface TensorSpec {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  floats?: number[];
  int64s?: number[];
}

export interface ValueSpec {
  name: string;
  dataType: DataTypeCode;
  /** A number is a fixed size, a string a named dynamic dimension. */
  shape: (number | string)[];
}

export interface ModelSpec {
  graphName: string;
  producerName: string;
  producerVersion: string;
  docString: string;
  opsetVersion: number;
  nodes: NodeSpec[];
  initializers: TensorSpec[];
  inputs: ValueSpec[];
  outputs: ValueSpec[];
}

function attribute(a: Attribute): Writer {
  const w = new Writer().string(1, a.name);
  if ('int' in a) w.int(3, a.int).int(20, 2);
  else if ('float' in a) w.float32(2, a.float).int(20, 1);
  else {
    for (const v of a.ints) w.int(8, v);
    w.int(20, 7);
  }
  return w;
}

function tensor(t: TensorSpec): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  for (const f of t.floats ?? []) w.float32(4, f);
  for (const i of t.int64s ?? []) w.int(7, i);
  return w.string(8, t.name);
}

function valueInfo(v: ValueSpec): Writer {
  const shape = new Writer();
  for (const d of v.shape) shape.message(1, typeof d === 'number' ? new Writer().int(1, d) : new Writer().string(2, d));
  const tensorType = new Writer().int(1, v.dataType).message(2, shape);
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType));
}

export function encodeModel(spec: ModelSpec): Uint8Array {
  const graph = new Writer();
  for (const n of spec.nodes) {
    const node = new Writer();
    for (const i of n.inputs) node.string(1, i);
    for (const o of n.outputs) node.string(2, o);
    node.string(3, n.name).string(4, n.op);
    for (const a of n.attributes ?? []) node.message(5, attribute(a));
    graph.message(1, node);
  }
  graph.string(2, spec.graphName);
  for (const t of spec.initializers) graph.message(5, tensor(t));
  for (const i of spec.inputs) graph.message(11, valueInfo(i));
  for (const o of spec.outputs) graph.message(12, valueInfo(o));
  return new Writer()
    .int(1, 8)
    .string(2, spec.producerName)
    .string(3, spec.producerVersion)
    .string(6, spec.docString)
    .message(7, graph)
    .message(8, new Writer().string(1, '').int(2, spec.opsetVersion))
    .finish();
}

/** A graph input or output as the ONNX file declares it: name, element type and dimensions. */
export interface GraphValue {
  name: string;
  elemType: number;
  /** A number for a fixed dimension, a string for a named (dynamic) one, undefined when unknown. */
  dims: (number | string | undefined)[];
}

/** The inputs (without initializers) and outputs an ONNX model's graph declares. */
export interface GraphSignature {
  inputs: GraphValue[];
  outputs: GraphValue[];
}

/** Protobuf fields of one message: [field number, wire type, value (varint) or bytes (length-delimited)]. */
function* fields(b: Uint8Array): Generator<[number, number, bigint | Uint8Array]> {
  let pos = 0;
  const varint = (): bigint => {
    let x = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= b.length) throw new Error('truncated varint');
      const byte = b[pos++];
      x |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return x;
      shift += 7n;
      if (shift > 70n) throw new Error('varint too long');
    }
  };
  while (pos < b.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield [field, wire, varint()];
    else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > b.length) throw new Error('truncated field');
      yield [field, wire, b.subarray(pos, pos + len)];
      pos += len;
    } else if (wire === 5) pos += 4;
    else if (wire === 1) pos += 8;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function sub(v: bigint | Uint8Array): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new Error('expected a message');
  return v;
}

function readValueInfo(m: Uint8Array): GraphValue {
  let name = '';
  let elemType = 0;
  const dims: GraphValue['dims'] = [];
  for (const [f, , v] of fields(m)) {
    if (f === 1) name = new TextDecoder().decode(sub(v));
    if (f !== 2) continue;
    for (const [tf, , tv] of fields(sub(v))) {
      if (tf !== 1) continue; // tensor_type
      for (const [ef, , ev] of fields(sub(tv))) {
        if (ef === 1) elemType = Number(ev);
        if (ef !== 2) continue; // shape
        for (const [df, , dv] of fields(sub(ev))) {
          if (df !== 1) continue;
          let dim: number | string | undefined;
          for (const [xf, , xv] of fields(sub(dv))) {
            if (xf === 1) dim = Number(xv);
            if (xf === 2) dim = new TextDecoder().decode(sub(xv));
          }
          dims.push(dim);
        }
      }
    }
  }
  return { name, elemType, dims };
}

/**
 * The graph's declared inputs and outputs, read from the model file without loading it into a
 * runtime (so a package can be checked at load). Initializers listed as inputs are left out.
 */
export function readGraphSignature(model: Uint8Array): GraphSignature {
  for (const [f, , v] of fields(model)) {
    if (f !== 7) continue;
    const inputs: GraphValue[] = [];
    const outputs: GraphValue[] = [];
    const initializers = new Set<string>();
    for (const [gf, , gv] of fields(sub(v))) {
      if (gf === 11) inputs.push(readValueInfo(sub(gv)));
      else if (gf === 12) outputs.push(readValueInfo(sub(gv)));
      else if (gf === 5)
        for (const [tf, , tv] of fields(sub(gv))) if (tf === 8) initializers.add(new TextDecoder().decode(sub(tv)));
    }
    return { inputs: inputs.filter((i) => !initializers.has(i.name)), outputs };
  }
  throw new Error('no graph in the model file');
}
