import { startLocalStack } from "./stack.ts";

/** `npm start`: the whole stack in the foreground until Ctrl-C. */
const runners = Number(process.env.RUNNERS ?? 1);
if (!Number.isInteger(runners) || runners < 0 || runners > 16) {
  process.stderr.write(`RUNNERS must be an integer 0..16, got "${process.env.RUNNERS}".\n`);
  process.exit(2);
}

const stack = await startLocalStack({ runners }).catch((e: unknown) => {
  process.stderr.write(`The local stack could not start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

process.stdout.write(
  [
    "",
    `Troupe local stack is up (${runners} runner${runners === 1 ? "" : "s"}).`,
    `  API:      ${stack.apiUrl}`,
    `  API key:  ${stack.apiKey}`,
    `  S3 ${stack.endpoints.s3} · SQS ${stack.endpoints.sqs} · DynamoDB ${stack.endpoints.dynamodb}`,
    "  Written to .data/local-stack.json. Ctrl-C stops everything.",
    "",
  ].join("\n") + "\n",
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  process.stdout.write("Stopping…\n");
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
