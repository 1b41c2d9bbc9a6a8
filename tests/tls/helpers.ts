/**
 * TLS test helpers: heaps with the secrets and TLS types, HTTPS connectors on
 * 127.0.0.1, and real clients (openssl s_client, curl) to look at what was served.
 */
import { ConfigNode, type ConfigScope } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import { buildRegistry } from "../../src/heap/heap_type.ts";
import type { ClientInfo } from "../../src/http/context.ts";
import type { HttpRequest } from "../../src/http/message.ts";
import { HttpResponse } from "../../src/http/message.ts";
import type { EdgeHandler, RunningServer, ServerOptions } from "../../src/http/server.ts";
import { base64EncodedSecretStoreType } from "../../src/secrets/base64_encoded_secret_store.ts";
import { fileSystemSecretStoreType } from "../../src/secrets/file_system_secret_store.ts";
import { keyStoreSecretStoreType } from "../../src/secrets/key_store_secret_store.ts";
import { pemPropertyFormatType } from "../../src/secrets/pem_property_format.ts";
import { secretsProviderType } from "../../src/secrets/secrets_provider.ts";
import { systemAndEnvSecretStoreType } from "../../src/secrets/system_and_env_secret_store.ts";
import { clientTlsOptionsType } from "../../src/tls/client_tls_options.ts";
import { serveHttps } from "../../src/tls/https_server.ts";
import { secretsKeyManagerType } from "../../src/tls/secrets_key_manager.ts";
import { secretsTrustManagerType } from "../../src/tls/secrets_trust_manager.ts";
import { type ServerTlsOptions, serverTlsOptionsType } from "../../src/tls/server_tls_options.ts";
import type { ClientCertificate } from "../../src/tls/client_certificate.ts";

/** tests/fixtures/secrets/ (CA, leaves, keystores made by openssl and keytool). */
export const SECRETS = new URL("../fixtures/secrets/", import.meta.url).pathname;
/** tests/fixtures/tls/ (an untrusted CA and its leaves, a self-signed CA:TRUE certificate). */
export const TLS_FIXTURES = new URL("../fixtures/tls/", import.meta.url).pathname;
export const CA = `${SECRETS}pem/ca.cert.pem`;

export const registry = buildRegistry([
  base64EncodedSecretStoreType,
  fileSystemSecretStoreType,
  keyStoreSecretStoreType,
  pemPropertyFormatType,
  secretsProviderType,
  systemAndEnvSecretStoreType,
  secretsKeyManagerType,
  secretsTrustManagerType,
  serverTlsOptionsType,
  clientTlsOptionsType,
]);

/** A heap like admin.json's, with the given declarations; warnings are collected. */
export function tlsHeap(declarations: unknown[] = [], warnings: string[] = []): Heap {
  const scope: ConfigScope = {
    file: "config/admin.json",
    bindings: {},
    warn: (m) => warnings.push(m),
  };
  const heap = new Heap(registry, null, scope, null);
  heap.declare(new ConfigNode(scope, "/heap", declarations));
  return heap;
}

/** Resolves a `tls` reference (a name or an inline object) as the instance would. */
export async function serverTls(heap: Heap, ref: unknown): Promise<ServerTlsOptions> {
  return await heap.resolve<ServerTlsOptions>(
    new ConfigNode(heap.scope, "/connectors/1/tls", ref),
    "ServerTlsOptions",
  );
}

/** A PEM connector config: a FileSystemSecretStore directory and SecretsKeyManager. */
export function pemKeyManager(directory: string, secretId = "key.manager.secret.id"): unknown {
  return {
    type: "SecretsKeyManager",
    config: {
      signingSecretId: secretId,
      secretsProvider: {
        type: "FileSystemSecretStore",
        config: {
          directory,
          format: "PLAIN",
          suffix: ".pem",
          mappings: [{ secretId, format: { type: "PemPropertyFormat" } }],
        },
      },
    },
  };
}

/** What the echo handler answers: how the request arrived. */
export interface Echo {
  secure: boolean;
  scheme: string;
  host: string;
  path: string;
  version: string;
  remoteAddress: string;
  certificates: string[];
  issuers: string[];
}

