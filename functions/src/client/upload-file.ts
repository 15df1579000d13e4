import { readFile } from "node:fs/promises";
import { UPLOAD_CONTENT_TYPES } from "@troupe/shared/contracts/upload";
import { matchesMagic, MAGIC_BYTES } from "../services/image-magic.ts";
import { errorFromResponse, errorFromThrown, TroupeError } from "./errors.ts";
import type { CreateUploadInput, Upload, UploadContentType } from "./types.ts";

/** A path on disk or the bytes themselves. */
export type FileInput = string | Uint8Array;

/** The upload type the bytes are, by magic number (the same check the API runs), or undefined. */
export function detectContentType(bytes: Uint8Array): UploadContentType | undefined {
  const head = bytes.subarray(0, MAGIC_BYTES);
  return UPLOAD_CONTENT_TYPES.find((type) => matchesMagic(type, head));
}

export interface UploadFileDeps {
  createUpload(input: CreateUploadInput, options?: { signal?: AbortSignal }): Promise<Upload>;
  /** The retrying fetch: a presigned PUT is idempotent, so it is retried like a GET. */
  fetch: typeof fetch;
}

/** `POST /v1/uploads`, then the presigned PUT with exactly the declared bytes and headers. */
export async function uploadFile(deps: UploadFileDeps, file: FileInput, contentType?: UploadContentType, signal?: AbortSignal): Promise<Upload> {
  const bytes = typeof file === "string" ? await readFile(file) : file;
  const type = contentType ?? detectContentType(bytes);
  if (!type) {
    const what = typeof file === "string" ? file : "the given bytes";
    throw new TroupeError({ code: "upload_invalid", message: `${what} is not a JPEG, PNG or WebP image.` });
  }
  const upload = await deps.createUpload({ contentType: type, contentLength: bytes.byteLength }, { signal });
  let put: Response;
  try {
    put = await deps.fetch(upload.uploadUrl, { method: upload.method, headers: upload.headers, body: bytes, signal });
  } catch (e) {
    throw errorFromThrown(e);
  }
  if (!put.ok) {
    const storage = await errorFromResponse(put);
    throw new TroupeError({ code: "upload_failed", message: `Storage refused the upload (HTTP ${put.status}).`, status: put.status, details: storage.message });
  }
  await put.body?.cancel().catch(() => undefined);
  return upload;
}
