import { SD15_SCHEDULER_CONFIG } from "@troupe/shared/contracts/manifest";
import { describe, expect, it } from "vitest";
import { createScheduler, DdimScheduler, DpmSolverMultistepScheduler, EulerDiscreteScheduler, PndmScheduler, type SchedulerName } from "./index.ts";

describe("createScheduler", () => {
  it.each([
    ["pndm", PndmScheduler],
    ["ddim", DdimScheduler],
    ["euler", EulerDiscreteScheduler],
    ["dpmpp-2m", DpmSolverMultistepScheduler],
  ] as const)("builds %s", (name, type) => {
    expect(createScheduler(name, SD15_SCHEDULER_CONFIG)).toBeInstanceOf(type);
  });

  it("gives a fresh scheduler each call (multistep state is per job)", () => {
    const a = createScheduler("dpmpp-2m", SD15_SCHEDULER_CONFIG);
    a.setTimesteps(10);
    expect(createScheduler("dpmpp-2m", SD15_SCHEDULER_CONFIG).timesteps).toHaveLength(0);
  });

  it("rejects an unknown name", () => {
    expect(() => createScheduler("lms" as SchedulerName, SD15_SCHEDULER_CONFIG)).toThrow(RangeError);
  });
});
