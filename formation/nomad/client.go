package nomad

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// client is the small part of Nomad's HTTP API this backend needs. It is
// hand-written rather than github.com/hashicorp/nomad/api so the core module
// does not take on that module's dependencies for a dozen endpoints.
type client struct {
	base      string // "http://127.0.0.1:4646", no trailing slash
	token     string
	namespace string
	region    string
	http      *http.Client
}

// newClient makes a client for the API at addr; empty means $NOMAD_ADDR,
// then http://127.0.0.1:4646. A nil hc means http.DefaultClient.
func newClient(addr, token, namespace, region string, hc *http.Client) *client {
	if addr == "" {
		addr = os.Getenv("NOMAD_ADDR")
	}
	if addr == "" {
		addr = "http://127.0.0.1:4646"
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &client{base: strings.TrimRight(addr, "/"), token: token, namespace: namespace, region: region, http: hc}
}

// apiError is a non-2xx answer from Nomad.
type apiError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, strings.TrimSpace(e.Body))
}

func isStatus(err error, code int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == code
}

// request sends one API call. in (when non-nil) is sent as JSON; the
// response body is returned open for the caller to decode or stream.
func (c *client) request(ctx context.Context, method, path string, q url.Values, in any) (*http.Response, error) {
	if q == nil {
		q = url.Values{}
	}
	if c.namespace != "" {
		q.Set("namespace", c.namespace)
	}
	if c.region != "" {
		q.Set("region", c.region)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("X-Nomad-Token", c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, &apiError{Method: method, Path: path, Status: resp.StatusCode, Body: string(b)}
	}
	return resp, nil
}

// do sends a call and decodes its JSON answer into out (when non-nil). It
// returns the X-Nomad-Index of the answer, for blocking queries.
func (c *client) do(ctx context.Context, method, path string, q url.Values, in, out any) (uint64, error) {
	resp, err := c.request(ctx, method, path, q, in)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return 0, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	idx, _ := strconv.ParseUint(resp.Header.Get("X-Nomad-Index"), 10, 64)
	return idx, nil
}

// blockingWait bounds one blocking query on the server side; the caller's
// context still bounds the whole wait.
const blockingWait = 30 * time.Second

// block runs a blocking query: it returns when the answer's index passes
// index (or the server's wait time ends with no change).
func (c *client) block(ctx context.Context, path string, index uint64, out any) (uint64, error) {
	q := url.Values{}
	if index > 0 {
		q.Set("index", strconv.FormatUint(index, 10))
		q.Set("wait", blockingWait.String())
	}
	return c.do(ctx, http.MethodGet, path, q, nil, out)
}

// The API objects below carry only the fields this backend reads.

type allocation struct {
	ID             string
	Name           string // "<job>.<group>[<index>]"
	JobID          string
	JobVersion     uint64
	TaskGroup      string
	EvalID         string
	ClientStatus   string
	DesiredStatus  string
	NextAllocation string // the replacement of a rescheduled allocation
	TaskStates     map[string]*taskState
	ModifyIndex    uint64
	// AllocatedResources is in allocation lists only with resources=true.
	AllocatedResources *struct {
		Shared struct {
			Ports []struct {
				Label  string
				Value  int
				HostIP string
			}
		}
	}
}

type taskState struct {
	State     string
	Failed    bool
	Restarts  int
	StartedAt time.Time
	Events    []*taskEvent
}

type taskEvent struct {
	Type           string
	Time           int64 // Unix nanoseconds
	ExitCode       int
	Signal         int
	Message        string
	DisplayMessage string
	Details        map[string]string
}

type evaluation struct {
	ID                string
	Status            string
	StatusDescription string
	FailedTGAllocs    map[string]*allocMetric
	BlockedEval       string
}

type allocMetric struct {
	NodesEvaluated     int
	NodesFiltered      int
	NodesExhausted     int
	ClassFiltered      map[string]int
	ConstraintFiltered map[string]int
	DimensionExhausted map[string]int
}

func (m *allocMetric) String() string {
	var parts []string
	parts = append(parts, fmt.Sprintf("%d nodes evaluated", m.NodesEvaluated))
	for k, n := range m.ConstraintFiltered {
		parts = append(parts, fmt.Sprintf("%d filtered by %s", n, k))
	}
	for k, n := range m.DimensionExhausted {
		parts = append(parts, fmt.Sprintf("%d exhausted on %s", n, k))
	}
	return strings.Join(parts, ", ")
}

type registerResponse struct {
	EvalID string
}

type jobInfo struct {
	ID     string
	Status string
	Stop   bool
}
