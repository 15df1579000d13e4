import { onParentExit } from "./exit-with-parent.ts";
import { startLocalStack, type LocalStack } from "./stack.ts";

/**
 * `npm start`: the whole stack in the foreground until Ctrl-C, SIGTERM (Docker, systemd, an IDE's stop
 * button) or SIGHUP (the terminal closed), or until the process that started it is gone: npm relays
 * only SIGINT and SIGTERM, and an npm killed outright relays nothing. package.json runs this file with
 * `exec node`, so no shell or tsx wrapper sits between npm and it to swallow a signal.
 */
const runners = Number(process.env.RUNNERS ?? 1);
if (!Number.isInteger(runners) || runners < 0 || runners > 16) {
  process.stderr.write(`RUNNERS must be an integer 0..16, got "${process.env.RUNNERS}".\n`);
  process.exit(2);
}

// Listening from the first line: a signal during start-up stops the stack as soon as it is up.
let stack: LocalStack | undefined;
let stopRequested = false;
const stop = async () => {
  if (stopRequested && !stack) return;
  stopRequested = true;
  const running = stack;
  if (!running) return;
  stack = undefined;
  process.stdout.write("Stopping…\n");
  try {
    await running.stop();
    process.exit(0);
  } catch (e) {
    process.stderr.write(`The local stack did not stop cleanly: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stop());
onParentExit(() => void stop());

stack = await startLocalStack({ runners, dataDir: process.env.TROUPE_DATA_DIR || undefined }).catch((e: unknown) => {
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
    `  Written to ${process.env.TROUPE_DATA_DIR || ".data"}/local-stack.json. Ctrl-C stops everything.`,
    "",
  ].join("\n") + "\n",
);
if (stopRequested) await stop();
