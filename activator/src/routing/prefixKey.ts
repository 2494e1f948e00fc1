/**
 * The affinity key of an LLM request: the leading part of its prompt, the part a vLLM replica's prefix cache can
 * reuse (vLLM automatic prefix caching reuses KV blocks of an identical token prefix). Pure.
 *
 * - `POST /v1/chat/completions` (OpenAI Chat Completions): the messages up to and including the first `user`
 *   message (system / developer prompt + first turn), each as `<role>\n<text>\n`, where text is a string `content`
 *   or the `text` of its `{type: "text"}` parts. Later turns are left out on purpose: turn 2 of a conversation sends
 *   turn 1 again, so its key equals turn 1's and the conversation stays on the replica that holds its cache.
 * - `POST /v1/completions`: the `prompt` (a string, or the first string of an array).
 * The text is cut to its first `maxBytes` UTF-8 bytes. Anything else (another path, no messages, no text) has no
 * key (null): it is placed by load alone.
 */

/** Default bytes of canonicalised prompt hashed (about 250 tokens of English: a system prompt and the start of the first turn). */
export const DEFAULT_PREFIX_BYTES = 1024;

export function prefixKey(path: string, body: unknown, maxBytes = DEFAULT_PREFIX_BYTES): string | null {
  if (!body || typeof body !== "object") return null;
  let text = "";
  if (path === "/v1/chat/completions") {
    const messages = (body as { messages?: unknown }).messages;
    if (!Array.isArray(messages)) return null;
    for (const message of messages) {
      if (!message || typeof message !== "object") continue;
      const { role, content } = message as { role?: unknown; content?: unknown };
      text += `${typeof role === "string" ? role : ""}\n${contentText(content)}\n`;
      if (role === "user" || Buffer.byteLength(text) >= maxBytes) break;
    }
  } else if (path === "/v1/completions") {
    const prompt = (body as { prompt?: unknown }).prompt;
    text = typeof prompt === "string" ? prompt : Array.isArray(prompt) && typeof prompt[0] === "string" ? prompt[0] : "";
  } else {
    return null;
  }
  if (text.replace(/\s/g, "") === "") return null;
  return truncateUtf8(text, maxBytes);
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let text = "";
  for (const part of content) {
    if (part && typeof part === "object" && (part as { type?: unknown }).type === "text") {
      const t = (part as { text?: unknown }).text;
      if (typeof t === "string") text += t;
    }
  }
  return text;
}

/** The longest prefix of `text` whose UTF-8 encoding fits in `maxBytes` (never splits a character). */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back off to a character boundary
  return bytes.subarray(0, end).toString("utf8");
}
