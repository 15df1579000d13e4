/**
 * The converter through its API with `verifySessions: false` (the CLI has no flag for it), so the bench can
 * measure conversion alone: `node --import tsx bench/model-build/convert-without-verification.ts '<BuildOptions JSON>'`.
 */
import { buildModel, type BuildOptions } from "../../gpu-runner/src/model-build/build-model.ts";

const options = JSON.parse(process.argv[2] ?? "{}") as BuildOptions;
const report = await buildModel({ ...options, verifySessions: false });
console.log(JSON.stringify({ bundle: report.out, precision: report.manifest.precision, files: report.manifest.files.length, mib: Math.round(report.bytes / 2 ** 20), seconds: Math.round(report.seconds * 10) / 10 }));
