import type { ModelInfo } from "@troupe/shared/bundle/model-info";
import type { CreateGeneration } from "@troupe/shared/contracts/generation";
import { memoryProblem, sizeProblem, type JobSize, type Manifest } from "@troupe/shared/contracts/manifest";
import { AppError } from "@troupe/shared/errors";
import { assertSubjectCount, encodePlain, parsePrompt } from "@troupe/shared/prompt";

interface Issue {
  code: "custom";
  path: (string | number)[];
  message: string;
  /** The memory limit a job exceeds, when that is the problem. */
  params?: { limit: string };
}

/**
 * Width and height: the model's default when absent, else within its sizes; 400 naming each bad field.
 * Then the whole job against the manifest's memory budget (`checkMemory`).
 */
export function resolveSize(body: Pick<CreateGeneration, "width" | "height"> & { numImages?: number; guidanceScale?: number }, manifest: Manifest): { width: number; height: number } {
  const size = { width: body.width ?? manifest.sizes.default.width, height: body.height ?? manifest.sizes.default.height };
  const issues: Issue[] = [];
  for (const field of ["width", "height"] as const) {
    const message = sizeProblem(manifest, field, size[field]);
    if (message) issues.push({ code: "custom", path: [field], message });
  }
  if (issues.length > 0) throw new AppError("invalid_request", issues.map((i) => i.message).join(" "), issues);
  checkMemory({ ...size, numImages: body.numImages ?? 1, guidanceScale: body.guidanceScale }, manifest);
  return size;
}

/** 400 when one image's UNet call or the whole job exceeds the manifest's memory budget, naming the limit; one issue per field. */
export function checkMemory(job: JobSize, manifest: Manifest): void {
  const problem = memoryProblem(manifest, job);
  if (!problem) return;
  const issues: Issue[] = problem.fields.map((field) => ({ code: "custom", path: [field], message: problem.message, params: { limit: problem.limit } }));
  throw new AppError("invalid_request", problem.message, issues);
}

export function checkSubjectLimit(count: number, manifest: Manifest): void {
  if (count <= manifest.maxSubjects) return;
  const message = `This model takes at most ${manifest.maxSubjects} subjects; got ${count}.`;
  throw new AppError("invalid_request", message, [{ code: "custom", path: ["subjects"], message }]);
}

/**
 * The prompt as the runner will read it (same tokenizer, same parser): throws the 422 prompt
 * errors (image_token_invalid, prompt_too_long, image_token_mismatch). The negative prompt is
 * only tokenized: CLIP truncates it, which is not an error.
 */
export function checkPrompt(body: Pick<CreateGeneration, "prompt" | "negativePrompt" | "subjects">, model: ModelInfo): void {
  const { manifest, tokenizer } = model;
  const options = { maxLength: manifest.tokens.maxLength, pad: manifest.tokens.pad };
  const parsed = parsePrompt(body.prompt, tokenizer, options);
  assertSubjectCount(parsed, body.subjects.length, manifest.maxSubjects);
  encodePlain(body.negativePrompt, tokenizer, options);
}
