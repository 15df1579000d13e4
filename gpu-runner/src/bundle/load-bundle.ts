import { readFile } from "node:fs/promises";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import type * as ort from "onnxruntime-node";
import { ManifestSchema, type Manifest } from "@troupe/shared/contracts/manifest";
import { BundleError } from "@troupe/shared/errors";
import { checkSessionIo, createSession, type ExecutionProvider, type SessionOptions } from "../onnx/sessions.ts";
import { float16ComputeProblems } from "../graph/fp16-compute.ts";
import { bundlePath, readBundleText, verifyFiles } from "./bundle-files.ts";
import { graphFilesFor, graphSpecs, safetyCheckerSpec, type GraphKey } from "./graph-spec.ts";

export type { ExecutionProvider } from "../onnx/sessions.ts";

export type BundleSessions = Record<GraphKey, ort.InferenceSession>;

export interface LoadedBundle {
  manifest: Manifest;
  /** The local directory the bundle was read from. */
  dir: string;
  /** Absolute path of the tokenizer merges file. */
  mergesPath: string;
  sessions: BundleSessions;
  /** The bundle's safety checker, when it has one (`manifest.graphs.safetyChecker`); float32 on every provider. */
  safetyChecker?: SafetyCheckerSession;
}

export interface SafetyCheckerSession {
  session: ort.InferenceSession;
  /** The square input side the graph fixes (224 for SD 1.5's). */
  imageSize: number;
}

export type LoadBundleOptions = SessionOptions;

/** manifest.json, zod-checked, as a BundleError naming the bad fields. */
export async function readManifest(dir: string): Promise<Manifest> {
  const text = await readBundleText(dir, "manifest.json");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BundleError(`manifest.json: not JSON (${(e as Error).message})`, { file: "manifest.json" });
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new BundleError(`manifest.json: ${fields.join("; ")}`, { file: "manifest.json", issues: parsed.error.issues });
  }
  return parsed.data;
}

/** Every graph (both sets of an fp16 bundle) and the merges file must be covered by a checksum. */
function assertListed(manifest: Manifest): void {
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const path of [...Object.values(manifest.graphs), ...Object.values(manifest.gpuGraphs ?? {}), manifest.tokenizer.merges]) {
    if (!listed.has(path)) throw new BundleError(`${path}: named in manifest.json but not in its files list`, { file: path });
  }
}

/**
 * Loads a bundle directory (DESIGN §4): checks the manifest, every file's sha256, creates the five
 * sessions (and the safety checker's, when the bundle has one) once and checks each graph's inputs and outputs against the contract (float32 and int64 in
 * both graph sets). Which graphs, hence which precision: `graphFilesFor` (an fp16 bundle computes in
 * float16 on cuda / webgpu, in float32 on the CPU; an fp32 bundle in float32 everywhere).
 */
export async function loadBundle(dir: string, options: LoadBundleOptions): Promise<LoadedBundle> {
  const manifest = await readManifest(dir);
  assertListed(manifest);
  await verifyFiles(dir, manifest.files);
  const specs = graphSpecs(manifest);
  const files = graphFilesFor(manifest, options.executionProvider);
  const sessions: Partial<BundleSessions> = {};
  let safetyChecker: SafetyCheckerSession | undefined;
  try {
    for (const key of Object.keys(specs) as GraphKey[]) {
      const file = files[key];
      const session = await createSession(join(dir, file), file, options);
      sessions[key] = session;
      checkSessionIo(session, specs[key], file);
    }
    safetyChecker = manifest.graphs.safetyChecker ? await loadSafetyChecker(dir, manifest.graphs.safetyChecker, options) : undefined;
  } catch (e) {
    await Promise.all(Object.values(sessions).map((s) => s.release()));
    throw e;
  }
  return { manifest, dir, mergesPath: join(dir, manifest.tokenizer.merges), sessions: sessions as BundleSessions, safetyChecker };
}

/** The safety checker's session, its I/O checked and its (fixed, square) input size read from the graph. */
async function loadSafetyChecker(dir: string, file: string, options: LoadBundleOptions): Promise<SafetyCheckerSession> {
  const session = await createSession(join(dir, file), file, options);
  try {
    checkSessionIo(session, safetyCheckerSpec(), file);
    const input = session.inputMetadata.find((m) => m.name === "pixel_values");
    const [, , h, w] = input?.isTensor ? input.shape : [];
    if (typeof h !== "number" || h !== w) throw new BundleError(`${file}: pixel_values must have a fixed square size, got [${input?.isTensor ? input.shape.join(",") : "?"}]`, { file });
    return { session, imageSize: h };
  } catch (e) {
    await session.release();
    throw e;
  }
}

/**
 * One of an fp16 bundle's `gpuGraphs`, structurally (`float16ComputeProblems`: float32 I/O, the heavy ops
 * reading float16, the timestep embedding and GroupNorm statistics float32): a BundleError naming the file.
 * Reads the graph file only, never its weights.
 */
export async function checkGpuGraph(dir: string, file: string): Promise<void> {
  const model = onnxProto.onnx.ModelProto.decode(await readFile(bundlePath(dir, file)));
  const problems = float16ComputeProblems(model);
  if (problems.length > 0) throw new BundleError(`${file}: not a float16-compute graph: ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? "; …" : ""}`, { file, problems });
}

/** Releases the native sessions (tests, shutdown). */
export async function releaseBundle(bundle: LoadedBundle): Promise<void> {
  await Promise.all([...Object.values(bundle.sessions), ...(bundle.safetyChecker ? [bundle.safetyChecker.session] : [])].map((s) => s.release()));
}
