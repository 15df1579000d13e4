import type { GraphBuilder } from "../builder.ts";

export interface Conv2dOptions {
  /** @default 3 */
  kernel?: number;
  /** @default 1 */
  stride?: number;
  /** @default kernel >> 1 ("same" for odd kernels) */
  padding?: number;
  /** @default true */
  bias?: boolean;
}

/** torch.nn.Conv2d, NCHW, weight [out, in, k, k] under `<prefix>.weight`. */
export function conv2d(g: GraphBuilder, x: string, prefix: string, inChannels: number, outChannels: number, options: Conv2dOptions = {}): string {
  const k = options.kernel ?? 3;
  const p = options.padding ?? k >> 1;
  const s = options.stride ?? 1;
  const w = g.weight(`${prefix}.weight`, [outChannels, inChannels, k, k], "normal", inChannels * k * k);
  const inputs = [x, w];
  if (options.bias !== false) inputs.push(g.weight(`${prefix}.bias`, [outChannels], "zeros"));
  return g.op("Conv", inputs, { kernel_shape: [k, k], pads: [p, p, p, p], strides: [s, s] });
}
