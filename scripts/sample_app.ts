/**
 * A stand-in for IG's sample application, so the guide's tutorials can be followed:
 * HTTP on 8081 and HTTPS on 8444 by default, a /home page, a /login form (demo /
 * Ch4ng31t), and /css. Usage:
 *   deno run -A scripts/sample_app.ts [--http-port 8081] [--https-port 8444] [--cert F --key F] [--host 0.0.0.0]
 * Port 0 picks a free port; the bound ports are printed as "sample app http=<p> https=<p>".
 */
import { parseArgs } from "node:util";

const here = new URL(".", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: {
    "http-port": { type: "string", default: "8081" },
    "https-port": { type: "string", default: "8444" },
    cert: { type: "string", default: `${here}../tests/fixtures/sample_app/app.pem` },
    key: { type: "string", default: `${here}../tests/fixtures/sample_app/app.key` },
    host: { type: "string", default: "0.0.0.0" },
  },
});

const USERS: Record<string, string> = { demo: "Ch4ng31t", kramer: "N3wpa55w0rd" };

const CSS = `body { font-family: sans-serif; margin: 2em; } .banner { color: #0b5; }`;

function page(title: string, body: string): Response {
  return new Response(
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title>` +
      `<link rel="stylesheet" href="/css/sample.css"></head><body>${body}</body></html>`,
    { headers: { "content-type": "text/html; charset=UTF-8" } },
  );
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function handler(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (path.startsWith("/css")) {
    return new Response(CSS, { headers: { "content-type": "text/css" } });
  }
  if (path === "/login") {
    if (req.method === "POST") {
      const form = new URLSearchParams(await req.text());
      const user = form.get("username") ?? "";
      if (USERS[user] !== undefined && USERS[user] === form.get("password")) {
        return page(
          "Welcome",
          `<h1 class="banner">Hello, ${escape(user)}!</h1><p>You are logged in.</p>`,
        );
      }
      return new Response(null, { status: 401 });
    }
    // IG's tutorials also send credentials as headers.
    const hUser = req.headers.get("username");
    if (hUser && USERS[hUser] !== undefined && USERS[hUser] === req.headers.get("password")) {
      return page("Welcome", `<h1 class="banner">Hello, ${escape(hUser)}!</h1>`);
    }
    return page(
      "Log in",
      `<h1>Sample application</h1><form method="post" action="/login">` +
        `<label>Username <input name="username"></label> <label>Password <input name="password" type="password"></label>` +
        `<button type="submit">Log in</button></form>`,
    );
  }
  if (path === "/home" || path.startsWith("/home/")) {
    const headers = [...req.headers].map(([k, v]) =>
      `<li>${escape(k)}: ${escape(/^(cookie|authorization)$/i.test(k) ? "(hidden)" : v)}</li>`
    ).join("");
    return page(
      "Home",
      `<h1>Sample application home</h1><p>${escape(req.method)} ${
        escape(path)
      }</p><ul>${headers}</ul>`,
    );
  }
  if (path === "/") return Response.redirect(new URL("/home", url), 302);
  return new Response("not found\n", { status: 404 });
}

const http = Deno.serve({
  port: Number(values["http-port"]),
  hostname: values.host,
  onListen: () => {},
}, handler);
let httpsPort = -1;
let https: Deno.HttpServer<Deno.NetAddr> | null = null;
if (values["https-port"] !== "-1") {
  https = Deno.serve({
    port: Number(values["https-port"]),
    hostname: values.host,
    cert: Deno.readTextFileSync(values.cert!),
    key: Deno.readTextFileSync(values.key!),
    onListen: () => {},
  }, handler);
  httpsPort = https.addr.port;
}
console.log(`sample app http=${http.addr.port} https=${httpsPort}`);
Deno.addSignalListener("SIGTERM", () => {
  void Promise.all([http.shutdown(), https?.shutdown()]).then(() => Deno.exit(0));
});