/** Answers with JSON describing the request and its client (see Echo). */
export const echoHandler: EdgeHandler = (req: HttpRequest, client: ClientInfo) => {
  const certs = client.certificates as ClientCertificate[];
  const echo: Echo = {
    secure: client.isSecure,
    scheme: req.uri.scheme ?? "",
    host: req.uri.host ?? "",
    path: req.uri.rawPath ?? "",
    version: req.version,
    remoteAddress: client.remoteAddress,
    certificates: certs.map((c) => c.subject),
    issuers: certs.map((c) => c.issuer),
  };
  const resp = new HttpResponse(200);
  resp.headers.add("content-type", "application/json");
  resp.entity.setJson(echo);
  return Promise.resolve(resp);
};

export interface Https extends AsyncDisposable {
  server: RunningServer;
  port: number;
}

/** An HTTPS connector on 127.0.0.1:0, stopped by `await using`. */
export async function startHttps(
  tls: ServerTlsOptions,
  handler: EdgeHandler = echoHandler,
  opts: Partial<ServerOptions> = {},
): Promise<Https> {
  const server = await serveHttps({ port: 0, hostname: "127.0.0.1", ...opts }, tls, handler);
  return {
    server,
    port: server.port,
    async [Symbol.asyncDispose]() {
      await server.close(1_000);
    },
  };
}

/** Runs a command, collects its output. */
export async function run(
  cmd: string,
  args: string[],
  stdin?: string,
  env?: Record<string, string>,
): Promise<{
  code: number;
  stdout: string;
  stderr: string;
}> {
  const child = new Deno.Command(cmd, {
    args,
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** What openssl s_client saw. */
export interface SClient {
  /** The served certificate's subject (`CN = …, O = …`), or null when no handshake. */
  subject: string | null;
  alpn: string | null;
  protocol: string | null;
  /** Verify return code line. */
  verify: string | null;
  text: string;
}

/** `openssl s_client` against 127.0.0.1:port (no SNI unless servername). */
export async function sClient(port: number, opts: {
  servername?: string;
  cert?: string;
  key?: string;
  alpn?: string;
  caFile?: string;
  extra?: string[];
  send?: string;
} = {}): Promise<SClient> {
  const args = ["s_client", "-connect", `127.0.0.1:${port}`];
  args.push(...(opts.servername ? ["-servername", opts.servername] : ["-noservername"]));
  if (opts.cert) args.push("-cert", opts.cert, "-key", opts.key ?? opts.cert);
  if (opts.alpn) args.push("-alpn", opts.alpn);
  args.push("-CAfile", opts.caFile ?? CA);
  args.push(...(opts.extra ?? []));
  const r = await run("openssl", args, opts.send ?? "");
  const text = r.stdout + r.stderr;
  const subject = /^subject=(.*)$/m.exec(text)?.[1].trim() ?? null;
  const alpn = /^ALPN protocol: (.*)$/m.exec(text)?.[1].trim() ?? null;
  const protocol = /^\s*Protocol\s*: (.*)$/m.exec(text)?.[1].trim() ??
    /New, (TLSv[\d.]+)/.exec(text)?.[1] ?? null;
  const verify = /Verify return code: (.*)$/m.exec(text)?.[1].trim() ?? null;
  return { subject, alpn, protocol, verify, text };
}

/** curl with the given arguments; `-s -S` and a 10 s cap are added. */
export function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run("curl", ["-s", "-S", "--max-time", "10", ...args]);
}

/** A temporary directory removed by `await using`. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "ig-tls-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Concatenates fixture files into one file (key + certificate PEM, as the IG docs do). */
export async function catFiles(to: string, ...files: string[]): Promise<void> {
  const parts = await Promise.all(files.map((f) => Deno.readTextFile(f)));
  await Deno.writeTextFile(to, parts.join(""));
}

/** Polls until fn returns a truthy value (or the time is up, then returns the last value). */
export async function eventually<T>(fn: () => Promise<T>, ms = 8_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Closes a heap (its stores' watchers) when disposed. */
export function disposing(heap: Heap): Heap & AsyncDisposable {
  return Object.assign(heap, { [Symbol.asyncDispose]: () => heap.close() });
}
