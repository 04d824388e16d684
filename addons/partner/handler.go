package partner

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/dynokit/dynokit/addons"
)

// Handler serves a dynokit addons.Provider through the add-on partner
// API v3, so that any platform speaking that API (Heroku's, or this
// package's Client) can provision from it.
//
// Routes: POST /heroku/resources, PUT /heroku/resources/{id},
// DELETE /heroku/resources/{id}. Every request needs HTTP basic auth with
// ID and Password (compared in constant time). Errors are JSON
// ErrorBody values.
type Handler struct {
	Provider addons.Provider
	ID       string // manifest id
	Password string // manifest api.password
	// AsyncAfter makes provisioning asynchronous: when the provider has
	// not answered within it and the request has a callback_url, the
	// handler answers 202 and, once the provider is done, sends the
	// config to PATCH {callback_url}/config and marks the add-on
	// provisioned with POST {callback_url}/actions/provision. 0 means
	// always synchronous.
	AsyncAfter time.Duration
	// Timeout bounds a provision running after its request returned;
	// 0 means 10 minutes.
	Timeout    time.Duration
	HTTPClient *http.Client // for callbacks; nil means http.DefaultClient
	Logger     *slog.Logger // nil discards

	once sync.Once
	mux  *http.ServeMux
	mu   sync.Mutex
	jobs map[string]*job // by uuid: provisions that went asynchronous
	wg   sync.WaitGroup
}

type job struct {
	done  chan struct{}
	res   addons.Resource
	err   error
	async bool // answered 202: the platform knows the resource by uuid
}

