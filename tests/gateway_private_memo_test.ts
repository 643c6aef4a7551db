/**
 * The app gateway never serves a private memo (issue 21): history shows `(private)` with
 * `memoPrivate: true` to everyone, the payer and the payee too (the gateway holds no member's
 * keys; the CLI decrypts locally), and the event stream's bodies carry `(private)`, never the
 * sealed string. In process, over an in-memory network; tests/private_memo_node_test.ts does it
 * with a real node and real sealing.
 */
import { privateMemoPrefix } from "../core/ledger/private_memo.ts";
import { bearer, prepareAndSign, signIn, testGateway } from "../net/gateway/_testing.ts";
import { assert, assertEquals } from "./_node_fixture.ts";

// Stands for an age file: the gateway treats any memo with the prefix as private.
const sealed = `${privateMemoPrefix}YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBzZWNyZXQ=`;

Deno.test("gateway: history and events show a private memo as (private) to every reader, a plain memo as it is", async () => {
  const t = await testGateway({ rates: { write: { rate: 1000, burst: 1000 } } });
  const [, alice, bob] = t.network.members;
  const currency = t.network.genesis.currencies[0].code;
  const aliceToken = await signIn(t, alice);
  for (const memo of [sealed, "plain words"]) {
    const signed = await prepareAndSign(t, alice, aliceToken, {
      kind: "ledger.transfer",
      body: { to: bob.did, amount: 100, currency, memo },
    });
    const response = await t.request("/api/v1/envelopes", {
      json: signed,
      headers: bearer(aliceToken),
    });
    assertEquals(response.status, 200, await response.clone().text());
  }

  const readers = [aliceToken, await signIn(t, bob, ["read"]), await signIn(t, t.node, ["read"])];
  for (const token of readers) {
    const response = await t.request(`/api/v1/accounts/${alice.did}/history`, {
      headers: bearer(token),
    });
    const text = await response.text();
    assertEquals(response.status, 200, text);
    assert(!text.includes(privateMemoPrefix), `history serves the sealed memo: ${text}`);
    const items = JSON.parse(text).items as { memo: string; memoPrivate: boolean }[];
    assertEquals(items.map((i) => [i.memo, i.memoPrivate]), [
      ["plain words", false],
      ["(private)", true],
    ]);
  }

  // The stream replays the log from the start: the two transfers' bodies.
  const controller = new AbortController();
  const stream = await t.gateway.app.request("/api/v1/events?kind=ledger.transfer&since=-1", {
    headers: bearer(readers[2]),
    signal: controller.signal,
  }, { remoteAddr: "127.0.0.1" });
  assertEquals(stream.status, 200);
  const reader = stream.body!.getReader();
  let text = "";
  const deadline = Date.now() + 10_000;
  try {
    while ((text.match(/event: envelope/g) ?? []).length < 2 && Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const next = await Promise.race([
        reader.read(),
        new Promise<null>((r) => timer = setTimeout(() => r(null), deadline - Date.now())),
      ]);
      clearTimeout(timer);
      if (next === null || next.done) break;
      text += new TextDecoder().decode(next.value);
    }
  } finally {
    await reader.cancel().catch(() => {});
    controller.abort();
  }
  assert(!text.includes(privateMemoPrefix), `the event stream serves the sealed memo: ${text}`);
  const events = text.split("\n").filter((l) => l.startsWith("data: ")).map((l) =>
    JSON.parse(l.slice(6)) as { body: { memo: string }; memoPrivate?: boolean }
  );
  assertEquals(events.map((e) => [e.body.memo, e.memoPrivate ?? false]), [
    ["(private)", true],
    ["plain words", false],
  ]);
  await t.gateway.events.settled();
  assertEquals(t.gateway.events.clients, 0);
});
