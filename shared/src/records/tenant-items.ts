import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { isConditionFailed } from "./conditional.ts";

/**
 * Items a tenant owns in the jobs table (tenantId, id), told apart by their id's form: create once,
 * read only the tenant's own, delete conditionally. An id of another form is never looked up.
 */
export class TenantItemStore<T extends { tenantId: string; id: string }> {
  constructor(
    protected readonly ddb: DynamoDBDocumentClient,
    protected readonly table: string,
    private readonly isOwnId: (id: string) => boolean,
  ) {}

  async create(record: T): Promise<void> {
    await this.ddb.send(new PutCommand({ TableName: this.table, Item: record, ConditionExpression: "attribute_not_exists(id)" }));
  }

  /** Only the tenant's own items are visible. */
  async get(tenantId: string, id: string): Promise<T | null> {
    if (!this.isOwnId(id)) return null;
    const out = await this.ddb.send(new GetCommand({ TableName: this.table, Key: { tenantId, id }, ConsistentRead: true }));
    return (out.Item as T | undefined) ?? null;
  }

  /** Removes the record; false when there was none (already deleted, expired, or another tenant's). */
  async delete(tenantId: string, id: string): Promise<boolean> {
    if (!this.isOwnId(id)) return false;
    try {
      await this.ddb.send(new DeleteCommand({ TableName: this.table, Key: { tenantId, id }, ConditionExpression: "attribute_exists(id)" }));
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }
}
