package partner

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/addons"
)

// Client provisions from a provider that speaks the add-on partner API
// v3; it implements addons.Provider and addons.PlanChanger.
//
// For asynchronous provisioning (the provider answers 202) the Client is
// also the platform's callback endpoint: mount it (it is an
// http.Handler) at CallbackBase. Provision then waits for the provider
// to send the config (PATCH {CallbackBase}/addons/{uuid}/config) and to
// mark the add-on provisioned (POST .../actions/provision), or for its
// context to end.
type Client struct {
	BaseURL  string // the provider's base_url, e.g. https://addons.example.com
	ID       string // manifest id
	Password string // manifest api.password
	// CallbackBase is where the Client itself is served, e.g.
	// https://platform.example.com/partner; empty refuses asynchronous
	// provisioning.
	CallbackBase string
	// PollInterval is how often an asynchronous provision is asked
	// again (the same idempotent POST) while waiting for callbacks, so
	// that a provider that finished without calling back, or failed, is
	// noticed; 0 means 5 s.
	PollInterval time.Duration
	HTTPClient   *http.Client // nil means http.DefaultClient; deadlines come from ctx
	Logger       *slog.Logger // nil discards

	mu      sync.Mutex
	waiting map[string]*asyncProvision // by uuid
}

type asyncProvision struct {
	token  string
	config addons.Config
	done   chan struct{}
	closed bool
}

var (
	_ addons.Provider    = (*Client)(nil)
	_ addons.PlanChanger = (*Client)(nil)
	_ http.Handler       = (*Client)(nil)
)

// StatusError is an answer the Client did not expect. Message is the
// provider's message (shown to users for 422 and 503).
type StatusError struct {
	Op      string
	Status  int
	Code    string
	Message string
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("partner: %s: provider answered %d: %s", e.Op, e.Status, msg)
}

// Unwrap lets errors.Is find the addons sentinels the answer means.
func (e *StatusError) Unwrap() error {
	switch {
	case e.Status == http.StatusNotFound && e.Op != "provision", e.Status == http.StatusGone:
		return addons.ErrNotFound
	case e.Code == CodeUnknownPlan:
		return addons.ErrUnknownPlan
	case e.Code == CodeInvalid && e.Status == http.StatusUnprocessableEntity:
		return addons.ErrInvalid
	case e.Code == CodeUnsupported:
		return addons.ErrPlanChangeUnsupported
	}
	return nil
}

func (c *Client) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Provision implements addons.Provider.
func (c *Client) Provision(ctx context.Context, req addons.ProvisionRequest) (addons.Resource, error) {
	if req.ID == "" {
		return addons.Resource{}, fmt.Errorf("partner: provision: request id must not be empty: %w", addons.ErrInvalid)
	}
	body := ProvisionBody{UUID: req.ID, Name: req.Name, Plan: req.Plan, Region: req.Region,
		Options: req.Options, LogInputURL: req.LogInputURL}
	var wait *asyncProvision
	if c.CallbackBase != "" {
		wait = c.expect(req.ID)
		defer c.forget(req.ID, wait)
		body.CallbackURL = strings.TrimSuffix(c.CallbackBase, "/") + "/addons/" + url.PathEscape(req.ID)
		body.OAuthGrant = &OAuthGrant{Code: wait.token, Type: "authorization_code",
			ExpiresAt: time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)}
	}
	var resp ProvisionResponse
	status, err := c.do(ctx, "provision", http.MethodPost, "/heroku/resources", body, &resp, http.StatusOK, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return addons.Resource{}, err
	}
	res := addons.Resource{ID: resp.ID, Plan: req.Plan, Config: resp.Config, Message: resp.Message, LogDrainURL: resp.LogDrainURL}
	if res.ID == "" {
		return addons.Resource{}, fmt.Errorf("partner: provision: provider answered %d without an id", status)
	}
	if status != http.StatusAccepted {
		return res, nil
	}
	if wait == nil {
		// The provider made a resource it will finish later: give its id
		// back with the error, so that the caller deletes it (Heroku
		// deletes a 202 it cannot follow too).
		return addons.Resource{ID: res.ID}, fmt.Errorf("partner: provision: provider answered 202 (asynchronous) but Client.CallbackBase is not set, so it cannot call back: %w", addons.ErrInvalid)
	}
	c.log().Info("partner: provisioning asynchronously", "uuid", req.ID)
	interval := c.PollInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-wait.done:
			c.mu.Lock()
			res.Config = wait.config.Clone()
			c.mu.Unlock()
			return res, nil
		case <-tick.C:
			var again ProvisionResponse
			status, err := c.do(ctx, "provision", http.MethodPost, "/heroku/resources", body, &again, http.StatusOK, http.StatusCreated, http.StatusAccepted)
			if err != nil {
				return addons.Resource{}, err
			}
			if status != http.StatusAccepted && again.ID != "" {
				return addons.Resource{ID: again.ID, Plan: req.Plan, Config: again.Config, Message: again.Message, LogDrainURL: again.LogDrainURL}, nil
			}
		case <-ctx.Done():
			// Unfinished: the caller deletes the resource by its id.
			return addons.Resource{ID: res.ID}, fmt.Errorf("partner: provision %s: waiting for the provider's callback: %w", req.ID, ctx.Err())
		}
	}
}

