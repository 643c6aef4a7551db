/**
 * The dashboard's place in the gateway: `GET /` and `GET /static/*` serve files from the web
 * directory (the dashboard, built in `web/`), or a placeholder page when there is none. Files are
 * read only from inside that directory (no `..`, no hidden files), up to `webFileBytesMax`.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { GatewayEnv } from "./app.ts";

/** Largest dashboard file served: scripts and styles are small; anything larger is a mistake. */
const webFileBytesMax = 4 * 1024 * 1024;

const contentTypes: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  woff2: "font/woff2",
  txt: "text/plain; charset=utf-8",
  webmanifest: "application/manifest+json",
};

const placeholder = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>icn node</title></head>
<body><main><h1>icn node</h1>
<p>This node serves the app API at <a href="/api/v1/openapi.json">/api/v1</a>.
The dashboard is not installed here.</p></main></body></html>
`;

async function readWebFile(dir: string, relative: string): Promise<Response | null> {
  const parts = relative.split("/");
  if (
    parts.some((p) => p === "" || p === "." || p === ".." || p.startsWith(".") || p.includes("\\"))
  ) {
    return null;
  }
  const path = `${dir.replace(/\/+$/, "")}/${parts.join("/")}`;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size > webFileBytesMax) return null;
    const bytes = await Deno.readFile(path);
    const ext = relative.slice(relative.lastIndexOf(".") + 1).toLowerCase();
    return new Response(bytes, {
      headers: {
        "content-type": contentTypes[ext] ?? "application/octet-stream",
        "cache-control": "no-cache",
      },
    });
  } catch {
    return null;
  }
}

export function webRoutes(app: OpenAPIHono<GatewayEnv>, webDir: string | null): void {
  app.get("/", async (c) => {
    const page = webDir ? await readWebFile(webDir, "index.html") : null;
    return page ?? c.html(placeholder);
  });
  app.get("/static/*", async (c) => {
    const relative = decodeURIComponent(c.req.path.slice("/static/".length));
    const file = webDir ? await readWebFile(webDir, `static/${relative}`) : null;
    return file ?? c.json({ error: { code: "not_found", message: "No such file" } }, 404);
  });
}
