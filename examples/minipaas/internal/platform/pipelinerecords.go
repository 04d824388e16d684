package platform

import (
	"context"
	"fmt"

	"github.com/dynokit/dynokit/internal/store"
)

// pipelineRecordsNS holds the API's pipeline records (a pipeline and its
// couplings), keyed by pipeline ID. Like add-on records they are opaque
// here: pipelines are a front-end grouping of apps, and promotion is an
// ordinary Platform call (Promote).
const pipelineRecordsNS = "minipaas.pipelines"

// PutPipelineRecord stores (or replaces) the record of pipeline id.
func (p *Platform) PutPipelineRecord(ctx context.Context, id string, rec []byte) error {
	if id == "" {
		return fmt.Errorf("platform: pipeline record: empty id")
	}
	if err := p.kv.Update(ctx, func(tx store.Tx) error { return tx.Put(pipelineRecordsNS, []byte(id), rec) }); err != nil {
		return fmt.Errorf("platform: store pipeline record %q: %w", id, err)
	}
	return nil
}

// DeletePipelineRecord removes pipeline id's record; an absent one is no
// error.
func (p *Platform) DeletePipelineRecord(ctx context.Context, id string) error {
	if err := p.kv.Update(ctx, func(tx store.Tx) error { return tx.Delete(pipelineRecordsNS, []byte(id)) }); err != nil {
		return fmt.Errorf("platform: delete pipeline record %q: %w", id, err)
	}
	return nil
}

// PipelineRecords returns every stored pipeline record by id.
func (p *Platform) PipelineRecords(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := p.kv.View(ctx, func(tx store.Tx) error {
		return tx.Scan(pipelineRecordsNS, nil, false, 0, func(k, v []byte) bool {
			out[string(k)] = v
			return true
		})
	})
	if err != nil {
		return nil, fmt.Errorf("platform: read pipeline records: %w", err)
	}
	return out, nil
}
