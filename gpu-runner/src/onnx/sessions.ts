import * as ort from "onnxruntime-node";
import { BundleError } from "@troupe/shared/errors";
import type { GraphSpec, ValueSpec } from "../bundle/graph-spec.ts";

export type ExecutionProvider = "cpu" | "cuda" | "webgpu";

export interface SessionOptions {
  executionProvider: ExecutionProvider;
  /** Threads inside one operator; ORT's default (all cores) when omitted. */
  intraOpThreads?: number;
  /**
   * @default "all". "disabled" only checks a graph (model:build's verification): no constant folding, so an
   * fp16-stored bundle is not expanded to float32 copies of every weight (6.3 GB instead of 0.1 GB for the UNet).
   */
  graphOptimizationLevel?: "disabled" | "all";
}

/**
 * One InferenceSession for a bundle graph. A provider that cannot load (no CUDA library, no WebGPU
 * adapter) fails here as a BundleError, at start, never mid-job. No silent CPU fallback: a GPU
 * runner on the CPU would look healthy and be 100× slow.
 */
export async function createSession(path: string, file: string, options: SessionOptions): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(path, {
      executionProviders: [options.executionProvider],
      graphOptimizationLevel: options.graphOptimizationLevel ?? "all",
      ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    });
  } catch (e) {
    const message = (e as Error).message;
    throw new BundleError(`${file}: cannot create a session on the ${options.executionProvider} execution provider: ${message}`, {
      file,
      executionProvider: options.executionProvider,
    });
  }
}

function checkValue(kind: "input" | "output", actual: ort.InferenceSession.ValueMetadata | undefined, expected: ValueSpec): string | undefined {
  if (!actual) return `missing ${kind} ${expected.name}`;
  if (!actual.isTensor) return `${kind} ${expected.name} is not a tensor`;
  if (actual.type !== expected.type) return `${kind} ${expected.name} is ${actual.type}, expected ${expected.type}`;
  const shape = actual.shape;
  const want = expected.dims.map((d) => d ?? "?").join(",");
  if (shape.length !== expected.dims.length) return `${kind} ${expected.name} has shape [${shape.join(",")}], expected [${want}]`;
  // a symbolic dim in the graph is accepted where the contract fixes a size: the graph is more general
  const bad = expected.dims.findIndex((d, i) => d !== null && typeof shape[i] === "number" && shape[i] !== d);
  if (bad >= 0) return `${kind} ${expected.name} has shape [${shape.join(",")}], expected [${want}] (dim ${bad})`;
  return undefined;
}

/** Names, element types, ranks and fixed dims of a session's inputs and outputs against the contract. */
export function checkSessionIo(session: ort.InferenceSession, spec: GraphSpec, file: string): void {
  const byName = (list: readonly ort.InferenceSession.ValueMetadata[]) => new Map(list.map((v) => [v.name, v]));
  const inputs = byName(session.inputMetadata);
  const outputs = byName(session.outputMetadata);
  const problems = [
    ...spec.inputs.map((s) => checkValue("input", inputs.get(s.name), s)),
    ...spec.outputs.map((s) => checkValue("output", outputs.get(s.name), s)),
  ].filter((p): p is string => p !== undefined);
  const expectedInputs = new Set(spec.inputs.map((s) => s.name));
  for (const name of inputs.keys()) if (!expectedInputs.has(name)) problems.push(`unexpected input ${name}`);
  if (problems.length > 0) throw new BundleError(`${file}: ${problems.join("; ")}`, { file, problems });
}
