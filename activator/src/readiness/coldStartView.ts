/**
 * A model's cold starts on `/queue`: `coldStart` (the one in progress, phases reached so far) and `coldStarts` (the
 * last completed ones, oldest first), each a ColdStartRecord (./coldStartRecorder). Absent when there is nothing to show.
 */
import type { ColdStartRecord, ColdStartRecorder } from "./coldStartRecorder";

export function coldStartView(recorder: ColdStartRecorder): { coldStart?: ColdStartRecord; coldStarts?: readonly ColdStartRecord[] } {
  const current = recorder.inProgress();
  const recent = recorder.recent();
  return { ...(current ? { coldStart: current } : {}), ...(recent.length > 0 ? { coldStarts: recent } : {}) };
}
