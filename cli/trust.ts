/** `icn trust ...`: edges, scores with explanations, anomalies, history. */
import { StateOverlay } from "../core/chain/state.ts";
import { InvalidInputError, NotFoundError } from "../core/errors.ts";
import { isMember, membersAt, paramsAt } from "../core/governance/membership.ts";
import { shortDid } from "../core/identity/did.ts";
import { terminalSafe } from "../core/safe_text.ts";
import { trustClassOf } from "../core/policy/policy.ts";
import { scanAnomalies, thresholdsFromParams } from "../core/trust/anomalies.ts";
import {
  type EdgeBody,
  formatScore,
  type GraphScope,
  parseScore,
  scoreScale,
  type TrustGraphName,
} from "../core/trust/edge.ts";
import { TrustGraph } from "../core/trust/graph.ts";
import { replayHistory } from "../core/trust/history.ts";
import {
  edgeLive,
  type EdgeRecord,
  listEdgesFrom,
  listEdgesTo,
  memberPredicate,
  readAllEdges,
  readEdgeEvents,
  scoreFromState,
  trustEdgeKind,
  trustKeys,
} from "../core/trust/state.ts";
import { anchorsAt } from "../core/trust/view.ts";
import { contactLabels, resolveDid } from "./contacts.ts";
import type { CliContext } from "./context.ts";
import type { CommandResult } from "./output.ts";

/** `trust add`'s options, parsed where they are declared (cli/trust_commands.ts). */
export interface AddOptions {
  graph: TrustGraphName;
  label?: string;
  /** How long the edge counts, in milliseconds. */
  expires?: number;
}

export interface RemoveOptions {
  graph: TrustGraphName;
}

export interface ListOptions {
  graph?: GraphScope;
  to?: string;
  from?: string;
  limit: number;
  offset: number;
}

export interface ScoreOptions {
  from?: string;
  graph?: GraphScope;
  explain?: boolean;
}

/** A member named on the command line: a DID, a contact name or a unique DID prefix. */
function checkDid(ctx: CliContext, text: string, what = "member"): Promise<string> {
  return resolveDid(ctx, text, { what });
}

function edgeJson(edge: EdgeRecord) {
  return {
    from: edge.from,
    to: edge.to,
    graph: edge.graph,
    score: edge.score / scoreScale,
    ...(edge.label !== undefined ? { label: edge.label } : {}),
    ...(edge.expires !== undefined
      ? { expires: edge.expires, expiresAt: new Date(edge.expires).toISOString() }
      : {}),
    ts: edge.ts,
    cid: edge.cid,
  };
}

export async function add(
  ctx: CliContext,
  args: string[],
  options: AddOptions,
): Promise<CommandResult> {
  const [did, scoreText] = args;
  const to = await checkDid(ctx, did);
  const score = parseScore(scoreText);
  const { graph, label } = options;
  const me = (await ctx.readPublicIdentity()).did;
  if (to === me) throw new InvalidInputError(`Cannot vouch for "${shortDid(to)}": that is you`);
  const expires = options.expires === undefined ? undefined : ctx.clock.now() + options.expires;
  const body: EdgeBody = {
    to,
    score,
    graph,
    ...(label !== undefined ? { label } : {}),
    ...(expires !== undefined ? { expires } : {}),
  };
  const { cid, envelope: { ts } } = await ctx.submitOrThrow({ kind: trustEdgeKind, body });
  const verb = score === 0 ? "Revoked" : "Added";
  const { state, genesis } = await reader(ctx);
  const labels = await contactLabels(ctx);
  const warnings = (await isMember(state, genesis, to, ts))
    ? labels.warnings
    : [`${to} is not a member of this cooperative (yet)`, ...labels.warnings];
  return {
    warnings,
    data: {
      cid,
      from: me,
      to,
      graph,
      score: score / scoreScale,
      ...(label !== undefined ? { label } : {}),
      ...(expires !== undefined ? { expires, expiresAt: new Date(expires).toISOString() } : {}),
    },
    text: score === 0
      ? `${verb} trust in ${labels.label(to)} (${graph})`
      : `${verb} trust ${formatScore(score)} in ${labels.label(to)} (${graph})${
        expires !== undefined ? `, expires ${new Date(expires).toISOString()}` : ""
      }`,
  };
}

