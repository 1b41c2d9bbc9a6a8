/**
 * Java-style system properties: `-Dname=value` from the command line, IG_OPTS and
 * JAVA_OPTS. `&{name}` tokens, the `system` binding and SystemAndEnvSecretStore read them.
 * One table per isolate (units copy the main isolate's at start).
 */
const table = new Map<string, string>();

export function setSystemProperty(name: string, value: string): void {
  table.set(name, value);
}

export function getSystemProperty(name: string): string | undefined {
  return table.get(name);
}

export function systemPropertyEntries(): IterableIterator<[string, string]> {
  return table.entries();
}
