import onnxProto from "onnx-proto";
import { toFloat16Array } from "./float16.ts";

// onnx-proto is CommonJS: Node ESM sees only its default export.
import onnx = onnxProto.onnx;

const T = onnx.TensorProto.DataType;
const FLOAT = T.FLOAT;
const FLOAT16 = T.FLOAT16;
const isFloat = (type: number | undefined): boolean => type === FLOAT || type === FLOAT16;

/**
 * Ops computed in float32 in the fp16 graphs, with Casts around them. GroupNorm is built as
 * Reshape → InstanceNormalization → Reshape (layers/group-norm.ts), so InstanceNormalization holds its
 * statistics: ORT's CUDA kernel keeps fp16 stats in float itself, but not every provider's does, and the
 * two Casts cost little beside the convolutions around each GroupNorm.
 */
const FLOAT32_OPS: ReadonlySet<string> = new Set(["InstanceNormalization", "GroupNormalization"]);

/**
 * Ops whose argument needs float32 (the timestep embedding: cos/sin of t·f with t up to 999, where fp16's
 * spacing is 0.5). They are computed in float32 together with the elementwise chain that feeds them from
 * the graph's inputs (`FLOAT32_CHAIN_OPS`); the walk stops at any other op, whose output is cast up.
 */
const FLOAT32_ARGUMENT_OPS: ReadonlySet<string> = new Set(["Sin", "Cos", "Exp"]);
const FLOAT32_CHAIN_OPS: ReadonlySet<string> = new Set([
  "Mul", "Div", "Add", "Sub", "Neg", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Expand", "Concat", "Slice", "Gather", "Transpose", "Identity", "Cast",
  "Constant", "ConstantOfShape",
]);

/** The ops the fp16 graphs exist for: each must read fp16 tensors (checked by `float16ComputeProblems`). */
const FLOAT16_HEAVY_OPS: ReadonlySet<string> = new Set(["Conv", "MatMul", "Gemm", "Softmax", "LayerNormalization", "MultiHeadAttention", "Attention"]);

/** Inputs whose type the op's schema fixes to float (Resize's roi and scales), never converted. */
const FIXED_FLOAT32_INPUTS: Readonly<Record<string, readonly number[]>> = { Resize: [1, 2] };
/** Inputs whose element type does not matter (only their shape is read): no Cast for them. */
const ANY_FLOAT_INPUTS: Readonly<Record<string, readonly number[]>> = { Shape: [0], Size: [0] };


function attr(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

/** The element type of each value, from the graph's inputs and initializers through the op rules below. */
export function inferElemTypes(graph: onnx.IGraphProto): Map<string, number> {
  const types = new Map<string, number>();
  for (const v of graph.input ?? []) types.set(v.name!, v.type?.tensorType?.elemType ?? 0);
  for (const t of graph.initializer ?? []) types.set(t.name!, t.dataType ?? 0);
  for (const node of graph.node ?? []) {
    const first = (node.input ?? []).find((name) => name !== "");
    let type = first === undefined ? undefined : types.get(first);
    switch (node.opType) {
      case "Cast":
        type = Number(attr(node, "to")?.i ?? 0);
        break;
      case "Shape":
      case "Size":
      case "NonZero":
      case "ArgMax":
      case "ArgMin":
        type = T.INT64;
        break;
      case "Equal":
      case "Less":
      case "Greater":
      case "LessOrEqual":
      case "GreaterOrEqual":
      case "Not":
      case "And":
      case "Or":
      case "Xor":
      case "IsNaN":
      case "IsInf":
        type = T.BOOL;
        break;
      case "Where":
        type = types.get(node.input![1]);
        break;
      case "Constant": {
        const a = node.attribute?.[0];
        type = a?.t ? a.t.dataType! : a?.name === "value_int" || a?.name === "value_ints" ? T.INT64 : FLOAT;
        break;
      }
      case "ConstantOfShape":
        type = attr(node, "value")?.t?.dataType ?? FLOAT;
        break;
    }
    for (const out of node.output ?? []) if (out && type !== undefined) types.set(out, type);
  }
  return types;
}

/** The nodes (by index) that stay float32: `FLOAT32_OPS`, and `FLOAT32_ARGUMENT_OPS` with their elementwise chain. */
export function float32Nodes(graph: onnx.IGraphProto, types = inferElemTypes(graph)): Set<number> {
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.output?.forEach((o) => producer.set(o, i)));
  const island = new Set<number>();
  const pullChain = (i: number) => {
    for (const input of nodes[i].input ?? []) {
      const p = producer.get(input);
      if (p === undefined || island.has(p) || !isFloat(types.get(input)) || !FLOAT32_CHAIN_OPS.has(nodes[p].opType!)) continue;
      island.add(p);
      pullChain(p);
    }
  };
  nodes.forEach((n, i) => {
    if (FLOAT32_OPS.has(n.opType!)) island.add(i);
    if (FLOAT32_ARGUMENT_OPS.has(n.opType!)) {
      island.add(i);
      pullChain(i);
    }
  });
  return island;
}

