import { closeSync, openSync, writeSync } from "node:fs";
import { basename } from "node:path";
import onnxProto from "onnx-proto";
import { toFloat16Array } from "./float16.ts";
import type { WeightInit, WeightSource } from "./weights.ts";

// onnx-proto is CommonJS: Node ESM sees only its default export.
import onnx = onnxProto.onnx;

/** ONNX opset the graphs target: LayerNormalization needs 17. */
export const OPSET = 17;
/**
 * Operator sets beside the default one that a node may use, with the version imported: ONNX Runtime's
 * contrib ops (`com.microsoft`, e.g. the fused MultiHeadAttention) are version 1.
 */
const EXTRA_OPSETS = { "com.microsoft": 1 } as const;
export type OpDomain = keyof typeof EXTRA_OPSETS;
const IR_VERSION = 8;

export type DType = "float32" | "int64";
/** A dimension: a fixed size or a symbolic name (dim_param) such as "B". */
export type Dim = number | string;

const ELEM: Record<DType, number> = { float32: onnx.TensorProto.DataType.FLOAT, int64: onnx.TensorProto.DataType.INT64 };

/** How weights are stored: fp16 halves the files; a Cast after each keeps the graph's compute float32. */
export type WeightPrecision = "fp32" | "fp16";

/** A float attribute; plain numbers are INT attributes, so floats say so. */
export interface FloatAttr {
  readonly float: number;
}
export const float = (value: number): FloatAttr => ({ float: value });
export type AttrValue = number | number[] | string | FloatAttr;

export interface NodeOptions {
  /** The operator's domain (default: the ONNX one); the model imports it only when a node uses it. */
  domain?: OpDomain;
}

export interface GraphBuilderOptions {
  /** Where initializers over `externalThreshold` bytes go (`<graph>.onnx.data`); none keeps all inline. */
  externalDataPath?: string;
  /** @default 1 MiB */
  externalThreshold?: number;
  /** Where `weight()` gets its values. */
  weights?: WeightSource;
  /** @default "fp32" */
  precision?: WeightPrecision;
}

/** Offsets in the external data file are aligned so runtimes can map tensors directly. */
const EXTERNAL_ALIGN = 4096;