var _ http.Handler = (*Handler)(nil)

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(func() {
		h.jobs = map[string]*job{}
		h.mux = http.NewServeMux()
		h.mux.HandleFunc("POST /heroku/resources", h.provision)
		h.mux.HandleFunc("PUT /heroku/resources/{id}", h.changePlan)
		h.mux.HandleFunc("DELETE /heroku/resources/{id}", h.deprovision)
	})
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="dynokit add-on partner API"`)
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, "authentication required: basic auth with the manifest id and password")
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || h.ID == "" || h.Password == "" {
		return false
	}
	// Compare both in full, whatever the first result, so timing says
	// nothing about which one was wrong.
	u := subtle.ConstantTimeCompare([]byte(user), []byte(h.ID))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(h.Password))
	return u&p == 1
}

// Wait blocks until background provisions and their callbacks finish.
func (h *Handler) Wait() { h.wg.Wait() }

func (h *Handler) timeout() time.Duration {
	if h.Timeout > 0 {
		return h.Timeout
	}
	return 10 * time.Minute
}

func (h *Handler) provision(w http.ResponseWriter, r *http.Request) {
	body, err := DecodeProvision(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeInvalid, err.Error())
		return
	}
	if pl, ok := h.Provider.(addons.PlanLister); ok {
		if !slices.ContainsFunc(pl.Plans(), func(p addons.Plan) bool { return p.Name == body.Plan }) {
			// Refuse before going asynchronous: a 202 cannot be taken back.
			writeError(w, http.StatusUnprocessableEntity, CodeUnknownPlan, fmt.Sprintf("plan %q is not offered by this add-on", body.Plan))
			return
		}
	}
	req := addons.ProvisionRequest{ID: body.UUID, Name: body.Name, Plan: body.Plan, Region: body.Region,
		Options: body.Options, LogInputURL: body.LogInputURL}

	h.mu.Lock()
	j, running := h.jobs[body.UUID]
	if !running {
		j = &job{done: make(chan struct{})}
		h.jobs[body.UUID] = j
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.timeout())
			defer cancel()
			res, err := h.Provider.Provision(ctx, req)
			h.mu.Lock()
			defer h.mu.Unlock()
			j.res, j.err = res, err
			close(j.done)
			// Synchronous results are not kept: a retry provisions again,
			// which the provider answers idempotently. Asynchronous ones
			// are: the platform knows the resource by uuid, and learns of
			// a failure by asking again.
			if !j.async {
				delete(h.jobs, body.UUID)
			}
		}()
	}
	h.mu.Unlock()

	var wait <-chan time.Time
	if h.AsyncAfter > 0 && body.CallbackURL != "" {
		t := time.NewTimer(h.AsyncAfter)
		defer t.Stop()
		wait = t.C
	}
	select {
	case <-j.done:
		h.finish(w, body.UUID, j)
	case <-wait:
		h.mu.Lock()
		select {
		case <-j.done: // finished meanwhile: answer synchronously
			h.mu.Unlock()
			h.finish(w, body.UUID, j)
			return
		default:
		}
		first := !j.async
		j.async = true
		if first {
			h.wg.Add(1)
			go h.callBack(j, body)
		}
		h.mu.Unlock()
		writeJSON(w, http.StatusAccepted, ProvisionResponse{ID: body.UUID, Message: "provisioning; config follows when ready"})
	case <-r.Context().Done():
		// The platform gave up; the job stays so a retry finds its result.
	}
}

// finish answers with a finished job's result. A failed job is
// reported once, then forgotten so that a retry starts afresh; a
// resource provisioned asynchronously keeps the uuid as its id.
func (h *Handler) finish(w http.ResponseWriter, uuid string, j *job) {
	h.mu.Lock()
	id := j.res.ID
	if j.async {
		id = uuid
	}
	if j.err != nil && h.jobs[uuid] == j {
		delete(h.jobs, uuid)
	}
	h.mu.Unlock()
	if j.err != nil {
		h.writeProviderError(w, "provision", j.err)
		return
	}
	writeJSON(w, http.StatusOK, ProvisionResponse{ID: id, Config: j.res.Config, Message: j.res.Message, LogDrainURL: j.res.LogDrainURL})
}

// resolve maps the id in a URL to the provider's resource id: for
// asynchronous provisions the platform only knows the uuid.
func (h *Handler) resolve(id string) (string, error) {
	h.mu.Lock()
	j, ok := h.jobs[id]
	h.mu.Unlock()
	if !ok {
		return id, nil
	}
	select {
	case <-j.done:
		if j.err != nil {
			return "", fmt.Errorf("partner: resource %s: %w", id, addons.ErrNotFound)
		}
		return j.res.ID, nil
	default:
		return "", errBusy
	}
}

var errBusy = errors.New("partner: resource is still being provisioned")

func (h *Handler) callBack(j *job, body ProvisionBody) {
	defer h.wg.Done()
	<-j.done
	log := h.log().With("uuid", body.UUID)
	if j.err != nil {
		log.Warn("partner: asynchronous provision failed", "err", j.err)
		return
	}
	res := j.res
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var update ConfigUpdate
	for _, k := range slices.Sorted(maps.Keys(res.Config)) {
		update.Config = append(update.Config, ConfigVar{Name: k, Value: res.Config[k]})
	}
	token := ""
	if body.OAuthGrant != nil {
		token = body.OAuthGrant.Code
	}
	if err := h.call(ctx, http.MethodPatch, body.CallbackURL+"/config", token, update); err != nil {
		log.Warn("partner: sending config to the platform failed", "err", err)
		return
	}
	if err := h.call(ctx, http.MethodPost, body.CallbackURL+"/actions/provision", token, struct{}{}); err != nil {
		log.Warn("partner: marking the add-on provisioned failed", "err", err)
	}
}

func (h *Handler) call(ctx context.Context, method, url, token string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("callback URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := h.HTTPClient
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d", method, url, resp.StatusCode)
	}
	return nil
}

func (h *Handler) changePlan(w http.ResponseWriter, r *http.Request) {
	body, err := DecodePlanChange(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeInvalid, err.Error())
		return
	}
	pc, ok := h.Provider.(addons.PlanChanger)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, CodeUnsupported, "this add-on does not support plan changes")
		return
	}
	id, err := h.resolve(r.PathValue("id"))
	if err != nil {
		h.writeProviderError(w, "plan change", err)
		return
	}
	res, err := pc.ChangePlan(r.Context(), id, body.Plan)
	if err != nil {
		h.writeProviderError(w, "plan change", err)
		return
	}
	writeJSON(w, http.StatusOK, PlanChangeResponse{Config: res.Config, Message: res.Message})
}

func (h *Handler) deprovision(w http.ResponseWriter, r *http.Request) {
	uuid := r.PathValue("id")
	id, err := h.resolve(uuid)
	if err == nil {
		err = h.Provider.Deprovision(r.Context(), id)
	}
	if err != nil {
		h.writeProviderError(w, "deprovision", err)
		return
	}
	h.mu.Lock()
	delete(h.jobs, uuid)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// writeProviderError maps provider errors to partner API answers. The
// messages of refusals reach the user; internal failures are logged and
// answered with a generic 503.
func (h *Handler) writeProviderError(w http.ResponseWriter, op string, err error) {
	switch {
	case errors.Is(err, addons.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "resource not found")
	case errors.Is(err, addons.ErrUnknownPlan):
		writeError(w, http.StatusUnprocessableEntity, CodeUnknownPlan, err.Error())
	case errors.Is(err, addons.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, CodeInvalid, err.Error())
	case errors.Is(err, errBusy):
		writeError(w, http.StatusConflict, CodeBusy, "the resource is still being provisioned; try again later")
	default:
		h.log().Error("partner: provider failed", "op", op, "err", err)
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "the provider could not complete the "+op+"; try again later")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorBody{Message: msg, Code: code})
}
