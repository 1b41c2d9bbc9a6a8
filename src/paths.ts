/**
 * The few path operations the gateway needs, with the results of node:path's POSIX
 * functions (and node:url's pathToFileURL), without importing them: any `node:` import
 * starts Deno's Node compatibility layer, which costs startup time.
 */

/** Resolves "." and ".." segments and repeated slashes of a path without its root. */
function normalizeSegments(path: string, allowAboveRoot: boolean): string {
  let res = "";
  let lastSegmentLength = 0;
  let lastSlash = -1;
  let dots = 0;
  let c = "";
  for (let i = 0; i <= path.length; i++) {
    if (i < path.length) c = path[i];
    else if (c === "/") break;
    else c = "/";
    if (c === "/") {
      if (lastSlash === i - 1 || dots === 1) {
        // empty segment or "."
      } else if (dots === 2) {
        const endsWithDotDot = res.length >= 2 && lastSegmentLength === 2 &&
          res[res.length - 1] === "." && res[res.length - 2] === ".";
        if (!endsWithDotDot) {
          if (res.length > 2) {
            const at = res.lastIndexOf("/");
            if (at === -1) {
              res = "";
              lastSegmentLength = 0;
            } else {
              res = res.slice(0, at);
              lastSegmentLength = res.length - 1 - res.lastIndexOf("/");
            }
            lastSlash = i;
            dots = 0;
            continue;
          } else if (res.length !== 0) {
            res = "";
            lastSegmentLength = 0;
            lastSlash = i;
            dots = 0;
            continue;
          }
        }
        if (allowAboveRoot) {
          res += res.length > 0 ? "/.." : "..";
          lastSegmentLength = 2;
        }
      } else {
        const segment = path.slice(lastSlash + 1, i);
        res = res.length > 0 ? `${res}/${segment}` : segment;
        lastSegmentLength = i - lastSlash - 1;
      }
      lastSlash = i;
      dots = 0;
    } else if (c === "." && dots !== -1) {
      dots++;
    } else {
      dots = -1;
    }
  }
  return res;
}

/** node:path `isAbsolute` (POSIX). */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** node:path `normalize` (POSIX). */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const trailing = path.endsWith("/");
  let p = normalizeSegments(path, !absolute);
  if (p === "") {
    if (absolute) return "/";
    return trailing ? "./" : ".";
  }
  if (trailing) p += "/";
  return absolute ? `/${p}` : p;
}

/** node:path `join` (POSIX). */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/** node:path `resolve` (POSIX): against the current directory until a path is absolute. */
export function resolve(...parts: string[]): string {
  let resolved = "";
  let absolute = false;
  for (let i = parts.length - 1; i >= -1 && !absolute; i--) {
    const p = i >= 0 ? parts[i] : Deno.cwd();
    if (p === "") continue;
    resolved = `${p}/${resolved}`;
    absolute = p.startsWith("/");
  }
  resolved = normalizeSegments(resolved, !absolute);
  if (absolute) return `/${resolved}`;
  return resolved.length > 0 ? resolved : ".";
}

/** node:path `relative` (POSIX): the path from `from` to `to`. */
export function relative(from: string, to: string): string {
  if (from === to) return "";
  from = resolve(from);
  to = resolve(to);
  if (from === to) return "";
  const fromStart = 1;
  const fromEnd = from.length;
  const fromLen = fromEnd - fromStart;
  const toStart = 1;
  const toLen = to.length - toStart;
  const length = fromLen < toLen ? fromLen : toLen;
  let lastCommonSep = -1;
  let i = 0;
  for (; i < length; i++) {
    const c = from[fromStart + i];
    if (c !== to[toStart + i]) break;
    if (c === "/") lastCommonSep = i;
  }
  if (i === length) {
    if (toLen > length) {
      // `from` is a prefix of `to`: /a/b → /a/b/c/d, or / → /a
      if (to[toStart + i] === "/") return to.slice(toStart + i + 1);
      if (i === 0) return to.slice(toStart + i);
    } else if (fromLen > length) {
      // `to` is a prefix of `from`: /a/b/c/d → /a/b, or /a → /
      if (from[fromStart + i] === "/") lastCommonSep = i;
      else if (i === 0) lastCommonSep = 0;
    }
  }
  let out = "";
  for (i = fromStart + lastCommonSep + 1; i <= fromEnd; i++) {
    if (i === fromEnd || from[i] === "/") out += out.length === 0 ? ".." : "/..";
  }
  return `${out}${to.slice(toStart + lastCommonSep)}`;
}

/**
 * node:url `pathToFileURL(path).href` under Deno (POSIX): an absolute file: URL where
 * everything but letters, digits and `-._!$&'()*+,/:;=@` is percent-encoded (UTF-8).
 */
export function pathToFileUrl(path: string): string {
  let resolved = resolve(path);
  // resolve() drops a trailing slash; a directory URL keeps it
  if (path.endsWith("/") && !resolved.endsWith("/")) resolved += "/";
  return `file://${
    encodeURI(resolved).replace(/[?#~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  }`;
}
