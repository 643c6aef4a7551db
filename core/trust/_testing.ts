/** Trust test helpers: sealed edge envelopes per author, in chain order. */
import { ingest } from "../chain/ingest.ts";
import { type SealedEnvelope, sealEnvelope } from "../envelope/envelope.ts";
import { type TestIdentity, type TestNetwork, testNetwork } from "../testing.ts";
import type { EdgeBody } from "./edge.ts";
import { trustEdgeKind } from "./state.ts";

export const t0 = 1_700_000_000_000;

/** Signs edges in each author's chain (seq 1.. after the KEL inception, which lives in its own chain). */
export class EdgeWriter {
  readonly #heads = new Map<string, { seq: number; cid: string }>();
  constructor(readonly net: string) {}

  async edge(
    author: TestIdentity,
    to: TestIdentity | string,
    score: number,
    options: Partial<Omit<EdgeBody, "to" | "score">> & { ts?: number } = {},
  ): Promise<SealedEnvelope> {
    const head = this.#heads.get(author.did);
    const { ts, ...rest } = options;
    const body: EdgeBody = {
      to: typeof to === "string" ? to : to.did,
      score,
      graph: rest.graph ?? "social",
      ...(rest.label !== undefined ? { label: rest.label } : {}),
      ...(rest.expires !== undefined ? { expires: rest.expires } : {}),
    };
    const sealed = await sealEnvelope({
      net: this.net,
      kind: trustEdgeKind,
      seq: head ? head.seq + 1 : 0,
      prev: head ? head.cid : null,
      ts: ts ?? t0,
      body,
    }, author.signer);
    this.#heads.set(author.did, { seq: sealed.envelope.seq, cid: sealed.cid });
    return sealed;
  }
}

export async function trustNetwork(count: number): Promise<TestNetwork & { writer: EdgeWriter }> {
  const network = await testNetwork(count, { now: t0 + 1000 });
  return { ...network, writer: new EdgeWriter(network.net) };
}

export async function accept(network: TestNetwork, sealed: SealedEnvelope[]): Promise<void> {
  const outcomes = await ingest(network.deps, sealed, { source: "import", atomicity: "all" });
  for (const outcome of outcomes) {
    if (outcome.status !== "accepted") throw new Error(`not accepted: ${JSON.stringify(outcome)}`);
  }
}
