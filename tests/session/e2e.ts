/**
 * Helpers for the session end-to-end tests (tests/e2e/session_*_test.ts): routes that
 * write and read the session, a cookie jar for fetch, and the test clock file the
 * gateway's session code reads (IG_TEST_CLOCK_FILE, see src/session/clock.ts).
 */
import { CookieJar } from "./helpers.ts";

export { CookieJar };

/** A route answering `path` with a session write (AssignmentFilter) then `entity`. */
export function writeRoute(
  path: string,
  assignments: { target: string; value: string }[],
  entity: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    condition: `\${request.uri.path == '${path}'}`,
    handler: {
      type: "Chain",
      config: {
        filters: [{ type: "AssignmentFilter", config: { onRequest: assignments } }],
        handler: staticText(entity),
      },
    },
    ...extra,
  };
}

/** A route answering `path` with `entity` (expressions may read the session). */
export function readRoute(path: string, entity: string, extra: Record<string, unknown> = {}) {
  return { condition: `\${request.uri.path == '${path}'}`, handler: staticText(entity), ...extra };
}

export function staticText(entity: string): Record<string, unknown> {
  return {
    type: "StaticResponseHandler",
    config: { status: 200, headers: { "Content-Type": ["text/plain; charset=UTF-8"] }, entity },
  };
}

/** A GET through the jar: sends its cookies, applies Set-Cookie. */
export async function browse(
  jar: CookieJar,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; setCookies: string[] }> {
  const h = new Headers(headers);
  const cookie = jar.header();
  if (cookie) h.set("Cookie", cookie);
  const res = await fetch(url, { headers: h });
  const body = await res.text();
  const setCookies = res.headers.getSetCookie();
  jar.apply(setCookies);
  return { status: res.status, body, setCookies };
}

/** A test clock file: the gateway's sessions see Date.now() + the offset written here. */
export class ClockFile implements AsyncDisposable {
  private constructor(readonly path: string) {}
  static async create(): Promise<ClockFile> {
    const path = await Deno.makeTempFile({ prefix: "ig-clock-" });
    await Deno.writeTextFile(path, "0");
    return new ClockFile(path);
  }
  /** Moves the gateway's session clock to now + ms. */
  async set(offsetMs: number): Promise<void> {
    await Deno.writeTextFile(this.path, String(offsetMs));
  }
  async [Symbol.asyncDispose]() {
    await Deno.remove(this.path).catch(() => {});
  }
}

/** The log file of a route (or "system") in an instance. */
export async function routeLog(dir: string, routeId: string): Promise<string> {
  return await Deno.readTextFile(`${dir}/logs/route-${routeId}.log`).catch(() => "");
}
