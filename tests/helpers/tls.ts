/**
 * A throwaway certificate authority made with `openssl` at run time, for TLS tests.
 *
 *     await using ca = await makeCa();
 *     const cert = await ca.issue("first"); // for localhost and 127.0.0.1
 *     startServer({ args: ["--tls-cert", cert.certFile, "--tls-key", cert.keyFile] });
 *
 * Disposal removes its directory.
 */
import { X509Certificate } from "node:crypto";

export interface IssuedCert {
  certFile: string;
  keyFile: string;
  /** SHA-256 fingerprint as node:tls and node:crypto print it (AA:BB:…). */
  fingerprint256: string;
}

export interface TestCa extends AsyncDisposable {
  readonly dir: string;
  /** The CA certificate (PEM), what a client's `--ca` takes. */
  readonly caFile: string;
  /** A new key and a certificate for localhost and 127.0.0.1 signed by the CA, named `name`. */
  issue(name: string): Promise<IssuedCert>;
}

export async function makeCa(): Promise<TestCa> {
  const dir = await Deno.makeTempDir({ prefix: "resumable-ca-" });
  const caFile = `${dir}/ca.pem`;
  const caKey = `${dir}/ca.key`;
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    await openssl(
      ["req", "-x509", ...ecKey, "-keyout", caKey, "-out", caFile, "-days", "2"],
      ["-subj", "/CN=resumable test CA"],
    );
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  const ext = `${dir}/server.ext`;
  await Deno.writeTextFile(ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  return {
    dir,
    caFile,
    async issue(name) {
      const keyFile = `${dir}/${name}.key`;
      const certFile = `${dir}/${name}.pem`;
      const csr = `${dir}/${name}.csr`;
      await openssl(["req", ...ecKey, "-keyout", keyFile, "-out", csr], ["-subj", "/CN=localhost"]);
      await openssl(
        ["x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial"],
        ["-out", certFile, "-days", "2", "-extfile", ext],
      );
      const x509 = new X509Certificate(await Deno.readTextFile(certFile));
      return { certFile, keyFile, fingerprint256: x509.fingerprint256 };
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function openssl(...args: string[][]): Promise<void> {
  const out = await new Deno.Command("openssl", { args: args.flat(), stdin: "null" }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args.flat().join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}
