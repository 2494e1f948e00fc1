/**
 * The part both readiness modes share: the ready flag, the last observation, and the one promise every
 * waiter of a backend gets, resolved on the first ready observation.
 */
import type { Logger } from "pino";
import type { Readiness } from "./types";

const RESOLVED: Promise<void> = Promise.resolve();

export abstract class ReadinessState implements Readiness {
  private isReady = false;
  private observed = "nothing observed yet";
  private waiting: { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } | undefined;
  protected closed = false;

  protected constructor(
    protected readonly modelKey: string,
    protected readonly logger: Logger,
  ) {}

  get ready(): boolean {
    return this.isReady;
  }

  /** A probe sees the Service, not its replicas: count it as one when ready. Watches that count replicas override this. */
  get readyReplicas(): number {
    return this.isReady ? 1 : 0;
  }

  /** A probe sees the Service only: the backend URL stands for its replicas. */
  get endpoints(): readonly string[] {
    return this.isReady ? [this.baseUrl] : [];
  }

  protected baseUrl = "";

  get lastObserved(): string {
    return this.observed;
  }

  /** Resolves on the first ready observation; rejects if the model is removed (close) first. */
  whenReady(): Promise<void> {
    if (this.isReady) return RESOLVED;
    if (this.closed) return Promise.reject(this.closedError());
    if (!this.waiting) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Marked handled here so a close() with no caller awaiting cannot become an unhandled rejection.
      promise.catch(() => undefined);
      this.waiting = { promise, resolve, reject };
      this.wake();
    }
    return this.waiting.promise;
  }

  abstract wake(): void;
  abstract markUnready(reason: string): void;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    this.waiting?.reject(this.closedError());
    this.waiting = undefined;
  }

  /** Stops watching; called once by close(). */
  protected abstract stop(): void;

  protected observe(ready: boolean, observed: string): void {
    this.observed = observed;
    if (ready === this.isReady) return;
    this.isReady = ready;
    this.logger.info({ model: this.modelKey, ready, observed }, ready ? "model backend ready" : "model backend not ready");
    if (ready && this.waiting) {
      this.waiting.resolve();
      this.waiting = undefined;
    }
  }

  private closedError(): Error {
    return new Error(`readiness watch for model ${this.modelKey} was closed (model removed from the config)`);
  }
}
