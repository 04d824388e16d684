package partner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MediaType is the Accept header the platform sends (heroku.md §8.3).
const MediaType = "application/vnd.heroku-addons+json; version=3"

// MaxBodyBytes bounds every JSON body read by the client and the handler.
const MaxBodyBytes = 1 << 20

// ProvisionBody is the body of POST /heroku/resources.
type ProvisionBody struct {
	UUID          string            `json:"uuid"`
	Name          string            `json:"name,omitempty"`
	Plan          string            `json:"plan"`
	Region        string            `json:"region,omitempty"`
	CallbackURL   string            `json:"callback_url,omitempty"`
	Options       map[string]string `json:"options,omitempty"`
	LogInputURL   string            `json:"log_input_url,omitempty"`
	LogDrainToken string            `json:"log_drain_token,omitempty"`
	OAuthGrant    *OAuthGrant       `json:"oauth_grant,omitempty"`
}

// OAuthGrant is the grant sent with a provision. dynokit's platform side
// accepts the code itself as the bearer token for callbacks (see the
// package doc).
type OAuthGrant struct {
	Code      string `json:"code"`
	ExpiresAt string `json:"expires_at"`
	Type      string `json:"type"`
}

// ProvisionResponse is the body of a 200/201/202 answer to a provision.
type ProvisionResponse struct {
	ID          string            `json:"id"`
	Config      map[string]string `json:"config,omitempty"`
	Message     string            `json:"message,omitempty"`
	LogDrainURL string            `json:"log_drain_url,omitempty"`
}

// PlanChangeBody is the body of PUT /heroku/resources/:id.
type PlanChangeBody struct {
	Plan string `json:"plan"`
}

// PlanChangeResponse is the body of a 200 answer to a plan change.
type PlanChangeResponse struct {
	Config  map[string]string `json:"config,omitempty"`
	Message string            `json:"message,omitempty"`
}

// ErrorBody is every error answer: Message is shown to the user (for
// 422 and 503). Code is dynokit's addition so that clients can tell
// "unknown plan" from other refusals; other providers omit it.
type ErrorBody struct {
	Message string `json:"message"`
	Code    string `json:"id,omitempty"`
}

// Error codes in ErrorBody.Code.
const (
	CodeUnknownPlan  = "unknown_plan"
	CodeNotFound     = "not_found"
	CodeInvalid      = "invalid_params"
	CodeUnauthorized = "unauthorized"
	CodeUnsupported  = "unsupported"
	CodeBusy         = "provisioning"
	CodeUnavailable  = "unavailable"
)

// ConfigUpdate is the body of PATCH /addons/{uuid}/config, sent by the
// provider to the platform (heroku.md §8.1 add-on-config).
type ConfigUpdate struct {
	Config []ConfigVar `json:"config"`
}

// ConfigVar is one entry of a ConfigUpdate.
type ConfigVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// RequestError is a body that is not a valid request; Field names the
// offending field when there is one.
type RequestError struct {
	Field string
	Msg   string
}

func (e *RequestError) Error() string {
	if e.Field == "" {
		return "partner: invalid request body: " + e.Msg
	}
	return fmt.Sprintf("partner: invalid request body: field %q %s", e.Field, e.Msg)
}

// DecodeProvision reads and checks a provision body. Unknown fields are
// ignored (bodies may carry undocumented extras); uuid and plan are
// required; option values must be strings.
func DecodeProvision(r io.Reader) (ProvisionBody, error) {
	var b ProvisionBody
	if err := decode(r, &b); err != nil {
		return b, err
	}
	switch {
	case strings.TrimSpace(b.UUID) == "":
		return b, &RequestError{Field: "uuid", Msg: "is required"}
	case len(b.UUID) > 200:
		return b, &RequestError{Field: "uuid", Msg: "is longer than 200 bytes"}
	case b.Plan == "":
		return b, &RequestError{Field: "plan", Msg: "is required"}
	case len(b.Plan) > 200:
		return b, &RequestError{Field: "plan", Msg: "is longer than 200 bytes"}
	}
	return b, nil
}

// DecodePlanChange reads and checks a plan change body.
func DecodePlanChange(r io.Reader) (PlanChangeBody, error) {
	var b PlanChangeBody
	if err := decode(r, &b); err != nil {
		return b, err
	}
	if b.Plan == "" {
		return b, &RequestError{Field: "plan", Msg: "is required"}
	}
	return b, nil
}

// DecodeConfigUpdate reads and checks a config update body.
func DecodeConfigUpdate(r io.Reader) (ConfigUpdate, error) {
	var b ConfigUpdate
	if err := decode(r, &b); err != nil {
		return b, err
	}
	for i, v := range b.Config {
		if v.Name == "" {
			return b, &RequestError{Field: fmt.Sprintf("config[%d].name", i), Msg: "is required"}
		}
	}
	return b, nil
}

func decode(r io.Reader, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("partner: read request body: %w", err)
	}
	if len(data) > MaxBodyBytes {
		return &RequestError{Msg: fmt.Sprintf("body exceeds %d bytes", MaxBodyBytes)}
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return &RequestError{Field: te.Field, Msg: "must be a " + te.Type.String() + ", not a JSON " + te.Value}
		}
		return &RequestError{Msg: "not a JSON object: " + err.Error()}
	}
	return nil
}
