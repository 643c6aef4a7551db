/**
 * A CycloneDX 1.5 JSON SBOM of icn, generated from `deno.lock`: every npm
 * package with its version, purl, integrity hash and dependencies. The output
 * depends only on its inputs (no clock, no random serial), so releases are
 * reproducible.
 *
 *   deno run -A scripts/sbom.ts [--lock deno.lock] [--out sbom.cdx.json]
 */
import { fromBase64 } from "../core/bytes.ts";

export interface LockedNpmPackage {
  /** The lock file key, e.g. `@ipld/car@5.4.7` (may carry a `_peer@x` suffix). */
  key: string;
  name: string;
  version: string;
  /** `sha512-<base64>` as npm publishes it. */
  integrity: string;
  dependencies: string[];
}

interface DenoLock {
  version: string;
  npm?: Record<string, { integrity?: string; dependencies?: string[] }>;
}

const hashAlgorithms: Record<string, string> = {
  sha1: "SHA-1",
  sha256: "SHA-256",
  sha384: "SHA-384",
  sha512: "SHA-512",
};

function splitKey(key: string): { name: string; version: string } {
  const at = key.indexOf("@", 1);
  if (at < 0) throw new SyntaxError(`Lock file entry "${key}" has no version`);
  return { name: key.slice(0, at), version: key.slice(at + 1).split("_")[0] };
}

/** The npm packages of a `deno.lock` (format version 4 or 5), sorted by key. */
export function lockedNpmPackages(lockText: string): LockedNpmPackage[] {
  const lock = JSON.parse(lockText) as DenoLock;
  if (lock.version !== "4" && lock.version !== "5") {
    throw new SyntaxError(`deno.lock version "${lock.version}" is not supported (4 or 5)`);
  }
  return Object.entries(lock.npm ?? {}).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(
    ([key, entry]) => {
      if (!entry.integrity) throw new SyntaxError(`Lock file entry "${key}" has no integrity`);
      return {
        key,
        ...splitKey(key),
        integrity: entry.integrity,
        dependencies: entry.dependencies ?? [],
      };
    },
  );
}

export function purlOf(name: string, version: string): string {
  return `pkg:npm/${name.replace(/^@/, "%40")}@${version}`;
}

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `sha512-<base64>` → a CycloneDX hash. */
export function integrityHash(integrity: string): { alg: string; content: string } {
  const dash = integrity.indexOf("-");
  const alg = hashAlgorithms[integrity.slice(0, dash)];
  if (dash < 0 || !alg) throw new SyntaxError(`Integrity "${integrity}" has an unknown algorithm`);
  return { alg, content: hexOf(fromBase64(integrity.slice(dash + 1))) };
}

/** A stable UUID (RFC 4122 layout, version 5-style bits) from a SHA-256 of `seed`. */
async function stableUuid(seed: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(seed)),
  );
  digest[6] = (digest[6] & 0x0f) | 0x50;
  digest[8] = (digest[8] & 0x3f) | 0x80;
  const hex = hexOf(digest.subarray(0, 16));
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

export interface SbomOptions {
  version: string;
  /** ISO 8601 time for `metadata.timestamp` (the commit time, for reproducibility). */
  timestamp: string;
}

export async function createSbom(
  lockText: string,
  options: SbomOptions,
): Promise<Record<string, unknown>> {
  const packages = lockedNpmPackages(lockText);
  const byName = new Map<string, LockedNpmPackage[]>();
  for (const p of packages) byName.set(p.name, [...byName.get(p.name) ?? [], p]);
  const refOf = new Map(packages.map((p) => [p.key, purlOf(p.name, p.version)]));
  const resolve = (dependency: string): string | undefined => {
    if (refOf.has(dependency)) return refOf.get(dependency);
    const candidates = byName.get(dependency) ?? [];
    return candidates.length === 1 ? refOf.get(candidates[0].key) : undefined;
  };
  const rootRef = `pkg:generic/icn@${options.version}`;
  const components = packages.map((p) => ({
    type: "library",
    "bom-ref": refOf.get(p.key),
    name: p.name,
    version: p.version,
    purl: purlOf(p.name, p.version),
    hashes: [integrityHash(p.integrity)],
  }));
  const uniqueComponents = [...new Map(components.map((c) => [c["bom-ref"], c])).values()];
  const dependencies = [
    { ref: rootRef, dependsOn: uniqueComponents.map((c) => c["bom-ref"]!) },
    ...packages.map((p) => ({
      ref: refOf.get(p.key)!,
      dependsOn: [...new Set(p.dependencies.map(resolve).filter((r): r is string => !!r))].sort(),
    })),
  ];
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    serialNumber: `urn:uuid:${await stableUuid(`icn@${options.version}\n${lockText}`)}`,
    version: 1,
    metadata: {
      timestamp: options.timestamp,
      tools: {
        components: [{
          type: "application",
          name: "icn scripts/sbom.ts",
          version: options.version,
        }],
      },
      component: { type: "application", "bom-ref": rootRef, name: "icn", version: options.version },
    },
    components: uniqueComponents,
    dependencies: [...new Map(dependencies.map((d) => [d.ref, d])).values()],
  };
}

if (import.meta.main) {
  const { parseScriptArgs, scriptSpec } = await import("./_args.ts");
  const { values } = parseScriptArgs(scriptSpec({
    usage: "deno run -A scripts/sbom.ts [--lock deno.lock] [--out FILE]",
    description: "Writes a CycloneDX 1.5 JSON SBOM of icn from deno.lock (stdout unless --out).",
    options: {
      lock: {
        type: "string",
        default: "deno.lock",
        value: "FILE",
        description: "lock file to read",
      },
      out: { type: "string", value: "FILE", description: "write the SBOM here" },
    },
  }));
  const denoJson = JSON.parse(await Deno.readTextFile("deno.json")) as { version: string };
  const sbom = await createSbom(await Deno.readTextFile(values.lock!), {
    version: denoJson.version,
    timestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  });
  const text = JSON.stringify(sbom, null, 2) + "\n";
  if (values.out) await Deno.writeTextFile(values.out, text);
  else await Deno.stdout.write(new TextEncoder().encode(text));
}
