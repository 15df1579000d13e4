import type { WeightSource } from "../graph/weights.ts";
import type { StoredTensor } from "../checkpoints/tensor-file.ts";

/** The graphs' weight sets; `vae` feeds the `vae_decoder` graph. The five of COMPONENTS are required; the safety checker is optional. */
export type Component = "unet" | "vae" | "textEncoder" | "imageEncoder" | "fuse" | "safetyChecker";
export const COMPONENTS: readonly Component[] = ["unet", "vae", "textEncoder", "imageEncoder", "fuse"];

/** A source tensor offered to a component under the graph's (diffusers / transformers) name. */
export interface Candidate {
  component: Component;
  name: string;
  tensor: StoredTensor;
  /** Stored as a 1×1 conv [C, C, 1, 1] for a linear [C, C] (LDM's VAE attention). */
  squeeze?: boolean;
}

/** A source tensor deliberately not used, with the reason (printed in the build report). */
export interface Ignored {
  file: string;
  key: string;
  reason: string;
}

/** Tensors a graph never reads, by component: name pattern → why. */
const NOT_IN_GRAPH: Record<Component, [RegExp, string][]> = {
  unet: [],
  vae: [[/^(encoder\.|quant_conv\.)/, "VAE encoder: text-to-image only decodes"]],
  textEncoder: [
    [/\.position_ids$/, "position_ids: a buffer (0..76), not a weight"],
    [/^text_projection\./, "text projection: SD 1.5 conditions on the last hidden state"],
  ],
  imageEncoder: [[/\.position_ids$/, "position_ids: a buffer (0..positions-1), not a weight"]],
  fuse: [],
  // transformers before 4.31 saved the position_ids buffer; the published safety checker carries it
  safetyChecker: [[/\.position_ids$/, "position_ids: a buffer (0..positions-1), not a weight"]],
};

const dims = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/**
 * One graph's weights, by the graph's initializer name, each from exactly one source tensor. Two
 * tensors offering the same name is an error naming both (never a silent choice); the graph's reads
 * are tracked so every tensor offered is either used or reported as deliberately ignored.
 */
export class ComponentWeights implements WeightSource {
  private readonly byName = new Map<string, Candidate>();
  private readonly used = new Set<string>();

  constructor(readonly component: Component) {}

  add(candidate: Candidate): void {
    const other = this.byName.get(candidate.name);
    if (other) {
      throw new Error(
        `${this.component}: ${candidate.name} could come from ${other.tensor.file} (${other.tensor.key}) or ${candidate.tensor.file} (${candidate.tensor.key}); pass only one of them`,
      );
    }
    this.byName.set(candidate.name, candidate);
  }

  get(name: string): Candidate | undefined {
    return this.byName.get(name);
  }

  tensor(name: string, want: number[]): Float32Array {
    const c = this.byName.get(name);
    if (!c) {
      const files = [...new Set([...this.byName.values()].map((v) => v.tensor.file))];
      throw new Error(`${this.component}: the graph needs ${name} ${dims(want)}, which is in none of ${files.join(", ") || "the sources"}`);
    }
    const shape = c.squeeze ? c.tensor.shape.slice(0, 2) : c.tensor.shape;
    const squeezable = !c.squeeze || (c.tensor.shape.length === 4 && c.tensor.shape[2] === 1 && c.tensor.shape[3] === 1);
    if (!squeezable || shape.join(",") !== want.join(",")) {
      throw new Error(`${this.component}: ${c.tensor.key} in ${c.tensor.file} has shape ${dims(c.tensor.shape)}, the graph needs ${name} ${dims(want)}`);
    }
    this.used.add(name);
    return c.tensor.read();
  }

  /** After the graph is built: unread tensors, split into deliberately ignored and unexpected. */
  leftovers(): { ignored: Ignored[]; unexpected: Candidate[] } {
    const ignored: Ignored[] = [];
    const unexpected: Candidate[] = [];
    for (const [name, c] of this.byName) {
      if (this.used.has(name)) continue;
      const reason = NOT_IN_GRAPH[this.component].find(([pattern]) => pattern.test(name))?.[1];
      if (reason) ignored.push({ file: c.tensor.file, key: c.tensor.key, reason });
      else unexpected.push(c);
    }
    return { ignored, unexpected };
  }

  /** Tensors read, per file. */
  usedByFile(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const name of this.used) {
      const file = this.byName.get(name)!.tensor.file;
      counts.set(file, (counts.get(file) ?? 0) + 1);
    }
    return counts;
  }
}
