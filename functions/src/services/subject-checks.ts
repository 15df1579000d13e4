import { AppError } from "@troupe/shared/errors";
import type { SubjectStore } from "@troupe/shared/records/subjects";

export interface SubjectCheckDeps {
  subjects: Pick<SubjectStore, "get">;
}

/** A job's stored subject: this tenant's and not deleted (its photo was checked when it was made). Reads only. */
export async function checkStoredSubject(deps: SubjectCheckDeps, tenantId: string, subjectId: string, subject: number): Promise<void> {
  if (await deps.subjects.get(tenantId, subjectId)) return;
  throw new AppError("unknown_subject", `subjects[${subject}]: no subject ${subjectId} for this key (never created, deleted, or another key's).`, {
    subject,
    subjectId,
    path: ["subjects", subject, "subjectId"],
  });
}
