package dashboard

import (
	"context"
	"net/url"
	"slices"
	"strings"
)

// Addons is an optional capability of a Control: the app's add-ons
// (heroku addons, addons:create and addons:destroy), shown and changed in
// the app page's Add-ons section. Its errors are shown as Control's are.
type Addons interface {
	// ListAddons returns the add-ons billed to the app or attached to it,
	// oldest first.
	ListAddons(ctx context.Context, app string) ([]Addon, error)
	// AddonPlans returns the plans that can be provisioned, each service's
	// default first; none when the platform offers no add-on service.
	AddonPlans(ctx context.Context) ([]AddonPlan, error)
	// CreateAddon provisions an add-on of plan ("service:plan", or
	// "service" for its default plan) billed to and attached to the app,
	// which gets its config vars in a new release. A plan the platform
	// does not offer is refused and nothing changes.
	CreateAddon(ctx context.Context, app, plan string) (Addon, error)
	// DestroyAddon deprovisions the app's add-on named name: its config
	// vars leave the app in a new release, then the resource goes.
	DestroyAddon(ctx context.Context, app, name string) error
}

// AddonChanges is an optional capability of a Control with Addons: change
// an add-on's plan (heroku addons:upgrade), attach an add-on billed to
// another app (addons:attach) and detach one (addons:detach), shown as
// forms in the Add-ons section. Its errors are shown as Control's are.
type AddonChanges interface {
	// ChangeAddonPlan moves the app's add-on named name to plan, another
	// of its service's ("service:plan").
	ChangeAddonPlan(ctx context.Context, app, name, plan string) (Addon, error)
	// AttachableAddons are the add-ons billed to other apps and not
	// attached to this one.
	AttachableAddons(ctx context.Context, app string) ([]Addon, error)
	// AttachAddon attaches add-on name to the app, as as (its config
	// vars' prefix; empty: the service's default), in a new release.
	AttachAddon(ctx context.Context, app, name, as string) (Addon, error)
	// DetachAddon removes the app's attachments of add-on name, whose
	// config vars leave the app in a new release; the add-on stays with
	// its billing app.
	DetachAddon(ctx context.Context, app, name string) error
}

// Addon is an add-on as the app page shows it: never its config values.
type Addon struct {
	Name string
	// Plan is "service:plan", as heroku addons shows it.
	Plan string
	// State is the Platform API's: provisioning, provisioned,
	// deprovisioning.
	State string
	// App is the billing app, the only one the add-on can be destroyed
	// from; another app has it attached.
	App string
	// As are the attachment names on the page's app (DATABASE), and
	// ConfigVars the names of the config vars they set there.
	As         []string
	ConfigVars []string
}

// AddonPlan is one plan that can be provisioned.
type AddonPlan struct {
	// Name is "service:plan", what CreateAddon takes.
	Name        string
	Service     string
	Description string
}

// Drains is an optional capability of a Control: the app's log drains
// (heroku drains, drains:add and drains:remove), shown and changed in the
// app page's Log drains section. Its errors are shown as Control's are.
type Drains interface {
	// ListDrains returns the app's log drains, add-ons' included.
	ListDrains(ctx context.Context, app string) ([]Drain, error)
	// AddDrain sends the app's log to rawURL from now on. A URL the
	// platform cannot drain to, one the app drains to already, or one
	// over the platform's limit of drains is refused and nothing changes.
	AddDrain(ctx context.Context, app, rawURL string) (Drain, error)
	// RemoveDrain stops the app's drain with that token. An add-on's drain
	// is refused: it goes with its add-on.
	RemoveDrain(ctx context.Context, app, token string) error
}

// Drain is one of an app's log drains.
type Drain struct {
	// URL may hold credentials (https://user:password@…); the page shows
	// it without the password.
	URL string
	// Token is the drain's id in the messages it receives (their syslog
	// host name), as heroku drains shows it.
	Token string
	// Addon is the add-on that provides the drain, "" for the app's own.
	Addon string
}

// addonRow is an add-on as the app page shows it.
type addonRow struct {
	Addon
	// Owned: billed to the page's app, so it can be destroyed there.
	Owned bool
	// OtherPlans are the service's other plans, for the plan change form
	// (with AddonChanges).
	OtherPlans []AddonPlan
}

// planGroup is one service's plans, an optgroup of the plan select.
type planGroup struct {
	Service string
	Plans   []AddonPlan
}

// drainRow is a drain as the app page shows it.
type drainRow struct {
	Drain
	Shown string // URL without its password
}

// shownURL is rawURL with its password, if any, masked: drain URLs carry
// the receiver's credentials, which the page and its messages leave out.
func shownURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		if strings.Contains(rawURL, "@") {
			return "(a URL)"
		}
		return rawURL
	}
	return u.Redacted()
}

// addonControl is the Control's Addons capability, or an error to show.
func (h *Handler) addonControl() (Addons, error) {
	c, ok := h.Control.(Addons)
	if !ok {
		return nil, badInput("Add-ons cannot be changed on this platform.")
	}
	return c, nil
}

