// The browser's side of passkeys: the service's WebAuthn JSON in, the authenticator's JSON out.
// Browsers that have PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON
// and PublicKeyCredential#toJSON (Chromium, recent Firefox and Safari) use them; others get the
// same conversion here (binary members as base64url, as the WebAuthn JSON forms define).

/** base64url (no padding) of bytes. */
export function toBase64url(bytes: ArrayBuffer | Uint8Array): string {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The bytes of base64url (padding optional); throws on anything else. */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) throw new Error("not base64url");
  const b64 = text.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  const s = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(new ArrayBuffer(s.length));
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

type Json = Record<string, unknown>;
type Descriptor = { id: string; type: string; transports?: string[] };

const descriptors = (list: unknown) =>
  ((list as Descriptor[] | undefined) ?? []).map((d) => ({ ...d, id: fromBase64url(d.id) }) as PublicKeyCredentialDescriptor);

/** PublicKeyCredentialCreationOptions from their WebAuthn JSON, without the browser's parser. */
export function creationOptionsFromJSON(o: Json): PublicKeyCredentialCreationOptions {
  const user = o.user as Json;
  return {
    ...(o as object),
    challenge: fromBase64url(o.challenge as string),
    user: { ...(user as object), id: fromBase64url(user.id as string) },
    excludeCredentials: descriptors(o.excludeCredentials),
  } as unknown as PublicKeyCredentialCreationOptions;
}

/** PublicKeyCredentialRequestOptions from their WebAuthn JSON, without the browser's parser. */
export function requestOptionsFromJSON(o: Json): PublicKeyCredentialRequestOptions {
  return {
    ...(o as object),
    challenge: fromBase64url(o.challenge as string),
    allowCredentials: descriptors(o.allowCredentials),
  } as unknown as PublicKeyCredentialRequestOptions;
}

/** A credential's WebAuthn JSON (what PublicKeyCredential#toJSON gives), without toJSON. */
export function credentialToJSON(c: PublicKeyCredential): Json {
  const r = c.response as AuthenticatorResponse & Partial<AuthenticatorAttestationResponse & AuthenticatorAssertionResponse>;
  const response: Json = { clientDataJSON: toBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64url(r.attestationObject);
    response.transports = r.getTransports?.() ?? [];
  }
  if (r.authenticatorData) response.authenticatorData = toBase64url(r.authenticatorData);
  if (r.signature) response.signature = toBase64url(r.signature);
  if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
  return {
    id: c.id,
    rawId: toBase64url(c.rawId),
    type: c.type,
    authenticatorAttachment: c.authenticatorAttachment ?? undefined,
    clientExtensionResults: c.getClientExtensionResults(),
    response,
  };
}

type PKC = typeof PublicKeyCredential & {
  parseCreationOptionsFromJSON?: (o: Json) => PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON?: (o: Json) => PublicKeyCredentialRequestOptions;
};

/** Whether this browser can use passkeys at all. */
export function passkeysSupported(): boolean {
  return typeof window !== "undefined" && "PublicKeyCredential" in window && !!navigator.credentials;
}

/** Whether the browser offers passkeys in the username field's autofill (conditional UI). */
export async function conditionalMediationAvailable(): Promise<boolean> {
  if (!passkeysSupported()) return false;
  const f = (PublicKeyCredential as { isConditionalMediationAvailable?: () => Promise<boolean> }).isConditionalMediationAvailable;
  return f ? f.call(PublicKeyCredential).catch(() => false) : false;
}

function toJSONText(c: PublicKeyCredential): string {
  const own = (c as PublicKeyCredential & { toJSON?: () => Json }).toJSON;
  return JSON.stringify(own ? own.call(c) : credentialToJSON(c));
}

/** Words for the browser's refusals, which are not the service's errors. */
function explain(err: unknown): Error {
  const name = (err as { name?: string })?.name;
  if (name === "AbortError") return err as Error;
  if (name === "NotAllowedError") return new Error("The passkey request was cancelled or timed out. Try again.");
  if (name === "InvalidStateError") return new Error("This device already holds a passkey for your account.");
  if (name === "SecurityError") return new Error("Passkeys do not work on this address. Open the dashboard at its public URL.");
  return new Error("Your browser could not use a passkey here. Try again, or use your password.");
}

/** Makes a new passkey from the service's creation options; returns the credential's JSON text. */
export async function createPasskey(optionsJson: string): Promise<string> {
  const o = JSON.parse(optionsJson) as Json;
  const P = PublicKeyCredential as PKC;
  const publicKey = P.parseCreationOptionsFromJSON ? P.parseCreationOptionsFromJSON(o) : creationOptionsFromJSON(o);
  let c: Credential | null;
  try {
    c = await navigator.credentials.create({ publicKey });
  } catch (err) {
    throw explain(err);
  }
  if (!c) throw new Error("No passkey was created. Try again.");
  return toJSONText(c as PublicKeyCredential);
}

/** Asks for a passkey with the service's request options; returns the assertion's JSON text.
 * With conditional set, the browser offers passkeys in the username field's autofill instead of
 * a dialog, until signal aborts the request. */
export async function getPasskey(optionsJson: string, conditional = false, signal?: AbortSignal): Promise<string> {
  const o = JSON.parse(optionsJson) as Json;
  const P = PublicKeyCredential as PKC;
  const publicKey = P.parseRequestOptionsFromJSON ? P.parseRequestOptionsFromJSON(o) : requestOptionsFromJSON(o);
  let c: Credential | null;
  try {
    c = await navigator.credentials.get({ publicKey, signal, ...(conditional ? { mediation: "conditional" as CredentialMediationRequirement } : {}) });
  } catch (err) {
    throw explain(err);
  }
  if (!c) throw new Error("No passkey was chosen. Try again.");
  return toJSONText(c as PublicKeyCredential);
}
