import type { HttpRequest, HttpResponse } from "../http/message.ts";
import type { SessionMap } from "../http/session_map.ts";

/**
 * Loads the session a request carries and saves it on the way out. Implemented by the
 * in-memory session (admin.json/config.json "session") and JwtSession; used by the
 * gateway for all traffic and by routes that declare "session".
 */
export interface SessionManager {
  /** The session of this request; an empty one when it has none or it cannot be trusted. */
  load(req: HttpRequest): Promise<SessionMap>;
  /** Writes what changed (cookies on the response); called once when the response leaves the scope. */
  save(session: SessionMap, req: HttpRequest, resp: HttpResponse): Promise<void>;
}
