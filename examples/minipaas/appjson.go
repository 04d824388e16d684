package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/dynokit/dynokit/buildpack/builtin"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/release"
)

// app.json (heroku.md §10) describes how to set an app up. Heroku applies
// it when an app is created from source; minipaas applies it on the first
// deploy of an app whose pushed source has one: config vars before the
// build, buildpacks for the build, formation and the postdeploy script
// after the first release. Later pushes ignore it, as Heroku does.

// appManifest is the part of app.json minipaas understands. Fields of the
// schema it does not act on are accepted (and type-checked) so a real
// app.json parses; a key outside the schema is an error, as is any value of
// the wrong type.
type appManifest struct {
	Name        string
	Description string
	Keywords    []string
	Env         map[string]manifestEnv
	Formation   map[string]manifestFormation
	Addons      []manifestAddon
	Buildpacks  []manifestBuildpack
	Scripts     map[string]manifestScript
	// SuccessURL is where an app setup sends its user after: an absolute
	// URL, or a path on the app's URL.
	SuccessURL string
}

// manifestEnv is one config var: a bare string is its value.
type manifestEnv struct {
	Description string  `json:"description"`
	Value       *string `json:"value"`
	Required    *bool   `json:"required"` // Heroku's default is true
	Generator   string  `json:"generator"`
}

// required reports whether the var must have a value at setup.
func (e manifestEnv) required() bool { return e.Required == nil || *e.Required }

type manifestFormation struct {
	Quantity *int   `json:"quantity"`
	Size     string `json:"size"`
}

// manifestAddon is "plan" or {"plan": …, "as": …, "options": {…}}.
type manifestAddon struct {
	Plan    string         `json:"plan"`
	As      string         `json:"as"`
	Options map[string]any `json:"options"`
}

type manifestBuildpack struct {
	URL string `json:"url"`
}

// manifestScript is "command" or {"command": …, "size": …}.
type manifestScript struct {
	Command string `json:"command"`
	Size    string `json:"size"`
}

// manifestDoc is app.json's top level; the parts whose elements may take
// two shapes stay raw and are decoded one by one, so errors carry a path
// such as env.SECRET.required.
type manifestDoc struct {
	Name         string                     `json:"name"`
	Description  string                     `json:"description"`
	Keywords     []string                   `json:"keywords"`
	Website      string                     `json:"website"`
	Repository   string                     `json:"repository"`
	Logo         string                     `json:"logo"`
	SuccessURL   string                     `json:"success_url"`
	Stack        string                     `json:"stack"`
	Image        string                     `json:"image"`
	Env          map[string]json.RawMessage `json:"env"`
	Formation    map[string]json.RawMessage `json:"formation"`
	Addons       []json.RawMessage          `json:"addons"`
	Buildpacks   []json.RawMessage          `json:"buildpacks"`
	Scripts      map[string]json.RawMessage `json:"scripts"`
	Environments map[string]json.RawMessage `json:"environments"` // review apps and CI: not acted on
}

// jsonString decodes b when it is a JSON string.
func jsonString(b []byte) (string, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", false
	}
	return s, true
}

// decodeAt decodes one JSON value into v, refusing unknown keys and
// trailing data; errors name path (the value's place in the file).
func decodeAt(path string, b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("unexpected data after the value")
		}
	}
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := path
		if te.Field != "" {
			field = joinPath(path, te.Field)
		}
		return fmt.Errorf("app.json: %s: want %s, got JSON %s", field, jsonKind(te.Type), te.Value)
	case errors.As(err, &se):
		return fmt.Errorf("app.json: invalid JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("app.json: invalid JSON: unexpected end of file")
	}
	// Unknown keys read `json: unknown field "x"`.
	return fmt.Errorf("app.json: %s: %s", orTop(path), strings.TrimPrefix(err.Error(), "json: "))
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func orTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

// jsonKind names a Go type the way app.json's schema would.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	}
	return t.String()
}

// decodeStringOrObject decodes the object form of a value that may also be
// a string (the caller handled that form).
func decodeStringOrObject(path string, b []byte, v any) error {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("app.json: %s: want a string or an object", path)
	}
	return decodeAt(path, b, v)
}

// maxAppJSON bounds the file; real ones are a few kilobytes.
const maxAppJSON = 1 << 20

