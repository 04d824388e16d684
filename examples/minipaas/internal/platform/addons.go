package platform

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/release"
)

var _ addons.ConfigApplier = (*Platform)(nil)

// ApplyConfig implements addons.ConfigApplier, so an addons.Manager built
// with Config: platform keeps apps' config vars in step with their add-ons.
// The manager describes each change as "Attach NAME", "Detach NAME" or
// "Update NAME (…)"; those become add-on releases (release.Manager's
// ChangeAddon), whose vars are owned by the attachment, so config:set
// cannot change them and a rollback keeps their current values. Any other
// description is a plain config change.
func (p *Platform) ApplyConfig(ctx context.Context, app string, set map[string]string, unset []string, description string) error {
	verb, rest, _ := strings.Cut(description, " ")
	name, _, _ := strings.Cut(rest, " ")
	action := release.AddonAction(verb)
	if name == "" || (action != release.AddonAttach && action != release.AddonDetach && action != release.AddonUpdate) {
		_, err := p.SetConfig(ctx, app, set, unset)
		return err
	}
	_, err := p.change(ctx, app, strings.ToLower(verb)+" add-on "+name, func(id string, o release.Opts) (release.Release, error) {
		// An add-on changing vars it owns (a plan change, a failover,
		// rotated credentials) skips the release phase, as on Heroku;
		// attaching one runs it.
		ch := release.AddonChange{Action: action, Name: name, ByProvider: action == release.AddonUpdate}
		switch action {
		case release.AddonAttach:
			if len(unset) > 0 {
				return release.Release{}, fmt.Errorf("attaching %s cannot unset vars", name)
			}
			ch.Config = set
		case release.AddonUpdate:
			// The manager sends only what changed; the release records the
			// attachment's complete set of vars.
			cur, err := p.rels.Current(ctx, id)
			if err != nil {
				return release.Release{}, err
			}
			ch.Config = map[string]string{}
			for _, k := range cur.Addons[name] {
				ch.Config[k] = cur.Config[k]
			}
			maps.Copy(ch.Config, set)
			for _, k := range unset {
				delete(ch.Config, k)
			}
		}
		return p.mgr.ChangeAddon(ctx, id, ch, o)
	})
	return err
}