func (c *Client) expect(uuid string) *asyncProvision {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting == nil {
		c.waiting = map[string]*asyncProvision{}
	}
	if w, ok := c.waiting[uuid]; ok {
		return w
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	w := &asyncProvision{token: hex.EncodeToString(b), config: addons.Config{}, done: make(chan struct{})}
	c.waiting[uuid] = w
	return w
}

func (c *Client) forget(uuid string, w *asyncProvision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting[uuid] == w {
		delete(c.waiting, uuid)
	}
}

// Deprovision implements addons.Provider.
func (c *Client) Deprovision(ctx context.Context, id string) error {
	// 202: the provider removes it in the background (asynchronous
	// deprovisioning); the add-on is gone for the platform either way.
	_, err := c.do(ctx, "deprovision", http.MethodDelete, "/heroku/resources/"+url.PathEscape(id), nil, nil, http.StatusOK, http.StatusAccepted, http.StatusNoContent)
	return err
}

// ChangePlan implements addons.PlanChanger.
func (c *Client) ChangePlan(ctx context.Context, id, plan string) (addons.Resource, error) {
	var resp PlanChangeResponse
	if _, err := c.do(ctx, "plan change", http.MethodPut, "/heroku/resources/"+url.PathEscape(id), PlanChangeBody{Plan: plan}, &resp, http.StatusOK); err != nil {
		return addons.Resource{}, err
	}
	return addons.Resource{ID: id, Plan: plan, Config: resp.Config, Message: resp.Message}, nil
}

// do sends one request and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, op, method, path string, in, out any, ok ...int) (int, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("partner: %s: %w", op, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return 0, fmt.Errorf("partner: %s: Client.BaseURL: %w", op, err)
	}
	req.SetBasicAuth(c.ID, c.Password)
	req.Header.Set("Accept", MediaType)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error names the URL, never the basic auth header.
		return 0, fmt.Errorf("partner: %s: provider unreachable: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("partner: %s: reading the answer: %w", op, err)
	}
	if len(data) > MaxBodyBytes {
		return resp.StatusCode, fmt.Errorf("partner: %s: answer exceeds %d bytes", op, MaxBodyBytes)
	}
	for _, s := range ok {
		if resp.StatusCode != s {
			continue
		}
		if out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return s, fmt.Errorf("partner: %s: provider answered %d with a body that is not the expected JSON: %w", op, s, err)
			}
		}
		return s, nil
	}
	se := &StatusError{Op: op, Status: resp.StatusCode}
	var eb ErrorBody
	if json.Unmarshal(data, &eb) == nil {
		se.Code = eb.Code
		// Heroku shows provider messages for 422 and 503 only.
		if resp.StatusCode == http.StatusUnprocessableEntity || resp.StatusCode == http.StatusServiceUnavailable || eb.Code != "" {
			se.Message = truncate(eb.Message, 500)
		}
	}
	if resp.StatusCode == http.StatusUnauthorized {
		se.Message = "the provider rejected the manifest id and password"
	}
	return resp.StatusCode, se
}

// ServeHTTP is the platform's callback endpoint for asynchronous
// provisions: PATCH /addons/{uuid}/config and POST
// /addons/{uuid}/actions/provision, relative to CallbackBase's path,
// authorized with the provision's grant code as a bearer token.
func (c *Client) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if u, err := url.Parse(c.CallbackBase); err == nil {
		path = strings.TrimPrefix(path, strings.TrimSuffix(u.Path, "/"))
	}
	rest, ok := strings.CutPrefix(path, "/addons/")
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint")
		return
	}
	uuid, action, _ := strings.Cut(rest, "/")
	c.mu.Lock()
	wait := c.waiting[uuid]
	c.mu.Unlock()
	token, hasToken := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if wait == nil || !hasToken || subtle.ConstantTimeCompare([]byte(token), []byte(wait.token)) != 1 {
		// One answer for "unknown add-on" and "wrong token": no probing.
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, "unknown add-on or invalid token")
		return
	}
	switch {
	case action == "config" && r.Method == http.MethodPatch:
		update, err := DecodeConfigUpdate(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, CodeInvalid, err.Error())
			return
		}
		for _, v := range update.Config {
			if err := addons.ValidateConfigVarName(v.Name); err != nil {
				writeError(w, http.StatusUnprocessableEntity, CodeInvalid, err.Error())
				return
			}
		}
		c.mu.Lock()
		for _, v := range update.Config {
			wait.config[v.Name] = v.Value
		}
		names := wait.config.Names()
		c.mu.Unlock()
		out := make([]map[string]string, len(names))
		for i, n := range names {
			out[i] = map[string]string{"name": n}
		}
		writeJSON(w, http.StatusOK, out)
	case action == "actions/provision" && r.Method == http.MethodPost:
		c.mu.Lock()
		if !wait.closed {
			wait.closed = true
			close(wait.done)
		}
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, struct{}{})
	default:
		writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint")
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
