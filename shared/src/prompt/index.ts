export * from "./parse-prompt.ts";
