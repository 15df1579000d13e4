import { parseArgs } from "node:util";
import { ClipTokenizer } from "../tokenizer/clip-tokenizer.ts";

/** `npm run -s tokenize -- --merges <file> [--vocab-size N] "<text>"` → the ids (no BOS/EOS) as JSON. */
const USAGE = 'usage: npm run -s tokenize -- --merges <merges.txt[.gz]> [--vocab-size N] "<text>"';

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({ options: { merges: { type: "string" }, "vocab-size": { type: "string" } }, allowPositionals: true });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { merges, "vocab-size": vocab } = args.values;
  const vocabSize = vocab === undefined ? undefined : Number(vocab);
  if (!merges || args.positionals.length !== 1 || (vocabSize !== undefined && !Number.isInteger(vocabSize))) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const tokenizer = await ClipTokenizer.fromFile(merges, { vocabSize });
  process.stdout.write(`${JSON.stringify(tokenizer.encode(args.positionals[0]))}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`tokenize: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
