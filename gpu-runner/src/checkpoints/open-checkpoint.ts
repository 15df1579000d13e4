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
  if (magic[0] === 0x50 && magic[1] === 0x4b) return openTorchCheckpoint(file);
  if (magic[0] === 0x80) throw new Error(`${file}: a legacy (pre-1.6, non-zip) torch.save file; re-save it with a current torch or convert it to safetensors`);
  return openSafetensors(file);
}
