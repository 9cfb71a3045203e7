// One WebSocket to a gateway (DESIGN.md §6): `hello` with a world ticket, or
// `resume` with the last `new_world`'s token after the socket dropped. The
// Connection only moves messages; the Game decides what they mean.

import { decode, encode } from "./codec.js";

export const PROTOCOL_VERSION = 1;
// Close codes after which coming back makes no sense (protocol/client.py): the
// character connected elsewhere, no valid hello, or cut off for abuse.
export const CLOSE_POLICY = 1008;
export const CLOSE_UNAUTHENTICATED = 4001;
export const CLOSE_REPLACED = 4002;
export const CLOSE_MOVED = 4003;
export const FINAL_CLOSES = new Set([CLOSE_POLICY, CLOSE_UNAUTHENTICATED, CLOSE_REPLACED]);

export class Connection {
  /**
   * @param {string} url the gateway's ws:// address
   * @param {object} greeting the first message: hello or resume
   * @param {object} handlers {onMessage(msg), onClose(code, reason), onOpen()}
   */
  constructor(url, greeting, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.closedByUs = false;
    this.sent = 0;
    this.received = 0;
    this.bytes = 0; // received, as the socket gave them (what a frame costs the client)
    this.ws = new WebSocket(url);
    this.ws.binaryType = "arraybuffer";
    this.ws.onopen = () => {
      this.send(greeting);
      if (handlers.onOpen) handlers.onOpen();
    };
    this.ws.onmessage = (event) => {
      this.received += 1;
      const size = event.data.byteLength !== undefined ? event.data.byteLength : event.data.length;
      this.bytes += size;
      let message;
      try {
        message = decode(event.data);
      } catch (exc) {
        console.warn("undecodable message from the gateway", exc);
        return;
      }
      handlers.onMessage(message, size);
    };
    this.ws.onclose = (event) => handlers.onClose(event.code, event.reason, this.closedByUs);
  }

  get open() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (!this.open) return false;
    this.ws.send(encode(message));
    this.sent += 1;
    return true;
  }

  close() {
    this.closedByUs = true;
    this.ws.close(1000, "bye");
  }
}
