import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SendMessageCommand, type GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { PaceStore } from "@troupe/shared/records/pace";
import { startTestEnv, type TestEnv } from "../../../local/test-env.ts";
import { waitFor } from "../../../test/support/wait-for.ts";
import { QueueStatsCache } from "./queue-stats.ts";

let t: TestEnv;
/** Calls that reach the emulators, counted on the real clients. */
const calls = { depth: 0, pace: 0 };

beforeAll(async () => {
  t = await startTestEnv();
  t.clients.ddb.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "QueryCommand") calls.pace++;
      return next(args);
    },
    { step: "initialize", name: "countPace" },
  );
});
afterAll(async () => t?.stop());

describe("QueueStatsCache", () => {
  it("reads the queue depth and the runners' pace once per TTL, serving the cached value in between", async () => {
    const queueUrl = t.config.TROUPE_QUEUE_URL!;
    for (let i = 0; i < 3; i++) await t.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `{"n":${i}}` }));
    let now = 1_000_000;
    const pace = new PaceStore(t.clients.ddb, t.config.TROUPE_USAGE_TABLE, "runner-a");
    await pace.record({ inferenceMs: 1000, totalSteps: 50, width: 1000, height: 1000 }, now);
    // The real client, counted (GetQueueAttributes skips added middleware in this SDK version).
    const sqs = { send: (command: GetQueueAttributesCommand) => (calls.depth++, t.clients.sqs.send(command)) } as unknown as SQSClient;
    const cache = new QueueStatsCache({ sqs, queueUrl, ddb: t.clients.ddb, usageTable: t.config.TROUPE_USAGE_TABLE, now: () => now });

    const first = await cache.current();
    expect(first).toEqual({ waiting: 3, inFlight: 0, msPerStepMpx: 20, runners: 1 });
    for (let i = 0; i < 5; i++) expect(await cache.current()).toEqual(first);
    expect(calls).toEqual({ depth: 1, pace: 1 });

    // Past the depth's TTL: the stale value answers at once and one refresh runs behind it.
    now += 6000;
    await t.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "{}" }));
    expect(await cache.current()).toEqual(first);
    expect(calls.depth).toBe(2);
    const refreshed = await waitFor(async () => {
      const s = await cache.current();
      return s?.waiting === 4 ? s : null;
    }, { what: "the refreshed depth", intervalMs: 5 });
    expect(refreshed).toEqual({ ...first, waiting: 4 });
    expect(calls).toEqual({ depth: 2, pace: 1 });
  });

  it("averages fresh runners and ignores ones that finished nothing lately", async () => {
    const now = 5_000_000;
    const table = t.config.TROUPE_USAGE_TABLE;
    await new PaceStore(t.clients.ddb, table, "runner-b").record({ inferenceMs: 3000, totalSteps: 50, width: 1000, height: 1000 }, now);
    await new PaceStore(t.clients.ddb, table, "runner-c").record({ inferenceMs: 1000, totalSteps: 50, width: 1000, height: 1000 }, now - 20 * 60_000);
    // runner-a (20 ms) is from the first test, long ago at this clock: only runner-b counts.
    expect(await PaceStore.summary(t.clients.ddb, table, now)).toEqual({ msPerStepMpx: 60, runners: 1 });
  });
});
