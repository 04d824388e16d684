package sealed_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/memstore"
	"github.com/dynokit/dynokit/release/sealed"
)

// Wrap a store: callers see plaintext, the backend holds sealed values.
// (A real key list comes from NewKeyText and lives outside the store: an
// environment variable or a file readable by the platform only.)
func Example() {
	ctx := context.Background()
	keys, err := sealed.ParseKeys(`
		# sealing key (first), added 2026-03
		ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=
		# previous key: opens older releases only
		AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
	`)
	if err != nil {
		fmt.Println(err)
		return
	}
	backend := memstore.New()
	store, err := sealed.New(backend, keys)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := &release.Manager{Store: store}
	r, err := m.SetConfig(ctx, "shop", release.ConfigChange{Set: map[string]string{"STRIPE_KEY": "sk_live_123"}}, release.Opts{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Name(), r.Description, r.Config["STRIPE_KEY"])

	raw, _ := backend.Get(ctx, "shop", 1)
	stored := raw.Config["STRIPE_KEY"]
	fmt.Println(stored[:strings.LastIndexByte(stored, ':')+1], "…")
	fmt.Println(keys[0])
	// Output:
	// v1 Set STRIPE_KEY config vars sk_live_123
	// dk-sealed:v1:72dbb733: …
	// sealed.Key{ID:"72dbb733", Secret:[REDACTED]}
}

// Key lists are checked line by line; errors never show a key.
func ExampleParseKeys() {
	_, err := sealed.ParseKeys("ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n\nAAECAwQFBgcICQoLDA0ODxAREhM=\n")
	fmt.Println(err)
	// Output:
	// sealed: keys line 3: a key is 32 bytes (AES-256), this one is 20 bytes
}

// A Box seals a platform's other secrets with the same keys, each bound
// to a label for its place.
func ExampleBox() {
	keyText, err := sealed.NewKeyText()
	if err != nil {
		panic(err)
	}
	keys, err := sealed.ParseKeys(keyText)
	if err != nil {
		panic(err)
	}
	box, err := sealed.NewBox(keys)
	if err != nil {
		panic(err)
	}
	stored := box.Seal("webhook/01/secret", []byte("whsec-3f9a"))
	fmt.Println(strings.HasPrefix(stored, sealed.Prefix), strings.Contains(stored, "whsec"))

	secret, err := box.Open("webhook/01/secret", stored)
	fmt.Println(string(secret), err)

	_, err = box.Open("webhook/02/secret", stored) // moved: refused
	fmt.Println(errors.Is(err, sealed.ErrCannotOpen))
	// Output:
	// true false
	// whsec-3f9a <nil>
	// true
}

// A stream seals data too large to hold in memory, such as a database
// backup, as it is written.
func ExampleBox_SealStream() {
	keyText, _ := sealed.NewKeyText()
	keys, _ := sealed.ParseKeys(keyText)
	box, err := sealed.NewBox(keys)
	if err != nil {
		panic(err)
	}
	var file bytes.Buffer // an *os.File in practice
	w := box.SealStream(&file, "backup/b001")
	if _, err := io.Copy(w, strings.NewReader("PGDMP… the dump …")); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil { // writes the last chunk
		panic(err)
	}
	fmt.Println(strings.HasPrefix(file.String(), sealed.StreamPrefix), strings.Contains(file.String(), "dump"))

	r, err := box.OpenStream(bytes.NewReader(file.Bytes()), "backup/b001")
	if err != nil {
		panic(err)
	}
	data, err := io.ReadAll(r)
	fmt.Println(string(data), err)

	_, err = box.OpenStream(bytes.NewReader(file.Bytes()), "backup/b002") // another place: refused
	fmt.Println(errors.Is(err, sealed.ErrCannotOpen))
	// Output:
	// true false
	// PGDMP… the dump … <nil>
	// true
}
