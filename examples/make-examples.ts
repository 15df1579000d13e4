import { parseArgs } from "node:util";
import { ensureExampleSubjects, EXAMPLES_DIR } from "./subjects.ts";

/** `npm run examples [-- --out dir]`: draws the example reference portraits and prints their paths. */
const { values } = parseArgs({ options: { out: { type: "string" }, help: { type: "boolean", short: "h" } } });
if (values.help) {
  process.stdout.write(`Usage: npm run examples [-- --out DIR]   (default ${EXAMPLES_DIR})\n`);
  process.exit(0);
}
const paths = await ensureExampleSubjects({ dir: values.out, force: true });
process.stdout.write(`${paths.join("\n")}\n`);
