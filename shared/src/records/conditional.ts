/** True when a DynamoDB conditional write lost: the expected state was not there. */
export function isConditionFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}
