package sealed

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dynokit/dynokit/release"
)

// Prefix starts every sealed value. A stored value without it is
// plaintext (written before sealing was turned on) and is returned as it
// is.
const Prefix = "dk-sealed:"

// formatV1 follows Prefix in the values this package writes:
// "dk-sealed:v1:<key ID>:<base64url(nonce ‖ ciphertext ‖ tag)>".
const formatV1 = "v1:"

// ErrCannotOpen is wrapped by every *OpenError, for callers that branch
// on a value that cannot be opened without needing its details.
var ErrCannotOpen = errors.New("sealed: cannot open config var value")

// Reason says why a sealed value could not be opened.
type Reason string

const (
	// ReasonMalformed: the value starts with Prefix but is not a value
	// this package writes (unknown format version, bad base64, too short).
	ReasonMalformed Reason = "not a well-formed sealed value"
	// ReasonUnknownKey: the value names a key that is not among the keys
	// given to New (a retired key, or another installation's).
	ReasonUnknownKey Reason = "sealed with a key that is not among the opening keys"
	// ReasonNotAuthentic: the key is known but the value does not
	// authenticate: it was altered, sealed by a different key under the
	// same ID, or moved from another app, version or var.
	ReasonNotAuthentic Reason = "does not authenticate (altered, wrong key, or moved from another app, version or var)"
	// ReasonTruncated: a sealed stream ([Box.SealStream]) ends before its
	// last chunk.
	ReasonTruncated Reason = "ends before its last chunk (cut off)"
)

// OpenError reports a stored config var value (or a [Box] secret: then
// Var is its label and Version is -1; or a sealed stream: Var is its label
// and Version is -2) that cannot be opened. It names
// where the value is and why it failed, never the value (sealed or not).
type OpenError struct {
	App     string
	Version int
	Var     string
	KeyID   string // the key the value names; "" if it names none well formed
	Reason  Reason
}

func (e *OpenError) Error() string {
	if e.Version == boxVersion || e.Version == streamVersion {
		return secretError(e)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "sealed: %s v%d: config var %s: ", strconv.QuoteToASCII(e.App), e.Version, strconv.QuoteToASCII(e.Var))
	if e.KeyID != "" {
		fmt.Fprintf(&b, "key %s: ", e.KeyID)
	}
	b.WriteString(string(e.Reason))
	return b.String()
}

// Unwrap returns ErrCannotOpen.
func (e *OpenError) Unwrap() error { return ErrCannotOpen }

// keyring holds the ciphers made once from the keys given to New.
type keyring struct {
	sealID string
	seal   cipher.AEAD
	open   map[string]cipher.AEAD // by key ID; includes the sealing key
}

// New returns a Store that keeps config var values sealed in backend.
// keys[0] seals every value Append writes; every key opens the values
// sealed with it. The returned Store implements [release.AppDeleter]
// exactly when backend does. It holds no state of its own: several may
// wrap one backend, and the backend's own methods (Close) stay with the
// caller.
//
// New fails if there is no key, a secret is not 32 bytes, an ID is not 1
// to 64 of [A-Za-z0-9_-], or two keys share an ID.
func New(backend release.Store, keys []Key) (release.Store, error) {
	if backend == nil {
		return nil, errors.New("sealed: backend store is nil")
	}
	kr, err := newKeyring(keys)
	if err != nil {
		return nil, err
	}
	s := &store{backend: backend, keys: kr}
	if d, ok := backend.(release.AppDeleter); ok {
		return &deleterStore{store: s, deleter: d}, nil
	}
	return s, nil
}

// newKeyring checks keys and makes their ciphers; keys[0] seals.
func newKeyring(keys []Key) (*keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("sealed: no keys: the first key seals and every key opens")
	}
	kr := &keyring{open: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if !validKeyID(k.ID) {
			return nil, fmt.Errorf("sealed: key %d: ID %.70q: want 1 to 64 ASCII letters, digits, '_' or '-'", i, k.ID)
		}
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("sealed: key %d (%s): secret is %d bytes, want %d (AES-256)", i, k.ID, len(k.Secret), KeySize)
		}
		if _, dup := kr.open[k.ID]; dup {
			return nil, fmt.Errorf("sealed: key %d: ID %s is used twice", i, k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("sealed: key %d (%s): %w", i, k.ID, err)
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("sealed: key %d (%s): %w", i, k.ID, err)
		}
		kr.open[k.ID] = aead
		if i == 0 {
			kr.sealID, kr.seal = k.ID, aead
		}
	}
	return kr, nil
}

// store is the Store New returns for a backend without AppDeleter.
type store struct {
	backend release.Store
	keys    *keyring
}

// deleterStore is the Store New returns for a backend with AppDeleter.
type deleterStore struct {
	*store
	deleter release.AppDeleter
}

var (
	_ release.Store      = (*store)(nil)
	_ release.AppDeleter = (*deleterStore)(nil)
)

// DeleteApp implements [release.AppDeleter] by calling the backend's.
func (s *deleterStore) DeleteApp(ctx context.Context, app string) error {
	return s.deleter.DeleteApp(ctx, app)
}

// Append implements [release.Store]: it seals r's values for version
// expectVersion+1 (the only version Append can store them as) and returns
// the release the backend stored, with its values opened. (If the backend
// returns a value that does not open, the release is stored all the same
// and Append returns an *OpenError.)
func (s *store) Append(ctx context.Context, app string, r release.Release, expectVersion int) (release.Release, error) {
	plain := r.Config
	r.Config = nil
	r = r.Clone()
	if plain != nil {
		r.Config = make(release.ConfigVars, len(plain))
		for name, v := range plain {
			r.Config[name] = s.keys.sealValue(app, expectVersion+1, name, v)
		}
	}
	got, err := s.backend.Append(ctx, app, r, expectVersion)
	if err != nil {
		return release.Release{}, err
	}
	if got.Version != expectVersion+1 {
		return s.opened(app, got, nil, nil)
	}
	return s.opened(app, got, r.Config, plain)
}

