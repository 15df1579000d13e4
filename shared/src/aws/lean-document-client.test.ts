import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEnv, type TestEnv } from "../../../local/test-env.ts";
import { isConditionFailed } from "../records/conditional.ts";

// The lean path (single-item commands through a cached base client) must read and write exactly
// what lib-dynamodb's own path does: the same item, written one way, reads back the same both ways.
let t: TestEnv;
let plain: DynamoDBDocumentClient;
beforeAll(async () => {
  t = await startTestEnv();
  plain = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1", endpoint: t.env.TROUPE_DYNAMODB_ENDPOINT, credentials: { accessKeyId: "x", secretAccessKey: "x" } }), {
    marshallOptions: { removeUndefinedValues: true },
  });
});
afterAll(async () => {
  plain?.destroy();
  await t?.stop();
});

const item = (id: string) => ({
  tenantId: "key_lean",
  id,
  text: "héllo",
  empty: "",
  n: 1.5,
  big: 2 ** 40,
  flag: false,
  nothing: null,
  skipped: undefined,
  list: [1, "a", { nested: { deep: [true] } }],
  map: { a: { b: "c" }, gone: undefined },
  bytes: new Uint8Array([1, 2, 3]),
  tags: new Set(["x", "y"]),
});

describe("LeanDocumentClient", () => {
  it("writes and reads items as lib-dynamodb does", async () => {
    const table = t.config.TROUPE_JOBS_TABLE;
    const lean = t.clients.ddb;
    await lean.send(new PutCommand({ TableName: table, Item: item("lean_1") }));
    await plain.send(new PutCommand({ TableName: table, Item: item("lean_2") }));
    for (const id of ["lean_1", "lean_2"]) {
      const viaLean = await lean.send(new GetCommand({ TableName: table, Key: { tenantId: "key_lean", id }, ConsistentRead: true }));
      const viaPlain = await plain.send(new GetCommand({ TableName: table, Key: { tenantId: "key_lean", id }, ConsistentRead: true }));
      expect(viaLean.Item).toEqual(viaPlain.Item);
      expect(viaLean.Item).toMatchObject({ text: "héllo", n: 1.5, map: { a: { b: "c" } }, tags: new Set(["x", "y"]) });
      expect(viaLean.Item).not.toHaveProperty("skipped");
    }
    const updated = await lean.send(
      new UpdateCommand({ TableName: table, Key: { tenantId: "key_lean", id: "lean_1" }, UpdateExpression: "ADD n :one SET #m.a = :v", ExpressionAttributeNames: { "#m": "map" }, ExpressionAttributeValues: { ":one": 1, ":v": { z: [1] } }, ReturnValues: "ALL_NEW" }),
    );
    expect(updated.Attributes).toMatchObject({ n: 2.5, map: { a: { z: [1] } } });
    // Conditional failures surface as the same error; other commands still work through the same client.
    const refused = await lean.send(new PutCommand({ TableName: table, Item: item("lean_1"), ConditionExpression: "attribute_not_exists(id)" })).catch((e: unknown) => e);
    expect(isConditionFailed(refused)).toBe(true);
    const query = await lean.send(new QueryCommand({ TableName: table, KeyConditionExpression: "tenantId = :t", ExpressionAttributeValues: { ":t": "key_lean" }, ConsistentRead: true }));
    expect(query.Items?.map((i) => i.id)).toEqual(["lean_1", "lean_2"]);
    await lean.send(new DeleteCommand({ TableName: table, Key: { tenantId: "key_lean", id: "lean_1" } }));
    expect((await plain.send(new GetCommand({ TableName: table, Key: { tenantId: "key_lean", id: "lean_1" }, ConsistentRead: true }))).Item).toBeUndefined();
  });
});