// drainControl is the Control's Drains capability, or an error to show.
func (h *Handler) drainControl() (Drains, error) {
	c, ok := h.Control.(Drains)
	if !ok {
		return nil, badInput("Log drains cannot be changed on this platform.")
	}
	return c, nil
}

// createAddon provisions an add-on (form: plan, "service:plan" or a
// service for its default plan), as addons:create does.
func (h *Handler) createAddon(ctx context.Context, app string, form url.Values) (string, error) {
	c, err := h.addonControl()
	if err != nil {
		return "", err
	}
	plan := strings.TrimSpace(form.Get("plan"))
	if plan == "" {
		return "", badInput("The plan is required: a service and plan such as heroku-postgresql:essential-0.")
	}
	a, err := c.CreateAddon(ctx, app, plan)
	if err != nil {
		return "", err
	}
	msg := "Created " + a.Name + " (" + a.Plan + ")"
	if len(a.As) > 0 {
		msg += " as " + strings.Join(a.As, ", ")
	}
	if len(a.ConfigVars) > 0 {
		msg += ": " + app + " has its config vars " + strings.Join(a.ConfigVars, ", ") + " in a new release"
	}
	return msg + ".", nil
}

// destroyAddon deprovisions one of the app's add-ons (form: addon, its
// name; confirm, which must be the same name, as Heroku's dashboard asks).
func (h *Handler) destroyAddon(ctx context.Context, app string, form url.Values) (string, error) {
	c, err := h.addonControl()
	if err != nil {
		return "", err
	}
	name := strings.TrimSpace(form.Get("addon"))
	// The CLI's rule too: an add-on goes from its billing app only.
	a, err := h.ownAddon(ctx, app, name, "Nothing was destroyed")
	if err != nil {
		return "", err
	}
	switch confirm := strings.TrimSpace(form.Get("confirm")); confirm {
	case name:
	case "":
		return "", badInput("Nothing was destroyed: type the add-on's name, %s, in the confirmation field to destroy it.", name)
	default:
		return "", badInput("Nothing was destroyed: the confirmation %q is not the add-on's name, %s.", confirm, name)
	}
	if err := c.DestroyAddon(ctx, app, name); err != nil {
		return "", err
	}
	msg := "Destroyed " + name + " (" + a.Plan + ")"
	if vars := a.ConfigVars; len(vars) > 0 {
		msg += ": " + strings.Join(vars, ", ") + " left " + app + "'s config vars in a new release"
	}
	return msg + ".", nil
}

// addDrain adds a log drain (form: url), as drains:add does.
func (h *Handler) addDrain(ctx context.Context, app string, form url.Values) (string, error) {
	c, err := h.drainControl()
	if err != nil {
		return "", err
	}
	raw := strings.TrimSpace(form.Get("url"))
	if raw == "" {
		return "", badInput("The drain URL is required: syslog://host:port, syslog+tls://host:port or https://host/path.")
	}
	d, err := c.AddDrain(ctx, app, raw)
	if err != nil {
		return "", err
	}
	return "Added drain " + shownURL(d.URL) + " with token " + d.Token + ".", nil
}

// removeDrain removes one of the app's own drains (form: token).
func (h *Handler) removeDrain(ctx context.Context, app string, form url.Values) (string, error) {
	c, err := h.drainControl()
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(form.Get("token"))
	list, err := c.ListDrains(ctx, app)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(list, func(d Drain) bool { return d.Token == token })
	if i < 0 {
		// Not echoed: a forged form may hold anything, a URL with its
		// password included.
		return "", badInput("Nothing was removed: that is not the token of one of %s's log drains.", app)
	}
	if err := c.RemoveDrain(ctx, app, token); err != nil {
		return "", err
	}
	return "Removed drain " + shownURL(list[i].URL) + ".", nil
}

// addonChanges is the Control's AddonChanges capability, or an error to
// show.
func (h *Handler) addonChanges() (AddonChanges, error) {
	c, ok := h.Control.(AddonChanges)
	if !ok {
		return nil, badInput("Add-ons cannot be attached, detached or changed on this platform.")
	}
	return c, nil
}

// changeAddonPlan moves one of the app's own add-ons to another plan of
// its service (form: addon, plan), as addons:upgrade does.
func (h *Handler) changeAddonPlan(ctx context.Context, app string, form url.Values) (string, error) {
	c, err := h.addonChanges()
	if err != nil {
		return "", err
	}
	name, plan := strings.TrimSpace(form.Get("addon")), strings.TrimSpace(form.Get("plan"))
	a, err := h.ownAddon(ctx, app, name, "Nothing was changed")
	if err != nil {
		return "", err
	}
	service, _, _ := strings.Cut(a.Plan, ":")
	if plan == "" || !strings.HasPrefix(plan, service+":") {
		return "", badInput("Nothing was changed: choose another plan of %s for %s.", service, name)
	}
	if plan == a.Plan {
		return "", badInput("Nothing was changed: %s is on %s already.", name, plan)
	}
	if _, err := c.ChangeAddonPlan(ctx, app, name, plan); err != nil {
		return "", err
	}
	return "Changed " + name + " from " + a.Plan + " to " + plan + ".", nil
}

