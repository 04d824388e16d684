package dashboard

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

// ACM is an optional capability of a Control: Automatic Certificate
// Management (heroku certs:auto), shown and switched in the app page's
// Domains section. Its errors are shown as Control's are.
type ACM interface {
	// ACM reports whether the app has ACM on and, when it has, the status
	// of each custom domain's certificate by host name. An error shown on
	// the page (such as a *platformapi.Error below 500) means ACM is not
	// available here: its message stands in for the status.
	ACM(ctx context.Context, app string) (on bool, certs map[string]CertStatus, err error)
	// SetACM turns ACM on (ordering the custom domains' certificates) or
	// off.
	SetACM(ctx context.Context, app string, on bool) error
	// RefreshACM orders again the certificates of the custom domains that
	// have none (heroku certs:auto:refresh); it fails when ACM is off.
	RefreshACM(ctx context.Context, app string) error
}

// CertStatus is a custom domain's ACM status, as the Platform API spells
// it: "cert issued", "pending" or "failing" with Reason.
type CertStatus struct {
	Status, Reason string
}

// Buildpacks is an optional capability of a Control: the app's buildpacks
// (heroku buildpacks, buildpacks:add, :remove and :clear), which the next
// push builds with, in order. Its errors are shown as Control's are.
type Buildpacks interface {
	// ListBuildpacks returns the app's buildpacks in order.
	ListBuildpacks(ctx context.Context, app string) ([]Buildpack, error)
	// ReplaceBuildpacks sets the app's buildpacks, each a URL or a
	// registry name, in order; none clears them (the next push detects).
	// A buildpack the platform cannot build with is refused and nothing
	// changes.
	ReplaceBuildpacks(ctx context.Context, app string, buildpacks []string) error
}

// Buildpack is one of an app's buildpacks.
type Buildpack struct {
	// URL is the buildpack as set: a URL or a registry name.
	URL string
	// Name is how heroku buildpacks shows it, such as heroku/go for a
	// registry URL; URL when it has no shorter name.
	Name string
}

// domainRow is a custom domain as the app page shows it.
type domainRow struct {
	Host string
	Cert CertStatus // zero when ACM is off or not available
}

// shownError is the page's message for err when it is one Control's rules
// show, or "" for an error to log.
func shownError(err error) string {
	var apiErr *platformapi.Error
	if errors.As(err, &apiErr) && apiErr.Status < 500 {
		return apiErr.Message
	}
	var in inputError
	if errors.As(err, &in) {
		return in.Error()
	}
	return ""
}

// acm turns ACM on or off, or refreshes it (form: acm, on, off or
// refresh).
func (h *Handler) acm(ctx context.Context, app string, form url.Values) (string, error) {
	c, ok := h.Control.(ACM)
	if !ok {
		return "", badInput("Automatic Certificate Management is not available on this platform.")
	}
	var on bool
	switch form.Get("acm") {
	case "on":
		on = true
	case "off":
	case "refresh":
		if err := c.RefreshACM(ctx, app); err != nil {
			return "", err
		}
		return "Refreshing ACM: certificates of " + app + "'s custom domains that have none are being ordered again.", nil
	default:
		return "", badInput("acm must be on, off or refresh.")
	}
	if err := c.SetACM(ctx, app, on); err != nil {
		return "", err
	}
	if on {
		return "Automatic Certificate Management is on: certificates of " + app + "'s custom domains are being ordered.", nil
	}
	return "Automatic Certificate Management is off: " + app + "'s custom domains are no longer served over HTTPS.", nil
}

// buildpackControl is the Control's Buildpacks capability, or an error to
// show.
func (h *Handler) buildpackControl() (Buildpacks, error) {
	c, ok := h.Control.(Buildpacks)
	if !ok {
		return nil, badInput("Buildpacks cannot be changed on this platform.")
	}
	return c, nil
}

// urls are the buildpacks' URLs, as ReplaceBuildpacks takes them.
func urls(list []Buildpack) []string {
	out := make([]string, 0, len(list))
	for _, b := range list {
		out = append(out, b.URL)
	}
	return out
}

// names lists the buildpacks as heroku buildpacks does: "1. heroku/go".
func names(list []Buildpack) string {
	var parts []string
	for i, b := range list {
		parts = append(parts, strconv.Itoa(i+1)+". "+b.Name)
	}
	return strings.Join(parts, ", ")
}

