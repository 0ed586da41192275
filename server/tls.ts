/**
 * The server's certificate and key (`--tls-cert`, `--tls-key`): read from PEM files and checked
 * before use, at start and on every reload. node:tls in Deno takes a key that doesn't match the
 * certificate without complaint and then fails every handshake, so the pair is checked here.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";

/** PEM texts: the certificate (leaf first, then any intermediates) and its private key. */
export interface TlsPair {
  cert: string;
  key: string;
}

/** What the loaded certificate is, for the log. */
export interface TlsSummary {
  subject: string;
  serial: string;
  notAfter: string;
}

/**
 * Reads and checks the pair. Throws RangeError naming the flag at fault: a file that can't be
 * read, a certificate or key that isn't PEM, or a key that doesn't belong to the certificate.
 */
export async function readTlsPair(
  certFile: string,
  keyFile: string,
): Promise<{ pair: TlsPair; summary: TlsSummary }> {
  const cert = await readPem("--tls-cert", certFile);
  const key = await readPem("--tls-key", keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new RangeError(
      `Invalid --tls-cert ${JSON.stringify(certFile)}: not a PEM certificate (${message(error)})`,
    );
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    throw new RangeError(
      `Invalid --tls-key ${JSON.stringify(keyFile)}: not a PEM private key (${message(error)})`,
    );
  }
  if (!matches) {
    throw new RangeError(
      `Invalid --tls-key ${JSON.stringify(keyFile)}: it is not the key of --tls-cert ` +
        JSON.stringify(certFile),
    );
  }
  return {
    pair: { cert, key },
    summary: { subject: x509.subject, serial: x509.serialNumber, notAfter: x509.validTo },
  };
}

async function readPem(flag: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new RangeError(`Cannot read ${flag} ${JSON.stringify(path)}: ${message(error)}`);
  }
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!;
}
