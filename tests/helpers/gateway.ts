/**
 * Test helpers: temporary instance directories and real gateway processes
 * (`deno run main.ts --instance DIR`) on 127.0.0.1, stopped by `await using`.
 */
const root = new URL("../..", import.meta.url).pathname;

/** A temporary instance directory with the given files (paths relative to it). */
export async function makeInstance(files: Record<string, unknown>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ig-test-" });
  for (const [path, content] of Object.entries(files)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(
      full,
      typeof content === "string" ? content : JSON.stringify(content, null, 2),
    );
  }
  return dir;
}

/** A running gateway process. */
export interface GatewayProcess extends AsyncDisposable {
  dir: string;
  port: number;
  ports: number[];
  url(path: string): string;
  /** Everything the process printed so far (stdout + stderr). */
  output(): string;
  /** Waits until the output matches. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends SIGTERM and waits for the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** Waits for the process to exit by itself (10 s at most, then SIGKILL). */
  exitCode(): Promise<number>;
  child: Deno.ChildProcess;
}

/** Starts a gateway on an instance dir and waits for its startup line. */
export async function startGateway(
  dir: string,
  opts: {
    env?: Record<string, string>;
    args?: string[];
    expectFailure?: boolean;
    removeDir?: boolean;
  } = {},
): Promise<GatewayProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}main.ts`, ...(opts.args ?? ["--instance", dir])],
    env: { ROOT_LOG_LEVEL: "INFO", ...opts.env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let out = "";
  const waiters: (() => void)[] = [];
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) {
      out += dec.decode(chunk, { stream: true });
      waiters.splice(0).forEach((w) => w());
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited: number | null = null;
  const status = child.status.then((s) => {
    exited = s.code;
    waiters.splice(0).forEach((w) => w());
    return s.code;
  });
  const waitForOutput = async (re: RegExp, timeoutMs = 20_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = out.match(re);
      if (m) return m;
      if (exited !== null) throw new Error(`gateway exited (${exited}) before ${re}:\n${out}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}:\n${out}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  };
  let ports: number[] = [];
  if (!opts.expectFailure) {
    try {
      const m = await waitForOutput(/started in \d+ms on ports : \[([\d ]*)\]/);
      ports = m[1].split(" ").filter(Boolean).map(Number);
    } catch (e) {
      child.kill("SIGKILL");
      await status;
      await pumps;
      throw e;
    }
  }
  let stopped: Promise<number> | null = null;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    stopped ??= (async () => {
      if (exited === null) {
        try {
          child.kill(signal);
        } catch { /* gone */ }
      }
      const code = await status;
      await pumps;
      return code;
    })();
    return stopped;
  };
  return {
    dir,
    port: ports[0],
    ports,
    child,
    url: (path) => `http://127.0.0.1:${ports[0]}${path}`,
    output: () => out,
    waitForOutput,
    stop,
    async exitCode() {
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await status;
      clearTimeout(t);
      await pumps;
      return code;
    },
    async [Symbol.asyncDispose]() {
      await stop();
      if (opts.removeDir !== false) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A backend HTTP server on 127.0.0.1 recording what it received. */
export interface Backend extends AsyncDisposable {
  port: number;
  url: string;
  requests: { method: string; url: string; headers: Headers; body: string }[];
}

export function startBackend(
  handler: (req: Request, body: string) => Response | Promise<Response> = () =>
    new Response("backend ok"),
): Backend {
  const requests: Backend["requests"] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.text();
    requests.push({ method: req.method, url: req.url, headers: req.headers, body });
    return await handler(req, body);
  });
  return {
    port: server.addr.port,
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** admin.json for tests: one connector on an ephemeral port, development mode. */
export function testAdmin(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mode: "development", connectors: [{ port: 0, vertx: { host: "127.0.0.1" } }], ...extra };
}
