/**
 * Prop validation in the AWS Solutions Constructs way: every check runs, every problem is collected,
 * and the construct throws once with the whole list, so an operator fixes a bad config in one pass.
 */
export class PropsValidationError extends Error {
  constructor(
    readonly construct: string,
    readonly problems: readonly string[],
  ) {
    super(`${construct}: invalid props:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "PropsValidationError";
  }
}

/** A check returns a sentence naming the prop when it fails, undefined when it passes. */
export type Check = string | undefined;

export function assertValid(construct: string, checks: readonly Check[]): void {
  const problems = checks.filter((c): c is string => c !== undefined);
  if (problems.length > 0) throw new PropsValidationError(construct, problems);
}

/** An integer in [min, max]; undefined (the prop's default applies) passes. */
export function integerIn(name: string, value: number | undefined, min: number, max: number): Check {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    return `${name} must be an integer from ${min} to ${max}, got ${value}`;
  }
  return undefined;
}

/** A finite number in (0, max]; undefined passes. */
export function positiveUpTo(name: string, value: number | undefined, max: number): Check {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    return `${name} must be a number above 0 and at most ${max}, got ${value}`;
  }
  return undefined;
}

/** A plain email address (for SNS subscriptions); undefined passes. */
export function emailAddress(name: string, value: string | undefined): Check {
  if (value === undefined) return undefined;
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value) ? undefined : `${name} must be an email address, got "${value}"`;
}
