package addons_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// notes is a provider whose resources hold a line of text, and which can
// copy it out and back in (a Backuper).
type notes struct {
	*addonstest.MemProvider
	text map[string]string
}

func (n notes) Backup(ctx context.Context, id string, w io.Writer) error {
	_, err := io.WriteString(w, n.text[id])
	return err
}

func (n notes) Restore(ctx context.Context, id string, r io.Reader) error {
	b, err := io.ReadAll(r)
	n.text[id] = string(b)
	return err
}

// Backup and Restore answer heroku pg:backups:capture and restore through
// a provider that implements Backuper (for PostgreSQL, pg_dump and
// pg_restore). The platform decides where backups are kept.
func ExampleManager_Backup() {
	ctx := context.Background()
	p := notes{addonstest.NewMemProvider("NOTES", "basic"), map[string]string{}}
	m := &addons.Manager{
		Catalog: addons.Catalog{Services: []addons.Service{{
			Name: "notes", ConfigPrefix: "NOTES", Plans: []addons.Plan{{Name: "basic"}}, Provider: p,
		}}},
		Config: &addonstest.MemConfig{},
	}
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "notes:basic"})
	if err != nil {
		panic(err)
	}
	p.text[a.ProviderID] = "first draft"

	var backup bytes.Buffer
	if err := m.Backup(ctx, a.Name, &backup); err != nil {
		panic(err)
	}
	p.text[a.ProviderID] = "overwritten by mistake"
	if err := m.Restore(ctx, a.Name, &backup); err != nil {
		panic(err)
	}
	fmt.Println("restored:", p.text[a.ProviderID])

	err = m.Backup(ctx, "no-such-addon", io.Discard)
	fmt.Println("unknown add-on:", errors.Is(err, addons.ErrNotFound))
	// Output:
	// restored: first draft
	// unknown add-on: true
}
