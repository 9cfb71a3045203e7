// The wire codec: msgpack through the vendored @msgpack/msgpack bundle
// (static/vendor/msgpack, loaded by index.html before the modules), which sets
// globalThis.MessagePack. Gateways send binary msgpack; the client sends it too.

const MessagePack = globalThis.MessagePack;
if (!MessagePack) {
  throw new Error("the msgpack bundle did not load (static/vendor/msgpack/msgpack.min.js)");
}

const decoder = new MessagePack.Decoder();
const encoder = new MessagePack.Encoder({ ignoreUndefined: true });

/** Decode one message: binary (msgpack) or text (JSON) WebSocket data. */
export function decode(data) {
  if (typeof data === "string") return JSON.parse(data);
  return decoder.decode(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
}

/** The msgpack bytes of a message. */
export function encode(message) {
  return encoder.encode(message);
}

/** Hex text to bytes (the protocol fixtures keep msgpack as hex). */
export function fromHex(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