function floatValues(t: onnx.ITensorProto): Float32Array {
  if (t.rawData && t.rawData.byteLength > 0) {
    const raw = t.rawData;
    const copy = new Uint8Array(raw.byteLength);
    copy.set(raw);
    return new Float32Array(copy.buffer);
  }
  return Float32Array.from(t.floatData ?? []);
}

/** An inline FLOAT tensor as FLOAT16 (saturating), same name and dims. */
function toHalfTensor(t: onnx.ITensorProto, name = t.name!): onnx.ITensorProto {
  const half = toFloat16Array(floatValues(t), "saturate");
  return { name, dims: t.dims, dataType: FLOAT16, rawData: new Uint8Array(half.buffer) };
}

/** A name generator that never repeats one of `used` (and records what it hands out). */
function freshNames(used: Set<string>): (hint: string) => string {
  return (hint) => {
    let name = hint;
    for (let n = 1; used.has(name); n++) name = `${hint}_${n}`;
    used.add(name);
    return name;
  };
}

const isExternal = (t: onnx.ITensorProto) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;

/** Constant / ConstantOfShape with a float value, as fp16 (a copy of the node). */
function halfConstant(node: onnx.INodeProto): onnx.INodeProto {
  const A = onnx.AttributeProto.AttributeType;
  const attribute = (node.attribute ?? []).map((a): onnx.IAttributeProto => {
    if (a.name === "value" && a.t && a.t.dataType === FLOAT && !isExternal(a.t)) return { ...a, t: toHalfTensor(a.t, a.t.name ?? "") };
    if (a.name === "value_float") return { name: "value", type: A.TENSOR, t: toHalfTensor({ dims: [], dataType: FLOAT, floatData: [a.f ?? 0] }, "") };
    if (a.name === "value_floats") return { name: "value", type: A.TENSOR, t: toHalfTensor({ dims: [a.floats?.length ?? 0], dataType: FLOAT, floatData: a.floats ?? [] }, "") };
    return a;
  });
  // ConstantOfShape's default value is a float32 zero
  if (node.opType === "ConstantOfShape" && !attribute.some((a) => a.name === "value")) {
    attribute.push({ name: "value", type: A.TENSOR, t: { dims: [1], dataType: FLOAT16, rawData: new Uint8Array(2) } });
  }
  return { ...node, attribute };
}

type Precision = "fp32" | "fp16";

