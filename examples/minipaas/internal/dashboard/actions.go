package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/release"
)

// Control is what the dashboard changes apps with. Apart from
// ChangeFormation, *platform.Platform has every method. minipaas passes its
// platform with the Platform API's own code for ChangeFormation, CreateApp,
// DestroyApp, AddDomain and RemoveDomain, so that a change made here is the
// one the CLI makes, side effects included: destroying an app also tears
// down its add-ons, pipeline coupling and log drains, and adding a domain
// starts its certificate when ACM is on. Errors are shown on the page when
// they are (or wrap) a *platformapi.Error below 500, platform.ErrNotFound,
// ErrConflict or ErrNoRelease, a *platform.NameError or a
// *release.ConfigVarError; any other error is logged and shown as a
// failure without its detail. (The bare platform's AddDomain reports an
// invalid host name as such another error; minipaas's is a 422.)
type Control interface {
	Formation(ctx context.Context, app string) ([]platform.FormationEntry, error)
	Config(ctx context.Context, app string) (release.ConfigVars, error)
	Release(ctx context.Context, app string, version int) (release.Release, error)
	// ChangeFormation scales (quantities) and resizes (sizes) process types.
	ChangeFormation(ctx context.Context, app string, quantities map[string]int, sizes map[string]string) error
	// Restart replaces every dyno of the app (target "") or those matching
	// target, a process type or a dyno name.
	Restart(ctx context.Context, app, target string) error
	SetConfig(ctx context.Context, app string, set map[string]string, unset []string) (release.Release, error)
	Rollback(ctx context.Context, app string, version int) (release.Release, error)
	SetMaintenance(ctx context.Context, app string, on bool) error
	// CreateApp creates an app with no release; a taken name is refused.
	CreateApp(ctx context.Context, name string) (platform.App, error)
	// DestroyApp stops the app's dynos and deletes it with its domains.
	DestroyApp(ctx context.Context, app string) error
	// RenameApp gives the app a new name; an invalid or taken one is
	// refused.
	RenameApp(ctx context.Context, app, name string) (platform.App, error)
	// Domains lists the app's custom domains.
	Domains(ctx context.Context, app string) ([]string, error)
	// AddDomain routes a custom domain (a host name) to the app.
	AddDomain(ctx context.Context, app, host string) error
	// RemoveDomain stops routing one of the app's custom domains.
	RemoveDomain(ctx context.Context, app, host string) error
}

// maxForm bounds a form body: config vars are at most 32 KB per app.
const maxForm = 64 << 10

// maxFlash bounds the flash message carried in the redirect's URL.
const maxFlash = 600

// inputError is a form value that breaks a rule; its text is shown.
type inputError string

func (e inputError) Error() string { return string(e) }

func badInput(format string, args ...any) error { return inputError(fmt.Sprintf(format, args...)) }

// action is one POST handler: it changes the app and returns the flash
// message of the success, or an error to show.
type action func(ctx context.Context, app string, form url.Values) (string, error)

// post wraps an action on an app: it reads the form, runs the action as
// Handler.User, and answers 303 See Other back to the app page with the
// outcome as a signed flash message, so a reload does not repeat the
// change.
func (h *Handler) post(what string, do action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("app")
		if _, err := h.Source.App(r.Context(), name); err != nil {
			h.fail(w, r, "app "+name, err)
			return
		}
		level, msg := h.run(w, r, name, what, do)
		h.redirect(w, r, name, level, msg)
	}
}

// run reads the form and runs do as Handler.User; it returns the flash
// message of the outcome and its level, ok or error.
func (h *Handler) run(w http.ResponseWriter, r *http.Request, app, what string, do action) (level, msg string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	ctx := r.Context()
	err := r.ParseForm()
	if err != nil {
		err = badInput("The form could not be read (at most %d KB).", maxForm>>10)
	} else {
		if h.User != "" {
			ctx = platform.WithUser(ctx, h.User)
		}
		msg, err = do(ctx, app, r.PostForm)
	}
	if err != nil {
		return "error", h.errorMessage(app, what, err)
	}
	return "ok", msg
}

// createApp answers the apps page's form (name): 303 to the new app's
// page, or back to the apps page with what was wrong. It is post for the
// apps page, whose flash messages are signed for app "", a name no app
// can have.
func (h *Handler) createApp(w http.ResponseWriter, r *http.Request) {
	var created string
	level, msg := h.run(w, r, "", "create app", func(ctx context.Context, _ string, form url.Values) (string, error) {
		name := strings.TrimSpace(form.Get("name"))
		if name == "" {
			return "", badInput("The app name is required: 3 to 30 lowercase letters, digits and dashes, starting with a letter.")
		}
		app, err := h.Control.CreateApp(ctx, name)
		if err != nil {
			return "", err
		}
		created = app.Name
		return "Created " + app.Name + ". Deploy it with git push.", nil
	})
	h.redirect(w, r, created, level, msg)
}

