import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { afterAll, describe, expect, it } from "vitest";
import { GraphBuilder } from "./builder.ts";
import { emulateFloat16Storage, float16ComputeProblems, float32Nodes, inferElemTypes, toFloat16Compute } from "./fp16-compute.ts";
import { groupNorm } from "./layers/group-norm.ts";
import { linear } from "./layers/linear.ts";
import { timestepEmbedding } from "./layers/timestep-embedding.ts";
import { pseudoRandom, relativeError } from "./test-support.ts";
import { seededRandom } from "./weights.ts";

const { onnx } = onnxProto;
const { FLOAT, FLOAT16, INT64 } = onnx.TensorProto.DataType;

const bytesOf = (model: onnxProto.onnx.IModelProto) => onnx.ModelProto.encode(model).finish();
const session = (model: onnxProto.onnx.IModelProto | string) =>
  typeof model === "string" ? ort.InferenceSession.create(model, { intraOpNumThreads: 1 }) : ort.InferenceSession.create(bytesOf(model), { intraOpNumThreads: 1 });
const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);


const halfValues = (t: onnxProto.onnx.ITensorProto) => {
  const raw = new Uint8Array(t.rawData!);
  return new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
};

describe("toFloat16Compute", () => {
  const dir = mkdtempSync(join(tmpdir(), "fp16-compute-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A linear layer with a mask added, an int64 input passed through, fp16 weights behind Casts. */
  function linearModel(): onnxProto.onnx.ModelProto {
    const g = new GraphBuilder("linear", { weights: seededRandom(3), precision: "fp16" });
    const x = g.input("x", "float32", [2, 8]);
    const ids = g.input("ids", "int64", [2]);
    const y = g.op("Add", [linear(g, x, "proj", 8, 8), g.floats([0, -1e9, 0, 0, 0, 0, 0, 0], [8], "mask")]);
    g.output(y, "y", "float32", [2, 8]);
    g.output(g.op("Identity", [ids]), "ids_out", "int64", [2]);
    return g.toModel();
  }

  it("drops the weight Casts, converts inline constants (saturating) and casts only the float I/O", async () => {
    const model = linearModel();
    const before = bytesOf(model);
    const half = toFloat16Compute(model);
    expect(bytesOf(model)).toEqual(before); // the argument is left alone
    const graph = half.graph!;

    expect(graph.input!.map((v) => [v.name, v.type!.tensorType!.elemType])).toEqual([["x", FLOAT], ["ids", INT64]]);
    expect(graph.output!.map((v) => [v.name, v.type!.tensorType!.elemType])).toEqual([["y", FLOAT], ["ids_out", INT64]]);
    const types = inferElemTypes(graph);
    expect(types.get("y")).toBe(FLOAT);
    const matmul = graph.node!.find((n) => n.opType === "MatMul")!;
    expect(matmul.input!.map((v) => types.get(v))).toEqual([FLOAT16, FLOAT16]);
    // x is cast once at the edge, ids not at all, y cast back at the end
    const casts = graph.node!.filter((n) => n.opType === "Cast");
    expect(casts.map((c) => [c.input![0], Number(c.attribute![0].i)])).toEqual([["x", FLOAT16], [expect.stringMatching(/^y_fp16/), FLOAT]]);
    expect(graph.node!.at(-1)!.output).toEqual(["y"]);
    // every initializer is FLOAT16 and used; −1e9 saturates to −65504 (0xfbff), not −Inf
    expect(graph.initializer!.map((t) => t.dataType)).toEqual(graph.initializer!.map(() => FLOAT16));
    expect([...halfValues(graph.initializer!.find((t) => t.name === "mask")!)].slice(0, 2)).toEqual([0, 0xfbff]);
    expect(float16ComputeProblems(half)).toEqual([]);

    const x = pseudoRandom(16, 5);
    const feeds = { x: f32(x, [2, 8]), ids: new ort.Tensor("int64", BigInt64Array.from([7n, 9n]), [2]) };
    const [ref, out] = [await (await session(model)).run(feeds), await (await session(half)).run(feeds)];
    expect(out.y.type).toBe("float32");
    expect(out.ids_out.data).toEqual(ref.ids_out.data);
    const masked = (a: Float32Array) => a.filter((_, i) => i % 8 !== 1);
    expect(relativeError(masked(out.y.data as Float32Array), masked(ref.y.data as Float32Array))).toBeLessThan(2e-3);
  });

  it("keeps the timestep embedding's Sin/Cos argument and GroupNorm's statistics in float32", async () => {
    const g = new GraphBuilder("unet_parts", { weights: seededRandom(4), precision: "fp16" });
    const t = g.input("timestep", "float32", ["B"]);
    const x = g.input("x", "float32", ["B", 8, 4, 4]);
    const temb = timestepEmbedding(g, t, 8, 8); // [B, 8]
    const h = g.op("Add", [groupNorm(g, x, "norm", 8, 2), g.op("Unsqueeze", [temb, g.ints([2, 3])])]);
    g.output(h, "h", "float32", ["B", 8, 4, 4]);
    g.output(temb, "temb", "float32", ["B", 8]);
    const model = g.toModel();
    const half = toFloat16Compute(model);
    const graph = half.graph!;
    const types = inferElemTypes(graph);

    const island = [...float32Nodes(graph)].map((i) => graph.node![i].opType).sort();
    expect(island).toEqual(["Cos", "InstanceNormalization", "Mul", "Sin", "Unsqueeze"]);
    const instanceNorm = graph.node!.find((n) => n.opType === "InstanceNormalization")!;
    expect(instanceNorm.input!.map((v) => types.get(v))).toEqual([FLOAT, FLOAT, FLOAT]);
    // the frequencies stay float32 and the timestep input is read as it is
    const freqs = graph.initializer!.find((i) => i.name!.startsWith("timestep_freqs"))!;
    expect(freqs.dataType).toBe(FLOAT);
    expect(graph.node!.filter((n) => n.input!.includes("timestep")).map((n) => n.opType)).toEqual(["Unsqueeze"]);
    expect(graph.node!.filter((n) => n.opType === "MatMul").flatMap((n) => n.input!.map((v) => types.get(v)))).toEqual([FLOAT16, FLOAT16, FLOAT16, FLOAT16]);
    expect(float16ComputeProblems(half)).toEqual([]);

    // late timesteps: t·f near 999, where fp16's spacing (0.5) moves cos and sin. Measured on the CPU:
    // temb 1.6e-4, h 6.3e-4; with the Sin/Cos chain in fp16 instead, temb 6.9e-3 and h 3.7e-3
    const feeds = { timestep: f32(Float32Array.from([999, 981]), [2]), x: f32(pseudoRandom(2 * 8 * 16, 9).map((v) => 40 + 30 * v), [2, 8, 4, 4]) };
    const [ref, out] = [await (await session(model)).run(feeds), await (await session(half)).run(feeds)];
    expect(relativeError(out.temb.data as Float32Array, ref.temb.data as Float32Array)).toBeLessThan(1e-3);
    expect(relativeError(out.h.data as Float32Array, ref.h.data as Float32Array)).toBeLessThan(2e-3);
  });

  it("converts Constant, ConstantOfShape and Cast(to=FLOAT) inside the graph, keeps Resize's scales float32", async () => {
    const g = new GraphBuilder("misc", { precision: "fp16" });
    const x = g.input("x", "float32", [1, 1, 2, 2]);
    const ids = g.input("ids", "int64", [1, 1, 4, 4]);
    const up = g.op("Resize", [x, "", g.floats([1, 1, 2, 2], [4], "scales")], { mode: "nearest" });
    const zeros = g.op("ConstantOfShape", [g.op("Shape", [up])]);
    const y = g.op("Add", [g.op("Add", [up, zeros]), g.op("Cast", [ids], { to: FLOAT })]);
    g.output(y, "y0", "float32", [1, 1, 4, 4]);
    const model = g.toModel();
    // a Constant node (the builder makes initializers): 0.25 as value_float
    model.graph!.node!.splice(-1, 0, { opType: "Constant", output: ["quarter"], name: "quarter", attribute: [{ name: "value_float", type: onnx.AttributeProto.AttributeType.FLOAT, f: 0.25 }] });
    const output = model.graph!.node!.at(-1)!;
    model.graph!.node!.splice(-1, 1, { opType: "Mul", input: [output.input![0], "quarter"], output: ["scaled"], name: "scale" }, { ...output, input: ["scaled"] });

    const half = toFloat16Compute(model);
    const graph = half.graph!;
    const types = inferElemTypes(graph);
    expect(graph.initializer!.find((t) => t.name === "scales")!.dataType).toBe(FLOAT);
    expect(types.get(graph.node!.find((n) => n.opType === "ConstantOfShape")!.output![0])).toBe(FLOAT16);
    expect(types.get("quarter")).toBe(FLOAT16);
    const castIds = graph.node!.find((n) => n.opType === "Cast" && n.input![0] === "ids")!;
    expect(Number(castIds.attribute![0].i)).toBe(FLOAT16);
    expect(float16ComputeProblems(half)).toEqual([]);

    const feeds = { x: f32(Float32Array.from([1, 2, 3, 4]), [1, 1, 2, 2]), ids: new ort.Tensor("int64", BigInt64Array.from({ length: 16 }, (_, i) => BigInt(i)), [1, 1, 4, 4]) };
    const [ref, out] = [await (await session(model)).run(feeds), await (await session(half)).run(feeds)];
    expect(out.y0.data).toEqual(ref.y0.data); // small integers and quarters: exact in fp16
  });

  it("leaves external weights where they are: both graphs read one data file", async () => {
    const dataPath = join(dir, "ext.onnx.data");
    const g = new GraphBuilder("ext", { weights: seededRandom(5), precision: "fp16", externalDataPath: dataPath, externalThreshold: 64 });
    g.output(linear(g, g.input("x", "float32", [1, 32]), "proj", 32, 32), "y", "float32", [1, 32]);
    const model = g.toModel();
    const size = statSync(dataPath).size;
    const half = toFloat16Compute(model);
    const external = (m: onnxProto.onnx.IModelProto) => m.graph!.initializer!.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
    expect(external(half)).toEqual(external(model));
    expect(external(half).length).toBe(1);
    writeFileSync(join(dir, "ext.onnx"), bytesOf(model));
    writeFileSync(join(dir, "ext.fp16.onnx"), bytesOf(half));
    expect(statSync(dataPath).size).toBe(size);
    const feeds = { x: f32(pseudoRandom(32, 2), [1, 32]) };
    const [ref, out] = [await (await session(join(dir, "ext.onnx"))).run(feeds), await (await session(join(dir, "ext.fp16.onnx"))).run(feeds)];
    expect(relativeError(out.y.data as Float32Array, ref.y.data as Float32Array)).toBeLessThan(2e-3);
  });
});

describe("float16ComputeProblems", () => {
  it("names what makes a graph not float16-compute: the float32-compute twin has weight casts feeding MatMul", () => {
    const g = new GraphBuilder("twin", { weights: seededRandom(3), precision: "fp16" });
    g.output(linear(g, g.input("x", "float32", [2, 8]), "proj", 8, 8), "y", "float32", [2, 8]);
    const problems = float16ComputeProblems(g.toModel());
    expect(problems).toContainEqual(expect.stringMatching(/^MatMul matmul reads x in float32$/));
    expect(problems).toContainEqual(expect.stringMatching(/^Cast cast casts weight proj.weight to float outside the float32 islands$/));
  });

  it("flags float16 graph I/O, an unused initializer and a float16 InstanceNormalization", () => {
    const model = toFloat16Compute(
      (() => {
        const g = new GraphBuilder("norm", { weights: seededRandom(3), precision: "fp16" });
        g.output(groupNorm(g, g.input("x", "float32", [1, 4, 2, 2]), "norm", 4, 2), "y", "float32", [1, 4, 2, 2]);
        return g.toModel();
      })(),
    );
    const graph = model.graph!;
    graph.input![0].type!.tensorType!.elemType = FLOAT16;
    graph.initializer!.push({ name: "stray", dims: [1], dataType: FLOAT, rawData: new Uint8Array(4) });
    const norm = graph.node!.find((n) => n.opType === "InstanceNormalization")!;
    norm.input = [graph.node!.find((n) => n.opType === "Reshape")!.output![0], ...norm.input!.slice(1)];
    const problems = float16ComputeProblems(model);
    expect(problems).toContain("graph input x is float16");
    expect(problems).toContain("initializer stray is not used");
    expect(problems).toContainEqual(expect.stringMatching(/^InstanceNormalization instancenormalization reads reshape_out in float16$/));
  });
});

describe("emulateFloat16Storage", () => {
  it("rounds what the fp16 graph stores to 11 significant bits and leaves the float32 islands exact", async () => {
    const g = new GraphBuilder("emulate", { precision: "fp16" });
    const x = g.input("x", "float32", [3]);
    const t = g.input("t", "float32", [1]);
    g.output(g.op("Add", [x, g.floats([0, 0, 0], [3], "zero")]), "y", "float32", [3]);
    g.output(g.op("Sin", [g.op("Mul", [t, g.floats([1], [1], "one")])]), "s", "float32", [1]);
    const emulated = emulateFloat16Storage(g.toModel());
    const x0 = Float32Array.from([1 + 2 ** -12, 1 + 3 * 2 ** -11, 1000.3]);
    const out = await (await session(emulated)).run({ x: f32(x0, [3]), t: f32(Float32Array.from([999.3]), [1]) });
    expect([...(out.y.data as Float32Array)]).toEqual([1, 1 + 2 * 2 ** -10, 1000.5]); // fp16's nearest (ties to even)
    // the argument stays exact (999.3, not fp16's 999.5, whose sine is 0.19 away); the result is stored in fp16
    expect(Math.abs((out.s.data as Float32Array)[0] - Math.sin(Math.fround(999.3)))).toBeLessThan(2e-4);
  });
});
