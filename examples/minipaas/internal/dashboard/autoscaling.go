package dashboard

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/autoscale"
)

// Autoscaling is an optional capability of a Control: web dyno
// autoscaling (Heroku dashboard's "Enable Autoscaling" on the web
// process), shown and changed under the app page's Process types.
// *platform.Platform has it.
type Autoscaling interface {
	// Autoscaling returns the app's policy; false when it is off.
	Autoscaling(ctx context.Context, app string) (autoscale.Policy, bool, error)
	// SetAutoscaling turns it on with policy, or off for nil.
	SetAutoscaling(ctx context.Context, app string, policy *autoscale.Policy) error
}

// autoscaleView is the form's state: the policy when on, else suggestions.
type autoscaleView struct {
	On       bool
	Min, Max int
	P95      int64 // milliseconds
}

// defaultP95 is what the form suggests, the heroku CLI's default.
const defaultP95 = time.Second

// autoscaleData adds the autoscaling form's data when the Control can
// autoscale and the app has a web process type.
func (h *Handler) autoscaleData(ctx context.Context, app string, f []platform.FormationEntry, data map[string]any) error {
	c, ok := h.Control.(Autoscaling)
	if !ok {
		return nil
	}
	web := -1
	for _, e := range f {
		if e.Type == "web" {
			web = e.Quantity
		}
	}
	if web < 0 {
		return nil
	}
	policy, on, err := c.Autoscaling(ctx, app)
	if err != nil {
		return err
	}
	v := autoscaleView{On: on, Min: policy.Min, Max: policy.Max, P95: policy.P95.Milliseconds()}
	if !on {
		v.Min = max(web, 1)
		v.Max = min(2*v.Min, formation.MaxQuantity)
		v.P95 = defaultP95.Milliseconds()
	}
	data["Autoscale"] = v
	return nil
}

// autoscaling answers the autoscaling form: autoscaling=on with min, max
// and p95 (milliseconds), or autoscaling=off.
func (h *Handler) autoscaling(ctx context.Context, app string, form url.Values) (string, error) {
	c, ok := h.Control.(Autoscaling)
	if !ok {
		return "", badInput("This platform does not autoscale.")
	}
	if form.Get("autoscaling") == "off" {
		if err := c.SetAutoscaling(ctx, app, nil); err != nil {
			return "", err
		}
		return "Autoscaling is off; the web dynos stay as they are.", nil
	}
	number := func(field, what string) (int, error) {
		s := strings.TrimSpace(form.Get(field))
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, badInput("The %s must be a whole number, not %q.", what, s)
		}
		return n, nil
	}
	lo, err := number("min", "minimum number of dynos")
	if err != nil {
		return "", err
	}
	hi, err := number("max", "maximum number of dynos")
	if err != nil {
		return "", err
	}
	ms, err := number("p95", "desired p95 response time in milliseconds")
	if err != nil {
		return "", err
	}
	policy := autoscale.Policy{Min: lo, Max: hi, P95: time.Duration(ms) * time.Millisecond}
	if err := policy.Validate(); err != nil {
		return "", badInput("Autoscaling was not changed: %s.", strings.TrimPrefix(err.Error(), "autoscale: "))
	}
	if err := c.SetAutoscaling(ctx, app, &policy); err != nil {
		return "", err
	}
	return fmt.Sprintf("Autoscaling web between %d and %d dynos for a p95 response time of %v.", lo, hi, policy.P95), nil
}
