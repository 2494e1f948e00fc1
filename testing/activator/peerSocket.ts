/**
 * A peer's link opened by hand, as another replica (or an intruder) would: a WebSocket to an activator's
 * `/peers/demand`, or the HTTP answer that refused it.
 *
 *   const link = await openPeerSocket(`${act.adminUrl}/peers/demand`, `Bearer ${token}`);
 *   if ("status" in link) ...                 // refused: HTTP status and JSON body
 *   link.hello                                // the receiver's name and incarnation, sent first
 *   link.socket.send(JSON.stringify(msg))
 *   await link.closed                         // { code, reason } once the receiver closes it
 */
import WebSocket from "ws";

export interface OpenPeerSocket {
  socket: WebSocket;
  hello: { name: string; incarnation: string };
  closed: Promise<{ code: number; reason: string }>;
}

export interface RefusedPeerSocket {
  status: number;
  body: { error?: { code?: string; message?: string } };
}

export function openPeerSocket(httpUrl: string, authorization?: string): Promise<OpenPeerSocket | RefusedPeerSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(httpUrl.replace(/^http/, "ws"), { headers: authorization ? { authorization } : {} });
    const closed = new Promise<{ code: number; reason: string }>((done) => socket.once("close", (code, reason) => done({ code, reason: String(reason) })));
    socket.once("unexpected-response", (req, res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as RefusedPeerSocket["body"]) : {} });
      });
    });
    socket.once("message", (data) => resolve({ socket, hello: JSON.parse(String(data)) as OpenPeerSocket["hello"], closed }));
    socket.once("error", reject);
  });
}
