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
// "Update NAME (…)", NAME possibly several attachment names joined by
// ", "; those become one add-on release (release.Manager's ChangeAddons),
// whose vars are owned by their attachments, so config:set cannot change
// them and a rollback keeps their current values. With several names, a
// var stays with the attachment that has it, and a new one goes to the
// attachment whose name is its longest prefix. Any other description is
// a plain config change.
func (p *Platform) ApplyConfig(ctx context.Context, app string, set map[string]string, unset []string, description string) error {
	verb, rest, _ := strings.Cut(description, " ")
	rest, _, _ = strings.Cut(rest, " (")
	names := strings.Split(rest, ", ")
	action := release.AddonAction(verb)
	if rest == "" || (action != release.AddonAttach && action != release.AddonDetach && action != release.AddonUpdate) {
		_, err := p.SetConfig(ctx, app, set, unset)
		return err
	}
	if action == release.AddonAttach && len(unset) > 0 {
		return fmt.Errorf("platform: attaching %s cannot unset vars", rest)
	}
	_, err := p.change(ctx, app, strings.ToLower(verb)+" add-on "+rest, func(id string, o release.Opts) (release.Release, error) {
		var cur release.Release
		if action == release.AddonUpdate {
			var err error
			if cur, err = p.rels.Current(ctx, id); err != nil {
				return release.Release{}, err
			}
		}
		// A var the release already gives one of the attachments stays
		// that attachment's; a new one belongs to the attachment whose
		// name is its longest prefix.
		owned := map[string]string{}
		for _, n := range names {
			for _, k := range cur.Addons[n] {
				owned[k] = n
			}
		}
		owner := func(k string) (string, error) {
			if n, ok := owned[k]; ok {
				return n, nil
			}
			if len(names) == 1 {
				return names[0], nil // the release checks the prefix
			}
			best := ""
			for _, n := range names {
				if strings.HasPrefix(k, n+"_") && len(n) > len(best) {
					best = n
				}
			}
			if best == "" {
				return "", fmt.Errorf("platform: %s %s: var %s belongs to none of them", strings.ToLower(verb), rest, k)
			}
			return best, nil
		}
		setOf := map[string]map[string]string{}
		for k, v := range set {
			n, err := owner(k)
			if err != nil {
				return release.Release{}, err
			}
			if setOf[n] == nil {
				setOf[n] = map[string]string{}
			}
			setOf[n][k] = v
		}
		unsetOf := map[string][]string{}
		for _, k := range unset {
			n, err := owner(k)
			if err != nil {
				return release.Release{}, err
			}
			unsetOf[n] = append(unsetOf[n], k)
		}
		chs := make([]release.AddonChange, len(names))
		for i, name := range names {
			// An add-on changing vars it owns (a plan change, a failover,
			// rotated credentials) skips the release phase, as on Heroku;
			// attaching one runs it.
			ch := release.AddonChange{Action: action, Name: name, ByProvider: action == release.AddonUpdate}
			switch action {
			case release.AddonAttach:
				ch.Config = setOf[name]
			case release.AddonUpdate:
				// The manager sends only what changed; the release records
				// the attachment's complete set of vars.
				ch.Config = map[string]string{}
				for _, k := range cur.Addons[name] {
					ch.Config[k] = cur.Config[k]
				}
				maps.Copy(ch.Config, setOf[name])
				for _, k := range unsetOf[name] {
					delete(ch.Config, k)
				}
			}
			chs[i] = ch
		}
		return p.mgr.ChangeAddons(ctx, id, chs, o)
	})
	return err
}
