import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/** Usage-table partition of the runners' pace items, one per runner process (sk = runner id). */
const PACE_PK = "runner-pace";
/** A runner that finished no job for this long no longer counts as working. */
export const PACE_FRESH_MS = 15 * 60_000;

/**
 * Denoising pace of one runner: milliseconds per progress step per megapixel of image, as an
 * exponentially weighted average over its recent jobs. Queue estimates (jobs/queue-estimate.ts)
 * scale it by a job's own size and step count.
 */
export interface PaceItem {
  runnerId: string;
  msPerStepMpx: number;
  /** Epoch ms of the last sample. */
  at: number;
}

export interface PaceSummary {
  /** Mean of the fresh runners' pace; null when none finished a job lately. */
  msPerStepMpx: number | null;
  /** Runners that finished a job within PACE_FRESH_MS (at least 1 when any pace is known). */
  runners: number;
}

/** Megapixels of a job's image (the pace is per megapixel, so sizes compare). */
export const megapixels = (width: number, height: number) => Math.max(1e-3, (width * height) / 1e6);

export class PaceStore {
  private average: number | undefined;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly runnerId: string,
    /** Weight of the newest sample. */
    private readonly alpha = 0.3,
  ) {}

  /** Folds one finished job into this runner's average and writes it (one PutItem). */
  async record(sample: { inferenceMs: number; totalSteps: number; width: number; height: number }, now = Date.now()): Promise<void> {
    if (sample.totalSteps <= 0 || sample.inferenceMs <= 0) return;
    const value = sample.inferenceMs / sample.totalSteps / megapixels(sample.width, sample.height);
    this.average = this.average === undefined ? value : this.alpha * value + (1 - this.alpha) * this.average;
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: PACE_PK, sk: this.runnerId, msPerStepMpx: this.average, at: now, expiresAt: Math.ceil((now + PACE_FRESH_MS * 4) / 1000) },
      }),
    );
  }

  /** Every runner's pace item (one small Query: one item per runner process). */
  static async summary(ddb: DynamoDBDocumentClient, table: string, now = Date.now()): Promise<PaceSummary> {
    const out = await ddb.send(new QueryCommand({ TableName: table, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": PACE_PK }, ConsistentRead: false }));
    const fresh = (out.Items ?? []).filter((i) => typeof i.msPerStepMpx === "number" && typeof i.at === "number" && now - (i.at as number) <= PACE_FRESH_MS);
    if (!fresh.length) return { msPerStepMpx: null, runners: 0 };
    const mean = fresh.reduce((sum, i) => sum + (i.msPerStepMpx as number), 0) / fresh.length;
    return { msPerStepMpx: mean, runners: fresh.length };
  }
}
