export { createScheduler } from "./create-scheduler.ts";
export type { Scheduler, SchedulerName } from "./scheduler.ts";
export { DdimScheduler } from "./scheduling-ddim.ts";
export { DpmSolverMultistepScheduler, type DpmSolverMultistepOptions } from "./scheduling-dpmsolver-multistep.ts";
export { EulerDiscreteScheduler } from "./scheduling-euler-discrete.ts";
export { PndmScheduler } from "./scheduling-pndm.ts";
