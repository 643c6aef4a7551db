/**
 * The node's one loopback HTTP server: `/metrics` (Prometheus text),
 * `/health` (the process answers), `/ready` (stores open, libp2p started,
 * every network's sync lag under the threshold; the lag of each network in
 * `networks`) and the control API under `/control/`, which needs the bearer
 * token from the token file. A submit names its network (`net`, default the
 * home network); one the node does not serve is refused (422, naming those it serves).
 */
import { IcnError } from "../core/errors.ts";
import { toJson } from "../core/json.ts";
import {
  decodeConnectRequest,
  decodeSubmitRequest,
  encodeSubmitReply,
  readControlBody,
} from "./control.ts";
import { isDid } from "../core/identity/did.ts";
import { readBalance } from "./gateway/reads.ts";
import { exposition } from "./metrics.ts";
import type { IcnNode } from "./node.ts";

export interface HttpServer {
  url: string;
  shutdown(): Promise<void>;
}

function json(value: unknown, status = 200): Response {
  return new Response(toJson(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function tokenMatches(header: string | null, token: string): boolean {
  const given = header?.startsWith("Bearer ") ? header.slice(7) : "";
  if (given.length !== token.length) return false;
  let diff = 0;
  for (let i = 0; i < token.length; i++) diff |= given.charCodeAt(i) ^ token.charCodeAt(i);
  return diff === 0;
}

export function serveNode(
  node: IcnNode,
  options: {
    hostname: string;
    port: number;
    token: string;
    /** A receipt of the app gateway's (`icn node receipt`), when the node runs one. */
    receipt?: (id: string) => unknown;
  },
): HttpServer {
  let accepting = true;
  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    if (route === "GET /health") return json({ status: "ok" });
    if (route === "GET /ready") {
      const ready = node.ready;
      return json(
        {
          ready,
          syncLag: node.syncLag(),
          peers: node.libp2p.getPeers().length,
          networks: node.syncLagByNetwork(),
        },
        ready ? 200 : 503,
      );
    }
    if (route === "GET /metrics") {
      return new Response(await exposition(node.metrics), {
        headers: { "content-type": node.metrics.registry.contentType },
      });
    }
    if (!url.pathname.startsWith("/control/")) return json({ error: "not found" }, 404);
    if (!tokenMatches(request.headers.get("authorization"), options.token)) {
      return json(
        { error: { code: "unauthorized", message: "Missing or wrong control token" } },
        401,
      );
    }
    try {
      switch (route) {
        case "GET /control/status":
          return json(await node.status());
        case "GET /control/peers":
          return json(node.peers());
        case "POST /control/connect": {
          const { addr } = decodeConnectRequest(await readControlBody(request));
          return json({ peer: await node.connect(addr) });
        }
        case "POST /control/submit": {
          if (!accepting) {
            return json({ error: { code: "stopping", message: "Node is shutting down" } }, 503);
          }
          const { sealed, outcome } = await node.submit(
            decodeSubmitRequest(await readControlBody(request)),
          );
          return json(encodeSubmitReply(sealed, outcome));
        }
        case "GET /control/balance": {
          // The balance read the app gateway serves, for the CLI and the gateway benchmark.
          const did = url.searchParams.get("did") ?? "";
          if (!isDid(did)) {
            return json({ error: { code: "bad_request", message: "Expected ?did=DID" } }, 400);
          }
          const currency = url.searchParams.get("currency") ?? undefined;
          const store = node.storeOf(node.net);
          return json(
            await readBalance(
              { store, genesis: node.genesis },
              did,
              currency,
              node.deps.clock.now(),
            ),
          );
        }
        case "GET /control/receipt": {
          const id = url.searchParams.get("id") ?? "";
          const receipt = id.length > 0 && id.length <= 128 ? options.receipt?.(id) : undefined;
          if (!receipt) {
            return json({
              error: {
                code: "not_found",
                message: options.receipt
                  ? `No receipt ${
                    JSON.stringify(id.slice(0, 128))
                  } (the gateway keeps the last 10,000)`
                  : "This node runs no app gateway (gateway.listen is not set)",
              },
            }, 404);
          }
          return json(receipt);
        }
        case "POST /control/sync": {
          let total = 0;
          for (const peer of node.peers()) total += await node.syncWith(peer.peer).catch(() => 0);
          return json({ synced: total });
        }
      }
      return json({ error: "not found" }, 404);
    } catch (error) {
      const code = error instanceof IcnError ? error.code : "bad_request";
      const status = error instanceof IcnError ? 422 : 400;
      return json({ error: { code, message: (error as Error).message } }, status);
    }
  };
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
  }, handler);
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `http://${host}:${addr.port}`,
    async shutdown() {
      accepting = false;
      await server.shutdown();
    },
  };
}
