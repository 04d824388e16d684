package platformapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Error ids of the Platform API (reference §9.3). The CLI prints an error's
// message as "Error: <message>" and its id as "Error ID: <id>".
const (
	IDBadRequest             = "bad_request"
	IDUnauthorized           = "unauthorized"
	IDDelinquent             = "delinquent"
	IDForbidden              = "forbidden"
	IDNotFound               = "not_found"
	IDMethodNotAllowed       = "method_not_allowed"
	IDNotAcceptable          = "not_acceptable"
	IDConflict               = "conflict"
	IDPreconditionFailed     = "precondition_failed"
	IDGone                   = "gone"
	IDRangeNotSatisfiable    = "requested_range_not_satisfiable"
	IDInvalidParams          = "invalid_params"
	IDRateLimit              = "rate_limit"
	IDInternalServerError    = "internal_server_error"
	IDServiceUnavailable     = "service_unavailable"
	internalServerErrMessage = "Internal server error."
)

// Error is an API error: an HTTP status and the JSON body
// {"id": ..., "message": ..., "url": ...}.
type Error struct {
	Status  int    `json:"-"`
	ID      string `json:"id"`
	Message string `json:"message"`
	URL     string `json:"url,omitempty"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("platformapi: %d %s: %s", e.Status, e.ID, e.Message)
}

// Errorf makes an Error with a formatted message.
func Errorf(status int, id, format string, args ...any) *Error {
	return &Error{Status: status, ID: id, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing resource, e.g. NotFound("app", "demo").
func NotFound(kind, name string) *Error {
	return Errorf(http.StatusNotFound, IDNotFound, "Couldn't find that %s: %s.", kind, name)
}

// InvalidParams reports a request body or parameter that breaks a rule.
func InvalidParams(format string, args ...any) *Error {
	return Errorf(http.StatusUnprocessableEntity, IDInvalidParams, format, args...)
}

// Conflict reports a request that clashes with the current state.
func Conflict(format string, args ...any) *Error {
	return Errorf(http.StatusConflict, IDConflict, format, args...)
}

// PreconditionFailed reports a write whose If-Match no longer holds: the
// resource changed since the client read it.
func PreconditionFailed(format string, args ...any) *Error {
	return Errorf(http.StatusPreconditionFailed, IDPreconditionFailed, format, args...)
}

// Forbidden reports an authenticated caller that may not do this.
func Forbidden(format string, args ...any) *Error {
	return Errorf(http.StatusForbidden, IDForbidden, format, args...)
}

// WriteError answers with err as API error JSON. An error that is (or wraps)
// an *Error is shown as is; any other error is logged to log and answered with
// a generic 500, so internal details never reach the client.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		if log != nil {
			log.Error("platformapi: request failed", "err", err)
		}
		apiErr = &Error{Status: http.StatusInternalServerError, ID: IDInternalServerError, Message: internalServerErrMessage}
	}
	status := apiErr.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	WriteJSON(w, status, apiErr)
}

// WriteJSON answers with v as JSON and the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(&Error{ID: IDInternalServerError, Message: internalServerErrMessage})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// DecodeJSON reads a JSON request body of at most maxBytes into v; a bad body
// is reported as 400 bad_request naming the problem.
func DecodeJSON(r *http.Request, maxBytes int64, v any) error {
	if maxBytes <= 0 {
		maxBytes = 1 << 20
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBytes))
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Errorf(http.StatusRequestEntityTooLarge, IDBadRequest, "Request body is larger than %d bytes.", maxBytes)
		}
		return Errorf(http.StatusBadRequest, IDBadRequest, "Invalid JSON in request body: %v.", err)
	}
	return nil
}
