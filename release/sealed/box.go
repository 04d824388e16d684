package sealed

import "fmt"

// A Box seals secrets other than config var values (a TLS private key, a
// webhook's signing secret, an ACME account key) with the same keys and
// format, so that one key list protects everything a platform keeps at
// rest. Each secret is bound to a label the caller chooses for its place
// ("webhook/<id>/secret"): a sealed secret moved to another label does not
// open. Box values and config var values never open as each other.
//
// A Box is safe for concurrent use.
type Box struct{ keys *keyring }

// NewBox returns a Box whose first key seals and whose keys all open. It
// fails on the same key lists New refuses.
func NewBox(keys []Key) (*Box, error) {
	kr, err := newKeyring(keys)
	if err != nil {
		return nil, err
	}
	return &Box{keys: kr}, nil
}

// boxVersion stands for the release version in a Box value's
// authenticated data: releases count from 1, so no config var value
// shares a Box value's data.
const boxVersion = -1

// Seal returns secret sealed for label: "dk-sealed:v1:<key ID>:<payload>".
func (b *Box) Seal(label string, secret []byte) string {
	return b.keys.sealValue("", boxVersion, label, string(secret))
}

// Open returns the secret stored for label. A stored text without
// [Prefix] is plaintext written before sealing was turned on and is
// returned as it is. An error is an *[OpenError] (wrapping
// [ErrCannotOpen]) naming the label, never the secret.
func (b *Box) Open(label, stored string) ([]byte, error) {
	plain, oerr := b.keys.openValue("", boxVersion, label, stored)
	if oerr != nil {
		return nil, oerr
	}
	return []byte(plain), nil
}

// secretError formats an OpenError of a Box value.
func secretError(e *OpenError) string {
	kind := "secret"
	if e.Version == streamVersion {
		kind = "stream"
	}
	s := fmt.Sprintf("sealed: %s %q: ", kind, e.Var)
	if e.KeyID != "" {
		s += "key " + e.KeyID + ": "
	}
	return s + string(e.Reason)
}
