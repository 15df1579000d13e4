import { detectContentType } from "./content-type.js";
import { errorFromResponse, errorFromThrown, TroupeError } from "./errors.js";
import type { CreateUploadInput, Upload, UploadContentType } from "./types.js";

/** Image bytes: anything fetch can send. File paths are `@troupe/client/node`'s `readImage`. */
export type FileInput = Uint8Array | ArrayBuffer | Blob;

export interface UploadFileDeps {
  createUpload(input: CreateUploadInput, options?: { signal?: AbortSignal | undefined }): Promise<Upload>;
  /** The retrying fetch: a presigned PUT is idempotent, so it is retried like a GET. */
  fetch: typeof fetch;
}

/** A copy backed by a plain ArrayBuffer: what `BodyInit` accepts in every lib version. */
async function toBytes(file: FileInput): Promise<Uint8Array<ArrayBuffer>> {
  if (file instanceof Uint8Array) return file.slice();
  if (file instanceof ArrayBuffer) return new Uint8Array(file.slice(0));
  return new Uint8Array(await file.arrayBuffer());
}

/** `POST /v1/uploads`, then the presigned PUT with exactly the declared bytes and headers. */
export async function uploadFile(deps: UploadFileDeps, file: FileInput, contentType?: UploadContentType, signal?: AbortSignal): Promise<Upload> {
  const bytes = await toBytes(file);
  const type = contentType ?? detectContentType(bytes);
  if (!type) throw new TroupeError({ code: "upload_invalid", message: "The given bytes are not a JPEG, PNG or WebP image." });
  const upload = await deps.createUpload({ contentType: type, contentLength: bytes.byteLength }, { signal });
  let put: Response;
  try {
    put = await deps.fetch(upload.uploadUrl, { method: upload.method, headers: upload.headers, body: bytes, ...(signal ? { signal } : {}) });
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
