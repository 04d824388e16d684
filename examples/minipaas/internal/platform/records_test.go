package platform

import (
	"context"
	"testing"
)

// The front end's add-on and pipeline records are kept apart, survive a
// reopen, and go when deleted.
func TestFrontEndRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PutPipelineRecord(ctx, "p1", []byte(`{"name":"shop"}`)); err != nil {
		t.Fatal(err)
	}
	if err := p.PutPipelineRecord(ctx, "p2", []byte(`{"name":"blog"}`)); err != nil {
		t.Fatal(err)
	}
	if err := p.PutAddonRecord(ctx, "postgresql-keen-12345", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := p.PutPipelineRecord(ctx, "", nil); err == nil {
		t.Error("a pipeline record with an empty id was stored")
	}
	if err := p.DeletePipelineRecord(ctx, "p2"); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p, err = Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	recs, err := p.PipelineRecords(ctx)
	if err != nil || len(recs) != 1 || string(recs["p1"]) != `{"name":"shop"}` {
		t.Errorf("pipeline records after reopen: %q, %v", recs, err)
	}
	addons, err := p.AddonRecords(ctx)
	if err != nil || len(addons) != 1 {
		t.Errorf("add-on records after reopen: %q, %v", addons, err)
	}
	if err := p.DeletePipelineRecord(ctx, "absent"); err != nil {
		t.Errorf("deleting an absent record: %v", err)
	}
}