/**
 * The fp16-compute form of a graph the builder made with `precision: "fp16"` (each weight a FLOAT16
 * initializer followed by a Cast to float): for the GPU providers, which run fp16 MatMul / Conv on
 * tensor cores (ORT's CUDA kernels accumulate in float32) and move half the activation bytes.
 *
 * - the weight Casts go: consumers read the FLOAT16 initializers directly (external data untouched, so
 *   this graph and the float32-compute one share one `.data` file);
 * - inline float constants (initializers, Constant / ConstantOfShape values) become fp16, saturating at
 *   ±65504; Cast(to=FLOAT) inside the graph becomes Cast(to=FLOAT16);
 * - `float32Nodes` stay float32, with Casts at their edges (timestep embedding, GroupNorm statistics);
 *   LayerNormalization and Softmax run in fp16 since their CUDA and WebGPU kernels accumulate in float32;
 * - the graph's inputs and outputs stay float32 (Cast at the edges), int64 ones untouched, so the
 *   runner's tensors and `checkSessionIo` see the same contract as the float32 graph.
 *
 * Returns a new ModelProto; the argument is not modified. value_info is dropped (ORT infers it).
 */
export function toFloat16Compute(model: onnx.IModelProto): onnx.ModelProto {
  const graph = model.graph!;
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));

  // 1. drop the weight Casts: their consumers read the FLOAT16 initializer
  const alias = new Map<string, string>();
  const nodes = (graph.node ?? []).filter((n) => {
    const input = n.input?.[0];
    const weightCast = n.opType === "Cast" && Number(attr(n, "to")?.i) === FLOAT && input !== undefined && inits.get(input)?.dataType === FLOAT16;
    if (weightCast) alias.set(n.output![0], input);
    return !weightCast;
  });
  const resolve = (name: string) => alias.get(name) ?? name;
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name!));
  const aliasedOutput = [...alias.keys()].find((name) => graphOutputs.has(name));
  if (aliasedOutput) throw new Error(`toFloat16Compute: graph output ${aliasedOutput} is a weight cast; expose it through a node`);
  const stripped: onnx.IGraphProto = { ...graph, node: nodes.map((n) => ({ ...n, input: (n.input ?? []).map(resolve) })) };

  const types = inferElemTypes(stripped);
  const island = float32Nodes(stripped, types);
  const used = new Set<string>([...types.keys(), ...(graph.output ?? []).map((o) => o.name!)]);
  const fresh = freshNames(used);

  const inputNames = new Set((graph.input ?? []).map((v) => v.name!));
  const producerOf = new Map<string, number>();
  stripped.node!.forEach((n, i) => n.output?.forEach((o) => producerOf.set(o, i)));
  /** The precision a float value has in the new graph as produced. */
  const domainOf = (name: string): Precision => {
    const p = producerOf.get(name);
    if (p !== undefined) return island.has(p) && types.get(name) !== FLOAT16 ? "fp32" : "fp16";
    if (inputNames.has(name)) return "fp32";
    return inits.get(name)?.dataType === FLOAT16 ? "fp16" : "fp32";
  };
  const required = (node: onnx.INodeProto, index: number, i: number): Precision | "any" => {
    if (island.has(i)) return "fp32";
    if (FIXED_FLOAT32_INPUTS[node.opType!]?.includes(index)) return "fp32";
    if (ANY_FLOAT_INPUTS[node.opType!]?.includes(index)) return "any";
    return "fp16";
  };

  // FLOAT initializers: which of them any node needs as fp16, and whether any still needs the float original
  const initUse = new Map<string, Set<Precision>>();
  stripped.node!.forEach((n, i) =>
    n.input!.forEach((name, index) => {
      const t = inits.get(name);
      if (!t || t.dataType !== FLOAT) return;
      const want = required(n, index, i);
      if (want === "any") return;
      const set = initUse.get(name) ?? new Set<Precision>();
      set.add(want);
      initUse.set(name, set);
    }),
  );
  const newInits: onnx.ITensorProto[] = [];
  const halfInit = new Map<string, string>();
  for (const t of graph.initializer ?? []) {
    const use = initUse.get(t.name!);
    if (use?.has("fp16") && !isExternal(t)) {
      const name = use.has("fp32") ? fresh(`${t.name}_fp16`) : t.name!;
      halfInit.set(t.name!, name);
      newInits.push(toHalfTensor(t, name));
      if (use.has("fp32")) newInits.push(t);
    } else {
      newInits.push(t);
    }
  }

  // 2. nodes in order, each preceded by the Casts its inputs need (made once per value and precision)
  const out: onnx.INodeProto[] = [];
  const casts = new Map<string, string>();
  const castTo = (name: string, to: Precision): string => {
    const key = `${to}\u0000${name}`;
    let cast = casts.get(key);
    if (!cast) {
      cast = fresh(`${name}_${to}`);
      out.push({ opType: "Cast", input: [name], output: [cast], name: fresh(`cast_${to}_${name}`), attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: to === "fp16" ? FLOAT16 : FLOAT }] });
      casts.set(key, cast);
    }
    return cast;
  };
  // graph outputs produced in fp16 are renamed inside and cast back to float at the end
  const outputRename = new Map<string, string>();
  for (const o of graph.output ?? []) {
    if (o.type?.tensorType?.elemType === FLOAT && producerOf.has(o.name!) && domainOf(o.name!) === "fp16") outputRename.set(o.name!, fresh(`${o.name}_fp16`));
  }
  const renamed = (name: string) => outputRename.get(name) ?? name;

  stripped.node!.forEach((node, i) => {
    const input = node.input!.map((name, index) => {
      if (name === "" || !isFloat(types.get(name))) return renamed(name);
      const want = required(node, index, i);
      const half = halfInit.get(name);
      if (want === "fp16" && half) return half;
      const have = domainOf(name);
      return want === "any" || want === have ? renamed(name) : castTo(renamed(name), want);
    });
    let converted: onnx.INodeProto = { ...node, input, output: node.output!.map(renamed) };
    if (!island.has(i)) {
      if (node.opType === "Cast" && Number(attr(node, "to")?.i) === FLOAT) {
        converted.attribute = node.attribute!.map((a) => (a.name === "to" ? { ...a, i: FLOAT16 } : a));
      } else if (node.opType === "Constant" || node.opType === "ConstantOfShape") {
        if (isFloat(types.get(node.output![0]))) converted = { ...halfConstant(node), input, output: converted.output };
      }
    }
    out.push(converted);
  });
  for (const [name, inner] of outputRename) {
    out.push({ opType: "Cast", input: [inner], output: [name], name: fresh(`cast_fp32_${name}`), attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] });
  }

  return onnx.ModelProto.create({
    ...model,
    graph: { ...graph, node: out, initializer: newInits, valueInfo: [] },
  });
}

