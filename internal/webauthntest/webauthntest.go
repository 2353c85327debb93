// Package webauthntest is a software WebAuthn authenticator for tests: ES256 credentials,
// `none` attestation, and every flag, counter, origin and RP id under the test's control, so
// that register and sign-in ceremonies can be driven end to end without a browser and each
// check of the relying party can be made to fail on purpose.
package webauthntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

var b64 = base64.RawURLEncoding

// Authenticator flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// Credential is a credential the authenticator holds.
type Credential struct {
	ID         []byte
	Key        *ecdsa.PrivateKey
	UserHandle []byte
	RPID       string
	// SignCount is the counter of the last signature; each Get adds one unless
	// Options.SignCount says otherwise.
	SignCount uint32
}

// Options shape one ceremony. The zero value is an honest authenticator with user
// verification, no backup, and the origin and RP id the options name.
type Options struct {
	// Origin is the origin the client reports in clientDataJSON (required).
	Origin string
	// RPID, when set, replaces the RP id whose hash goes into the authenticator data.
	RPID string
	// NoUV leaves the user-verified flag out.
	NoUV bool
	// BackupEligible and BackupState set the BE and BS flags.
	BackupEligible, BackupState bool
	// SignCount, when set, is the counter sent instead of the next one.
	SignCount *uint32
	// ZeroCounter sends 0 and keeps the counter at 0, as synced passkeys do.
	ZeroCounter bool
	// UserHandle, when set, replaces the credential's user handle in an assertion.
	UserHandle []byte
	// Challenge, when set, replaces the challenge the options carry.
	Challenge []byte
	// CredentialID, when set, is the id Create gives the new credential.
	CredentialID []byte
}

type creationOptions struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
}

type requestOptions struct {
	Challenge string `json:"challenge"`
	RPID      string `json:"rpId"`
}

func clientData(typ string, challenge []byte, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": b64.EncodeToString(challenge), "origin": origin, "crossOrigin": false})
	return b
}

func flags(o Options, extra byte) byte {
	f := byte(flagUP) | extra
	if !o.NoUV {
		f |= flagUV
	}
	if o.BackupEligible {
		f |= flagBE
	}
	if o.BackupState {
		f |= flagBS
	}
	return f
}

func authData(rpID string, f byte, count uint32) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], f)
	return binary.BigEndian.AppendUint32(out, count)
}

// Create answers PublicKeyCredentialCreationOptions (the relying party's JSON) with a new
// ES256 credential and `none` attestation, and returns the browser's JSON of it
// (PublicKeyCredential.toJSON()) with the credential, for later sign-ins. It returns an error
// for options that are not WebAuthn JSON (or whose challenge or user id is not base64url).
func Create(optionsJSON []byte, o Options) ([]byte, *Credential, error) {
	var opts creationOptions
	if err := json.Unmarshal(optionsJSON, &opts); err != nil {
		return nil, nil, fmt.Errorf("webauthntest: options: %w", err)
	}
	challenge, err := b64.DecodeString(opts.Challenge)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthntest: challenge: %w", err)
	}
	if o.Challenge != nil {
		challenge = o.Challenge
	}
	userHandle, err := b64.DecodeString(opts.User.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthntest: user id: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, nil, err
	}
	if o.CredentialID != nil {
		id = o.CredentialID
	}
	rpID := opts.RP.ID
	cred := &Credential{ID: id, Key: key, UserHandle: userHandle, RPID: rpID}
	if o.RPID != "" {
		rpID = o.RPID
	}
	// The uncompressed point is 0x04 ‖ x ‖ y, 32 bytes each on P-256.
	point, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, nil, err
	}
	x, y := point[1:33], point[33:65]
	// COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		return nil, nil, err
	}
	ad := authData(rpID, flags(o, flagAT), 0)
	ad = append(ad, make([]byte, 16)...) // AAGUID: zero, as `none` attestation allows
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(id)))
	ad = append(append(ad, id...), cose...)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		return nil, nil, err
	}
	out, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(id), "rawId": b64.EncodeToString(id), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData("webauthn.create", challenge, o.Origin)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal", "hybrid"},
		},
	})
	return out, cred, err
}

// Get answers PublicKeyCredentialRequestOptions with an assertion by cred, and returns the
// browser's JSON of it. It returns an error for options that are not WebAuthn JSON.
func Get(optionsJSON []byte, cred *Credential, o Options) ([]byte, error) {
	var opts requestOptions
	if err := json.Unmarshal(optionsJSON, &opts); err != nil {
		return nil, fmt.Errorf("webauthntest: options: %w", err)
	}
	challenge, err := b64.DecodeString(opts.Challenge)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: challenge: %w", err)
	}
	if o.Challenge != nil {
		challenge = o.Challenge
	}
	rpID := cred.RPID
	if o.RPID != "" {
		rpID = o.RPID
	}
	count := cred.SignCount + 1
	switch {
	case o.SignCount != nil:
		count = *o.SignCount
	case o.ZeroCounter:
		count = 0
	}
	if count > cred.SignCount {
		cred.SignCount = count
	}
	ad := authData(rpID, flags(o, 0), count)
	cd := clientData("webauthn.get", challenge, o.Origin)
	h := sha256.Sum256(cd)
	// ES256: ECDSA over the SHA-256 of authenticatorData ‖ SHA-256(clientDataJSON).
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, cred.Key, digest[:])
	if err != nil {
		return nil, err
	}
	handle := cred.UserHandle
	if o.UserHandle != nil {
		handle = o.UserHandle
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(cred.ID), "rawId": b64.EncodeToString(cred.ID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(handle),
		},
	})
}
