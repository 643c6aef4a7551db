/**
 * Derived trust state, written by the `trust.edge` handler in the same atomic
 * commit as the envelope, and the readers the CLI and other domains use:
 *
 * - `["trust", "out", graph, from, to]` → EdgeRecord: current edges by truster
 * - `["trust", "in", graph, to, from]`  → EdgeRecord: the same, by trustee
 * - `["trust", "log", ts, cid]`         → EdgeEvent: every edge ever made, in
 *   time order; score history is replayed from it (see history.ts)
 *
 * The latest edge from A to B in a graph replaces earlier ones: A's envelopes
 * are applied in chain order, so "latest" is the highest seq whatever order
 * other authors' envelopes arrive in. Score 0 removes the edge (the event is
 * kept). Expired edges stay stored but count as absent from their expiry on.
 */
import type { KindHandler } from "../chain/ingest.ts";
import { chainKeys } from "../chain/keys.ts";
import { RejectedError } from "../errors.ts";
import type { Genesis } from "../governance/genesis.ts";
import { isMember, type StateReader } from "../governance/membership.ts";
import {
  checkEdgeBody,
  type GraphScope,
  scoreScale,
  type TrustGraphName,
  trustGraphs,
} from "./edge.ts";
import { explainScore, type ScoreExplanation } from "./score.ts";

export const trustEdgeKind = "trust.edge";

export interface EdgeRecord {
  from: string;
  to: string;
  graph: TrustGraphName;
  /** Thousandths, 1..1000. */
  score: number;
  /** Envelope time and position. */
  ts: number;
  seq: number;
  cid: string;
  label?: string;
  expires?: number;
}

export interface EdgeEvent {
  from: string;
  to: string;
  graph: TrustGraphName;
  score: number;
  ts: number;
  cid: string;
  expires?: number;
}

export const trustKeys = {
  out: (graph: TrustGraphName, from: string, to: string) => ["trust", "out", graph, from, to],
  outOf: (graph: TrustGraphName, from: string) => ["trust", "out", graph, from],
  in: (graph: TrustGraphName, to: string, from: string) => ["trust", "in", graph, to, from],
  inOf: (graph: TrustGraphName, to: string) => ["trust", "in", graph, to],
  outGraph: (graph: TrustGraphName) => ["trust", "out", graph],
  log: (ts: number, cid: string) => ["trust", "log", ts, cid],
  logAll: ["trust", "log"],
} as const;

/** True when the edge counts at time `ts`. */
export function edgeLive(edge: { expires?: number }, ts: number): boolean {
  return edge.expires === undefined || edge.expires > ts;
}

const edgeHandler: KindHandler = {
  async apply(ctx) {
    const { envelope } = ctx;
    const body = checkEdgeBody(envelope.body, envelope);
    const genesis = ctx.net ? await ctx.state.get<Genesis>(chainKeys.genesis(ctx.net)) : undefined;
    if (!genesis) {
      throw new RejectedError("trust_network", "Cannot accept trust edge: no cooperative joined");
    }
    if (!(await isMember(ctx.state, genesis, envelope.author, envelope.ts))) {
      throw new RejectedError(
        "trust_not_member",
        `Cannot accept trust edge from "${envelope.author}": not a member of the cooperative`,
      );
    }
    const event: EdgeEvent = {
      from: envelope.author,
      to: body.to,
      graph: body.graph,
      score: body.score,
      ts: envelope.ts,
      cid: ctx.cid,
      ...(body.expires !== undefined ? { expires: body.expires } : {}),
    };
    ctx.state.set(trustKeys.log(envelope.ts, ctx.cid), event);
    const outKey = trustKeys.out(body.graph, envelope.author, body.to);
    const inKey = trustKeys.in(body.graph, body.to, envelope.author);
    if (body.score === 0) {
      ctx.state.delete(outKey);
      ctx.state.delete(inKey);
      return;
    }
    const record: EdgeRecord = {
      from: envelope.author,
      to: body.to,
      graph: body.graph,
      score: body.score,
      ts: envelope.ts,
      seq: envelope.seq,
      cid: ctx.cid,
      ...(body.label !== undefined ? { label: body.label } : {}),
      ...(body.expires !== undefined ? { expires: body.expires } : {}),
    };
    ctx.state.set(outKey, record);
    ctx.state.set(inKey, record);
  },
};

