export * from "./clip-tokenizer.ts";
export * from "./clean-text.ts";
export * from "./pre-tokenize.ts";
export * from "./train-merges.ts";
