import { describe, expect, it } from "vitest";
import { preferredWaitS } from "./prefer-wait.ts";

describe("preferredWaitS", () => {
  it.each([
    [undefined, undefined],
    ["wait=5", 5],
    ["respond-async, wait=10", 10],
    ["wait=60", 60],
    ["wait=600", 60],
    ['wait="7"', 7],
    ["WAIT = 3", 3],
    ["wait=0", undefined],
    ["wait=soon", undefined],
    ["handling=lenient", undefined],
  ])("%s → %s", (header, seconds) => expect(preferredWaitS(header)).toBe(seconds));
});