// renameApp answers the app page's rename form (name): 303 to the app's
// page under its new name, or back to its page with what was wrong.
func (h *Handler) renameApp(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("app")
	if _, err := h.Source.App(r.Context(), name); err != nil {
		h.fail(w, r, "app "+name, err)
		return
	}
	level, msg := h.run(w, r, name, "rename", func(ctx context.Context, app string, form url.Values) (string, error) {
		to := strings.TrimSpace(form.Get("name"))
		switch to {
		case "":
			return "", badInput("The new name is required: 3 to 30 lowercase letters, digits and dashes, starting with a letter.")
		case app:
			return "", badInput("%s is already the app's name.", app)
		}
		renamed, err := h.Control.RenameApp(ctx, app, to)
		if err != nil {
			return "", err
		}
		name = renamed.Name
		return "Renamed " + app + " to " + renamed.Name + ": it is served at " + renamed.WebURL + " now. Update your git remote: heroku git:remote -a " + renamed.Name + ".", nil
	})
	h.redirect(w, r, name, level, msg)
}

// destroyApp answers the app page's destroy form (confirm, which must be
// the app's name, as Heroku's dashboard asks): 303 to the apps page once
// the app is gone, or back to the app page with what was wrong.
func (h *Handler) destroyApp(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("app")
	if _, err := h.Source.App(r.Context(), name); err != nil {
		h.fail(w, r, "app "+name, err)
		return
	}
	level, msg := h.run(w, r, name, "destroy", func(ctx context.Context, app string, form url.Values) (string, error) {
		switch confirm := strings.TrimSpace(form.Get("confirm")); confirm {
		case app:
		case "":
			return "", badInput("Nothing was destroyed: type the app's name, %s, in the confirmation field to destroy it.", app)
		default:
			return "", badInput("Nothing was destroyed: the confirmation %q is not the app's name, %s.", confirm, app)
		}
		if err := h.Control.DestroyApp(ctx, app); err != nil {
			return "", err
		}
		return "Destroyed " + app + ".", nil
	})
	if level == "ok" {
		name = ""
	} else if _, err := h.Source.App(r.Context(), name); errors.Is(err, platform.ErrNotFound) {
		name = "" // a destroy that failed half-way: the app page is gone
	}
	h.redirect(w, r, name, level, msg)
}

// errorMessage is what the page shows for err; see Control.
func (h *Handler) errorMessage(app, what string, err error) string {
	var in inputError
	var apiErr *platformapi.Error
	var cfgErr *release.ConfigVarError
	var nameErr *platform.NameError
	var schedErr *platform.SchedulerError
	switch {
	case errors.As(err, &in):
		return in.Error()
	case errors.As(err, &apiErr) && apiErr.Status < 500:
		return apiErr.Message
	case errors.As(err, &cfgErr):
		return strings.TrimPrefix(cfgErr.Error(), "release: ")
	case errors.As(err, &nameErr):
		return strings.TrimPrefix(nameErr.Error(), "platform: ")
	case errors.As(err, &schedErr):
		return "Nothing was scheduled: " + schedErr.Reason + "."
	case errors.Is(err, platform.ErrNotFound), errors.Is(err, platform.ErrConflict), errors.Is(err, platform.ErrNoRelease):
		msg := err.Error()
		for _, sentinel := range []error{platform.ErrNotFound, platform.ErrConflict} {
			msg = strings.TrimSuffix(msg, ": "+sentinel.Error())
		}
		return strings.TrimPrefix(msg, "platform: ")
	}
	h.log.Warn("dashboard: "+what+" failed", "app", app, "err", err)
	return "The platform could not do that; see its log."
}

// redirect answers 303 to the app page, or for app "" the apps page,
// with a flash message.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, app, level, msg string) {
	if len(msg) > maxFlash {
		msg = strings.ToValidUTF8(msg[:maxFlash], "") + "…"
	}
	q := url.Values{"flash": {msg}, "level": {level}, "sig": {h.flashSig(app, level, msg)}}
	to := h.Prefix + "/"
	if app != "" {
		to = h.path("apps", url.PathEscape(app))
	}
	http.Redirect(w, r, to+"?"+q.Encode(), http.StatusSeeOther)
}

