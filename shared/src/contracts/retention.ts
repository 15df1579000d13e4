import { z } from "zod";

/**
 * Per-key retention shorter than the bucket's lifecycle rules (DESIGN §2). Objects are tagged when
 * written (`troupe-retention-days=N`) and the bucket has one tag-filtered expiration rule per allowed
 * N and prefix (infra/lib/storage.ts), so the set of values is fixed: S3 rules match tags exactly.
 */
export const RETENTION_DAYS = [1, 2, 3, 7, 14] as const;
export const RETENTION_TAG = "troupe-retention-days";

export const RetentionDaysSchema = z.union(RETENTION_DAYS.map((d) => z.literal(d)) as [z.ZodLiteral<1>, ...z.ZodLiteral<number>[]]);

export interface Retention {
  /** Days after which a job's outputs and attention maps expire; absent: the bucket's rule (30). */
  outputsDays?: number;
  /** Days after which an upload's photo expires; absent: the bucket's rule (7). */
  uploadsDays?: number;
}

/** The S3 `Tagging` value for objects kept `days`, or undefined for the bucket's default. */
export const retentionTagging = (days: number | undefined): string | undefined => (days === undefined ? undefined : `${RETENTION_TAG}=${days}`);
