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
	list, err := c.ListAddons(ctx, app)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(list, func(a Addon) bool { return a.Name == name })
	if i < 0 {
		return "", badInput("Nothing was destroyed: %q is not an add-on of %s.", name, app)
	}
	if a := list[i]; a.App != app {
		// The CLI's rule too: an add-on goes from its billing app only.
		return "", badInput("Nothing was destroyed: %s is billed to %s, not %s, which only has it attached.", name, a.App, app)
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
	msg := "Destroyed " + name + " (" + list[i].Plan + ")"
	if vars := list[i].ConfigVars; len(vars) > 0 {
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

// resourcesData adds the app page's add-on and drain data to data, for
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
	return nil
}
