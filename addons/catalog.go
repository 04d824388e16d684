package addons

import (
	"errors"
	"fmt"
	"strings"
)

// Service is one kind of add-on the platform offers, backed by one
// provider.
type Service struct {
	Name string // e.g. "postgres"; the part before ':' in "postgres:hobby"
	// ConfigPrefix is the prefix of the config vars the provider returns
	// and the default attachment name, e.g. DATABASE (→ DATABASE_URL).
	ConfigPrefix string
	Plans        []Plan // the first plan is the default
	Provider     Provider
}

// Catalog lists the services a platform offers. It is a plain value the
// platform builds; there is no global registry.
type Catalog struct {
	Services []Service
}

// Validate checks names, plans and providers: service and plan names
// valid and unique, prefixes valid attachment names, and, for providers
// that list their plans, every catalog plan known to the provider.
func (c Catalog) Validate() error {
	var errs []error
	services := map[string]bool{}
	for i, s := range c.Services {
		where := fmt.Sprintf("catalog service %d (%q)", i, s.Name)
		if err := ValidateAddonName(s.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		if services[s.Name] {
			errs = append(errs, fmt.Errorf("%s: service name used twice: %w", where, ErrInvalid))
		}
		services[s.Name] = true
		if err := validatePrefix("config prefix", s.ConfigPrefix, MaxAttachmentName); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		if s.Provider == nil {
			errs = append(errs, fmt.Errorf("%s: no provider: %w", where, ErrInvalid))
		}
		if len(s.Plans) == 0 {
			errs = append(errs, fmt.Errorf("%s: no plans: %w", where, ErrInvalid))
		}
		var known map[string]bool
		if pl, ok := s.Provider.(PlanLister); ok {
			known = map[string]bool{}
			for _, p := range pl.Plans() {
				known[p.Name] = true
			}
		}
		plans := map[string]bool{}
		for _, p := range s.Plans {
			if err := ValidateAddonName(p.Name); err != nil {
				errs = append(errs, fmt.Errorf("%s: plan: %w", where, err))
			}
			if plans[p.Name] {
				errs = append(errs, fmt.Errorf("%s: plan %q listed twice: %w", where, p.Name, ErrInvalid))
			}
			plans[p.Name] = true
			if known != nil && !known[p.Name] {
				errs = append(errs, fmt.Errorf("%s: plan %q is not offered by the provider: %w", where, p.Name, ErrUnknownPlan))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("addons: invalid catalog: %w", err)
	}
	return nil
}

// Service returns the service called name, or an error wrapping
// ErrUnknownService.
func (c Catalog) Service(name string) (Service, error) {
	for _, s := range c.Services {
		if s.Name == name {
			return s, nil
		}
	}
	return Service{}, fmt.Errorf("addons: service %q is not in the catalog: %w", truncate(name, 80), ErrUnknownService)
}

// Lookup resolves "service:plan" (or "service" for its default plan).
func (c Catalog) Lookup(ref string) (Service, Plan, error) {
	name, planName, hasPlan := strings.Cut(ref, ":")
	s, err := c.Service(name)
	if err != nil {
		return Service{}, Plan{}, err
	}
	if !hasPlan {
		if len(s.Plans) == 0 {
			return Service{}, Plan{}, fmt.Errorf("addons: service %q has no plans: %w", name, ErrUnknownPlan)
		}
		return s, s.Plans[0], nil
	}
	for _, p := range s.Plans {
		if p.Name == planName {
			return s, p, nil
		}
	}
	return Service{}, Plan{}, fmt.Errorf("addons: plan %q is not offered by service %q (plans: %s): %w",
		truncate(planName, 80), name, planNames(s.Plans), ErrUnknownPlan)
}

func planNames(ps []Plan) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}
