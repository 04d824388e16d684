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
	if err := p.PutRecord(ctx, PipelineRecords, "p1", []byte(`{"name":"shop"}`)); err != nil {
		t.Fatal(err)
	}
	if err := p.PutRecord(ctx, PipelineRecords, "p2", []byte(`{"name":"blog"}`)); err != nil {
		t.Fatal(err)
	}
	if err := p.PutRecord(ctx, AddonRecords, "postgresql-keen-12345", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := p.PutRecord(ctx, PipelineRecords, "", nil); err == nil {
		t.Error("a pipeline record with an empty key was stored")
	}
	if err := p.DeleteRecord(ctx, PipelineRecords, "p2"); err != nil {
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
	recs, err := p.Records(ctx, PipelineRecords)
	if err != nil || len(recs) != 1 || string(recs["p1"]) != `{"name":"shop"}` {
		t.Errorf("pipeline records after reopen: %q, %v", recs, err)
	}
	addons, err := p.Records(ctx, AddonRecords)
	if err != nil || len(addons) != 1 {
		t.Errorf("add-on records after reopen: %q, %v", addons, err)
	}
	if err := p.DeleteRecord(ctx, PipelineRecords, "absent"); err != nil {
		t.Errorf("deleting an absent record: %v", err)
	}
}