export async function remove(
  ctx: CliContext,
  args: string[],
  options: RemoveOptions,
): Promise<CommandResult> {
  const to = await checkDid(ctx, args[0]);
  const { graph } = options;
  const me = (await ctx.readPublicIdentity()).did;
  const { state } = await reader(ctx);
  if (!(await state.get(trustKeys.out(graph, me, to)))) {
    throw new NotFoundError(`Cannot remove trust in "${to}": you have no ${graph} edge to it`);
  }
  return add(ctx, [to, "0"], { graph });
}

async function reader(ctx: CliContext) {
  const store = await ctx.store();
  const { genesis } = await ctx.network();
  return { state: new StateOverlay(store), genesis };
}

export async function list(
  ctx: CliContext,
  _args: string[],
  options: ListOptions,
): Promise<CommandResult> {
  const { limit, offset, graph: scope = "all" } = options;
  const to = options.to === undefined ? undefined : await checkDid(ctx, options.to, "--to");
  const from = options.from === undefined
    ? (to === undefined ? (await ctx.readPublicIdentity()).did : undefined)
    : await checkDid(ctx, options.from, "--from");
  const { state } = await reader(ctx);
  const now = ctx.clock.now();
  const all = to !== undefined
    ? await listEdgesTo(state, { to, scope, ts: now })
    : await listEdgesFrom(state, { from: from!, scope, ts: now });
  const page = all.slice(offset, offset + limit);
  const labels = await contactLabels(ctx);
  const lines = page.map((edge) =>
    `${labels.label(to !== undefined ? edge.from : edge.to)}  ${
      formatScore(edge.score).padEnd(5)
    }  ${edge.graph}${edge.label ? `  ${terminalSafe(edge.label)}` : ""}${
      edge.expires !== undefined ? `  expires ${new Date(edge.expires).toISOString()}` : ""
    }`
  );
  const header = to !== undefined
    ? `${all.length} edge(s) into ${labels.label(to)}`
    : `${all.length} edge(s) from ${labels.label(from!)}`;
  return {
    warnings: labels.warnings,
    data: {
      ...(to !== undefined ? { to } : { from }),
      graph: scope,
      total: all.length,
      limit,
      offset,
      edges: page.map(edgeJson),
    },
    text: [
      header + (page.length < all.length ? ` (showing ${offset + 1}–${offset + page.length})` : ""),
      ...lines,
    ],
  };
}

export async function score(
  ctx: CliContext,
  args: string[],
  options: ScoreOptions,
): Promise<CommandResult> {
  const target = await checkDid(ctx, args[0]);
  const observer = options.from === undefined
    ? (await ctx.readPublicIdentity()).did
    : await checkDid(ctx, options.from, "--from");
  const scope = options.graph ?? "all";
  const { state, genesis } = await reader(ctx);
  const now = ctx.clock.now();
  const explanation = await scoreFromState(state, {
    observer,
    target,
    scope,
    ts: now,
    isMember: memberPredicate(state, genesis, now),
  });
  const cls = trustClassOf(explanation.score);
  const labels = await contactLabels(ctx);
  const text = [
    `${labels.label(target)}: ${explanation.score.toFixed(4)} (${cls}) seen by ${
      labels.label(observer)
    }, graph ${scope}`,
  ];
  if (options.explain) {
    const { weights } = explanation;
    text.push(
      `  direct: ${explanation.direct} × ${weights.direct} = ${explanation.directTerm.toFixed(4)}`,
      `  intermediaries: ${explanation.intermediaries.length}, mean product × ${weights.transitive} = ${
        explanation.transitiveTerm.toFixed(4)
      }`,
      ...explanation.intermediaries.map((i) =>
        `    ${
          labels.label(i.via)
        }: ${i.toVia} × ${i.fromVia} × ${weights.transitive} / ${explanation.intermediaries.length} = ${
          i.contribution.toFixed(4)
        }`
      ),
    );
    if (explanation.capped) text.push("  capped at 1");
  }
  return {
    data: {
      observer,
      target,
      graph: scope,
      score: explanation.score,
      class: cls,
      ...(options.explain ? { explanation } : {}),
    },
    warnings: labels.warnings,
    text,
  };
}

