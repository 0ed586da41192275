/**
 * `--ca FILE`: fetch that trusts a private certificate authority (PEM) besides the system's, for
 * a server whose certificate it signed.
 */

/** A fetch that trusts the CA certificates in `file`; throws RangeError naming `--ca` if unusable. */
export async function caFetch(file: string): Promise<typeof fetch> {
  let pem: string;
  try {
    pem = await Deno.readTextFile(file);
  } catch (error) {
    throw new RangeError(`Cannot read --ca ${JSON.stringify(file)}: ${(error as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new RangeError(`Invalid --ca ${JSON.stringify(file)}: no PEM certificate in it`);
  }
  let client: Deno.HttpClient;
  try {
    client = Deno.createHttpClient({ caCerts: [pem] });
  } catch (error) {
    throw new RangeError(`Invalid --ca ${JSON.stringify(file)}: ${(error as Error).message}`);
  }
  return (input, init) => fetch(input, { ...init, client });
}
