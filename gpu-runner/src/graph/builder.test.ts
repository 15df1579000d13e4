import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { afterAll, describe, expect, it } from "vitest";
import { GraphBuilder, OPSET } from "./builder.ts";

const { onnx } = onnxProto;

describe("GraphBuilder", () => {
  const dir = mkdtempSync(join(tmpdir(), "graph-builder-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names values uniquely and refuses a duplicate explicit name", () => {
    const g = new GraphBuilder("names");
    const x = g.input("x", "float32", [2]);
    const [a] = g.node("Relu", [x]);
    const [b] = g.node("Relu", [x]);
    expect(a).not.toBe(b);
    expect(() => g.input("x", "float32", [2])).toThrow(/duplicate value name x/);
    expect(g.ints([1, 2])).toBe(g.ints([1, 2]));
  });

  it("writes opset 17, symbolic dims and typed attributes", () => {
    const g = new GraphBuilder("model");
    const x = g.input("x", "float32", ["B", 3]);
    g.output(g.op("LeakyRelu", [x], { alpha: { float: 0.5 } }), "y", "float32", ["B", 3]);
    const model = onnx.ModelProto.decode(g.toBytes());
    const graph = model.graph!;
    expect(Number(model.opsetImport[0].version)).toBe(OPSET);
    expect(graph.input![0].type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue))).toEqual(["B", 3]);
    expect(graph.node![0].attribute![0].f).toBe(0.5);
  });

  it("imports a contrib domain (com.microsoft, version 1) only when a node uses it", () => {
    const plain = new GraphBuilder("plain");
    plain.output(plain.op("Relu", [plain.input("x", "float32", [2])]), "y", "float32", [2]);
    expect(onnx.ModelProto.decode(plain.toBytes()).opsetImport.map((o) => o.domain)).toEqual([""]);

    const g = new GraphBuilder("contrib");
    const x = g.input("x", "float32", [1, 4, 8]);
    g.output(g.op("MultiHeadAttention", [x, x, x], { num_heads: 2 }, { domain: "com.microsoft" }), "y", "float32", [1, 4, 8]);
    const model = onnx.ModelProto.decode(g.toBytes());
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([["", OPSET], ["com.microsoft", 1]]);
    expect(model.graph!.node!.find((n) => n.opType === "MultiHeadAttention")!.domain).toBe("com.microsoft");
    expect(() => g.op("Foo", [x], {}, { domain: "ai.example" as never })).toThrow(/unknown operator domain ai.example/);
  });

  it("streams large initializers to an aligned external data file that ORT reads", async () => {
    const dataPath = join(dir, "big.onnx.data");
    const g = new GraphBuilder("big", { externalDataPath: dataPath, externalThreshold: 1024 });
    const x = g.input("x", "float32", [1000]);
    const small = g.floats(new Float32Array(10).fill(1), [10], "small");
    const a = g.floats(Float32Array.from({ length: 1000 }, (_, i) => i), [1000], "a");
    const b = g.floats(new Float32Array(1000).fill(0.5), [1000], "b");
    g.output(g.op("Add", [g.op("Add", [x, a]), b]), "y", "float32", [1000]);
    g.output(g.op("ReduceSum", [small], { keepdims: 0 }), "s", "float32", []);
    const modelPath = join(dir, "big.onnx");
    writeFileSync(modelPath, g.toBytes());

    const model = onnx.ModelProto.decode(readFileSync(modelPath));
    const external = model.graph!.initializer!.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
    expect(external.map((t) => t.name)).toEqual(["a", "b"]);
    expect(external[1].externalData!.find((e) => e.key === "offset")!.value).toBe("4096");
    expect(statSync(dataPath).size).toBe(4096 + 4000);

    const session = await ort.InferenceSession.create(modelPath);
    const out = await session.run({ x: new ort.Tensor("float32", new Float32Array(1000).fill(1), [1000]) });
    expect((out.y.data as Float32Array)[999]).toBe(1000.5);
    expect((out.s.data as Float32Array)[0]).toBe(10);
  });

  it("refuses an fp16 weight beyond float16's range instead of storing Inf, naming it", () => {
    const g = new GraphBuilder("g", { precision: "fp16", weights: { tensor: () => Float32Array.of(1, 70000) } });
    expect(() => g.weight("w.weight", [2], "normal")).toThrow(/GraphBuilder g: weight w\.weight: value 70000 at index 1 is beyond float16's range/);
  });
});
