import { closeSync, openSync, readSync } from "node:fs";
import { openSafetensors } from "./safetensors-file.ts";
import type { TensorFile } from "./tensor-file.ts";
import { openTorchCheckpoint } from "./torch-checkpoint.ts";

/**
 * A checkpoint file by its content, not its extension (`.bin`, `.ckpt`, `.pt` and `.pth` are all torch zips;
 * some hubs serve safetensors as `.bin`): "PK" is a torch.save zip, anything else is tried as safetensors.
 */
export function openCheckpoint(file: string): TensorFile {
  const fd = openSync(file, "r");
  const magic = Buffer.alloc(4);
  try {
    readSync(fd, magic, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  // "PK": a zip; 0x80: a legacy torch.save pickle, which the torch reader names as such
  if ((magic[0] === 0x50 && magic[1] === 0x4b) || magic[0] === 0x80) return openTorchCheckpoint(file);
  return openSafetensors(file);
}