/** `trust.*` handlers for `core/kinds.ts`. */
export const trustKinds: ReadonlyMap<string, KindHandler> = new Map([[trustEdgeKind, edgeHandler]]);

function graphsOf(scope: GraphScope): readonly TrustGraphName[] {
  return scope === "all" ? trustGraphs : [scope];
}

/** Live edges out of `from` (scope `all`: every graph, each listed). Sorted by graph, then target. */
export async function listEdgesFrom(
  state: StateReader,
  query: { from: string; scope: GraphScope; ts: number },
): Promise<EdgeRecord[]> {
  const { from, scope, ts } = query;
  const out: EdgeRecord[] = [];
  for (const graph of graphsOf(scope)) {
    for (const { value } of await state.list<EdgeRecord>(trustKeys.outOf(graph, from))) {
      if (edgeLive(value, ts)) out.push(value);
    }
  }
  return out;
}

/** Live edges into `to`. */
export async function listEdgesTo(
  state: StateReader,
  query: { to: string; scope: GraphScope; ts: number },
): Promise<EdgeRecord[]> {
  const { to, scope, ts } = query;
  const out: EdgeRecord[] = [];
  for (const graph of graphsOf(scope)) {
    for (const { value } of await state.list<EdgeRecord>(trustKeys.inOf(graph, to))) {
      if (edgeLive(value, ts)) out.push(value);
    }
  }
  return out;
}

/** Highest live score per counterpart (the `all` rule), thousandths. */
function strongest(edges: readonly EdgeRecord[], side: "from" | "to"): Map<string, number> {
  const out = new Map<string, number>();
  for (const edge of edges) {
    const key = edge[side];
    out.set(key, Math.max(out.get(key) ?? 0, edge.score));
  }
  return out;
}

export interface ScoreQuery {
  observer: string;
  target: string;
  scope: GraphScope;
  ts: number;
  /** Who may act as an intermediary (members at `ts`). */
  isMember: (did: string) => Promise<boolean> | boolean;
}

/** Score of `target` seen by `observer`, from derived state, with its explanation. */
export async function scoreFromState(
  state: StateReader,
  query: ScoreQuery,
): Promise<ScoreExplanation> {
  const { observer, target, scope, ts } = query;
  if (observer === target) {
    return explainScore({ observer, target, graph: scope, direct: scoreScale, paths: [] });
  }
  const outs = strongest(await listEdgesFrom(state, { from: observer, scope, ts }), "to");
  const ins = strongest(await listEdgesTo(state, { to: target, scope, ts }), "from");
  const paths: { via: string; toVia: number; fromVia: number }[] = [];
  for (const [via, fromVia] of [...ins].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const toVia = outs.get(via);
    if (toVia === undefined || via === observer || via === target) continue;
    if (!(await query.isMember(via))) continue;
    paths.push({ via, toVia, fromVia });
  }
  return explainScore({
    observer,
    target,
    graph: scope,
    direct: outs.get(target) ?? 0,
    paths,
  });
}

/** Every edge event, oldest first (ties by CID). */
export async function readEdgeEvents(state: StateReader): Promise<EdgeEvent[]> {
  return (await state.list<EdgeEvent>(trustKeys.logAll)).map((entry) => entry.value);
}

/** Every current edge of every graph (expired ones included; callers filter by time). */
export async function readAllEdges(state: StateReader): Promise<EdgeRecord[]> {
  const out: EdgeRecord[] = [];
  for (const graph of trustGraphs) {
    for (const { value } of await state.list<EdgeRecord>(trustKeys.outGraph(graph))) {
      out.push(value);
    }
  }
  return out;
}

/** A membership predicate at `ts` with a cache, for the score readers. */
export function memberPredicate(
  state: StateReader,
  genesis: Genesis,
  ts: number,
): (did: string) => Promise<boolean> {
  const cache = new Map<string, boolean>();
  return async (did) => {
    let known = cache.get(did);
    if (known === undefined) {
      known = await isMember(state, genesis, did, ts);
      cache.set(did, known);
    }
    return known;
  };
}
