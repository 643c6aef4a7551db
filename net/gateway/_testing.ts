/**
 * A gateway over an in-memory test network (three founders), with a write lane as the node's
 * one writer: what the gateway's unit tests and the API tests in tests/ drive with
 * `app.request()`. Also signs in and signs prepared envelopes the way an app does.
 */
import { fromBase64, toBase64 } from "../../core/bytes.ts";
import { signEd25519 } from "../../core/identity/keys.ts";
import { seededRng, silentLogger } from "../../core/ports.ts";
import type { Store } from "../../core/store/store.ts";
import { type TestIdentity, type TestNetwork, testNetwork } from "../../core/testing.ts";
import { createNodeMetrics } from "../metrics.ts";
import { WriteLane } from "../write_lane.ts";
import { createGateway, type Gateway, type GatewayInit, type GatewayStatus } from "./app.ts";

export const testNow = 1_700_000_000_000;

export interface TestGateway {
  gateway: Gateway;
  network: TestNetwork;
  lane: WriteLane;
  /** The node: member 0 of the network. */
  node: TestIdentity;
  request(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
}

export async function testGateway(
  init: GatewayInit = {},
  options: {
    network?: TestNetwork;
    node?: TestIdentity;
    /** Networks served beside the home network (a federation's store, for its positions). */
    served?: { id: string; store: Store }[];
    /**
     * Other cooperatives the node serves, each with its own write lane (a member of two
     * cooperatives uses both through this one gateway).
     */
    others?: TestNetwork[];
  } = {},
): Promise<TestGateway> {
  const network = options.network ?? await testNetwork(3, { now: testNow });
  const node = options.node ?? network.members[0];
  const metrics = createNodeMetrics({ processMetrics: false });
  const ref: { gateway?: Gateway } = {};
  const lane = new WriteLane({ ingest: network.deps, metrics }, {
    net: network.net,
    onAccepted: () => ref.gateway?.accepted(),
  });
  const status = (): Promise<GatewayStatus> =>
    Promise.resolve({
      did: node.did,
      peerId: "12D3KooWtest",
      net: network.net,
      version: "test",
      ready: true,
      syncLag: 0,
      envelopes: 0,
      peers: 0,
      networks: [{ id: network.net, envelopes: 0, syncLag: 0, peers: 0 }],
    });
  const lanes = new Map<string, WriteLane>([[network.net, lane]]);
  for (const other of options.others ?? []) {
    lanes.set(
      other.net,
      new WriteLane({ ingest: other.deps, metrics }, {
        net: other.net,
        onAccepted: () => ref.gateway?.accepted(other.net),
      }),
    );
  }
  const gateway = createGateway({
    clock: network.deps.clock,
    rng: seededRng(42),
    logger: silentLogger,
    net: network.net,
    genesis: network.genesis,
    store: network.deps.store,
    node: { did: node.did, ed25519: node.ed25519 },
    ingest: async (sealed, net) => {
      const writer = lanes.get(net);
      if (!writer) throw new Error(`test gateway: no write lane for network ${net}`);
      return (await writer.ingest([sealed], "local"))[0];
    },
    status,
    served: () => [
      { id: network.net, store: network.deps.store },
      ...(options.others ?? []).map((o) => ({ id: o.net, store: o.deps.store })),
      ...(options.served ?? []),
    ],
  }, init);
  ref.gateway = gateway;
  await gateway.start();
  const request = (path: string, requestInit: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = requestInit;
    const headers = new Headers(rest.headers);
    if (json !== undefined) headers.set("content-type", "application/json");
    return Promise.resolve(gateway.app.request(path, {
      ...rest,
      headers,
      ...(json !== undefined ? { method: rest.method ?? "POST", body: JSON.stringify(json) } : {}),
    }, { remoteAddr: "127.0.0.1" }));
  };
  return { gateway, network, lane, node, request };
}

/** Signs in `member` through challenge and token (to network `net`, default home); the token. */
export async function signIn(
  t: TestGateway,
  member: TestIdentity,
  scopes: string[] = ["read", "ledger:write", "trust:write", "gov:vote"],
  net?: string,
): Promise<string> {
  const query = net === undefined ? "" : `?net=${net}`;
  const challenge = await (await t.request(`/api/v1/auth/challenge${query}`, {
    json: { did: member.did, scopes },
  })).json();
  const signature = await signEd25519(member.ed25519, new TextEncoder().encode(challenge.message));
  const response = await t.request("/api/v1/auth/token", {
    json: { did: member.did, nonce: challenge.nonce, signature: toBase64(signature) },
  });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`Sign-in failed: ${JSON.stringify(body)}`);
  return body.token;
}

export function bearer(token: string): HeadersInit {
  return { authorization: `Bearer ${token}` };
}

/** Prepare (on `path`, default `/api/v1/prepare`) → sign with the member's own key → the body of a submit. */
export async function prepareAndSign(
  t: TestGateway,
  member: TestIdentity,
  token: string,
  request: { kind: string; body: unknown },
  path = "/api/v1/prepare",
): Promise<{ envelope: Record<string, unknown> }> {
  const response = await t.request(path, { json: request, headers: bearer(token) });
  const prepared = await response.json();
  if (response.status !== 200) throw new Error(`Prepare failed: ${JSON.stringify(prepared)}`);
  const sig = await signEd25519(member.ed25519, fromBase64(prepared.signingBytes));
  return { envelope: { ...prepared.envelope, sigs: [{ alg: "ed25519", sig: toBase64(sig) }] } };
}
