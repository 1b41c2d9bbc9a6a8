/**
 * Bench reference: the simplest Deno proxy, Deno.serve in front of fetch, to show what
 * the gateway's own HTTP/1.1 edge and client save.
 * Usage: deno run -A scripts/bench/fetch_proxy.ts PORT BACKEND_URL
 */
const [port, backend] = [Number(Deno.args[0]), Deno.args[1].replace(/\/$/, "")];
Deno.serve(
  { port, hostname: "127.0.0.1", onListen: () => console.log("listening") },
  async (req) => {
    const u = new URL(req.url);
    const r = await fetch(backend + u.pathname + u.search, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
    return new Response(r.body, { status: r.status, headers: r.headers });
  },
);
