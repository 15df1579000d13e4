import { UpdateCommand, type DynamoDBDocumentClient, type UpdateCommandInput } from "@aws-sdk/lib-dynamodb";

/** True when a DynamoDB conditional write lost: the expected state was not there. */
export function isConditionFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

/** One conditional UpdateItem on a (tenantId, id) item: the item after the write, or null when the condition lost. */
export async function conditionalUpdate<T>(
  ddb: DynamoDBDocumentClient,
  table: string,
  key: { tenantId: string; id: string },
  update: Omit<UpdateCommandInput, "TableName" | "Key">,
): Promise<T | null> {
  try {
    const out = await ddb.send(new UpdateCommand({ TableName: table, Key: key, ReturnValues: "ALL_NEW", ...update }));
    return out.Attributes as T;
  } catch (e) {
    if (isConditionFailed(e)) return null;
    throw e;
  }
}