/**
 * Builds one ONNX graph node by node. Values are named strings; `node` returns fresh output names.
 * Large initializers are streamed to the external data file as they are added, so a 3.4 GB UNet
 * never sits in memory whole.
 */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly inits: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly constants = new Map<string, string>();
  private readonly domains = new Set<OpDomain>();
  private externalFd: number | undefined;
  private externalOffset = 0;

  constructor(
    readonly name: string,
    private readonly options: GraphBuilderOptions = {},
  ) {}

  /** A name not used yet in this graph, derived from `hint`. */
  unique(hint: string): string {
    const name = this.fresh(hint);
    this.used.add(name);
    return name;
  }

  /** Like `unique` but not yet reserved: for names `initializer` will claim. */
  private fresh(hint: string): string {
    let n = this.counters.get(hint) ?? 0;
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${++n}`;
    this.counters.set(hint, n);
    return name;
  }

  input(name: string, dtype: DType, dims: Dim[]): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  /** Exposes `value` as graph output `name` (through an Identity so any value can be an output). */
  output(value: string, name: string, dtype: DType, dims: Dim[]): string {
    this.claim(name);
    this.nodes.push({ opType: "Identity", input: [value], output: [name], name: this.unique(`output_${name}`) });
    this.outputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  initializer(name: string, data: Float32Array | BigInt64Array | Uint16Array, dims: number[]): string {
    this.claim(name);
    // Uint16Array holds IEEE half bits
    const dataType = data instanceof Float32Array ? ELEM.float32 : data instanceof Uint16Array ? onnx.TensorProto.DataType.FLOAT16 : ELEM.int64;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const threshold = this.options.externalThreshold ?? 1 << 20;
    if (this.options.externalDataPath && bytes.byteLength > threshold) {
      this.inits.push({ name, dims, dataType, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: this.writeExternal(bytes) });
    } else {
      this.inits.push({ name, dims, dataType, rawData: bytes.slice() });
    }
    return name;
  }

  /** A named parameter from the weight source (a state-dict entry). */
  weight(name: string, dims: number[], init: WeightInit, fanIn?: number): string {
    if (!this.options.weights) throw new Error(`GraphBuilder ${this.name}: no weight source for ${name}`);
    const values = this.options.weights.tensor(name, dims, init, fanIn);
    if (this.options.precision !== "fp16") return this.initializer(name, values, dims);
    // ORT folds the Cast at session creation: CPU compute stays float32 while the files are half size
    let half: Uint16Array;
    try {
      half = toFloat16Array(values, "error");
    } catch (e) {
      throw new Error(`GraphBuilder ${this.name}: weight ${name}: ${(e as Error).message}; build with precision fp32`);
    }
    return this.op("Cast", [this.initializer(name, half, dims)], { to: ELEM.float32 });
  }

  /** A shared int64 constant (shapes, axes), created once per distinct value. */
  ints(values: number[]): string {
    const key = values.join(",");
    let name = this.constants.get(key);
    if (!name) {
      name = this.initializer(this.fresh(`const_i64_${values.length}`), BigInt64Array.from(values, BigInt), [values.length]);
      this.constants.set(key, name);
    }
    return name;
  }

  /** A float32 constant of the given shape (scalars: dims []). */
  floats(values: Float32Array | number[], dims: number[], hint = "const_f32"): string {
    return this.initializer(this.fresh(hint), values instanceof Float32Array ? values : Float32Array.from(values), dims);
  }

  /** Adds one node; returns its output names (`outputs` of them). Empty-string inputs mean "omitted". */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs = 1, options: NodeOptions = {}): string[] {
    const hint = op.toLowerCase();
    const out = Array.from({ length: outputs }, () => this.unique(`${hint}_out`));
    const attribute = Object.entries(attrs).map(([key, value]) => attributeProto(key, value));
    const node: onnx.INodeProto = { opType: op, input: inputs, output: out, name: this.unique(hint), attribute };
    if (options.domain) {
      if (!(options.domain in EXTRA_OPSETS)) throw new Error(`GraphBuilder ${this.name}: unknown operator domain ${options.domain}`);
      node.domain = options.domain;
      this.domains.add(options.domain);
    }
    this.nodes.push(node);
    return out;
  }

  /** `node` for the common single-output case. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, options: NodeOptions = {}): string {
    return this.node(op, inputs, attrs, 1, options)[0];
  }

  toModel(): onnx.ModelProto {
    this.closeExternal();
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: "troupe-graph-builder",
      opsetImport: [{ domain: "", version: OPSET }, ...[...this.domains].map((domain) => ({ domain, version: EXTRA_OPSETS[domain] }))],
      graph: { name: this.name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
    });
  }

  toBytes(): Uint8Array {
    return onnx.ModelProto.encode(this.toModel()).finish();
  }

  private claim(name: string): void {
    if (this.used.has(name)) throw new Error(`GraphBuilder ${this.name}: duplicate value name ${name}`);
    this.used.add(name);
  }

  private writeExternal(bytes: Uint8Array): onnx.IStringStringEntryProto[] {
    const path = this.options.externalDataPath!;
    this.externalFd ??= openSync(path, "w");
    const offset = Math.ceil(this.externalOffset / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
    let written = 0;
    while (written < bytes.byteLength) written += writeSync(this.externalFd, bytes, written, bytes.byteLength - written, offset + written);
    this.externalOffset = offset + bytes.byteLength;
    // location is relative to the .onnx file, which sits beside its data file
    return [
      { key: "location", value: basename(path) },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(bytes.byteLength) },
    ];
  }

  private closeExternal(): void {
    if (this.externalFd !== undefined) closeSync(this.externalFd);
    this.externalFd = undefined;
  }
}

function valueInfo(name: string, dtype: DType, dims: Dim[]): onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: ELEM[dtype], shape: { dim } } } };
}

function attributeProto(name: string, value: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === "string") return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer; use float()`);
    return { name, type: T.INT, i: value };
  }
  return { name, type: T.FLOAT, f: value.float };
}
