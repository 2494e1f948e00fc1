/**
 * Runs the built activator (`activator/dist/main.js`) as a child process on free ports, the way it runs in a pod.
 *
 *   const act = await ActivatorProcess.start(config);   // writes config.yaml to a temp dir, waits for "activator listening"
 *   act.proxyUrl / act.adminUrl / act.scalerAddress
 *   await act.writeConfig(next)                          // rewrites the file as a ConfigMap update does (..data swap)
 *   ActivatorProcess.start(config, { files: { "keys/digests": text } })   // more mounted files, beside config.yaml
 *   ActivatorProcess.start(config, { env: { KUBECONFIG: file } })         // more environment (e.g. a fake API server)
 *   act.writeMountedFile("keys/digests", text)           // rewrites one as a Secret update does (..data swap)
 *   await act.waitForLog((l) => l.msg === "config reloaded")
 *   act.kill("SIGTERM"); await act.exited                // exit code
 *
 * Listener ports in the given config are replaced by 0 unless set; the bound ports come from the start log line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";

export const ACTIVATOR_MAIN = path.resolve(__dirname, "../../activator/dist/main.js");

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

type Config = Record<string, unknown> & { listeners?: Record<string, unknown> };

/** Fills listeners with port 0 on 127.0.0.1 (keeping any given). */
function withFreePorts(config: Config): Config {
  const listeners = { ...(config.listeners ?? {}) } as Record<string, Record<string, unknown>>;
  for (const name of ["proxy", "scaler", "admin"]) listeners[name] = { host: "127.0.0.1", port: 0, ...(listeners[name] ?? {}) };
  return { ...config, listeners };
}

/**
 * Lays out `file` as the kubelet does for a ConfigMap or Secret volume: `..vN/<name>`, a `..data` symlink to it
 * swapped atomically, and `<name>` → `..data/<name>`.
 */
function writeConfigVersion(file: string, version: number, text: string): void {
  const dir = path.dirname(file);
  const name = path.basename(file);
  mkdirSync(path.join(dir, `..v${version}`), { recursive: true });
  writeFileSync(path.join(dir, `..v${version}`, name), text);
  const tmpLink = path.join(dir, "..data_tmp");
  symlinkSync(`..v${version}`, tmpLink);
  renameSync(tmpLink, path.join(dir, "..data"));
  if (version === 1) symlinkSync(path.join("..data", name), file);
}

/** Where a mounted file named relative to the config's folder lives; refuses the config's own folder. */
function mountedPath(dir: string, name: string): string {
  if (path.dirname(name) === ".") throw new Error(`mounted file "${name}" needs a folder of its own, e.g. "keys/${name}"`);
  return path.join(dir, name);
}

export class ActivatorProcess {
  readonly logs: LogLine[] = [];
  /** stdout lines that are not JSON, and all of stderr. */
  readonly text: string[] = [];
  readonly exited: Promise<number | null>;
  proxyPort = 0;
  scalerPort = 0;
  adminPort = 0;
  private version = 1;
  private readonly fileVersions = new Map<string, number>();
  private readonly logWaiters = new Set<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();

