/**
 * Serves the app gateway of a running node on `gateway.listen` (docs/gateway.md): builds it from
 * the node's home network, the networks it serves, its key and writers, and feeds the event
 * streams from the node's accepted envelopes. A bind to anything but loopback without a trusted
 * proxy logs a warning: the gateway speaks plain HTTP and expects a TLS-terminating proxy in
 * front of it.
 */
import { kelNet } from "../../core/constants.ts";
import type { Logger } from "../../core/ports.ts";
import { type NodeConfig, parseGatewayListen } from "../config.ts";
import type { IcnNode } from "../node.ts";
import { createGateway, type Gateway, type GatewayInit } from "./app.ts";

export interface GatewayServer {
  url: string;
  gateway: Gateway;
  shutdown(): Promise<void>;
}

const loopbackHosts = new Set(["127.0.0.1", "localhost", "::1"]);

/** The dashboard's directory: configured, else `web/` beside this program when it has one. */
async function webDirOf(config: NodeConfig): Promise<string | null> {
  if (config.gatewayWebDir !== "") return config.gatewayWebDir;
  const url = new URL("../../web/", import.meta.url);
  if (url.protocol !== "file:") return null;
  try {
    return (await Deno.stat(url)).isDirectory ? url.pathname : null;
  } catch {
    return null;
  }
}

/** Why a gateway bind deserves a warning: not loopback, and no TLS-terminating proxy named. */
export function publicBindWarning(
  config: Pick<NodeConfig, "gatewayListen" | "gatewayTrustedProxies">,
): string | null {
  const { hostname } = parseGatewayListen(config.gatewayListen);
  if (loopbackHosts.has(hostname) || config.gatewayTrustedProxies.length > 0) return null;
  return "the gateway speaks plain HTTP: put a TLS-terminating proxy in front and name it in gateway.trusted_proxies";
}

export async function serveGateway(
  node: IcnNode,
  config: NodeConfig,
  logger: Logger,
  /** Overrides of what the config gives (the benchmark lifts the rate limits). */
  overrides: Partial<GatewayInit> = {},
): Promise<GatewayServer> {
  const { hostname, port } = parseGatewayListen(config.gatewayListen);
  const store = node.storeOf(node.net);
  const gateway = createGateway({
    clock: node.deps.clock,
    rng: { bytes: (length) => crypto.getRandomValues(new Uint8Array(length)) },
    logger,
    net: node.net,
    genesis: node.genesis,
    store,
    node: { did: node.deps.identity.did, ed25519: node.deps.identity.ed25519 },
    ingest: (sealed, net) => node.ingestSigned(sealed, net),
    served: () => node.networks.map((id) => ({ id, store: node.storeOf(id) })),
    status: async () => {
      const status = await node.status();
      return {
        did: status.did,
        peerId: status.peerId,
        net: status.net,
        version: status.version,
        ready: status.ready,
        syncLag: status.syncLag,
        envelopes: status.envelopes,
        peers: status.peers.length,
        networks: status.networks.map(({ id, envelopes, syncLag, peers }) => ({
          id,
          envelopes,
          syncLag,
          peers,
        })),
      };
    },
  }, {
    tokenTtlSeconds: config.gatewayTokenTtlS,
    maxInFlight: config.gatewayMaxInFlight,
    publicReads: config.gatewayPublicReads,
    corsOrigins: config.gatewayCorsOrigins,
    trustedProxies: config.gatewayTrustedProxies,
    webDir: await webDirOf(config),
    ...overrides,
  });
  await gateway.start();
  // Each served network's event stream reads on when that network commits; a key event is
  // carried to every network's store.
  const stopListening = node.onAccepted((sealed) => {
    const { net } = sealed.envelope;
    gateway.accepted(net === kelNet ? undefined : net);
  });
  const server = Deno.serve(
    { hostname, port, onListen: () => {} },
    (request, info) =>
      gateway.app.fetch(request, { remoteAddr: (info.remoteAddr as Deno.NetAddr).hostname }),
  );
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `http://${host}:${addr.port}`;
  const warning = publicBindWarning(config);
  if (warning) logger.warn("gateway_public_bind", { listen: config.gatewayListen, hint: warning });
  logger.info("gateway_listening", { url });
  return {
    url,
    gateway,
    async shutdown() {
      stopListening();
      gateway.stop();
      await server.shutdown();
    },
  };
}
