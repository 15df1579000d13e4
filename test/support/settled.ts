import { isTerminal, type Job, type TroupeClient } from "@troupe/client";
import { waitFor } from "./wait-for.ts";

/** Polls a job through the SDK until it is succeeded, failed or canceled. */
export const settled = (client: TroupeClient, id: string): Promise<Job> =>
  waitFor(async () => {
    const job = await client.generations.get(id);
    return isTerminal(job) ? job : null;
  }, { what: `job ${id} settled` });