// parseAppManifest parses and checks an app.json. Errors name the field.
func parseAppManifest(b []byte) (*appManifest, error) {
	if len(b) > maxAppJSON {
		return nil, fmt.Errorf("app.json: %d bytes, larger than %d", len(b), maxAppJSON)
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("app.json: want a JSON object")
	}
	var doc manifestDoc
	if err := decodeAt("", b, &doc); err != nil {
		return nil, err
	}
	a := &appManifest{Name: doc.Name, Description: doc.Description, Keywords: doc.Keywords, SuccessURL: doc.SuccessURL}

	for _, name := range sortedKeys(doc.Env) {
		path := "env." + name
		if err := (release.ConfigLimits{}).ValidateName(name); err != nil {
			return nil, fmt.Errorf("app.json: env %q: %v", name, err)
		}
		var e manifestEnv
		if s, ok := jsonString(doc.Env[name]); ok {
			e.Value = &s
		} else if err := decodeStringOrObject(path, doc.Env[name], &e); err != nil {
			return nil, err
		}
		if e.Generator != "" && e.Generator != "secret" {
			return nil, fmt.Errorf("app.json: %s.generator: %q is not supported (only \"secret\")", path, e.Generator)
		}
		if a.Env == nil {
			a.Env = map[string]manifestEnv{}
		}
		a.Env[name] = e
	}
	for _, typ := range sortedKeys(doc.Formation) {
		path := "formation." + typ
		var f manifestFormation
		if err := decodeAt(path, doc.Formation[typ], &f); err != nil {
			return nil, err
		}
		if f.Quantity != nil && *f.Quantity < 0 {
			return nil, fmt.Errorf("app.json: %s.quantity: %d is negative", path, *f.Quantity)
		}
		if f.Size != "" {
			if _, ok := platform.LookupDynoSize(f.Size); !ok {
				return nil, fmt.Errorf("app.json: %s.size: unknown dyno size %q", path, f.Size)
			}
		}
		if a.Formation == nil {
			a.Formation = map[string]manifestFormation{}
		}
		a.Formation[typ] = f
	}
	for i, raw := range doc.Addons {
		path := fmt.Sprintf("addons[%d]", i)
		var ad manifestAddon
		if s, ok := jsonString(raw); ok {
			ad.Plan = s
		} else if err := decodeStringOrObject(path, raw, &ad); err != nil {
			return nil, err
		}
		if strings.TrimSpace(ad.Plan) == "" {
			return nil, fmt.Errorf("app.json: %s: the plan is empty", path)
		}
		a.Addons = append(a.Addons, ad)
	}
	for i, raw := range doc.Buildpacks {
		path := fmt.Sprintf("buildpacks[%d]", i)
		var bp manifestBuildpack
		if err := decodeAt(path, raw, &bp); err != nil {
			return nil, err
		}
		if strings.TrimSpace(bp.URL) == "" {
			return nil, fmt.Errorf("app.json: %s.url is empty", path)
		}
		a.Buildpacks = append(a.Buildpacks, bp)
	}
	for _, name := range sortedKeys(doc.Scripts) {
		path := "scripts." + name
		var sc manifestScript
		if s, ok := jsonString(doc.Scripts[name]); ok {
			sc.Command = s
		} else if err := decodeStringOrObject(path, doc.Scripts[name], &sc); err != nil {
			return nil, err
		}
		if name == "postdeploy" && strings.TrimSpace(sc.Command) == "" {
			return nil, fmt.Errorf("app.json: %s: the command is empty", path)
		}
		if a.Scripts == nil {
			a.Scripts = map[string]manifestScript{}
		}
		a.Scripts[name] = sc
	}
	return a, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// builtinBuildpackFor maps a buildpack named in app.json or in `heroku
// buildpacks:set` to a builtin one: Heroku's registry names ("heroku/go"),
// the Buildpack Registry's and codon's tarball URLs the CLI sends for them,
// dynokit's labels ("dynokit/go") and the GitHub URLs of Heroku's classic
// buildpacks.
func builtinBuildpackFor(ref string) (string, bool) {
	r := strings.TrimSpace(ref)
	r = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(r, "/"), ".git"), ".tgz")
	for _, prefix := range []string{"https://github.com/heroku/heroku-buildpack-", "https://github.com/heroku-community/heroku-buildpack-",
		"https://buildpack-registry.s3.amazonaws.com/buildpacks/heroku/", "https://codon-buildpacks.s3.amazonaws.com/buildpacks/heroku/",
		"urn:buildpack:heroku/", "heroku/", "heroku-community/", "dynokit/"} {
		if after, ok := strings.CutPrefix(r, prefix); ok {
			r = after
			break
		}
	}
	if slices.Contains(builtin.Names(), r) {
		return r, true
	}
	return "", false
}

// addonProvisioner provisions an app.json's add-ons on an app (the
// add-on service's provisionManifest); nil lists them as not provisioned.
type addonProvisioner func(ctx context.Context, app string, addons []manifestAddon, out io.Writer) error

