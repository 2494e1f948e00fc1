/**
 * One run at a time of an async task that must see the latest state: a call while a run is in progress asks for one
 * more run after it (however many calls came meanwhile), instead of running concurrently or being lost.
 *
 *   const run = serialRun(async () => reconcile(), () => closed);
 *   void run(); void run(); void run();  // one run now, then exactly one more
 *
 * `stopped()` (default never) ends the loop before a requested re-run. Errors of `task` propagate to the call that ran
 * it; the flag is cleared either way, so the next call runs again.
 */
export function serialRun(task: () => Promise<void>, stopped: () => boolean = () => false): () => Promise<void> {
  let running = false;
  let again = false;
  return async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await task();
      } while (again && !stopped());
    } finally {
      running = false;
    }
  };
}
