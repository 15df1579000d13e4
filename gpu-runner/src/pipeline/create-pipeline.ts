import type { S3Client } from "@aws-sdk/client-s3";
import { ClipTokenizer } from "@troupe/shared/tokenizer";
import { loadBundle, type ExecutionProvider } from "../bundle/load-bundle.ts";
import { resolveBundleDir } from "../bundle/fetch-bundle.ts";
import { FastComposerPipeline } from "./fastcomposer-pipeline.ts";

export interface CreatePipelineOptions {
  /** A local folder or an s3://bucket/prefix (copied to a local cache once). */
  bundle: string;
  executionProvider: ExecutionProvider;
  intraOpThreads?: number;
  s3?: S3Client;
}

/** Loads and verifies the bundle, creates its sessions once, and returns the pipeline over them. */
export async function createPipeline(options: CreatePipelineOptions): Promise<FastComposerPipeline> {
  const dir = await resolveBundleDir(options.bundle, options.s3);
  const bundle = await loadBundle(dir, { executionProvider: options.executionProvider, intraOpThreads: options.intraOpThreads });
  const tokenizer = await ClipTokenizer.fromFile(bundle.mergesPath, { vocabSize: bundle.manifest.tokens.vocabSize });
  return new FastComposerPipeline(bundle, tokenizer);
}