// deployApp is the deploy of a push: the first one of an app whose source
// has an app.json sets the app up from it; any other is a plain Deploy.
func deployApp(ctx context.Context, p *platform.Platform, provision addonProvisioner, app, src, commit string, out io.Writer) error {
	b, err := os.ReadFile(filepath.Join(src, "app.json"))
	if errors.Is(err, fs.ErrNotExist) {
		_, err = p.Deploy(ctx, app, src, commit, out)
		return err
	}
	if err != nil {
		return fmt.Errorf("deploy %s: read app.json: %w", app, err)
	}
	first, err := firstDeploy(ctx, p, app)
	if err != nil {
		return err
	}
	if !first {
		_, err = p.Deploy(ctx, app, src, commit, out)
		return err
	}
	manifest, err := parseAppManifest(b)
	if err != nil {
		fmt.Fprintf(out, " !     %v\n", err)
		return fmt.Errorf("deploy %s: %w", app, err)
	}
	return setUpApp(ctx, p, provision, app, src, commit, manifest, out)
}

// firstDeploy reports whether the app has never had a successful release
// with a slug (config-only releases made by config:set before the first
// push do not count, nor a deploy whose release phase failed).
func firstDeploy(ctx context.Context, p *platform.Platform, app string) (bool, error) {
	rels, err := p.Releases(ctx, app, release.ListOptions{})
	if err != nil {
		return false, fmt.Errorf("deploy %s: %w", app, err)
	}
	for _, r := range rels {
		if r.Slug.ID != "" && r.Status == release.StatusSucceeded {
			return false, nil
		}
	}
	return true, nil
}

// setUpApp applies app.json around the first deploy of a push. Anything
// wrong before the build rejects the push; after the release, problems are
// reported and the release stays.
func setUpApp(ctx context.Context, p *platform.Platform, provision addonProvisioner, app, src, commit string, a *appManifest, out io.Writer) error {
	buildpacks, err := prepareApp(ctx, p, provision, app, a, manifestOverrides{}, out)
	if err != nil {
		return fmt.Errorf("deploy %s: %w", app, err)
	}
	rel, err := p.DeployBuildpacks(ctx, app, src, commit, buildpacks, out)
	if err != nil {
		return err
	}
	// The dyno's stdout and stderr may be copied by two goroutines.
	w := &syncWriter{w: out}
	finishApp(ctx, p, app, rel, a, out, w)
	return nil
}

// manifestOverrides are an app setup's changes to its app.json
// (POST /app-setups "overrides"); the zero value is a git push's first
// deploy.
type manifestOverrides struct {
	// Setup is set for an app setup: its buildpacks become the app's list,
	// as on Heroku, where a push's first deploy uses them for that build.
	Setup bool
	// Env sets config vars, winning over app.json's values and satisfying
	// its required vars; names outside app.json's env are set too.
	Env map[string]string
	// Buildpacks, when not nil, replace app.json's list.
	Buildpacks []manifestBuildpack
}

// missingEnvError is app.json's required config vars that have no value.
type missingEnvError struct {
	Names []string
	Setup bool
}

func (e *missingEnvError) Error() string {
	if e.Setup {
		return fmt.Sprintf("app.json: required config var %s not set: give it in the setup's overrides.env", strings.Join(e.Names, ", "))
	}
	return fmt.Sprintf("app.json: required config var %s not set: set it with `heroku config:set %s=…` before the first push", strings.Join(e.Names, ", "), e.Names[0])
}

