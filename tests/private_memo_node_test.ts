/**
 * Private memos through running nodes (issue 21): three `icn node run` processes, one with the
 * app gateway. The payer's `icn ledger transfer --private-memo` goes through its node's control
 * API and reaches the others by gossip; payer and payee read the memo in `icn ledger history`
 * (the CLI decrypts locally with their keystores), the third member reads `(private)`, and
 * neither the third member's hledger export nor the gateway's history and event stream (to the
 * third member or the payer: the gateway holds no member's keys) carry the plaintext or the
 * sealed string.
 */
import { privateMemoPrefix } from "../core/ledger/private_memo.ts";
import { assert, assertEquals, waitFor } from "./_node_fixture.ts";
import {
  foundCooperative,
  killAll,
  nodeInfo,
  ok,
  spawnNode,
  status,
  stopWithin,
} from "./_node_process.ts";

const secret = "door code for the tool shed is 4417";

interface HistoryRow {
  id: string;
  memo: string;
}

async function historyOf(dir: string, member?: string): Promise<HistoryRow[]> {
  const out = await ok(dir, "--json", "ledger", "history", ...(member ? [member] : []));
  return (JSON.parse(out) as { entries: HistoryRow[] }).entries;
}

/** The text of `url`'s event stream until `count` envelope events or 20 s. */
async function eventStream(url: string, token: string, count: number): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  assertEquals(response.status, 200);
  const reader = response.body!.getReader();
  let text = "";
  const deadline = Date.now() + 20_000;
  try {
    while ((text.match(/event: envelope/g) ?? []).length < count && Date.now() < deadline) {
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
  return text;
}

Deno.test({
  name:
    "private memos through running nodes: payer and payee read it, a third member and the gateway show (private)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-memo-node-" });
    const dirs = ["payer", "payee", "third"].map((name) => `${root}/${name}`);
    const [payer, payee, third] = dirs;
    const children: Deno.ChildProcess[] = [];
    try {
      const [payerDid, payeeDid] = await foundCooperative(root, dirs);
      children.push(spawnNode(payer, "--gateway", "127.0.0.1:0"));
      const first = await nodeInfo(payer);
      const bootstrap = first.listen.find((a) => a.startsWith("/ip4/127.0.0.1/"))!;
      children.push(spawnNode(payee, "--bootstrap", bootstrap));
      children.push(spawnNode(third, "--bootstrap", bootstrap));
      await Promise.all([nodeInfo(payee), nodeInfo(third)]);
      // Sealing needs the payee's key event log on the payer's node: wait for every KEL.
      await waitFor("peers and KELs", async () => {
        const all = await Promise.all(dirs.map(status));
        return all[0].peers.filter((p) => p.did).length === 2 &&
          all.every((s) => s.envelopes === 3);
      }, 60_000);

      // The payer writes while its node runs: the CLI goes through the control API.
      const sent = JSON.parse(
        await ok(
          payer,
          "--json",
          "ledger",
          "transfer",
          "--to",
          payeeDid,
          "--amount",
          "5",
          "--private-memo",
          secret,
          "--id",
          "shed-1",
        ),
      );
      assertEquals(sent.status, "accepted");
      await waitFor("the transfer on every node", async () => {
        const all = await Promise.all(dirs.map(status));
        return all.every((s) => s.envelopes === 4);
      }, 30_000);

      // Payer and payee read the memo; the payee's text history too.
      assertEquals((await historyOf(payer)).find((r) => r.id === "shed-1")?.memo, secret);
      assertEquals((await historyOf(payee)).find((r) => r.id === "shed-1")?.memo, secret);
      assert((await ok(payee, "ledger", "history")).includes(secret), "payee's text history");
      // The third member's node holds and validated it, but the CLI shows (private).
      assertEquals(
        (await historyOf(third, payerDid)).find((r) => r.id === "shed-1")?.memo,
        "(private)",
      );
      const thirdText = await ok(third, "ledger", "history", payerDid);
      assert(thirdText.includes("(private)") && !thirdText.includes("4417"), thirdText);
      const hledger = await ok(third, "ledger", "export", "--format", "hledger");
      assert(hledger.includes("(private)"), "the hledger export marks the memo private");
      assert(!hledger.includes("4417") && !hledger.includes(privateMemoPrefix), hledger);

      // The gateway: history and events show (private) to the third member and to the payer.
      const gateway = JSON.parse(await Deno.readTextFile(`${payer}/node.json`)).gateway as string;
      assert(gateway, "the payer's node serves the gateway");
      const api = `${gateway}/api/v1`;
      for (const dir of [third, payer]) {
        const { token } = JSON.parse(
          await ok(dir, "--json", "id", "login", gateway, "--scope", "read"),
        );
        const response = await fetch(`${api}/accounts/${payerDid}/history`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const text = await response.text();
        assertEquals(response.status, 200, text);
        assert(!text.includes("4417") && !text.includes(privateMemoPrefix), text);
        const row = (JSON.parse(text).items as (HistoryRow & { memoPrivate: boolean })[])
          .find((r) => r.id === "shed-1");
        assertEquals([row?.memo, row?.memoPrivate], ["(private)", true]);
        const events = await eventStream(`${api}/events?kind=ledger.transfer&since=-1`, token, 1);
        assert(events.includes('"memo":"(private)"'), events);
        assert(!events.includes("4417") && !events.includes(privateMemoPrefix), events);
      }

      for (let i = children.length - 1; i >= 0; i--) {
        const { code } = await stopWithin(children[i], 10_000);
        assertEquals(code, 0, `node ${dirs[i]} exit code`);
      }
      children.length = 0;
    } finally {
      await killAll(children);
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