// Get implements [release.Store].
func (s *store) Get(ctx context.Context, app string, version int) (release.Release, error) {
	r, err := s.backend.Get(ctx, app, version)
	if err != nil {
		return release.Release{}, err
	}
	return s.opened(app, r, nil, nil)
}

// Latest implements [release.Store].
func (s *store) Latest(ctx context.Context, app string) (release.Release, error) {
	r, err := s.backend.Latest(ctx, app)
	if err != nil {
		return release.Release{}, err
	}
	return s.opened(app, r, nil, nil)
}

// Current implements [release.Store].
func (s *store) Current(ctx context.Context, app string) (release.Release, error) {
	r, err := s.backend.Current(ctx, app)
	if err != nil {
		return release.Release{}, err
	}
	return s.opened(app, r, nil, nil)
}

// SetStatus implements [release.Store]. The status changes in the
// backend even if a value of the returned release cannot be opened.
func (s *store) SetStatus(ctx context.Context, app string, version int, to release.Status) (release.Release, error) {
	r, err := s.backend.SetStatus(ctx, app, version, to)
	if err != nil {
		return release.Release{}, err
	}
	return s.opened(app, r, nil, nil)
}

// List implements [release.Store]. One value that cannot be opened fails
// the whole page.
func (s *store) List(ctx context.Context, app string, opt release.ListOptions) ([]release.Release, error) {
	rs, err := s.backend.List(ctx, app, opt)
	if err != nil {
		return nil, err
	}
	out := make([]release.Release, len(rs))
	for i, r := range rs {
		if out[i], err = s.opened(app, r, nil, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// opened returns a deep copy of r, as read from the backend for app, with
// its values opened. If several values fail, the error names the first
// var by name, so that it does not depend on map order.
//
// Append passes the values it has just sealed for r's version and their
// plaintext: a stored value identical to the one sealed for the same var
// is known without opening it (opening would give the same plaintext).
func (s *store) opened(app string, r release.Release, justSealed, plaintext release.ConfigVars) (release.Release, error) {
	stored := r.Config
	r.Config = nil
	r = r.Clone()
	if stored == nil {
		return r, nil
	}
	r.Config = make(release.ConfigVars, len(stored))
	var fail *OpenError
	for name, v := range stored {
		if sv, ok := justSealed[name]; ok && sv == v {
			r.Config[name] = plaintext[name]
			continue
		}
		plain, err := s.keys.openValue(app, r.Version, name, v)
		if err != nil {
			if fail == nil || name < fail.Var {
				fail = err
			}
			continue
		}
		r.Config[name] = plain
	}
	if fail != nil {
		return release.Release{}, fail
	}
	return r, nil
}

// header is the text before the payload of a value sealed with keyID.
func header(keyID string) string { return Prefix + formatV1 + keyID + ":" }

// additionalData is what GCM authenticates beside the ciphertext: the
// header (format and key ID) and, length-prefixed so that no two
// positions share an encoding, the app, version and var the value belongs
// to. A value copied anywhere else fails to open.
func additionalData(hdr, app string, version int, name string) []byte {
	ad := make([]byte, 0, len(hdr)+len(app)+len(name)+3*binary.MaxVarintLen64)
	ad = append(ad, hdr...)
	ad = binary.AppendUvarint(ad, uint64(len(app)))
	ad = append(ad, app...)
	ad = binary.AppendVarint(ad, int64(version))
	ad = binary.AppendUvarint(ad, uint64(len(name)))
	ad = append(ad, name...)
	return ad
}

var payloadEncoding = base64.RawURLEncoding.Strict()

// sealValue seals value as config var name of app's version.
func (k *keyring) sealValue(app string, version int, name, value string) string {
	hdr := header(k.sealID)
	ct := k.seal.Seal(nil, nil, []byte(value), additionalData(hdr, app, version, name))
	out := make([]byte, len(hdr)+payloadEncoding.EncodedLen(len(ct)))
	copy(out, hdr)
	payloadEncoding.Encode(out[len(hdr):], ct)
	return string(out)
}

// openValue opens stored, the value of config var name of app's version,
// or returns it unchanged if it is plaintext.
func (k *keyring) openValue(app string, version int, name, stored string) (string, *OpenError) {
	rest, ok := strings.CutPrefix(stored, Prefix)
	if !ok {
		return stored, nil
	}
	fail := func(keyID string, why Reason) (string, *OpenError) {
		return "", &OpenError{App: app, Version: version, Var: name, KeyID: keyID, Reason: why}
	}
	rest, ok = strings.CutPrefix(rest, formatV1)
	if !ok {
		return fail("", ReasonMalformed)
	}
	keyID, payload, ok := strings.Cut(rest, ":")
	if !ok || !validKeyID(keyID) {
		return fail("", ReasonMalformed)
	}
	aead, ok := k.open[keyID]
	if !ok {
		return fail(keyID, ReasonUnknownKey)
	}
	ct, err := payloadEncoding.DecodeString(payload)
	// The length check refuses the '\r' and '\n' the decoder skips: one
	// sealed text per nonce and ciphertext.
	if err != nil || len(ct) < aead.Overhead() || payloadEncoding.EncodedLen(len(ct)) != len(payload) {
		return fail(keyID, ReasonMalformed)
	}
	hdr := stored[:len(stored)-len(payload)]
	plain, err := aead.Open(ct[:0], nil, ct, additionalData(hdr, app, version, name))
	if err != nil {
		return fail(keyID, ReasonNotAuthentic)
	}
	return string(plain), nil
}
