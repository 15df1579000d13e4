import { cpus } from "node:os";
import { ensureTinyBundle } from "../../gpu-runner/src/bundle/tiny-bundle.ts";
import { benchSafetySd15, benchSafetyTiny } from "./safety-bench.ts";
console.table([
  await benchSafetyTiny(await ensureTinyBundle(), { size: 128, steps: 20, images: 1, rounds: 5 }),
  await benchSafetyTiny(await ensureTinyBundle(), { size: 128, steps: 20, images: 4, rounds: 5 }),
  await benchSafetySd15({ size: 512, rounds: 3, threads: cpus().length }),
]);