// ownAddon finds the app's add-on named name that it is billed for.
func (h *Handler) ownAddon(ctx context.Context, app, name, nothing string) (Addon, error) {
	c, err := h.addonControl()
	if err != nil {
		return Addon{}, err
	}
	list, err := c.ListAddons(ctx, app)
	if err != nil {
		return Addon{}, err
	}
	i := slices.IndexFunc(list, func(a Addon) bool { return a.Name == name })
	if i < 0 {
		return Addon{}, badInput("%s: %q is not an add-on of %s.", nothing, name, app)
	}
	if a := list[i]; a.App != app {
		return Addon{}, badInput("%s: %s is billed to %s, not %s, which only has it attached.", nothing, name, a.App, app)
	}
	return list[i], nil
}

// attachAddon attaches an add-on billed to another app (form: addon; as,
// optional), as addons:attach does.
func (h *Handler) attachAddon(ctx context.Context, app string, form url.Values) (string, error) {
	c, err := h.addonChanges()
	if err != nil {
		return "", err
	}
	name, as := strings.TrimSpace(form.Get("addon")), strings.ToUpper(strings.TrimSpace(form.Get("as")))
	list, err := c.AttachableAddons(ctx, app)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(list, func(a Addon) bool { return a.Name == name }) {
		return "", badInput("Nothing was attached: %q is not an add-on of another app that %s could attach.", name, app)
	}
	a, err := c.AttachAddon(ctx, app, name, as)
	if err != nil {
		return "", err
	}
	msg := "Attached " + name + " to " + app
	if len(a.As) > 0 {
		msg += " as " + strings.Join(a.As, ", ")
	}
	if len(a.ConfigVars) > 0 {
		msg += ": " + app + " has its config vars " + strings.Join(a.ConfigVars, ", ") + " in a new release"
	}
	return msg + ".", nil
}

// detachAddon removes the app's attachments of an add-on billed to
// another app (form: addon), as addons:detach does.
func (h *Handler) detachAddon(ctx context.Context, app string, form url.Values) (string, error) {
	c, err := h.addonChanges()
	if err != nil {
		return "", err
	}
	name := strings.TrimSpace(form.Get("addon"))
	ac, err := h.addonControl()
	if err != nil {
		return "", err
	}
	list, err := ac.ListAddons(ctx, app)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(list, func(a Addon) bool { return a.Name == name })
	switch {
	case i < 0:
		return "", badInput("Nothing was detached: %q is not attached to %s.", name, app)
	case list[i].App == app:
		return "", badInput("Nothing was detached: %s is billed to %s; destroy it instead.", name, app)
	}
	if err := c.DetachAddon(ctx, app, name); err != nil {
		return "", err
	}
	msg := "Detached " + name + " from " + app
	if vars := list[i].ConfigVars; len(vars) > 0 {
		msg += ": " + strings.Join(vars, ", ") + " left " + app + "'s config vars in a new release"
	}
	return msg + ".", nil
}

// resourcesData adds the app page's add-on, drain and backup data to data, for
// the capabilities the Control has.
func (h *Handler) resourcesData(ctx context.Context, app string, data map[string]any) error {
	if c, ok := h.Control.(Addons); ok {
		list, err := c.ListAddons(ctx, app)
		if err != nil {
			return err
		}
		rows := make([]addonRow, 0, len(list))
		for _, a := range list {
			rows = append(rows, addonRow{Addon: a, Owned: a.App == app})
		}
		plans, err := c.AddonPlans(ctx)
		if err != nil {
			return err
		}
		var groups []planGroup
		for _, p := range plans {
			if n := len(groups); n > 0 && groups[n-1].Service == p.Service {
				groups[n-1].Plans = append(groups[n-1].Plans, p)
				continue
			}
			groups = append(groups, planGroup{Service: p.Service, Plans: []AddonPlan{p}})
		}
		data["AddonsCapable"] = true
		data["Addons"] = rows
		data["AddonPlans"] = groups
		if cc, ok := h.Control.(AddonChanges); ok {
			attachable, err := cc.AttachableAddons(ctx, app)
			if err != nil {
				return err
			}
			data["AddonChanges"] = true
			data["Attachable"] = attachable
			for i, r := range rows {
				service, _, _ := strings.Cut(r.Plan, ":")
				for _, p := range plans {
					if p.Service == service && p.Name != r.Plan {
						rows[i].OtherPlans = append(rows[i].OtherPlans, p)
					}
				}
			}
		}
	}
	if c, ok := h.Control.(Drains); ok {
		list, err := c.ListDrains(ctx, app)
		if err != nil {
			return err
		}
		rows := make([]drainRow, 0, len(list))
		for _, d := range list {
			rows = append(rows, drainRow{Drain: d, Shown: shownURL(d.URL)})
		}
		data["DrainsCapable"] = true
		data["Drains"] = rows
	}
	return h.addBackups(ctx, app, data)
}
