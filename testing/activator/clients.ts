/**
 * The HTTP clients users' SDKs sit on, each sending a whole request body before reading the answer: Node's
 * `http`, Node's built-in `fetch` (undici), and Python's `http.client` (run as a child process). Each returns the
 * status and body it received, or the error it saw instead (EPIPE, ECONNRESET...), so a test can check that an
 * early answer reaches every one of them.
 */
import { execFile } from "node:child_process";
import http from "node:http";

export interface ClientOutcome {
  status?: number;
  body?: string;
  /** Response headers (node-http only). */
  headers?: http.IncomingHttpHeaders;
  /** What the client reported instead of a response. */
  error?: string;
}

export type ClientName = "node-http" | "fetch" | "python-http.client";
export const CLIENTS: readonly ClientName[] = ["node-http", "fetch", "python-http.client"];

export function postWith(client: ClientName, url: string, body: Buffer, headers: Record<string, string> = {}): Promise<ClientOutcome> {
  switch (client) {
    case "node-http":
      return nodeHttp(url, body, headers);
    case "fetch":
      return viaFetch(url, body, headers);
    case "python-http.client":
      return pythonHttpClient(url, body, headers);
  }
}

function nodeHttp(url: string, body: Buffer, headers: Record<string, string>): Promise<ClientOutcome> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: "POST", headers: { "content-type": "application/json", "content-length": body.length, ...headers }, agent: false });
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
      res.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.end(body);
  });
}

async function viaFetch(url: string, body: Buffer, headers: Record<string, string>): Promise<ClientOutcome> {
  try {
    const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? (err as Error).message };
  }
}

const PYTHON = `
import sys, json, http.client, urllib.parse
url, headers = sys.argv[1], json.loads(sys.argv[2])
body = sys.stdin.buffer.read()
u = urllib.parse.urlsplit(url)
try:
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    c.request("POST", u.path, body=body, headers={"content-type": "application/json", **headers})
    r = c.getresponse()
    print(json.dumps({"status": r.status, "body": r.read().decode("utf-8", "replace")}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__}))
`;

function pythonHttpClient(url: string, body: Buffer, headers: Record<string, string>): Promise<ClientOutcome> {
  return new Promise((resolve, reject) => {
    const child = execFile("python3", ["-c", PYTHON, url, JSON.stringify(headers)], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python3 failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as ClientOutcome);
    });
    child.stdin!.end(body);
  });
}
