import { openSafetensors } from "../checkpoints/safetensors-file.ts";
import type { StoredTensor, TensorFile } from "../checkpoints/tensor-file.ts";
import type { WeightSource } from "./weights.ts";

export interface SafetensorsOptions {
  /** Stripped from the keys that start with them (e.g. "postfuse_module." for FastComposer's fuse MLP). */
  prefixes?: string[];
}

/**
 * Weights by graph name from safetensors files already in the graphs' (diffusers / transformers) names,
 * for `make-bundle --weights`. Each key maps to one name (its prefix stripped); two keys landing on the
 * same name are an error naming both, never a silent choice. Tensors are read one at a time when asked for.
 */
export function safetensorsSource(files: string[], options: SafetensorsOptions = {}): WeightSource & { has(name: string): boolean; close(): void } {
  const opened: TensorFile[] = [];
  const index = new Map<string, StoredTensor>();
  try {
    for (const file of files) {
      const f = openSafetensors(file);
      opened.push(f);
      for (const [key, tensor] of f.tensors) {
        const prefix = options.prefixes?.find((p) => key.startsWith(p));
        const name = prefix ? key.slice(prefix.length) : key;
        const other = index.get(name);
        if (other) throw new Error(`weights: ${name} could come from ${other.key} in ${other.file} or ${key} in ${file}`);
        index.set(name, tensor);
      }
    }
  } catch (e) {
    opened.forEach((f) => f.close());
    throw e;
  }
  return {
    tensor(name, dims) {
      const t = index.get(name);
      if (!t) throw new Error(`weights: ${name} is in none of ${files.join(", ")}`);
      if (t.shape.join(",") !== dims.join(",")) throw new Error(`weights: ${t.key} in ${t.file} has shape [${t.shape}], the graph needs [${dims}]`);
      return t.read();
    },
    has: (name) => index.has(name),
    close: () => opened.forEach((f) => f.close()),
  };
}