  private constructor(
    readonly dir: string,
    readonly configFile: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    let buffered = "";
    child.stdout!.setEncoding("utf8").on("data", (data: string) => {
      buffered += data;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.onLine(line);
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (data: string) => this.text.push(data));
  }

  /**
   * Starts the activator with `config` written as YAML, or, given a string, that exact file text (named
   * `config.<ext>`). With `waitListening: false` it returns at once (for configs that must be refused); else it waits
   * `listenTimeoutMs` (default 15 000) for the activator to listen.
   * `files` are more mounted files, by path relative to the config's folder (a config names them the same way),
   * each in a folder of its own as volumes are mounted (`keys/digests`): the config's folder has its own `..data`.
   * `launcher` is an argv prefix the Node command runs under (it must exec it, keeping the pid): a bench's pod-memory
   * cgroup (bench/lib/podMemory.ts).
   */
  static async start(
    config: Config | string,
    opts: { ext?: string; waitListening?: boolean; listenTimeoutMs?: number; files?: Record<string, string>; env?: Record<string, string>; launcher?: string[] } = {},
  ): Promise<ActivatorProcess> {
    const dir = mkdtempSync(path.join(tmpdir(), "activator-test-"));
    const file = path.join(dir, `config.${opts.ext ?? "yaml"}`);
    writeConfigVersion(file, 1, typeof config === "string" ? config : YAML.stringify(withFreePorts(config)));
    for (const [name, text] of Object.entries(opts.files ?? {})) writeConfigVersion(mountedPath(dir, name), 1, text);
    const [command, ...args] = [...(opts.launcher ?? []), process.execPath, ACTIVATOR_MAIN, "--config", file];
    const act = new ActivatorProcess(dir, file, spawn(command!, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } }));
    for (const name of Object.keys(opts.files ?? {})) act.fileVersions.set(name, 1);
    if (opts.waitListening === false) return act;
    const listening = await Promise.race([act.waitForLog((l) => l.msg === "activator listening", opts.listenTimeoutMs ?? 15_000), act.exited.then((code) => code)]).catch(async (err: Error) => {
      await act.stop(); // not listening in time: nothing of it is left behind
      throw err;
    });
    if (typeof listening !== "object" || listening === null) {
      throw new Error(`activator exited (${String(listening)}) before listening:\n${act.output()}`);
    }
    act.proxyPort = listening["proxyPort"] as number;
    act.scalerPort = listening["scalerPort"] as number;
    act.adminPort = listening["adminPort"] as number;
    return act;
  }

  get proxyUrl(): string {
    return `http://127.0.0.1:${this.proxyPort}`;
  }
  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }
  get scalerAddress(): string {
    return `127.0.0.1:${this.scalerPort}`;
  }

  /** Replaces the config the way the kubelet updates a mounted ConfigMap: new dir, `..data` symlink swapped. */
  writeConfig(config: Config): void {
    const listeners = { proxy: { host: "127.0.0.1", port: this.proxyPort }, scaler: { host: "127.0.0.1", port: this.scalerPort }, admin: { host: "127.0.0.1", port: this.adminPort } };
    this.writeFileAtomically(YAML.stringify({ ...config, listeners }));
  }

  /** Writes raw text as the config file (through the `..data` symlink swap). */
  writeFileAtomically(text: string): void {
    writeConfigVersion(this.configFile, ++this.version, text);
  }

  /** Writes (or first creates) a mounted file beside the config, by relative path, through the `..data` swap. */
  writeMountedFile(name: string, text: string): void {
    const version = (this.fileVersions.get(name) ?? 0) + 1;
    this.fileVersions.set(name, version);
    writeConfigVersion(mountedPath(this.dir, name), version, text);
  }

  waitForLog(match: (l: LogLine) => boolean, timeoutMs = 5000): Promise<LogLine> {
    const found = this.logs.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.logWaiters.delete(waiter);
        reject(new Error(`no matching log line within ${timeoutMs} ms:\n${this.output()}`));
      }, timeoutMs);
      this.logWaiters.add(waiter);
    });
  }

  /** Everything the process printed, for failure messages. */
  output(): string {
    return [...this.logs.map((l) => JSON.stringify(l)), ...this.text].join("\n");
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** Kills (if still running) and removes the temp dir. */
  async stop(): Promise<void> {
    this.kill("SIGKILL");
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }

  private onLine(line: string): void {
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      this.text.push(line);
      return;
    }
    this.logs.push(parsed);
    for (const waiter of this.logWaiters) {
      if (waiter.match(parsed)) {
        this.logWaiters.delete(waiter);
        waiter.resolve(parsed);
      }
    }
  }
}