// flashSig signs a flash message, so that only the dashboard's own
// redirects show one: a link made elsewhere cannot put words on the page.
func (h *Handler) flashSig(app, level, msg string) string {
	m := hmac.New(sha256.New, h.flashKey)
	m.Write([]byte(app + "\x00" + level + "\x00" + msg))
	return hex.EncodeToString(m.Sum(nil))
}

// flash is a flash message for the page.
type flash struct {
	Level, Text string
}

// readFlash returns the request's flash message if the dashboard signed it.
func (h *Handler) readFlash(r *http.Request, app string) *flash {
	q := r.URL.Query()
	msg, level := q.Get("flash"), q.Get("level")
	if msg == "" || (level != "ok" && level != "error") {
		return nil
	}
	got, err := hex.DecodeString(q.Get("sig"))
	want, _ := hex.DecodeString(h.flashSig(app, level, msg))
	if err != nil || !hmac.Equal(got, want) {
		return nil
	}
	return &flash{Level: level, Text: msg}
}

// formationEntry finds process type typ of the app's current release.
func (h *Handler) formationEntry(ctx context.Context, app, typ string) (platform.FormationEntry, error) {
	entries, err := h.Control.Formation(ctx, app)
	if err != nil {
		return platform.FormationEntry{}, err
	}
	types := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Type == typ {
			return e, nil
		}
		types = append(types, e.Type)
	}
	if len(types) == 0 {
		return platform.FormationEntry{}, badInput("%s has no process types yet: deploy it first.", app)
	}
	return platform.FormationEntry{}, badInput("There is no process type %q (the current release has %s).", typ, strings.Join(types, ", "))
}

// scale sets a process type's quantity and size (form: type, quantity,
// size); only what differs from now is changed, as a resize restarts.
func (h *Handler) scale(ctx context.Context, app string, form url.Values) (string, error) {
	typ := form.Get("type")
	cur, err := h.formationEntry(ctx, app, typ)
	if err != nil {
		return "", err
	}
	qs := strings.TrimSpace(form.Get("quantity"))
	n, err := strconv.Atoi(qs)
	if err != nil || n < 0 || n > formation.MaxQuantity {
		return "", badInput("The quantity of %s must be a whole number from 0 to %d, not %q.", typ, formation.MaxQuantity, qs)
	}
	size := cur.Size
	if s := strings.TrimSpace(form.Get("size")); s != "" {
		ds, ok := platform.LookupDynoSize(s)
		if !ok {
			return "", badInput("There is no dyno size %q (sizes: %s).", s, strings.Join(sizeNames(), ", "))
		}
		size = ds.Name
	}
	quantities, sizes := map[string]int{}, map[string]string{}
	if n != cur.Quantity {
		quantities[typ] = n
	}
	if size != cur.Size {
		sizes[typ] = size
	}
	now := fmt.Sprintf("%s@%d", typ, n)
	if size != "" {
		now += ":" + size
	}
	if len(quantities) == 0 && len(sizes) == 0 {
		return "Already at " + now + ".", nil
	}
	if err := h.Control.ChangeFormation(ctx, app, quantities, sizes); err != nil {
		return "", err
	}
	return "Scaled to " + now + ".", nil
}

func sizeNames() []string {
	var names []string
	for _, s := range platform.DynoSizes() {
		names = append(names, s.Name)
	}
	return names
}

// restart replaces the app's dynos, or with form value dyno, that dyno's.
func (h *Handler) restart(ctx context.Context, app string, form url.Values) (string, error) {
	dyno := form.Get("dyno")
	if dyno == "" {
		if err := h.Control.Restart(ctx, app, ""); err != nil {
			return "", err
		}
		return "Restarting all dynos.", nil
	}
	dynos, err := h.Source.Dynos(ctx, app)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(dynos, func(d platform.Dyno) bool { return d.Name == dyno && !d.OneOff }) {
		return "", badInput("There is no dyno %q to restart (one-off dynos cannot be restarted).", dyno)
	}
	if err := h.Control.Restart(ctx, app, dyno); err != nil {
		return "", err
	}
	return "Restarting " + dyno + ".", nil
}

// setConfig sets one config var (form: name, value) in a new release.
func (h *Handler) setConfig(ctx context.Context, app string, form url.Values) (string, error) {
	name := strings.TrimSpace(form.Get("name"))
	// A browser sends a textarea's line breaks as CRLF.
	value := strings.ReplaceAll(form.Get("value"), "\r\n", "\n")
	if err := (release.ConfigLimits{}).ValidateVar(name, value); err != nil {
		return "", err
	}
	rel, err := h.Control.SetConfig(ctx, app, map[string]string{name: value}, nil)
	if err != nil {
		return "", err
	}
	return released(rel), nil
}

