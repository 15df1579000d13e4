import type { SchedulerConfig } from "@troupe/shared/contracts/manifest";
import { DdimScheduler } from "./scheduling-ddim.ts";
import { DpmSolverMultistepScheduler } from "./scheduling-dpmsolver-multistep.ts";
import { EulerDiscreteScheduler } from "./scheduling-euler-discrete.ts";
import { PndmScheduler } from "./scheduling-pndm.ts";
import type { Scheduler, SchedulerName } from "./scheduler.ts";

const factories: Record<SchedulerName, (config: SchedulerConfig) => Scheduler> = {
  pndm: (config) => new PndmScheduler(config),
  ddim: (config) => new DdimScheduler(config),
  euler: (config) => new EulerDiscreteScheduler(config),
  "dpmpp-2m": (config) => new DpmSolverMultistepScheduler(config),
};

/** A fresh scheduler per job: the multistep ones keep state between steps. */
export function createScheduler(name: SchedulerName, config: SchedulerConfig): Scheduler {
  const factory = factories[name];
  if (!factory) throw new RangeError(`Unknown scheduler "${name}".`);
  return factory(config);
}
