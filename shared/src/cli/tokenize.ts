import { parseArgs } from "node:util";
import { ClipTokenizer } from "../tokenizer/clip-tokenizer.ts";

/** `npm run -s tokenize -- --merges <file> [--vocab-size N] "<text>"` → the ids (no BOS/EOS) as JSON. */
const USAGE = 'usage: npm run -s tokenize -- --merges <merges.txt[.gz]> [--vocab-size N] "<text>"';

interface TokenizeArgs {
  merges: string;
  vocabSize?: number;
  text: string;
}

/** The arguments, or a reason they are unusable. */
function readArgs(argv: string[]): TokenizeArgs | { error: string } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { merges: { type: "string" }, "vocab-size": { type: "string" } }, allowPositionals: true, strict: true });
  } catch (e) {
    return { error: (e as Error).message };
  }
  const { merges, "vocab-size": vocab } = parsed.values;
  if (!merges) return { error: "--merges <file> is required." };
  if (parsed.positionals.length !== 1) return { error: `Expected one text argument (quote it), got ${parsed.positionals.length}.` };
  if (vocab !== undefined && !/^[1-9][0-9]*$/.test(vocab)) return { error: `--vocab-size must be a positive integer, got ${JSON.stringify(vocab)}.` };
  return { merges, vocabSize: vocab === undefined ? undefined : Number(vocab), text: parsed.positionals[0] };
}

async function main(argv: string[]): Promise<number> {
  const args = readArgs(argv);
  if ("error" in args) {
    process.stderr.write(`tokenize: ${args.error}\n${USAGE}\n`);
    return 2;
  }
  const tokenizer = await ClipTokenizer.fromFile(args.merges, { vocabSize: args.vocabSize });
  process.stdout.write(`${JSON.stringify(tokenizer.encode(args.text))}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tokenize: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