// unsetConfig removes one config var (form: name) in a new release.
func (h *Handler) unsetConfig(ctx context.Context, app string, form url.Values) (string, error) {
	name := strings.TrimSpace(form.Get("name"))
	if err := (release.ConfigLimits{}).ValidateName(name); err != nil {
		return "", err
	}
	vars, err := h.Control.Config(ctx, app)
	if err != nil {
		return "", err
	}
	if _, ok := vars[name]; !ok {
		return "", badInput("%s is not set.", name)
	}
	rel, err := h.Control.SetConfig(ctx, app, nil, []string{name})
	if err != nil {
		return "", err
	}
	return released(rel), nil
}

// rollback makes a new release from an earlier one (form: version).
func (h *Handler) rollback(ctx context.Context, app string, form url.Values) (string, error) {
	vs := strings.TrimPrefix(strings.TrimSpace(form.Get("version")), "v")
	v, err := strconv.Atoi(vs)
	if err != nil || v <= 0 {
		return "", badInput("The release to roll back to must be a version number, not %q.", form.Get("version"))
	}
	to, err := h.Control.Release(ctx, app, v)
	if errors.Is(err, platform.ErrNotFound) {
		return "", badInput("%s has no release v%d.", app, v)
	}
	if err != nil {
		return "", err
	}
	if !rollbackable(to) {
		return "", badInput("v%d cannot be rolled back to: only a succeeded release with a slug can.", v)
	}
	rel, err := h.Control.Rollback(ctx, app, v)
	if err != nil {
		return "", err
	}
	return released(rel), nil
}

// rollbackable is the API's eligible_for_rollback.
func rollbackable(r release.Release) bool {
	return r.Status == release.StatusSucceeded && !r.Slug.IsZero()
}

// maintenance turns maintenance mode on or off (form: maintenance).
func (h *Handler) maintenance(ctx context.Context, app string, form url.Values) (string, error) {
	var on bool
	switch form.Get("maintenance") {
	case "on":
		on = true
	case "off":
	default:
		return "", badInput("maintenance must be on or off.")
	}
	if err := h.Control.SetMaintenance(ctx, app, on); err != nil {
		return "", err
	}
	if on {
		return "Maintenance mode is on: the router answers every request with the maintenance page.", nil
	}
	return "Maintenance mode is off.", nil
}

// addDomain routes a custom domain to the app (form: hostname).
func (h *Handler) addDomain(ctx context.Context, app string, form url.Values) (string, error) {
	// The platform's normal form: what it stores, lists and compares.
	host := strings.ToLower(strings.TrimSpace(form.Get("hostname")))
	if host == "" {
		return "", badInput("The hostname is required: a domain name such as www.example.com.")
	}
	domains, err := h.Control.Domains(ctx, app)
	if err != nil {
		return "", err
	}
	if slices.Contains(domains, host) {
		return "", badInput("%s is already a domain of %s.", host, app)
	}
	if err := h.Control.AddDomain(ctx, app, host); err != nil {
		return "", err
	}
	a, err := h.Source.App(ctx, app)
	if err != nil {
		return "", err
	}
	return "Added " + host + ": point its DNS (a CNAME record) at " + dnsTarget(a) + ".", nil
}

// dnsTarget is the host a custom domain of the app should be a CNAME of:
// the host of its web URL, which the router always routes to it.
func dnsTarget(a platform.App) string {
	u, err := url.Parse(a.WebURL)
	if err != nil || u.Hostname() == "" {
		return a.Name
	}
	return u.Hostname()
}

// removeDomain stops routing one of the app's custom domains (form:
// hostname).
func (h *Handler) removeDomain(ctx context.Context, app string, form url.Values) (string, error) {
	host := strings.ToLower(strings.TrimSpace(form.Get("hostname")))
	domains, err := h.Control.Domains(ctx, app)
	if err != nil {
		return "", err
	}
	if !slices.Contains(domains, host) {
		return "", badInput("%q is not a custom domain of %s.", host, app)
	}
	if err := h.Control.RemoveDomain(ctx, app, host); err != nil {
		return "", err
	}
	return "Removed " + host + ".", nil
}

func released(rel release.Release) string {
	return fmt.Sprintf("Released v%d: %s.", rel.Version, rel.Description)
}
