/**
 * The example routes in routes/ (one per example of the seed guide) run unchanged against
 * the sample application stand-in (scripts/sample_app.ts). Paths and URLs are given the way
 * a user would: environment variables for the &{secrets.dir} / &{sampleapp.url} tokens.
 */
import { equal, match } from "node:assert/strict";
import { makeInstance, startGateway, testAdmin } from "../helpers/gateway.ts";

const root = new URL("../..", import.meta.url).pathname;
const routesDir = `${root}routes`;

async function startSampleApp(): Promise<{ http: number; https: number } & AsyncDisposable> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${root}scripts/sample_app.ts`,
      "--http-port",
      "0",
      "--https-port",
      "0",
      "--host",
      "127.0.0.1",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let m: RegExpMatchArray | null = null;
  while (!(m = text.match(/sample app http=(\d+) https=(\d+)/))) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`sample app did not start: ${text}`);
    text += value;
  }
  reader.releaseLock();
  return {
    http: Number(m[1]),
    https: Number(m[2]),
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/** A secrets directory as the guide builds it: the sample app's truststore and the session keystore. */
async function secretsDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ig-secrets-" });
  await Deno.copyFile(
    `${root}tests/fixtures/sample_app/reverseproxy-truststore.p12`,
    `${dir}/reverseproxy-truststore.p12`,
  );
  await Deno.copyFile(
    `${root}tests/fixtures/secrets/seed/jwtsessionkeystore.pkcs12`,
    `${dir}/jwtsessionkeystore.pkcs12`,
  );
  return dir;
}

async function routeFiles(names: string[]): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const n of names) files[`config/routes/${n}`] = await Deno.readTextFile(`${routesDir}/${n}`);
  return files;
}

Deno.test("Example routes proxy the sample app over HTTP and HTTPS and open a JWT session", async () => {
  await using app = await startSampleApp();
  const secrets = await secretsDir();
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    ...await routeFiles([
      "static-resources.json",
      "client-side-https.json",
      "jwt-session-encrypt.json",
    ]),
  });
  try {
    await using gw = await startGateway(dir, {
      env: {
        SECRETS_DIR: secrets,
        SAMPLEAPP_URL: `http://127.0.0.1:${app.http}`,
        SAMPLEAPP_HTTPS_URL: `https://127.0.0.1:${app.https}`,
        KEYSTORE_SECRET_ID: "cGFzc3dvcmQ=",
      },
    });
    const css = await fetch(gw.url("/css/sample.css"));
    equal(css.status, 200);
    match(await css.text(), /font-family/);
    const https = await fetch(gw.url("/home/client-side-https"));
    equal(https.status, 200);
    match(await https.text(), /Sample application home/);
    const jwt = await fetch(gw.url("/jwt-session-encrypt"));
    equal(await jwt.text(), "Hello world!");
    match(gw.output(), /Loaded the route with id 'client-side-https'/);
  } finally {
    await Deno.remove(secrets, { recursive: true });
  }
});

Deno.test("Example routes of the shared-session example load as written and log a user in", async () => {
  const secrets = await secretsDir();
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    ...await routeFiles([
      "instance1-loadbalancer.json",
      "instance2-retrieve-session-username.json",
      "instance3-retrieve-session-username.json",
    ]),
  });
  try {
    await using gw = await startGateway(dir, {
      env: { SECRETS_DIR: secrets, KEYSTORE_SECRET_ID: "cGFzc3dvcmQ=" },
    });
    for (
      const id of [
        "instance1-loadbalancer",
        "instance2-retrieve-session-username",
        "instance3-retrieve-session-username",
      ]
    ) {
      match(gw.output(), new RegExp(`Loaded the route with id '${id}'`));
    }
    // instance1 has no condition: it takes every request and logs a user in on this path.
    const res = await fetch(gw.url("/log-in-and-generate-session"));
    match(await res.text(), /Sam Carter/);
    match(res.headers.get("set-cookie") ?? "", /^IG=/);
  } finally {
    await Deno.remove(secrets, { recursive: true });
  }
});

Deno.test("Example identity-assertion route loads as written and refuses a request without a jwt", async () => {
  const seed = `${root}tests/fixtures/instances/identity-seed`;
  const files: Record<string, string> = await routeFiles(["identity-assertion.json"]);
  for (
    const sub of [
      "secrets/node-verify/id.key.for.verifying.incoming.jwt.pem",
      "secrets/ig-sign/id.key.for.signing.assertion.jwt.pem",
      "secrets/ig-decrypt/id.key.for.decrypting.incoming.jwt.pem",
      "secrets/node-encrypt/id.key.for.encrypting.assertion.jwt.pem",
      "scripts/js/BasicAuthFilter.js",
      "scripts/js/BasicAuthPlugin.js",
    ]
  ) {
    files[sub] = await Deno.readTextFile(`${seed}/${sub}`);
  }
  const dir = await makeInstance({ "config/admin.json": testAdmin(), ...files });
  await using gw = await startGateway(dir);
  match(gw.output(), /Loaded the route with id 'identity-assertion'/);
  const res = await fetch(gw.url("/idassert"));
  equal(res.status, 500);
  equal(await res.text(), "");
  await gw.waitForOutput(
    /refused the identity assertion request: invalid incoming JWT: no jwt query parameter/,
  );
});