async function graphOfState(ctx: CliContext) {
  const { state, genesis } = await reader(ctx);
  const now = ctx.clock.now();
  const edges = (await readAllEdges(state)).filter((edge) => edgeLive(edge, now));
  const members = await membersAt(state, genesis, now);
  const ids = [...new Set([...members, ...edges.flatMap((e) => [e.from, e.to])])].sort();
  const index = new Map(ids.map((id, i) => [id, i]));
  const memberFlags = new Uint8Array(ids.length);
  const memberSet = new Set(members);
  ids.forEach((id, i) => memberFlags[i] = memberSet.has(id) ? 1 : 0);
  const graph = TrustGraph.fromEdges(ids.length, {
    from: Int32Array.from(edges, (e) => index.get(e.from)!),
    to: Int32Array.from(edges, (e) => index.get(e.to)!),
    score: Uint16Array.from(edges, (e) => e.score),
  }, { ids, members: memberFlags });
  return { state, genesis, now, graph, memberSet };
}

export async function anomalies(ctx: CliContext): Promise<CommandResult> {
  const { state, genesis, now, graph, memberSet } = await graphOfState(ctx);
  const thresholds = thresholdsFromParams(await paramsAt(state, genesis, now));
  const histories = replayHistory(await readEdgeEvents(state), {
    anchors: await anchorsAt(state, genesis, now),
    isMember: (did) => memberSet.has(did),
    until: now,
  });
  const report = scanAnomalies(graph, { thresholds, histories });
  const { label, warnings } = await contactLabels(ctx);
  const text: string[] = [
    `${report.rings.length} ring(s), ${report.sybils.length} Sybil cluster(s), ${report.growth.length} rapid-growth finding(s) among ${graph.n} member(s), ${graph.edgeCount} edge(s)`,
  ];
  for (const ring of report.rings) {
    text.push(
      `ring: ${ring.members.map(label).join(", ")} (mean score ${ring.meanScore.toFixed(3)})`,
      ...ring.edges.map((e) => `  ${label(e.from)} → ${label(e.to)} ${e.score}`),
    );
  }
  for (const cluster of report.sybils) {
    text.push(
      `sybil cluster of ${cluster.members.length}: ${cluster.internalEdges} internal / ${cluster.externalEdges} external edge(s), density ratio ${
        Number.isFinite(cluster.densityRatio) ? cluster.densityRatio.toFixed(1) : "∞"
      }`,
      `  members: ${cluster.members.map(label).join(", ")}`,
      ...cluster.attachments.map((e) =>
        `  attached by ${label(e.from)} → ${label(e.to)} ${e.score}`
      ),
    );
  }
  for (const g of report.growth) {
    text.push(
      `rapid growth: ${label(g.member)} ${g.from.score.toFixed(3)} (${
        new Date(g.from.ts).toISOString()
      }) → ${g.to.score.toFixed(3)} (${new Date(g.to.ts).toISOString()}), +${
        g.risePercent.toFixed(0)
      }%`,
    );
  }
  return {
    data: {
      members: graph.n,
      edges: graph.edgeCount,
      thresholds,
      rings: report.rings,
      sybils: report.sybils.map((s) => ({
        ...s,
        densityRatio: Number.isFinite(s.densityRatio) ? s.densityRatio : null,
      })),
      growth: report.growth,
    },
    warnings,
    text,
  };
}

export async function history(ctx: CliContext, args: string[]): Promise<CommandResult> {
  const did = await checkDid(ctx, args[0]);
  const { state, genesis } = await reader(ctx);
  const now = ctx.clock.now();
  const member = memberPredicate(state, genesis, now);
  const events = await readEdgeEvents(state);
  const dids = [...new Set(events.flatMap((e) => [e.from, e.to]))];
  const memberSet = new Set<string>();
  for (const d of dids) if (await member(d)) memberSet.add(d);
  const anchors = await anchorsAt(state, genesis, now);
  const points = replayHistory(events, {
    anchors,
    isMember: (d) => memberSet.has(d),
    only: new Set([did]),
    until: now,
  }).get(did) ?? [];
  const labels = await contactLabels(ctx);
  return {
    warnings: labels.warnings,
    data: {
      did,
      view: "cooperative",
      anchors,
      points: points.map((p) => ({
        ts: p.ts,
        time: new Date(p.ts).toISOString(),
        score: p.score,
        class: trustClassOf(p.score),
      })),
    },
    text: [
      `${
        labels.label(did)
      }: ${points.length} change(s) of the cooperative's score (mean over ${anchors.length} anchor(s))`,
      ...points.map((p) =>
        `  ${new Date(p.ts).toISOString()}  ${p.score.toFixed(4)}  ${trustClassOf(p.score)}`
      ),
    ],
  };
}