// buildpackIndex finds a buildpack by its URL or its name.
func buildpackIndex(list []Buildpack, s string) int {
	return slices.IndexFunc(list, func(b Buildpack) bool { return b.URL == s || b.Name == s })
}

// afterChange is the flash message once the app's buildpacks changed.
func afterChange(ctx context.Context, c Buildpacks, app, done string) (string, error) {
	list, err := c.ListBuildpacks(ctx, app)
	if err != nil {
		return "", err
	}
	if len(list) == 0 {
		return done + " " + app + " has no buildpacks set: the next push detects them.", nil
	}
	return done + " The next push of " + app + " builds with " + names(list) + ".", nil
}

// addBuildpack adds a buildpack (form: buildpack, a URL or registry name;
// index, its 1-based position, by default last), as buildpacks:add
// [--index] does.
func (h *Handler) addBuildpack(ctx context.Context, app string, form url.Values) (string, error) {
	c, err := h.buildpackControl()
	if err != nil {
		return "", err
	}
	bp := strings.TrimSpace(form.Get("buildpack"))
	if bp == "" {
		return "", badInput("The buildpack is required: a URL or a registry name such as heroku/go.")
	}
	list, err := c.ListBuildpacks(ctx, app)
	if err != nil {
		return "", err
	}
	at := len(list)
	if is := strings.TrimSpace(form.Get("index")); is != "" {
		n, err := strconv.Atoi(is)
		if err != nil || n < 1 || n > len(list)+1 {
			return "", badInput("The index must be a whole number from 1 to %d (the position among %s's %d buildpacks), not %q.", len(list)+1, app, len(list), is)
		}
		at = n - 1
	}
	if buildpackIndex(list, bp) >= 0 {
		return "", badInput("%s is already a buildpack of %s.", bp, app)
	}
	if err := c.ReplaceBuildpacks(ctx, app, slices.Insert(urls(list), at, bp)); err != nil {
		return "", err
	}
	return afterChange(ctx, c, app, "Added "+bp+".")
}

// removeBuildpack removes one of the app's buildpacks (form: buildpack, its
// URL or name).
func (h *Handler) removeBuildpack(ctx context.Context, app string, form url.Values) (string, error) {
	c, err := h.buildpackControl()
	if err != nil {
		return "", err
	}
	bp := strings.TrimSpace(form.Get("buildpack"))
	list, err := c.ListBuildpacks(ctx, app)
	if err != nil {
		return "", err
	}
	i := buildpackIndex(list, bp)
	if i < 0 {
		return "", badInput("%q is not a buildpack of %s.", bp, app)
	}
	if err := c.ReplaceBuildpacks(ctx, app, slices.Delete(urls(list), i, i+1)); err != nil {
		return "", err
	}
	return afterChange(ctx, c, app, "Removed "+list[i].Name+".")
}

// clearBuildpacks removes all of the app's buildpacks.
func (h *Handler) clearBuildpacks(ctx context.Context, app string, _ url.Values) (string, error) {
	c, err := h.buildpackControl()
	if err != nil {
		return "", err
	}
	if err := c.ReplaceBuildpacks(ctx, app, nil); err != nil {
		return "", err
	}
	return afterChange(ctx, c, app, "Cleared the buildpacks.")
}

// settingsData adds the app page's ACM and buildpack data to data, for
// the capabilities the Control has; domains are the app's custom domains.
func (h *Handler) settingsData(ctx context.Context, app string, domains []string, data map[string]any) error {
	rows := make([]domainRow, 0, len(domains))
	for _, d := range domains {
		rows = append(rows, domainRow{Host: d})
	}
	data["Domains"] = rows
	if c, ok := h.Control.(ACM); ok {
		on, certs, err := c.ACM(ctx, app)
		if err != nil {
			msg := shownError(err)
			if msg == "" {
				return err
			}
			data["ACMUnavailable"] = msg
		}
		for i := range rows {
			rows[i].Cert = certs[rows[i].Host]
		}
		data["ACMCapable"] = true
		data["ACMOn"] = on
	}
	if c, ok := h.Control.(Buildpacks); ok {
		list, err := c.ListBuildpacks(ctx, app)
		if err != nil {
			return err
		}
		data["BuildpacksCapable"] = true
		data["Buildpacks"] = list
	}
	return nil
}