/**
 * What is wrong with an fp16-compute graph, structurally (empty when nothing): float32 I/O, every
 * initializer used, `FLOAT16_HEAVY_OPS` reading fp16, the float32 ops reading float32, and no weight cast
 * to float left outside the float32 islands. ORT's CPU provider can load such a graph too (it wraps ops
 * without fp16 kernels in Casts), so a session checks the rest.
 */
export function float16ComputeProblems(model: onnx.IModelProto): string[] {
  const graph = model.graph!;
  const problems: string[] = [];
  for (const [kind, list] of [["input", graph.input], ["output", graph.output]] as const) {
    for (const v of list ?? []) if (v.type?.tensorType?.elemType === FLOAT16) problems.push(`graph ${kind} ${v.name} is float16`);
  }
  const consumed = new Set((graph.node ?? []).flatMap((n) => n.input ?? []));
  for (const t of graph.initializer ?? []) if (!consumed.has(t.name!)) problems.push(`initializer ${t.name} is not used`);
  const types = inferElemTypes(graph);
  const island = float32Nodes(graph, types);
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  (graph.node ?? []).forEach((n, i) => {
    const floats = (n.input ?? []).filter((name, index) => name !== "" && isFloat(types.get(name)) && !FIXED_FLOAT32_INPUTS[n.opType!]?.includes(index));
    const label = `${n.opType} ${n.name}`;
    if (FLOAT16_HEAVY_OPS.has(n.opType!)) for (const name of floats) if (types.get(name) !== FLOAT16) problems.push(`${label} reads ${name} in float32`);
    if (FLOAT32_OPS.has(n.opType!) || FLOAT32_ARGUMENT_OPS.has(n.opType!)) for (const name of floats) if (types.get(name) !== FLOAT) problems.push(`${label} reads ${name} in float16`);
    const weightCast = n.opType === "Cast" && Number(attr(n, "to")?.i) === FLOAT && inits.get(n.input?.[0] ?? "")?.dataType === FLOAT16;
    if (weightCast && !island.has(i)) problems.push(`${label} casts weight ${n.input![0]} to float outside the float32 islands`);
  });
  return problems;
}

