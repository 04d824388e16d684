package addonstest

import (
	"context"
	"fmt"

	"github.com/dynokit/dynokit/addons"
)

var _ addons.Describer = (*MemProvider)(nil)

// Describe implements addons.Describer with the facts a record has:
// "Status" ["available"] and "Plan" [its plan].
func (p *MemProvider) Describe(ctx context.Context, id string) ([]addons.Fact, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("addonstest: describe: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.resources[id]
	if !ok {
		return nil, fmt.Errorf("addonstest: describe %q: %w", id, addons.ErrNotFound)
	}
	return []addons.Fact{
		{Name: "Status", Values: []string{"available"}},
		{Name: "Plan", Values: []string{r.res.Plan}},
	}, nil
}
