/** Writes the PID file; with mode "fail" an existing one stops startup. */
export function writePidFile(path: string, mode: "fail" | "override"): void {
  let existing: string | null = null;
  try {
    existing = Deno.readTextFileSync(path).trim();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (existing !== null && mode === "fail") {
    throw new Error(
      `the PID file ${path} already exists (PID ${
        existing || "?"
      }): another instance may be running. ` +
        `Stop it, delete the file, or set "pidFileMode": "override" in admin.json (or IG_PID_FILE_MODE=override)`,
    );
  }
  Deno.writeTextFileSync(path, `${Deno.pid}\n`);
}

/** Removes the PID file if it is still ours. */
export function removePidFile(path: string): void {
  try {
    if (Deno.readTextFileSync(path).trim() === String(Deno.pid)) Deno.removeSync(path);
  } catch { /* already gone */ }
}

/** Reads the PID of a running instance, or null. */
export function readPidFile(path: string): number | null {
  try {
    const n = Number(Deno.readTextFileSync(path).trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}