/** Veltkamp's splitter for float32 (24 significant bits) down to fp16's 11: c = 2^(24−11) + 1. */
const SPLITTER = 2 ** 13 + 1;

/**
 * A float32 graph that stores every tensor the fp16-compute graph would hold in fp16 rounded to fp16's
 * 11 significant bits (t = c·x; x' = t − (t − x)), with float32 arithmetic inside each op and the
 * `float32Nodes` left exact: what a GPU provider computes (fp16 storage, fp32 accumulation), on a provider
 * without fp16 arithmetic. ORT's CPU provider runs the fp16 graph itself in float32 between Casts it
 * places only next to its few fp16 kernels, so that run rounds far fewer tensors. Not emulated: fp16's
 * range (overflow past 65504, subnormals), and the rounding inside fused kernels. Takes the float32-compute
 * graph (`precision: "fp16"` weights behind Casts, already fp16-exact); returns a new ModelProto.
 */
export function emulateFloat16Storage(model: onnx.IModelProto): onnx.ModelProto {
  const graph = model.graph!;
  const types = inferElemTypes(graph);
  const island = float32Nodes(graph, types);
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const used = new Set<string>([...types.keys()]);
  const fresh = freshNames(used);
  const splitter = fresh("fp16_splitter");
  const out: onnx.INodeProto[] = [];
  const roundInto = (value: string, result: string) => {
    const t = fresh(`${value}_split`);
    const d = fresh(`${value}_split_rest`);
    out.push({ opType: "Mul", input: [value, splitter], output: [t], name: fresh(`round_mul_${value}`) });
    out.push({ opType: "Sub", input: [t, value], output: [d], name: fresh(`round_sub1_${value}`) });
    out.push({ opType: "Sub", input: [t, d], output: [result], name: fresh(`round_sub2_${value}`) });
  };
  const rounded = new Map<string, string>();
  const roundedInput = (value: string) => {
    let r = rounded.get(value);
    if (!r) {
      r = fresh(`${value}_fp16`);
      roundInto(value, r);
      rounded.set(value, r);
    }
    return r;
  };
  const producedByFloat16 = new Set<string>();
  (graph.node ?? []).forEach((node, i) => {
    if (island.has(i)) {
      out.push(node);
      return;
    }
    const weightCast = node.opType === "Cast" && inits.get(node.input?.[0] ?? "")?.dataType === FLOAT16;
    // what the fp16 graph reads in fp16 but arrives here unrounded: graph inputs, float constants, island outputs
    const input = (node.input ?? []).map((name) => (name !== "" && types.get(name) === FLOAT && !producedByFloat16.has(name) && !weightCast ? roundedInput(name) : name));
    const output = (node.output ?? []).map((name) => (types.get(name) === FLOAT && !weightCast ? fresh(`${name}_raw`) : name));
    out.push({ ...node, input, output });
    output.forEach((inner, k) => {
      const name = node.output![k];
      if (inner !== name) roundInto(inner, name);
      producedByFloat16.add(name);
    });
  });
  const splitterInit: onnx.ITensorProto = { name: splitter, dims: [], dataType: FLOAT, rawData: new Uint8Array(Float32Array.of(SPLITTER).buffer) };
  return onnx.ModelProto.create({ ...model, graph: { ...graph, node: out, initializer: [...(graph.initializer ?? []), splitterInit], valueInfo: [] } });
}
