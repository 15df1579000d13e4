import type { ModelConfig } from "./model-config.ts";
import { SD15_CONFIG } from "./sd15.ts";
import { TINY_CONFIG } from "./tiny.ts";

export type { ModelConfig } from "./model-config.ts";
export { SD15_CONFIG, TINY_CONFIG };

export const CONFIGS: Record<string, ModelConfig> = { tiny: TINY_CONFIG, sd15: SD15_CONFIG };