// prepareApp is the part of an app setup before the build: it checks the
// buildpacks, sets the config vars and provisions the add-ons, and returns
// the builtin buildpacks to build with (nil: the app's list or detection).
// Errors have been written to out too.
func prepareApp(ctx context.Context, p *platform.Platform, provision addonProvisioner, app string, a *appManifest, ov manifestOverrides, out io.Writer) (_ []string, err error) {
	defer func() {
		if err != nil {
			fmt.Fprintf(out, " !     %s\n", strings.TrimPrefix(err.Error(), "platform: "))
		}
	}()
	fmt.Fprintf(out, "-----> Setting up the app from app.json\n")

	list := a.Buildpacks
	if ov.Buildpacks != nil {
		list = ov.Buildpacks
	}
	var buildpacks []string
	var installs []platform.BuildpackInstallation
	for i, bp := range list {
		name, ok := builtinBuildpackFor(bp.URL)
		if !ok {
			return nil, fmt.Errorf("app.json: buildpacks[%d]: %q is not a buildpack minipaas has (%s)", i, bp.URL, builtinRegistryNames())
		}
		buildpacks = append(buildpacks, name)
		installs = append(installs, platform.BuildpackInstallation{URL: bp.URL, Builtin: name})
	}
	if len(buildpacks) > 0 {
		fmt.Fprintf(out, "       Buildpacks: %s\n", strings.Join(buildpacks, ", "))
	}

	// Config vars first: the build sees them, as on Heroku.
	cur, err := p.Config(ctx, app)
	if err != nil {
		return nil, err
	}
	set := map[string]string{}
	var missing []string
	for _, name := range sortedKeys(a.Env) {
		e := a.Env[name]
		if _, ok := ov.Env[name]; ok {
			continue // set below
		}
		if _, ok := cur[name]; ok {
			continue // set before the push: it wins over app.json
		}
		switch {
		case e.Generator == "secret":
			v, err := generatedSecret()
			if err != nil {
				return nil, err
			}
			set[name] = v
		case e.Value != nil:
			set[name] = *e.Value
		case e.required():
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, &missingEnvError{Names: missing, Setup: ov.Setup}
	}
	for name, v := range ov.Env {
		set[name] = v
	}
	if len(set) > 0 {
		if _, err := p.SetConfig(ctx, app, set, nil); err != nil {
			return nil, fmt.Errorf("app.json: env: %v", err)
		}
		// Names only: values (secrets among them) stay out of the output.
		fmt.Fprintf(out, "       Set config vars %s\n", strings.Join(sortedKeys(set), ", "))
	}

	if len(a.Addons) > 0 {
		var plans []string
		for _, ad := range a.Addons {
			plans = append(plans, ad.Plan)
		}
		if provision == nil {
			fmt.Fprintf(out, "-----> app.json: addons not provisioned: %s\n", strings.Join(plans, ", "))
		} else if err := provision(ctx, app, a.Addons, out); err != nil {
			return nil, fmt.Errorf("app.json: addons: %v", err)
		}
	}
	if ov.Setup && len(installs) > 0 {
		if _, err := p.SetBuildpacks(ctx, app, installs); err != nil {
			return nil, fmt.Errorf("app.json: buildpacks: %v", err)
		}
		return nil, nil // the app's list, now these
	}
	return buildpacks, nil
}

// postdeployResult is how an app.json's postdeploy script ended.
type postdeployResult struct {
	Ran      bool
	ExitCode int
	Err      error // it could not run
}

// finishApp is the part of an app setup after the first release: the
// formation, then the postdeploy script, whose output goes to script.
// Problems are reported on out; the release stays.
func finishApp(ctx context.Context, p *platform.Platform, app string, rel release.Release, a *appManifest, out, script io.Writer) postdeployResult {
	quantities, sizes := map[string]int{}, map[string]string{}
	for _, typ := range sortedKeys(a.Formation) {
		f := a.Formation[typ]
		if _, ok := rel.ProcessTypes[typ]; !ok {
			fmt.Fprintf(out, " !     app.json: formation.%s: the release has no process type %q; not scaled\n", typ, typ)
			continue
		}
		if f.Quantity != nil {
			quantities[typ] = *f.Quantity
		}
		if f.Size != "" {
			sizes[typ] = f.Size
		}
	}
	if len(sizes) > 0 {
		if err := p.Resize(ctx, app, sizes); err != nil {
			fmt.Fprintf(out, " !     app.json: formation sizes not applied: %v\n", err)
		}
	}
	if len(quantities) > 0 {
		if err := p.Scale(ctx, app, quantities); err != nil {
			fmt.Fprintf(out, " !     app.json: formation not applied: %v\n", err)
		} else {
			var parts []string
			for _, typ := range sortedKeys(quantities) {
				parts = append(parts, fmt.Sprintf("%s=%d", typ, quantities[typ]))
			}
			fmt.Fprintf(out, "       Scaled to %s\n", strings.Join(parts, " "))
		}
	}

	var res postdeployResult
	if s, ok := a.Scripts["postdeploy"]; ok {
		fmt.Fprintf(out, "-----> Running postdeploy script: %s\n", s.Command)
		res.Ran = true
		res.ExitCode, res.Err = p.RunOneOff(ctx, app, s.Command, platform.OneOffIO{Stdout: script, Stderr: script})
		switch {
		case res.Err != nil:
			fmt.Fprintf(out, " !     postdeploy script could not run: %v; %s stays released\n", res.Err, rel.Name())
		case res.ExitCode != 0:
			fmt.Fprintf(out, " !     postdeploy script failed with exit status %d; %s stays released\n", res.ExitCode, rel.Name())
		default:
			fmt.Fprintf(out, "       postdeploy script done\n")
		}
	}
	if extra := slices.Sorted(func(yield func(string) bool) {
		for k := range a.Scripts {
			if k != "postdeploy" && !yield(k) {
				return
			}
		}
	}); len(extra) > 0 {
		fmt.Fprintf(out, "       app.json: scripts %s not run (minipaas runs postdeploy only)\n", strings.Join(extra, ", "))
	}
	return res
}

// generatedSecret is app.json's "generator": "secret": 32 random bytes as
// 64 hex digits.
func generatedSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("app.json: generate a secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}
