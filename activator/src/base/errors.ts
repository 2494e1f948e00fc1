import { STATUS_CODES, type ServerResponse } from "node:http";

/**
 * Every error the activator answers with, defined once: its code, HTTP status, the `reason` label it is
 * counted under in `activator_rejections_total`, and, for errors about the request's `model`, the OpenAI `param`.
 * The body is OpenAI's error shape (what OpenAI SDKs parse into their exceptions) plus details:
 * `{ "error": { "message", "type", "param", "code", ...details } }`, `type` from the status (`errorType`).
 *
 * Retry guidance for clients (docs/clients.md). The official OpenAI SDKs retry 408, 409, 429 and every 5xx twice
 * unless the response carries `x-should-retry` (obeyed first: openai-node `src/client.ts` `shouldRetry`,
 * openai-python `_base_client.py` `_should_retry`), and wait `Retry-After` when it is at most 60 s (openai-node
 * 7.60.0 `retryRequest`; above that, their own 0.5–8 s backoff) or 120 s (openai-python 3.63.0
 * `MAX_RETRY_AFTER_DELAY`; above that, no retry at all). So:
 * - `shouldRetry: true` + `Retry-After` (1 s, `RETRY_AFTER_SECONDS`): the request never reached a model server and a
 *   moment later it can (a full queue or body buffer, this replica shutting down while another takes over);
 * - `shouldRetry: false`: a retry cannot help or may do harm: the model cannot start (its cause lasts minutes; the
 *   `Retry-After` of 10 s says when asking again may tell something new), its hold already spent the model's whole
 *   cold-start budget (a retry would wait that long again, twice), the model server may have received the request
 *   (`request_timeout`, `upstream_connection_lost`), or the model was removed;
 * - nothing: the SDK's own rules fit (4xx are not retried, 408 is: the request was not received in time;
 *   `upstream_unavailable` is answered only for requests the model server did not receive or idempotent ones).
 */
export const ERRORS = {
  malformed_request: { status: 400, reason: "bad_request" },
  invalid_request: { status: 400, reason: "bad_request" },
  headers_too_large: { status: 431, reason: "bad_request" },
  unauthorized: { status: 401, reason: "unauthorized" },
  client_timeout: { status: 408, reason: "client_timeout" },
  no_route: { status: 404, reason: "no_route" },
  model_not_found: { status: 404, reason: "unknown_model", param: "model" },
  invalid_json: { status: 400, reason: "bad_request" },
  missing_model: { status: 400, reason: "bad_request", param: "model" },
  invalid_content_encoding: { status: 400, reason: "bad_request" },
  body_too_large: { status: 413, reason: "body_too_large" },
  unsupported_content_encoding: { status: 415, reason: "unsupported_content_encoding" },
  model_queue_full: { status: 503, reason: "model_queue_full", shouldRetry: true },
  global_queue_full: { status: 503, reason: "global_queue_full", shouldRetry: true },
  body_buffer_full: { status: 503, reason: "body_buffer_full", shouldRetry: true },
  shutting_down: { status: 503, reason: "shutting_down", shouldRetry: true },
  model_removed: { status: 503, reason: "model_removed", shouldRetry: false },
  // The model's pods or InferenceService say it cannot start (readiness mode kubernetes): no use holding.
  model_cannot_start: { status: 503, reason: "model_cannot_start", retryAfterSeconds: 10, shouldRetry: false },
  cold_start_timeout: { status: 504, reason: "cold_start_timeout", shouldRetry: false },
  // The model server received the request and did not answer in time.
  request_timeout: { status: 504, reason: "request_timeout", shouldRetry: false },
  upstream_unavailable: { status: 502, reason: "upstream_unavailable" },
  // The backend's connection died after the request was sent: it may have been received, so no one sends it again.
  upstream_connection_lost: { status: 502, reason: "upstream_connection_lost", shouldRetry: false },
  // The Batch API (../batch/): an input file refused at upload (its line named), a file or batch this key does not
  // own or that does not exist (one answer for both: another key's ids are not confirmed), and S3/SQS failing.
  invalid_batch_file: { status: 400, reason: "bad_request", param: "file" },
  file_not_found: { status: 404, reason: "not_found" },
  batch_not_found: { status: 404, reason: "not_found" },
  batch_storage_unavailable: { status: 503, reason: "batch_storage_unavailable", shouldRetry: true },
} as const satisfies Record<string, { status: number; reason: string; param?: string; retryAfterSeconds?: number; shouldRetry?: boolean }>;

export type ErrorCode = keyof typeof ERRORS;

/** Seconds a client should wait before retrying a 503 from the activator. */
export const RETRY_AFTER_SECONDS = 1;

/** The challenge a 401 carries (RFC 6750): the proxy accepts API keys as bearer tokens. */
export const WWW_AUTHENTICATE = "Bearer";

/** OpenAI's error `type` for a status: `authentication_error` (401), `invalid_request_error` (4xx), `server_error` (5xx). */
export function errorType(status: number): string {
  return status === 401 ? "authentication_error" : status < 500 ? "invalid_request_error" : "server_error";
}

/** JSON body of an activator error. */
function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): string {
  const def: { status: number; param?: string } = ERRORS[code];
  return JSON.stringify({ error: { message, type: errorType(def.status), param: def.param ?? null, code, ...details } });
}

/**
 * Answers `res` with the error. Returns false when that is no longer possible (headers already sent or the
 * client is gone), in which case the caller destroys the response instead.
 */
export function sendError(res: ServerResponse, code: ErrorCode, message: string, details?: Record<string, unknown>): boolean {
  if (res.headersSent || res.destroyed) return false;
  const { status } = ERRORS[code];
  const body = errorBody(code, message, details);
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  };
  const entry = ERRORS[code];
  if (status === 503) headers["retry-after"] = "retryAfterSeconds" in entry ? entry.retryAfterSeconds : RETRY_AFTER_SECONDS;
  else if (status === 401) headers["www-authenticate"] = WWW_AUTHENTICATE;
  // Read by the official OpenAI SDKs before their own retry rules (openai-node `shouldRetry`, openai-python `_should_retry`).
  if ("shouldRetry" in entry) headers["x-should-retry"] = String(entry.shouldRetry);
  res.writeHead(status, headers);
  res.end(body);
  return true;
}

/** The error as a whole HTTP/1.1 response, for a connection Node's parser gave up on (it is closed after). */
export function rawErrorResponse(code: ErrorCode, message: string): string {
  const { status } = ERRORS[code];
  const body = errorBody(code, message);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}
