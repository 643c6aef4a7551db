import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import * as dagCbor from "@ipld/dag-cbor";
import { toBase64, utf8Encode } from "../core/bytes.ts";
import { IcnError, InvalidInputError } from "../core/errors.ts";
import { testIdentity } from "../core/testing.ts";
import * as control from "./control.ts";

async function refused(run: () => unknown, pattern?: RegExp): Promise<void> {
  try {
    await run();
  } catch (error) {
    assert(error instanceof IcnError, `not an IcnError (a CLI bug exit): ${error}`);
    if (pattern) assert(pattern.test(error.message), error.message);
    return;
  }
  throw new Error("was accepted");
}

Deno.test("decodeSubmitRequest() round-trips encodeSubmitRequest()", () => {
  const request = { kind: "ledger.transfer", body: { amount: 5, memo: "hi" } };
  const wire = control.encodeSubmitRequest(request);
  assertEquals(control.decodeSubmitRequest(wire), request);
  assertEquals(control.decodeSubmitRequest(utf8Encode(JSON.stringify(wire))), request);
});

Deno.test("decodeSubmitRequest() refuses unknown fields (were ignored)", async () => {
  const wire = { ...control.encodeSubmitRequest({ kind: "a.b", body: 1 }), extra: true };
  await refused(() => control.decodeSubmitRequest(wire), /unexpected field "extra"/);
});

Deno.test("decodeSubmitRequest() refuses a body that is not base64 with a typed error (was a DOMException)", async () => {
  await refused(() => control.decodeSubmitRequest({ kind: "a.b", body: "%%%" }), /base64/);
  await refused(() => control.decodeSubmitRequest({ kind: "a.b", body: "AAE" }), /base64/);
});

Deno.test("decodeSubmitRequest() refuses a non-canonical or oversized body, a bad kind and bad JSON", async () => {
  // {y: 2, x: 1}: keys out of canonical order (the decoder takes it, re-encoding differs).
  const loose = toBase64(new Uint8Array([0xa2, 0x61, 0x79, 0x02, 0x61, 0x78, 0x01]));
  await refused(() => control.decodeSubmitRequest({ kind: "a.b", body: loose }), /canonical/);
  const big = toBase64(dagCbor.encode(new Uint8Array(64 * 1024)));
  await refused(() => control.decodeSubmitRequest({ kind: "a.b", body: big }), /at most/);
  await refused(() => control.decodeSubmitRequest({ kind: "A B", body: "AQ==" }), /\$\.kind/);
  await refused(() => control.decodeSubmitRequest(utf8Encode("{")), /not valid JSON/);
  await refused(
    () => control.decodeSubmitRequest(new Uint8Array(control.controlBodyBytesMax + 1)),
    /the limit/,
  );
});

Deno.test("readControlBody() refuses a body over the limit without reading it all", async () => {
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(64 * 1024));
    },
  });
  const request = new Request("http://127.0.0.1/control/submit", {
    method: "POST",
    body: endless,
  });
  await refused(() => control.readControlBody(request), /the limit is/);
  assert(pulled < 10, `read ${pulled} chunks`);
  const declared = new Request("http://127.0.0.1/control/submit", {
    method: "POST",
    body: "{}",
    headers: { "content-length": String(10 * 1024 * 1024) },
  });
  await refused(() => control.readControlBody(declared), /the limit is/);
});

Deno.test("decodeSubmitReply() refuses a malformed reply with a typed error (was a TypeError)", async () => {
  const someone = await testIdentity(1);
  const good = control.encodeSubmitReply(someone.inception, {
    status: "accepted",
    cid: someone.inception.cid,
    envelope: someone.inception.envelope,
  });
  assertEquals((await control.decodeSubmitReply(good)).cid, someone.inception.cid);
  await refused(() => control.decodeSubmitReply({ cid: good.cid, envelope: good.envelope }));
  await refused(() => control.decodeSubmitReply(null));
  await refused(() => control.decodeSubmitReply({ ...good, outcome: { status: "maybe" } }));
  await refused(() => control.decodeSubmitReply({ ...good, envelope: "!!" }));
  await refused(() => control.decodeSubmitReply({ ...good, cid: "bafyother" }), /another CID/);
  assert(new InvalidInputError("x") instanceof IcnError);
});

Deno.test("readControlReply() and controlError() read any reply of the node without throwing a TypeError (a null reply did)", async () => {
  const reply = (body: string) => new Response(body, { status: 422 });
  assertEquals(await control.readControlReply(reply("null")), null);
  assertEquals(await control.readControlReply(reply("{")), null);
  assertEquals(control.controlError(null), {});
  assertEquals(control.controlError({ error: "x" }), {});
  assertEquals(control.controlError({ error: { code: 5, message: "m" } }), {
    code: undefined,
    message: "m",
  });
  const value = await control.readControlReply(
    reply(JSON.stringify({ error: { code: "rejected", message: "no" } })),
  );
  assertEquals(control.controlError(value), { code: "rejected", message: "no" });
  const huge = new Response(new Uint8Array(control.controlReplyBytesMax + 1));
  await refused(() => control.readControlReply(huge), /the limit is/);
});
